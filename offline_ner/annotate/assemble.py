"""Assemble an annotation folder's contents from the journal alone: parse and align each reply, apply agreement,
verification and selection, score against gold, and write the run's provenance.

Because it never looks at anything but the journal and the plan, a run killed with ``kill -9`` and restarted
writes byte-identical files.

Example::

    result = assemble(plan, journal, prices)
    write_annotation_folder(out, result.records, result.provenance, result.qa)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from offline_ner.annotate.align import COUNT_KEYS, PROBLEM_KEYS, align_mentions
from offline_ner.annotate.budget import usage_cost
from offline_ner.annotate.cost import PriceTable
from offline_ner.annotate.journal import Journal
from offline_ner.annotate.parse import CutOffReplyError, ParsedReply, parse_complete_reply
from offline_ner.annotate.plan import PlannedRequest, RunPlan, request_parameters, verification_requests
from offline_ner.annotate.qa import qa_report
from offline_ner.annotate.verify import parse_verdicts
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


def stored_replies(requests: Sequence[PlannedRequest], journal: Journal) -> dict[str, dict[str, Any]]:
    return {r.key: entry for r in requests if (entry := journal.get(r.key)) is not None}


def label_all(
    plan: RunPlan, stored: Mapping[str, Mapping[str, Any]], totals: _Totals | None = None
) -> tuple[list[Record], list[Record]]:
    """The labelled records (after agreement), and the same records with sample 0's tags (before agreement);
    ``totals`` collects the run's counts when given."""
    totals = totals if totals is not None else _Totals()
    labelled: list[Record] = []
    before_agreement: list[Record] = []
    for record, keys, demos in zip(plan.inputs.records, plan.keys_by_record, plan.demos_by_record):
        result, first_spans = _label_record(record, keys, demos, plan, stored, totals)
        if result is not None:
            labelled.append(result)
            before_agreement.append(result.with_tags(tags_from_spans(first_spans, len(record.tokens))))
    return labelled, before_agreement


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
    stored = stored_replies(plan.requests, journal)
    totals = _Totals()
    labelled, before_agreement = label_all(plan, stored, totals)
    selection: dict[str, Any] = {}
    before_verification = labelled
    if cfg.verify:
        labelled, verify_stored, selection["verification"] = _apply_verification(plan, journal, labelled)
        stored = {**stored, **verify_stored}
    kept, selection_counts = _select(plan, labelled)
    selection.update(selection_counts)
    qa = qa_with_selection(kept, before_agreement, plan.inputs.gold, [f["id"] for f in totals.failed])
    if qa is not None and cfg.verify:
        qa["before_verification"] = _qa(before_verification, plan.inputs.gold)
    all_requests = len(plan.requests) + selection.get("verification", {}).get("requests", 0)
    usage, cost = _usage(stored, prices, cfg.model, batch)
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
        "usage": usage,
        "cost_usd": round(cost, 6),
        "prices": prices.describe(),
        "qa": qa["final"]["overall"] if qa else None,
        "coverage": qa["coverage"] if qa else None,
    }
    return AnnotationResult(tuple(kept), provenance, qa)


def _apply_verification(
    plan: RunPlan, journal: Journal, labelled: list[Record]
) -> tuple[list[Record], dict[str, dict[str, Any]], dict[str, int]]:
    """The records without the entities their verification replies rejected, those replies, and the counts."""
    requests = verification_requests(plan, labelled)
    unique = list({r.key: r for r in requests.values()}.values())  # identical sentences share one request
    verify_stored = stored_replies(unique, journal)
    counts: Counter[str] = Counter({k: 0 for k in ("entities", "rejected", "unverified")})
    verified = [_apply_verdicts(r, requests.get(r.id), verify_stored, counts) for r in labelled]
    return verified, verify_stored, {"requests": len(unique), "replies": len(verify_stored), **counts}


def _select(plan: RunPlan, labelled: list[Record]) -> tuple[list[Record], dict[str, Any]]:
    """The records the selection filters keep, and what each filter did."""
    cfg = plan.cfg
    selection: dict[str, Any] = {}
    kept = labelled
    if cfg.drop_alignment_problems:
        kept = [r for r in labelled if not _has_problems(r)]
        selection["drop_alignment_problems"] = {"dropped_records": len(labelled) - len(kept)}
    if cfg.agree_k is not None and cfg.samples > 1:
        proposed = sum(r.provenance["agreement"]["proposed"] for r in labelled)
        kept_entities = sum(r.provenance["agreement"]["kept"] for r in labelled)
        selection["agreement"] = {"samples": cfg.samples, "k": cfg.agree_k, "proposed": proposed, "kept": kept_entities}
    return kept, selection


def _usage(
    stored: Mapping[str, Mapping[str, Any]], prices: PriceTable, model: str, batch: bool
) -> tuple[dict[str, int], float]:
    """Tokens the endpoint billed for every journalled reply, and their cost."""
    usage: Counter[str] = Counter()
    cost = 0.0
    for entry in stored.values():
        # a re-asked request was billed twice: the cut-off reply's usage is kept beside the final reply's
        bodies = [entry["body"], *([entry["reasked"]["cut_off_reply"]] if "reasked" in entry else [])]
        for body in bodies:
            usage["prompt_tokens"] += int((body.get("usage") or {}).get("prompt_tokens") or 0)
            usage["completion_tokens"] += int((body.get("usage") or {}).get("completion_tokens") or 0)
            cost += usage_cost(body, prices, model, batch=batch)
    return {**dict(usage), "total_tokens": usage["prompt_tokens"] + usage["completion_tokens"]}, cost


def _has_problems(record: Record) -> bool:
    counts = record.provenance.get("alignment", {})
    return any(counts.get(key, 0) for key in PROBLEM_KEYS)
