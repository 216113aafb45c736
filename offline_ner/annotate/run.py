"""Orchestrate an annotation run: plan the requests, send the missing ones, assemble the annotation folder.

Three steps, each usable alone:

1. :func:`plan_run` builds one request per (record, sample) and its journal key; identical requests share a key
   and are sent once. No I/O.
2. :func:`execute` sends every request the journal lacks, ``concurrency`` at a time, committing each reply to
   the journal at once; it stops cleanly before a request that could exceed the budget. With ``cfg.verify``,
   :func:`verify` then derives one verification request per labelled sentence from the journalled replies and
   sends those the same way (one budget for both).
3. :func:`assemble` reads the replies back from the journal only, parses and aligns them, applies verification
   and selection filters, and returns records, provenance and QA (every gold record scored, with coverage). Because it never looks at anything but the journal and
   the plan, a run killed with ``kill -9`` and restarted writes byte-identical files.

Example::

    plan = plan_run(load_inputs([Path("valid.txt")]), cfg, load_template("fewshot_conll"), demos)
    summary = annotate(plan, out=Path("ann/"), journal=Journal(Path("ann.sqlite")), client=LLMClient(cfg),
                       prices=load_prices(None))
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import threading
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from offline_ner.annotate.align import COUNT_KEYS, PROBLEM_KEYS, align_mentions
from offline_ner.annotate.config import AnnotateConfig
from offline_ner.annotate.cost import INPUT_TOKEN_MARGIN, PriceTable, count_request_tokens
from offline_ner.annotate.folder import write_annotation_folder
from offline_ner.annotate.inputs import Inputs
from offline_ner.annotate.journal import Journal, request_key
from offline_ner.annotate.parse import parse_reply
from offline_ner.annotate.prompts import PromptTemplate, build_messages, check_demonstrations, json_schema_format
from offline_ner.annotate.qa import qa_report
from offline_ner.annotate.verify import (
    EXPECTED_VERIFY_OUTPUT_TOKENS,
    VERIFY_MAX_TOKENS,
    VERIFY_PLANNED_ENTITIES,
    parse_verdicts,
    verification_body,
    verification_messages,
)
from offline_ner.annotate.verify import PROMPT_SHA256 as VERIFY_PROMPT_SHA256
from offline_ner.annotate.verify import RESPONSE_FORMAT as VERIFY_RESPONSE_FORMAT
from offline_ner.data import SAMPLE_TAGS_KEY, Record, Span, agree_spans, tags_from_spans
from offline_ner.errors import AnnotateError, BudgetExceededError, ConfigError, LLMReplyError

if TYPE_CHECKING:  # the SDK is imported only by code that sends requests
    from offline_ner.annotate.client import LLMClient

Progress = Callable[[int], None]


@dataclass(frozen=True)
class PlannedRequest:
    key: str
    body: dict[str, Any]
    estimated_tokens: int


@dataclass(frozen=True)
class RunPlan:
    """Unique requests in first-use order, and per record the key of each sample."""

    cfg: AnnotateConfig
    template: PromptTemplate
    demos_by_record: tuple[tuple[Record, ...], ...]
    inputs: Inputs
    requests: tuple[PlannedRequest, ...]
    keys_by_record: tuple[tuple[str, ...], ...]

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
        ConfigError: inconsistent sample settings.
    """
    if cfg.samples < 1 or (cfg.agree_k is not None and not 1 <= cfg.agree_k <= cfg.samples):
        raise ConfigError(f"samples={cfg.samples}, agree_k={cfg.agree_k}: need 1 <= agree_k <= samples")
    if demos_by_record is None:
        demos_by_record = [tuple(demos)] * len(inputs.records)
    elif len(demos_by_record) != len(inputs.records):
        raise ValueError(f"{len(demos_by_record)} demonstration lists for {len(inputs.records)} records")
    unique_demos = {d.id: d for chosen in demos_by_record for d in chosen}
    check_demonstrations(list(unique_demos.values()), inputs.records)
    unique: dict[str, PlannedRequest] = {}
    keys_by_record = []
    params = request_parameters(cfg)
    schema = json_schema_format(template) if cfg.response_format == "json_schema" else None
    for record, record_demos in zip(inputs.records, demos_by_record):
        messages = build_messages(template, record, record_demos)
        body = {"model": cfg.model, "messages": messages, **params}
        keys = []
        for sample in range(cfg.samples):
            material = {**body, "response_format_preference": cfg.response_format}
            key = request_key(material, template_sha256=template.sha256, sample=sample)
            if key not in unique:
                unique[key] = PlannedRequest(key, body, count_request_tokens(messages, schema))
            keys.append(key)
        keys_by_record.append(tuple(keys))
    return RunPlan(
        cfg, template, tuple(map(tuple, demos_by_record)), inputs, tuple(unique.values()), tuple(keys_by_record)
    )


