"""Plan an annotation run: one request per (record, sample) with its journal key, and the verification requests
derived from the replies. No I/O but reading the inputs: the same inputs and config always give the same plan and
keys.

A plan keeps 33 bytes a key (its digest, and whether it is used first) and 4 bytes a record (prompt tokens), never
the records or request bodies: each pass (send, write) reads the records again from the inputs
(:meth:`RunPlan.records`) and builds a body only when it is sent, so a run over millions of sentences plans in
memory that grows by tens of bytes a sentence.

Example::

    plan = plan_run(load_inputs([Path("valid.txt")]), cfg, load_template("fewshot_conll"), demos)
    len(plan.requests)      # identical sentences share one request
"""

from __future__ import annotations

import functools
from array import array
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, overload

import numpy as np

from offline_ner.annotate.config import AnnotateConfig
from offline_ner.annotate.cost import count_request_tokens
from offline_ner.annotate.input_files import Inputs
from offline_ner.annotate.journal import request_key
from offline_ner.annotate.prompts import PromptTemplate, build_messages, check_demonstrations, json_schema_format
from offline_ner.annotate.self_verification import PROMPT_SHA256 as VERIFY_PROMPT_SHA256
from offline_ner.annotate.self_verification import RESPONSE_FORMAT as VERIFY_RESPONSE_FORMAT
from offline_ner.annotate.self_verification import verification_body
from offline_ner.data import Record
from offline_ner.errors import ConfigError


@dataclass(frozen=True, slots=True)
class PlannedRequest:
    """One request: its journal key, its body (or what builds the body when sent), its prompt tokens."""

    key: str
    source: Mapping[str, Any] | Callable[[], dict[str, Any]]
    estimated_tokens: int

    @property
    def body(self) -> dict[str, Any]:
        return self.source() if callable(self.source) else dict(self.source)


DIGEST_BYTES = 32  # a journal key is the hex of a sha256 digest


