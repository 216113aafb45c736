"""Assemble an annotation folder's contents from the journal alone: parse and align each reply, apply agreement,
verification and selection, score against gold, and write the run's provenance.

Because it never looks at anything but the journal and the plan (which reads the inputs again), a run killed with
``kill -9`` and restarted writes byte-identical files. :func:`assemble_into` streams: it reads one record and its
replies at a time and writes each record as soon as it is made, so a run's memory does not grow with its number of
sentences (with gold, QA keeps each record's id and tags).

Example::

    provenance = assemble_into(Path("ann/"), plan, journal, prices)      # records.jsonl, provenance.json, qa.json
    result = assemble(plan, journal, prices)                             # the same, in memory
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from offline_ner.annotate.align import COUNT_KEYS, PROBLEM_KEYS, align_mentions
from offline_ner.annotate.budget import usage_cost
from offline_ner.annotate.cost import PriceTable
from offline_ner.annotate.folder import write_records_file, write_run_files
from offline_ner.annotate.journal import Journal
from offline_ner.annotate.parse import CutOffReplyError, ParsedReply, parse_complete_reply
from offline_ner.annotate.plan import PlannedRequest, RunPlan, request_parameters, verification_requests
from offline_ner.annotate.qa import qa_report
from offline_ner.annotate.self_verification import parse_verdicts
from offline_ner.data import SAMPLE_TAGS_KEY, Record, Span, agree_spans, tags_from_spans
from offline_ner.errors import LLMReplyError


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


def _finish_reason(body: Mapping[str, Any]) -> str | None:
    try:
        return body["choices"][0].get("finish_reason")
    except (KeyError, IndexError, TypeError, AttributeError):
        return None


def read_entities(body: Mapping[str, Any]) -> ParsedReply:
    """The entities of one extraction reply body; a cut-off reply raises :class:`CutOffReplyError`.

    Raises:
        CutOffReplyError, LLMReplyError: see :func:`~offline_ner.annotate.parse.parse_complete_reply`.
    """
    return parse_complete_reply(_content(body), _finish_reason(body))


def is_cut_off(body: Mapping[str, Any]) -> bool:
    """Whether an extraction reply was cut off (the run re-asks it once with a larger ``max_tokens``)."""
    try:
        read_entities(body)
    except CutOffReplyError:
        return True
    except LLMReplyError:
        return False
    return False


class Replies(Protocol):
    """Stored replies by request key: a dict, or the journal read one row at a time."""

    def get(self, key: str, /) -> Mapping[str, Any] | None: ...


class HasTags(Protocol):
    """What QA reads of a record."""

    @property
    def id(self) -> str: ...
    @property
    def tags(self) -> tuple[str, ...] | None: ...


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
        **({"reasked": stored["reasked"]} if "reasked" in stored else {}),
    }


def _label_record(
    record: Record,
    keys: Sequence[str],
    demos: Sequence[Record],
    plan: RunPlan,
    stored: Replies,
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
            reply = read_entities(entry["body"])
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


def _qa(records: Sequence[HasTags], gold: Mapping[str, Sequence[str]]) -> dict[str, Any] | None:
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


def coverage(kept: Sequence[HasTags], gold: Mapping[str, Sequence[str]], failed: Collection[str]) -> dict[str, Any]:
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
    kept: Sequence[HasTags], before: Sequence[HasTags], gold: Mapping[str, Sequence[str]], failed: Collection[str] = ()
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


def labelled_records(plan: RunPlan, journal: Journal) -> Iterator[Record]:
    """The records with usable replies in the journal, labelled (after agreement), one at a time."""
    replies, totals = _JournalReplies(journal), _Totals()
    for item in plan.records():
        labelled, _ = _label_record(item.record, item.keys, item.demos, plan, replies, totals)
        if labelled is not None:
            yield labelled


def _apply_verdicts(
    record: Record, request: PlannedRequest | None, stored: Replies, counts: Counter[str]
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


class _JournalReplies:
    """The journal read as a mapping from request key to stored reply, one row at a time (nothing is cached)."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal

    def get(self, key: str, /) -> dict[str, Any] | None:
        return self._journal.get(key)


class Tagged(NamedTuple):
    """What QA needs of a record: its id and tags (a record's worth of memory is kept only when gold exists)."""

    id: str
    tags: tuple[str, ...] | None