def _added(
    prices: PriceTable, model: str, requests: int, input_tokens: int, expected_out: int, worst_out: int, batch: bool
) -> dict[str, Any]:
    return {
        "requests": requests,
        "input_tokens": input_tokens,
        "expected_cost_usd": prices.cost_usd(model, input_tokens=input_tokens, output_tokens=expected_out, batch=batch),
        "max_cost_usd": prices.cost_usd(model, input_tokens=input_tokens, output_tokens=worst_out, batch=batch),
    }


def _zero_shot_tokens(plan: RunPlan) -> int:
    """Input tokens of the planned requests without their demonstrations."""
    schema = json_schema_format(plan.template) if plan.cfg.response_format == "json_schema" else None
    first_record = {keys[0]: record for record, keys in zip(plan.inputs.records, plan.keys_by_record)}
    return sum(
        count_request_tokens(build_messages(plan.template, first_record[r.key]), schema)
        for r in plan.requests
        if r.key in first_record
    ) + sum(r.estimated_tokens for r in plan.requests if r.key not in first_record)


def estimate_cost(plan: RunPlan, prices: PriceTable, *, batch: bool = False) -> dict[str, Any]:
    """Tokens and USD before spending: expected (``expected_output_tokens``) and worst case (``max_tokens``).

    ``added`` breaks out what demonstrations (their prompt tokens; kNN sends no extra request) and
    self-verification (one more request per sentence; its entities are not known yet, so the estimate assumes
    every sentence has VERIFY_PLANNED_ENTITIES) add; both are included in the totals.
    """
    cfg, model = plan.cfg, plan.cfg.model
    input_tokens = sum(r.estimated_tokens for r in plan.requests)
    n = len(plan.requests)
    expected_out, worst_out = n * cfg.expected_output_tokens, n * cfg.max_tokens
    added: dict[str, Any] = {}
    if any(plan.demos_by_record):
        name = f"demonstrations ({cfg.demos_select}, {cfg.n_demos} per input)"
        added[name] = _added(prices, model, 0, input_tokens - _zero_shot_tokens(plan), 0, 0, batch)
    if cfg.verify:
        schema = VERIFY_RESPONSE_FORMAT if cfg.response_format == "json_schema" else None
        unique = list({keys[0]: record for record, keys in zip(plan.inputs.records, plan.keys_by_record)}.values())
        placeholder = [Span(0, 1, plan.template.types[0])] * VERIFY_PLANNED_ENTITIES
        verify_in = sum(
            count_request_tokens(verification_messages(plan.template, r, placeholder[: len(r.tokens)]), schema)
            for r in unique
        )
        verify_expected, verify_worst = len(unique) * EXPECTED_VERIFY_OUTPUT_TOKENS, len(unique) * VERIFY_MAX_TOKENS
        added["verification"] = _added(prices, model, len(unique), verify_in, verify_expected, verify_worst, batch)
        n, input_tokens = n + len(unique), input_tokens + verify_in
        expected_out, worst_out = expected_out + verify_expected, worst_out + verify_worst
    return {
        "model": model,
        "records": len(plan.inputs.records),
        "requests": n,
        "input_tokens": input_tokens,
        "expected_output_tokens": expected_out,
        "max_output_tokens": worst_out,
        "expected_cost_usd": prices.cost_usd(model, input_tokens=input_tokens, output_tokens=expected_out, batch=batch),
        "max_cost_usd": prices.cost_usd(model, input_tokens=input_tokens, output_tokens=worst_out, batch=batch),
        "added": added,
        "price_per_1m_tokens": prices.price(model),
        "prices": prices.describe(),
        "batch": batch,
    }


