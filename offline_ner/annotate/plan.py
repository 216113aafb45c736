"""Plan an annotation run: one request per (record, sample) with its journal key, and the verification requests
derived from the replies. No I/O: the same inputs and config always give the same plan and keys.

Example::

    plan = plan_run(load_inputs([Path("valid.txt")]), cfg, load_template("fewshot_conll"), demos)
    len(plan.requests)      # identical sentences share one request
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, overload

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
    """One request: its journal key, its body (or what rebuilds the body when sent), its prompt tokens.

    A run plans every request up front but sends them over hours: keeping each body (the whole prompt) in memory
    would make the plan grow by kilobytes a sentence, so extraction requests keep a :class:`_BodyOf` instead.
    """

    key: str
    source: Mapping[str, Any] | Callable[[], dict[str, Any]]
    estimated_tokens: int

    @property
    def body(self) -> dict[str, Any]:
        return self.source() if callable(self.source) else dict(self.source)


class _BodyOf:
    """The request body of one input record, rebuilt on demand by ``make(index)``."""

    __slots__ = ("index", "make")

    def __init__(self, make: Callable[[int], dict[str, Any]], index: int) -> None:
        self.make, self.index = make, index

    def __call__(self) -> dict[str, Any]:
        return self.make(self.index)


DIGEST_BYTES = 32  # a journal key is the hex of a sha256 digest


class PlannedRequests(Sequence[PlannedRequest]):
    """A run's unique requests as flat arrays (key digest, prompt tokens, record index): about 50 bytes a request
    where objects took a kilobyte, so planning a million sentences stays small; each item is built on access."""

    def __init__(self, make: Callable[[int], dict[str, Any]]) -> None:
        self._make = make
        self._digests = bytearray()
        self._tokens = array("q")
        self._records = array("q")

    def add(self, key: str, estimated_tokens: int, record_index: int) -> int:
        """Append a request; returns its position."""
        self._digests += bytes.fromhex(key)
        self._tokens.append(estimated_tokens)
        self._records.append(record_index)
        return len(self._tokens) - 1

    def key(self, position: int) -> str:
        return bytes(self._digests[position * DIGEST_BYTES : (position + 1) * DIGEST_BYTES]).hex()

    def __len__(self) -> int:
        return len(self._tokens)

    @overload
    def __getitem__(self, position: int) -> PlannedRequest: ...
    @overload
    def __getitem__(self, position: slice) -> Sequence[PlannedRequest]: ...
    def __getitem__(self, position: int | slice) -> PlannedRequest | Sequence[PlannedRequest]:
        if isinstance(position, slice):
            return [self[i] for i in range(*position.indices(len(self)))]
        if position < 0:
            position += len(self)
        if not 0 <= position < len(self):
            raise IndexError(position)
        return PlannedRequest(self.key(position), _BodyOf(self._make, self._records[position]), self._tokens[position])


class KeysByRecord(Sequence[tuple[str, ...]]):
    """Per input record the key of each sample, stored as positions in :class:`PlannedRequests`."""

    def __init__(self, requests: PlannedRequests, samples: int) -> None:
        self._requests, self._samples = requests, samples
        self._positions = array("q")

    def append(self, positions: Sequence[int]) -> None:
        self._positions.extend(positions)

    def __len__(self) -> int:
        return len(self._positions) // self._samples

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
        start = index * self._samples
        return tuple(self._requests.key(p) for p in self._positions[start : start + self._samples])


@dataclass(frozen=True)
class RunPlan:
    """Unique requests in first-use order, and per record the key of each sample."""

    cfg: AnnotateConfig
    template: PromptTemplate
    demos_by_record: tuple[tuple[Record, ...], ...]
    inputs: Inputs
    requests: Sequence[PlannedRequest]
    keys_by_record: Sequence[tuple[str, ...]]

    def demonstrations(self) -> list[str] | dict[str, Any]:
        """What the run's provenance says about demonstrations: the ids when every input shares them."""
        unique = list(dict.fromkeys(d.id for demos in self.demos_by_record for d in demos))
        if self.cfg.demos_select == "first":
            return unique
        return {"select": self.cfg.demos_select, "k": self.cfg.n_demos, "unique": len(unique)}

    @property
    def response_format(self) -> dict[str, Any]:
        return json_schema_format(self.template)


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
    if demos_by_record is None:
        demos_by_record = [tuple(demos)] * len(inputs.records)
    elif len(demos_by_record) != len(inputs.records):
        raise ValueError(f"{len(demos_by_record)} demonstration lists for {len(inputs.records)} records")
    unique_demos = {d.id: d for chosen in demos_by_record for d in chosen}
    check_demonstrations(list(unique_demos.values()), inputs.records)
    params = request_parameters(cfg)
    schema = json_schema_format(template) if cfg.response_format == "json_schema" else None
    demos_by_record = tuple(map(tuple, demos_by_record))

    def body_of(record: Record, record_demos: Sequence[Record]) -> dict[str, Any]:
        return {"model": cfg.model, "messages": build_messages(template, record, record_demos), **params}

    def make(index: int) -> dict[str, Any]:
        return body_of(inputs.records[index], demos_by_record[index])

    requests = PlannedRequests(make)
    keys_by_record = KeysByRecord(requests, cfg.samples)
    position_of: dict[bytes, int] = {}  # digest -> position in requests: identical requests are planned once
    for index, (record, record_demos) in enumerate(zip(inputs.records, demos_by_record)):
        body = body_of(record, record_demos)
        positions = []
        for sample in range(cfg.samples):
            material = {**body, "response_format_preference": cfg.response_format}
            key = request_key(material, template_sha256=template.sha256, sample=sample)
            digest = bytes.fromhex(key)
            if digest not in position_of:
                position_of[digest] = requests.add(key, count_request_tokens(body["messages"], schema), index)
            positions.append(position_of[digest])
        keys_by_record.append(positions)
    return RunPlan(cfg, template, demos_by_record, inputs, requests, keys_by_record)


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