class _Assembly:
    """One pass over the input records that yields each final record as soon as it is made, so the folder is
    written in memory that does not grow with the run (QA keeps only ids and tags, and only when there is gold);
    :meth:`finish` then gives the provenance and QA of what was yielded."""

    def __init__(self, plan: RunPlan, journal: Journal, prices: PriceTable, *, mode: str, batch: bool) -> None:
        self.plan, self.journal, self.prices, self.mode, self.batch = plan, journal, prices, mode, batch
        self.totals = _Totals()
        self.records_out = 0
        self.verify_keys: dict[str, None] = {}  # in first-use order, as the cost is summed
        self.verify_counts: Counter[str] = Counter({k: 0 for k in ("entities", "rejected", "unverified")})
        self.dropped = self.proposed = self.kept_entities = 0
        # ids and tags at each stage, for QA against gold only
        self.stages: dict[str, list[Tagged]] | None = (
            {"before_agreement": [], "before_verification": [], "kept": []} if plan.inputs.gold else None
        )

    def _note(self, stage: str, record: Record) -> None:
        if self.stages is not None:
            self.stages[stage].append(Tagged(record.id, record.tags))

    def records(self) -> Iterator[Record]:
        """The final records in input order (labelled, agreed, verified, selected)."""
        plan, cfg, replies = self.plan, self.plan.cfg, _JournalReplies(self.journal)
        for item in plan.records():
            labelled, first_spans = _label_record(item.record, item.keys, item.demos, plan, replies, self.totals)
            if labelled is None:
                continue
            self._note("before_agreement", labelled.with_tags(tags_from_spans(first_spans, len(labelled.tokens))))
            self._note("before_verification", labelled)
            if cfg.verify:
                request = verification_requests(plan, [labelled]).get(labelled.id)
                if request is not None:
                    self.verify_keys[request.key] = None
                labelled = _apply_verdicts(labelled, request, replies, self.verify_counts)
            if cfg.agree_k is not None and cfg.samples > 1:
                self.proposed += labelled.provenance["agreement"]["proposed"]
                self.kept_entities += labelled.provenance["agreement"]["kept"]
            if cfg.drop_alignment_problems and _has_problems(labelled):
                self.dropped += 1
                continue
            self._note("kept", labelled)
            self.records_out += 1
            yield labelled

    def finish(self) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """The run's provenance and QA; call after :meth:`records` is exhausted."""
        plan, cfg, totals = self.plan, self.plan.cfg, self.totals
        selection: dict[str, Any] = {}
        if cfg.verify:
            replies = sum(self.journal.has(key) for key in self.verify_keys)
            selection["verification"] = {"requests": len(self.verify_keys), "replies": replies, **self.verify_counts}
        if cfg.drop_alignment_problems:
            selection["drop_alignment_problems"] = {"dropped_records": self.dropped}
        if cfg.agree_k is not None and cfg.samples > 1:
            selection["agreement"] = {
                "samples": cfg.samples, "k": cfg.agree_k, "proposed": self.proposed, "kept": self.kept_entities,
            }  # fmt: skip
        qa = None
        if self.stages is not None:
            gold, stages = plan.inputs.gold, self.stages
            qa = qa_with_selection(stages["kept"], stages["before_agreement"], gold, [f["id"] for f in totals.failed])
            if qa is not None and cfg.verify:
                qa["before_verification"] = _qa(stages["before_verification"], gold)
        all_requests = len(plan.requests) + len(self.verify_keys)
        keys = itertools.chain(plan.requests.keys(), self.verify_keys)
        n_replies, usage, cost = _usage(self.journal, keys, self.prices, cfg.model, self.batch)
        provenance: dict[str, Any] = {
            "kind": "annotations",
            "mode": self.mode,
            "complete": n_replies == all_requests,
            "requested_model": cfg.model,
            "models": sorted(totals.models),
            "base_url": cfg.base_url or "https://api.openai.com/v1",
            "template": plan.template.describe(),
            "parameters": request_parameters(cfg),
            "samples": cfg.samples,
            "demonstrations": plan.demonstrations(),
            "inputs": list(plan.inputs.digests),
            "records_in": len(plan.inputs.records),
            "records_out": self.records_out,
            "requests": all_requests,
            "replies": n_replies,
            "failed": totals.failed,
            "response_formats": dict(sorted(totals.response_formats.items())),
            "parse_modes": dict(sorted(totals.parse_modes.items())),
            "alignment": dict(sorted(totals.alignment.items())),
            "selection": selection,
            "usage": usage,
            "cost_usd": round(cost, 6),
            "prices": self.prices.describe(),
            "qa": qa["final"]["overall"] if qa else None,
            "coverage": qa["coverage"] if qa else None,
        }
        return provenance, qa


def assemble(
    plan: RunPlan, journal: Journal, prices: PriceTable, *, mode: str = "run", batch: bool = False
) -> AnnotationResult:
    """Parse, align and select from the journal's replies alone; the same journal always gives the same result.
    (:func:`assemble_into` writes the same result to a folder without holding the records.)"""
    assembly = _Assembly(plan, journal, prices, mode=mode, batch=batch)
    records = tuple(assembly.records())
    provenance, qa = assembly.finish()
    return AnnotationResult(records, provenance, qa)


def assemble_into(
    out: Path,
    plan: RunPlan,
    journal: Journal,
    prices: PriceTable,
    *,
    mode: str = "run",
    batch: bool = False,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """:func:`assemble`, writing each record to the folder as it is made; returns the provenance written (plus
    ``extra``). Memory does not grow with the number of records (QA against gold keeps their ids and tags)."""
    assembly = _Assembly(plan, journal, prices, mode=mode, batch=batch)
    write_records_file(out, assembly.records())
    provenance, qa = assembly.finish()
    provenance.update(extra or {})
    write_run_files(out, provenance, qa)
    return provenance


def _usage(
    journal: Journal, keys: Iterable[str], prices: PriceTable, model: str, batch: bool
) -> tuple[int, dict[str, int], float]:
    """How many of the (distinct) ``keys`` have a reply in the journal, the tokens the endpoint billed for them,
    and their cost."""
    usage: Counter[str] = Counter()
    cost = 0.0
    replies = 0
    for key in keys:
        entry = journal.get(key)
        if entry is None:
            continue
        replies += 1
        # a re-asked request was billed twice: the cut-off reply's usage is kept beside the final reply's
        bodies = [entry["body"], *([entry["reasked"]["cut_off_reply"]] if "reasked" in entry else [])]
        for body in bodies:
            usage["prompt_tokens"] += int((body.get("usage") or {}).get("prompt_tokens") or 0)
            usage["completion_tokens"] += int((body.get("usage") or {}).get("completion_tokens") or 0)
            cost += usage_cost(body, prices, model, batch=batch)
    return replies, {**dict(usage), "total_tokens": usage["prompt_tokens"] + usage["completion_tokens"]}, cost


def _has_problems(record: Record) -> bool:
    counts = record.provenance.get("alignment", {})
    return any(counts.get(key, 0) for key in PROBLEM_KEYS)