class Budget:
    """Thread-safe spend tracking: reserve the worst case before a request, settle the actual cost after.

    The worst case is the request's prompt tokens (with INPUT_TOKEN_MARGIN) plus all of ``max_tokens``, and a
    reservation is swapped for the actual cost in one step, so however many requests run at once the spend never
    passes the limit while the endpoint bills no more than that.
    """

    def __init__(self, limit_usd: float | None, prices: PriceTable, model: str) -> None:
        if limit_usd is not None and prices.price(model) is None:
            raise ConfigError(f"--budget needs a price for model {model!r}; add it with --prices FILE")
        self.limit_usd, self.prices, self.model = limit_usd, prices, model
        self.spent_usd = 0.0
        self._reserved = 0.0
        self._lock = threading.Lock()

    def reserve(self, input_tokens: int, max_output_tokens: int) -> float:
        """Hold the worst-case cost of one request; returns the amount to pass to :meth:`settle`.

        Raises:
            BudgetExceededError: the request could take the spend past the limit.
        """
        worst_input = math.ceil(input_tokens * INPUT_TOKEN_MARGIN)
        cost = self.prices.cost_usd(self.model, input_tokens=worst_input, output_tokens=max_output_tokens) or 0.0
        with self._lock:
            if self.limit_usd is not None and self.spent_usd + self._reserved + cost > self.limit_usd:
                raise BudgetExceededError(
                    f"stopped before exceeding the budget of ${self.limit_usd:.4f}: ${self.spent_usd:.4f} spent; "
                    "finished replies are kept in the journal, rerun with a larger --budget to continue"
                )
            self._reserved += cost
        return cost

    def settle(self, reserved: float, actual: float) -> None:
        """Release a reservation and book the actual cost together (0.0 when the request failed)."""
        with self._lock:
            self._reserved -= reserved
            self.spent_usd += actual


def _usage_cost(body: Mapping[str, Any], prices: PriceTable, fallback_model: str, batch: bool = False) -> float:
    usage = body.get("usage") or {}
    model = str(body.get("model") or fallback_model)
    cost = prices.cost_usd(
        model,
        input_tokens=int(usage.get("prompt_tokens") or 0),
        output_tokens=int(usage.get("completion_tokens") or 0),
        batch=batch,
    )
    return cost or 0.0


@dataclass
class ExecutionStats:
    """What this process sent (journal hits cost nothing and are not requests)."""

    sent: int = 0
    journal_hits: int = 0
    retries: int = 0
    spent_usd: float = 0.0

    def __add__(self, other: ExecutionStats) -> ExecutionStats:
        return ExecutionStats(
            self.sent + other.sent,
            self.journal_hits + other.journal_hits,
            self.retries + other.retries,
            self.spent_usd + other.spent_usd,
        )


def execute(
    plan: RunPlan,
    client: LLMClient,
    journal: Journal,
    *,
    prices: PriceTable,
    budget_usd: float | None = None,
    progress: Progress | None = None,
) -> ExecutionStats:
    """Send every planned request missing from the journal; each reply is committed as soon as it arrives.

    Raises:
        BudgetExceededError: the next request could exceed the budget (requests in flight finish first).
        LLMAuthError, LLMQuotaError, LLMContextLengthError, LLMTransportError: from the client; the run stops.
    """
    budget = Budget(budget_usd, prices, plan.cfg.model)
    return execute_requests(
        plan.requests, plan.cfg, plan.response_format, client, journal, prices=prices, budget=budget, progress=progress
    )