class KeysByRecord(Sequence[tuple[str, ...]]):
    """Per input record the journal key of each sample, stored as 32-byte digests."""

    def __init__(self, samples: int) -> None:
        self.samples = samples
        self.digests = bytearray()

    def append(self, keys: Sequence[str]) -> None:
        for key in keys:
            self.digests += bytes.fromhex(key)

    def __len__(self) -> int:
        return len(self.digests) // (DIGEST_BYTES * self.samples)

    @overload
    def __getitem__(self, index: int) -> tuple[str, ...]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[tuple[str, ...]]: ...
    def __getitem__(self, index: int | slice) -> tuple[str, ...] | Sequence[tuple[str, ...]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        start = index * self.samples * DIGEST_BYTES
        return tuple(
            bytes(self.digests[at : at + DIGEST_BYTES]).hex()
            for at in range(start, start + self.samples * DIGEST_BYTES, DIGEST_BYTES)
        )

    def first_uses(self) -> bytes:
        """Per (record, sample), 1 where its key occurs for the first time: identical requests are sent once.

        Sorts the keys' first 8 bytes (about 20 bytes a key while it runs, where sorting whole keys took 80) and
        compares whole keys only among equal prefixes: the repeated sentences (and, by a 2^-64 chance, others).
        """
        keys = np.frombuffer(self.digests, dtype=np.uint8).reshape(-1, DIGEST_BYTES)
        prefixes = np.frombuffer(self.digests, dtype=np.uint64)[:: DIGEST_BYTES // 8]
        order = np.argsort(prefixes, kind="stable")  # stable: equal prefixes stay in input order
        sorted_prefixes = prefixes[order]
        same_prefix = np.zeros(len(order), dtype=bool)  # as the previous key in sorted order
        same_prefix[1:] = sorted_prefixes[1:] == sorted_prefixes[:-1]
        del sorted_prefixes
        first = np.ones(len(order), dtype=np.uint8)
        seen: set[bytes] = set()  # the whole keys of the current run of equal prefixes
        for position in np.flatnonzero(same_prefix).tolist():
            if not same_prefix[position - 1]:  # the run starts at position - 1
                seen = {keys[order[position - 1]].tobytes()}
            key = keys[order[position]].tobytes()
            if key in seen:
                first[order[position]] = 0
            seen.add(key)
        return first.tobytes()


@dataclass(frozen=True, slots=True)
class PlannedRecord:
    """One input record on a pass over the plan: its demonstrations, each sample's key, and the requests it is the
    first to use (in sample order; a record identical to an earlier one has none)."""

    record: Record
    demos: tuple[Record, ...]
    keys: tuple[str, ...]
    new: tuple[PlannedRequest, ...]


class PlannedRequests:
    """A run's unique requests in first-use order. Iterating reads the inputs again (each request's body is built
    when it is sent); :meth:`keys` lists the keys without reading anything."""

    def __init__(self, plan: RunPlan) -> None:
        self._plan = plan

    def __len__(self) -> int:
        return self._plan.first_use.count(1)

    def __iter__(self) -> Iterator[PlannedRequest]:
        return (request for item in self._plan.records() for request in item.new)

    def prompt_tokens(self) -> int:
        """The requests' estimated prompt tokens, summed without reading the inputs."""
        plan = self._plan
        return sum(plan.estimated_tokens[i // plan.cfg.samples] for i, first in enumerate(plan.first_use) if first)

    def keys(self) -> Iterator[str]:
        digests, first = self._plan.keys_by_record.digests, self._plan.first_use
        return (
            bytes(digests[i * DIGEST_BYTES : (i + 1) * DIGEST_BYTES]).hex() for i in range(len(first)) if first[i]
        )


class _Repeated(Sequence[tuple[Record, ...]]):
    """The same demonstrations for each of ``count`` records, without a list of ``count`` references."""

    def __init__(self, demos: tuple[Record, ...], count: int) -> None:
        self._demos, self._count = demos, count

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> tuple[Record, ...]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[tuple[Record, ...]]: ...
    def __getitem__(self, index: int | slice) -> tuple[Record, ...] | Sequence[tuple[Record, ...]]:
        if isinstance(index, slice):
            return [self._demos] * len(range(*index.indices(self._count)))
        if not -self._count <= index < self._count:
            raise IndexError(index)
        return self._demos


@dataclass(frozen=True)
class RunPlan:
    """Per record the key of each sample and its prompt tokens; which keys are used first (sent once)."""

    cfg: AnnotateConfig
    template: PromptTemplate
    demos_by_record: Sequence[tuple[Record, ...]]
    inputs: Inputs
    keys_by_record: KeysByRecord
    first_use: bytes
    estimated_tokens: array[int]

    @property
    def requests(self) -> PlannedRequests:
        """The unique requests in first-use order."""
        return PlannedRequests(self)

    def records(self) -> Iterator[PlannedRecord]:
        """One pass over the inputs, each record with its keys and the requests it uses first."""
        samples = self.cfg.samples
        for index, (record, demos) in enumerate(zip(self.inputs.records, self.demos_by_record)):
            keys = self.keys_by_record[index]
            body = functools.partial(request_body, self.cfg, self.template, record, demos)
            tokens = self.estimated_tokens[index]
            new = tuple(
                PlannedRequest(key, body, tokens) for sample, key in enumerate(keys)
                if self.first_use[index * samples + sample]
            )  # fmt: skip
            yield PlannedRecord(record, demos, keys, new)

    def demonstrations(self) -> list[str] | dict[str, Any]:
        """What the run's provenance says about demonstrations: the ids when every input shares them."""
        unique = list(dict.fromkeys(d.id for demos in self.demos_by_record for d in demos))
        if self.cfg.demos_select == "first":
            return unique
        return {"select": self.cfg.demos_select, "k": self.cfg.n_demos, "unique": len(unique)}

    @property
    def response_format(self) -> dict[str, Any]:
        return json_schema_format(self.template)


def request_body(
    cfg: AnnotateConfig, template: PromptTemplate, record: Record, demos: Sequence[Record]
) -> dict[str, Any]:
    """The extraction request of one record (without response_format)."""
    return {"model": cfg.model, "messages": build_messages(template, record, demos), **request_parameters(cfg)}


def request_parameters(cfg: AnnotateConfig) -> dict[str, Any]:
    """The sampling parameters sent with every request (and recorded in provenance)."""
    params: dict[str, Any] = {"temperature": cfg.temperature, "max_tokens": cfg.max_tokens}
    if cfg.seed is not None:
        params["seed"] = cfg.seed
    return params


def plan_run(
    inputs: Inputs,
    cfg: AnnotateConfig,
    template: PromptTemplate,
    demos: Sequence[Record] = (),
    *,
    demos_by_record: Sequence[Sequence[Record]] | None = None,
) -> RunPlan:
    """One request per record and sample; identical requests (same sentence, same everything) share a key.

    Args:
        demos: demonstrations shown before every input (``demos_select="first"``).
        demos_by_record: per input record its own demonstrations (``retrieve.knn_demonstrations``); replaces
            ``demos``.

    Raises:
        AnnotateError: a demonstration overlaps the input.
        ConfigError: inconsistent sample settings, or ``max_failed`` outside 0-1.
    """
    if cfg.samples < 1 or (cfg.agree_k is not None and not 1 <= cfg.agree_k <= cfg.samples):
        raise ConfigError(f"samples={cfg.samples}, agree_k={cfg.agree_k}: need 1 <= agree_k <= samples")
    if not 0.0 <= cfg.max_failed <= 1.0:
        raise ConfigError(f"max_failed={cfg.max_failed}: expected a share of the records between 0 and 1")
    count = len(inputs.records)
    chosen: Sequence[tuple[Record, ...]]
    if demos_by_record is None:
        chosen = _Repeated(tuple(demos), count)
    elif len(demos_by_record) != count:
        raise ValueError(f"{len(demos_by_record)} demonstration lists for {count} records")
    else:
        chosen = tuple(map(tuple, demos_by_record))
    unique_demos = {d.id: d for record_demos in chosen for d in record_demos}
    check_demonstrations(list(unique_demos.values()), inputs.records)
    schema = json_schema_format(template) if cfg.response_format == "json_schema" else None
    keys_by_record = KeysByRecord(cfg.samples)
    tokens = array("i")
    for record, record_demos in zip(inputs.records, chosen):
        body = request_body(cfg, template, record, record_demos)
        material = {**body, "response_format_preference": cfg.response_format}
        keys_by_record.append(
            [request_key(material, template_sha256=template.sha256, sample=s) for s in range(cfg.samples)]
        )
        tokens.append(count_request_tokens(body["messages"], schema))
    return RunPlan(cfg, template, chosen, inputs, keys_by_record, keys_by_record.first_uses(), tokens)


def verification_requests(plan: RunPlan, labelled: Sequence[Record]) -> dict[str, PlannedRequest]:
    """Per labelled record with entities (by id), the request that verifies them; derived from the replies
    alone, so a resumed run plans exactly the same verification requests."""
    schema = VERIFY_RESPONSE_FORMAT if plan.cfg.response_format == "json_schema" else None
    requests: dict[str, PlannedRequest] = {}
    for record in labelled:
        spans = record.spans()
        if not spans:
            continue
        body = verification_body(plan.cfg, plan.template, record, spans)
        material = {**body, "response_format_preference": plan.cfg.response_format}
        key = request_key(material, template_sha256=VERIFY_PROMPT_SHA256)
        requests[record.id] = PlannedRequest(key, body, count_request_tokens(body["messages"], schema))
    return requests