def execute_requests(
    requests: Sequence[PlannedRequest],
    cfg: AnnotateConfig,
    response_format: Mapping[str, Any] | None,
    client: LLMClient,
    journal: Journal,
    *,
    prices: PriceTable,
    budget: Budget,
    progress: Progress | None = None,
) -> ExecutionStats:
    """:func:`execute` for any list of requests sharing one response format and one budget."""
    stats = ExecutionStats()
    done = journal.keys()
    todo = [r for r in requests if r.key not in done]
    stats.journal_hits = len(requests) - len(todo)
    if progress is not None and stats.journal_hits:
        progress(stats.journal_hits)
    stop = threading.Event()
    errors: list[BaseException] = []
    lock = threading.Lock()

    def send_one(request: PlannedRequest) -> None:
        if stop.is_set():
            return
        try:
            reserved = budget.reserve(request.estimated_tokens, int(request.body["max_tokens"]))
            try:
                reply = client.complete(
                    request.body, response_format=response_format, estimated_tokens=request.estimated_tokens
                )
            except BaseException:
                budget.settle(reserved, 0.0)
                raise
        except AnnotateError as err:
            stop.set()
            with lock:
                errors.append(err)
            return
        # one step: releasing the reservation before booking the cost let another thread reserve the same room
        budget.settle(reserved, _usage_cost(reply.body, prices, cfg.model))
        journal.put(
            request.key,
            {
                "body": reply.body,
                "request_id": reply.request_id,
                "response_format": reply.response_format,
                "attempts": reply.attempts,
            },
        )
        with lock:
            stats.sent += 1
            stats.retries += reply.attempts - 1
        if progress is not None:
            progress(1)

    def send(request: PlannedRequest) -> None:
        try:
            send_one(request)
        except BaseException:  # a bug or a disk error: stop the queued requests too, then let it propagate
            stop.set()
            raise

    spent_before = budget.spent_usd
    with ThreadPoolExecutor(max_workers=max(1, cfg.concurrency), thread_name_prefix="annotate") as pool:
        for future in [pool.submit(send, request) for request in todo]:
            future.result()
    stats.spent_usd = budget.spent_usd - spent_before
    if errors:
        # fail-fast errors outrank a budget stop: they say what the user must fix first
        errors.sort(key=lambda e: isinstance(e, BudgetExceededError))
        raise errors[0]
    return stats


def _timestamp(body: Mapping[str, Any]) -> str | None:
    created = body.get("created")
    if not isinstance(created, (int, float)) or isinstance(created, bool):
        return None
    return dt.datetime.fromtimestamp(created, tz=dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _content(body: Mapping[str, Any]) -> str | None:
    try:
        return body["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        return None


@dataclass
class _Totals:
    alignment: Counter[str] = field(default_factory=Counter)
    parse_modes: Counter[str] = field(default_factory=Counter)
    response_formats: Counter[str] = field(default_factory=Counter)
    models: set[str] = field(default_factory=set)
    failed: list[dict[str, str]] = field(default_factory=list)


def _sample_provenance(key: str, stored: Mapping[str, Any]) -> dict[str, Any]:
    body = stored["body"]
    return {
        "model": body.get("model"),
        "system_fingerprint": body.get("system_fingerprint"),
        "request_id": stored.get("request_id") or body.get("id"),
        "timestamp": _timestamp(body),
        "response_format": stored.get("response_format"),
        "request_key": key,
    }


def _label_record(
    record: Record,
    keys: Sequence[str],
    demos: Sequence[Record],
    plan: RunPlan,
    stored: Mapping[str, Mapping[str, Any]],
    totals: _Totals,
) -> tuple[Record | None, list[Span]]:
    """The record with LLM tags (None if it failed), and sample 0's spans before agreement."""
    cfg, types = plan.cfg, plan.template.types
    sample_spans, counts, samples_prov, modes = [], Counter({k: 0 for k in COUNT_KEYS}), [], []
    for key in keys:
        entry = stored.get(key)
        if entry is None:
            totals.failed.append({"id": record.id, "reason": "no reply (request failed or not yet sent)"})
            return None, []
        try:
            reply = parse_reply(_content(entry["body"]))
        except LLMReplyError as err:
            totals.failed.append({"id": record.id, "reason": str(err)})
            return None, []
        alignment = align_mentions(record.tokens, reply.entities, types, invalid=reply.invalid)
        counts.update(alignment.counts)
        sample_spans.append(Record(record.id, record.tokens, alignment.tags).spans())
        samples_prov.append(_sample_provenance(key, entry))
        modes.append(reply.mode)
    first = samples_prov[0]
    provenance: dict[str, Any] = {
        **dict(record.provenance),
        "annotator": "llm",
        **{k: v for k, v in first.items() if k != "request_key"},
        "parameters": request_parameters(cfg),
        "template": plan.template.describe(),
        "demonstrations": [d.id for d in demos],
        "parse_mode": modes[0],
        "alignment": dict(counts),
        "request_key": first["request_key"],
    }
    spans = sample_spans[0]
    if len(keys) > 1:  # every sample's tags travel with the record, so k can be chosen again downstream
        provenance[SAMPLE_TAGS_KEY] = [list(tags_from_spans(s, len(record.tokens))) for s in sample_spans]
    if cfg.agree_k is not None and len(keys) > 1:
        spans, proposed = agree_spans(sample_spans, cfg.agree_k)
        provenance["agreement"] = {"samples": len(keys), "k": cfg.agree_k, "proposed": proposed, "kept": len(spans)}
        provenance["sample_request_ids"] = [s["request_id"] for s in samples_prov]
    totals.alignment.update(counts)
    totals.parse_modes.update(modes)
    totals.response_formats.update(str(s["response_format"]) for s in samples_prov)
    totals.models.update(str(s["model"]) for s in samples_prov if s["model"])
    labelled = Record(
        id=record.id,
        tokens=record.tokens,
        tags=tags_from_spans(spans, len(record.tokens)),
        text=record.text,
        offsets=record.offsets,
        source=record.source,
        provenance=provenance,
    )
    return labelled, sample_spans[0]


@dataclass(frozen=True)
class AnnotationResult:
    records: tuple[Record, ...]
    provenance: dict[str, Any]
    qa: dict[str, Any] | None


def _qa(records: Sequence[Record], gold: Mapping[str, Sequence[str]]) -> dict[str, Any] | None:
    """QA over every gold record: a record without LLM tags (failed, skipped) is scored as all ``O``, i.e. its
    gold entities count as misses; scoring only the labelled records would flatter the LLM."""
    if not gold:
        return None
    labelled = {r.id: r.tags for r in records if r.tags is not None}
    ids = list(gold)
    report = qa_report([labelled.get(i) or ("O",) * len(gold[i]) for i in ids], [gold[i] for i in ids])
    scored = [i for i in ids if i in labelled]
    if scored:
        report["labelled_only"] = qa_report([labelled[i] for i in scored], [gold[i] for i in scored])["overall"]
    return report


def coverage(kept: Sequence[Record], gold: Mapping[str, Sequence[str]], failed: Collection[str]) -> dict[str, Any]:
    """How many gold records the final labels cover; the others are ``failed`` (no usable reply or row) or
    ``skipped`` (dropped by a selection filter or an import's --on-error skip)."""
    labelled = {r.id for r in kept} & set(gold)
    missing = [i for i in gold if i not in labelled]
    n_failed = sum(i in set(failed) for i in missing)
    return {
        "gold_records": len(gold),
        "labelled": len(labelled),
        "failed": n_failed,
        "skipped": len(missing) - n_failed,
        "fraction": round(len(labelled) / len(gold), 4) if gold else 0.0,
    }


def qa_with_selection(
    kept: Sequence[Record], before: Sequence[Record], gold: Mapping[str, Sequence[str]], failed: Collection[str] = ()
) -> dict[str, Any] | None:
    """QA of the final records vs all gold, the coverage, and QA of the records before selection when selection
    changed anything. Gold records missing from ``kept`` count as misses; ``failed`` names those that failed."""
    final = _qa(kept, gold)
    if final is None:
        return None
    report: dict[str, Any] = {"final": final, "coverage": coverage(kept, gold, failed)}
    if [(r.id, r.tags) for r in before] != [(r.id, r.tags) for r in kept]:
        report["before_selection"] = _qa(before, gold)
    return report


def _stored(requests: Sequence[PlannedRequest], journal: Journal) -> dict[str, dict[str, Any]]:
    return {r.key: entry for r in requests if (entry := journal.get(r.key)) is not None}


def _label_all(
    plan: RunPlan, stored: Mapping[str, Mapping[str, Any]], totals: _Totals
) -> tuple[list[Record], list[Record]]:
    """The labelled records (after agreement), and the same records with sample 0's tags (before agreement)."""
    labelled: list[Record] = []
    before_agreement: list[Record] = []
    for record, keys, demos in zip(plan.inputs.records, plan.keys_by_record, plan.demos_by_record):
        result, first_spans = _label_record(record, keys, demos, plan, stored, totals)
        if result is not None:
            labelled.append(result)
            before_agreement.append(result.with_tags(tags_from_spans(first_spans, len(record.tokens))))
    return labelled, before_agreement


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


def verify(
    plan: RunPlan,
    client: LLMClient,
    journal: Journal,
    *,
    prices: PriceTable,
    budget: Budget,
    progress: Progress | None = None,
) -> ExecutionStats:
    """Send the verification requests for the extraction replies in the journal (``cfg.verify``).

    Raises:
        BudgetExceededError, LLMAuthError, LLMQuotaError, LLMContextLengthError, LLMTransportError: as execute.
    """
    labelled, _ = _label_all(plan, _stored(plan.requests, journal), _Totals())
    requests = list({r.key: r for r in verification_requests(plan, labelled).values()}.values())
    schema = VERIFY_RESPONSE_FORMAT if plan.cfg.response_format == "json_schema" else None
    return execute_requests(
        requests, plan.cfg, schema, client, journal, prices=prices, budget=budget, progress=progress
    )


def _apply_verdicts(
    record: Record, request: PlannedRequest | None, stored: Mapping[str, Mapping[str, Any]], counts: Counter[str]
) -> Record:
    """The record without the entities its verification reply rejected; missing verdicts keep entities."""
    if request is None:
        return record
    spans = record.spans()
    counts["entities"] += len(spans)
    entry = stored.get(request.key)
    verdicts: list[bool | None] = [None] * len(spans)
    status = "missing"
    if entry is not None:
        try:
            verdicts = parse_verdicts(_content(entry["body"]), len(spans))
            status = "answered"
        except LLMReplyError:
            status = "unreadable"
    rejected = [s for s, v in zip(spans, verdicts) if v is False]
    counts["rejected"] += len(rejected)
    counts["unverified"] += sum(v is None for v in verdicts)
    provenance = {
        **dict(record.provenance),
        "verification": {
            "status": status,
            "request_key": request.key,
            "request_id": (entry.get("request_id") or entry["body"].get("id")) if entry else None,
            "entities": len(spans),
            "rejected": [{"text": " ".join(record.tokens[s.start : s.end]), "type": s.label} for s in rejected],
            "unverified": sum(v is None for v in verdicts),
        },
    }
    kept = [s for s, v in zip(spans, verdicts) if v is not False]
    return dataclasses.replace(record, tags=tags_from_spans(kept, len(record.tokens)), provenance=provenance)


def assemble(
    plan: RunPlan, journal: Journal, prices: PriceTable, *, mode: str = "run", batch: bool = False
) -> AnnotationResult:
    """Parse, align and select from the journal's replies alone; the same journal always gives the same result."""
    cfg = plan.cfg
    stored = _stored(plan.requests, journal)
    totals = _Totals()
    labelled, before_agreement = _label_all(plan, stored, totals)
    selection: dict[str, Any] = {}
    before_verification = labelled
    if cfg.verify:
        requests = verification_requests(plan, labelled)
        unique = list({r.key: r for r in requests.values()}.values())  # identical sentences share one request
        verify_stored = _stored(unique, journal)
        counts: Counter[str] = Counter({k: 0 for k in ("entities", "rejected", "unverified")})
        labelled = [_apply_verdicts(r, requests.get(r.id), verify_stored, counts) for r in labelled]
        selection["verification"] = {"requests": len(unique), "replies": len(verify_stored), **counts}
        stored = {**stored, **verify_stored}
    kept = labelled
    if cfg.drop_alignment_problems:
        kept = [r for r in labelled if not _has_problems(r)]
        selection["drop_alignment_problems"] = {"dropped_records": len(labelled) - len(kept)}
    if cfg.agree_k is not None and cfg.samples > 1:
        proposed = sum(r.provenance["agreement"]["proposed"] for r in labelled)
        kept_entities = sum(r.provenance["agreement"]["kept"] for r in labelled)
        selection["agreement"] = {"samples": cfg.samples, "k": cfg.agree_k, "proposed": proposed, "kept": kept_entities}
    usage: Counter[str] = Counter()
    cost = 0.0
    for entry in stored.values():
        body = entry["body"]
        usage["prompt_tokens"] += int((body.get("usage") or {}).get("prompt_tokens") or 0)
        usage["completion_tokens"] += int((body.get("usage") or {}).get("completion_tokens") or 0)
        cost += _usage_cost(body, prices, cfg.model, batch=batch)
    qa = qa_with_selection(kept, before_agreement, plan.inputs.gold, [f["id"] for f in totals.failed])
    if qa is not None and cfg.verify:
        qa["before_verification"] = _qa(before_verification, plan.inputs.gold)
    all_requests = len(plan.requests) + selection.get("verification", {}).get("requests", 0)
    provenance: dict[str, Any] = {
        "kind": "annotations",
        "mode": mode,
        "complete": len(stored) == all_requests,
        "requested_model": cfg.model,
        "models": sorted(totals.models),
        "base_url": cfg.base_url or "https://api.openai.com/v1",
        "template": plan.template.describe(),
        "parameters": request_parameters(cfg),
        "samples": cfg.samples,
        "demonstrations": plan.demonstrations(),
        "inputs": list(plan.inputs.digests),
        "records_in": len(plan.inputs.records),
        "records_out": len(kept),
        "requests": all_requests,
        "replies": len(stored),
        "failed": totals.failed,
        "response_formats": dict(sorted(totals.response_formats.items())),
        "parse_modes": dict(sorted(totals.parse_modes.items())),
        "alignment": dict(sorted(totals.alignment.items())),
        "selection": selection,
        "usage": {**dict(usage), "total_tokens": usage["prompt_tokens"] + usage["completion_tokens"]},
        "cost_usd": round(cost, 6),
        "prices": prices.describe(),
        "qa": qa["final"]["overall"] if qa else None,
        "coverage": qa["coverage"] if qa else None,
    }
    return AnnotationResult(tuple(kept), provenance, qa)


def _has_problems(record: Record) -> bool:
    counts = record.provenance.get("alignment", {})
    return any(counts.get(key, 0) for key in PROBLEM_KEYS)


def annotate(
    plan: RunPlan,
    *,
    out: Path,
    journal: Journal,
    client: LLMClient,
    prices: PriceTable,
    budget_usd: float | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Execute the plan, then write the annotation folder (also after a budget stop, marked incomplete).

    Returns:
        A summary: the folder's provenance plus this process's requests sent, journal hits and spend.

    Raises:
        BudgetExceededError: after writing the partial folder.
        LLMAuthError, LLMQuotaError, LLMContextLengthError, LLMTransportError: nothing is written.
    """
    budget = Budget(budget_usd, prices, plan.cfg.model)
    try:
        stats = execute_requests(
            plan.requests, plan.cfg, plan.response_format, client, journal,
            prices=prices, budget=budget, progress=progress,
        )  # fmt: skip
        if plan.cfg.verify:
            stats = stats + verify(plan, client, journal, prices=prices, budget=budget, progress=progress)
    except BudgetExceededError as err:
        result = assemble(plan, journal, prices)
        write_annotation_folder(out, result.records, result.provenance, result.qa)
        err.report = {"out": str(out), "records_out": len(result.records)}  # type: ignore[attr-defined]
        raise
    result = assemble(plan, journal, prices)
    write_annotation_folder(out, result.records, result.provenance, result.qa)
    return {
        **result.provenance,
        "out": str(out),
        "this_run": {
            "sent": stats.sent,
            "journal_hits": stats.journal_hits,
            "retries": stats.retries,
            "spent_usd": round(stats.spent_usd, 6),
        },
    }
