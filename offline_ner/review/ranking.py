"""Which LLM-labelled sentences a person should review first: score each from a gold-trained judge's probabilities.

A teacher trained on gold (the gold-only model of the closed side) reads every LLM-labelled sentence. Two kinds
of signal come from it. ``entity-errors`` estimates how many entity errors (spans the LLM should not have, plus
spans it missed or cut or typed wrongly) a sentence holds: it finds the most label errors per reviewed sentence
(46% of them in the top 17%). ``uncertainty`` (the default) ranks where the teacher is least sure, whatever the
LLM said. Trained on, the second pays more (EXPERIMENTS.md, issue 31): an error the teacher confidently sees is
one the gold phase of Simple Mix corrects anyway, while a correction where the gold left the teacher unsure
teaches the student something the gold cannot. Each score carries a reason a reviewer reads ("teacher says ORG
where the LLM says LOC: 'Wall Street' (0.92)", "teacher unsure of 'Wall': B-ORG 0.48 or B-LOC 0.41").

Pure: numpy only, no model. The probabilities come from :func:`offline_ner.train.predict_word_probs`.

Example::

    scores = rank_records(records, TeacherView(labels, probs), "uncertainty")
    top = scores[:1000]               # review these first
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from offline_ner.data import Record, Span, spans_from_tags
from offline_ner.data.teacher_view import TeacherView
from offline_ner.review.choices import RANDOM, REVIEW_KEY, SIGNALS


@dataclass(frozen=True)
class ReviewScore:
    """One sentence's place in the review queue."""

    record_id: str
    # the signal's estimate of the sentence's label errors: higher is reviewed first
    score: float
    # the largest single doubt, for the reviewer ("" when the teacher agrees with every label)
    reason: str


@dataclass(frozen=True)
class _Doubt:
    weight: float
    reason: str


def _tag_probs(probs: np.ndarray, labels: Sequence[str], tags: Sequence[str]) -> np.ndarray:
    """The teacher's probability of each word's tag (0 for a tag outside its label set)."""
    column = {label: i for i, label in enumerate(labels)}
    return np.array([probs[w, column[t]] if t in column else 0.0 for w, t in enumerate(tags)], dtype=np.float64)


def _span_tags(span: Span) -> list[str]:
    return [f"B-{span.label}"] + [f"I-{span.label}"] * (span.end - span.start - 1)


def _text(record: Record, span: Span) -> str:
    return " ".join(record.tokens[span.start : span.end])


def _teacher_spans(probs: np.ndarray, labels: Sequence[str]) -> list[Span]:
    """The entities of the teacher's own (argmax, IOB2-repaired) tags."""
    return spans_from_tags(TeacherView(tuple(labels), [probs]).tags()[0])


def entity_doubts(record: Record, probs: np.ndarray, labels: Sequence[str], teacher: Sequence[Span]) -> list[_Doubt]:
    """Each LLM span the teacher doubts (weight: 1 - its mean probability of the span's tags) and each span of the
    ``teacher``'s that the LLM lacks (weight: the teacher's mean probability of it)."""
    llm = record.spans()
    by_bounds = {(s.start, s.end): s for s in teacher}
    llm_bounds = {(s.start, s.end) for s in llm}
    doubts = []
    for span in llm:
        sure = float(_tag_probs(probs[span.start : span.end], labels, _span_tags(span)).mean())
        other = by_bounds.get((span.start, span.end))
        if other is not None and other.label != span.label:
            why = f"teacher says {other.label} where the LLM says {span.label}: '{_text(record, span)}' ({1 - sure:.2f})"
        else:
            why = f"teacher doubts the LLM's {span.label} '{_text(record, span)}' ({1 - sure:.2f})"
        doubts.append(_Doubt(1.0 - sure, why))
    kept = set(llm)
    for span in teacher:
        if span in kept:
            continue
        sure = float(_tag_probs(probs[span.start : span.end], labels, _span_tags(span)).mean())
        if (span.start, span.end) in llm_bounds:
            why = f"teacher says {span.label} for '{_text(record, span)}' ({sure:.2f})"
        else:
            why = f"teacher finds {span.label} '{_text(record, span)}' that the LLM left out ({sure:.2f})"
        doubts.append(_Doubt(sure, why))
    return doubts


def _reason(doubts: Sequence[_Doubt]) -> str:
    return max(doubts, key=lambda d: d.weight).reason if doubts else ""


def score_record(record: Record, probs: np.ndarray, labels: Sequence[str], signal: str) -> ReviewScore:
    """``record``'s score under ``signal`` (one of :data:`offline_ner.review.choices.SIGNALS`).

    Raises:
        ValueError: an unknown signal, an unlabelled record, or probabilities for another number of words.
    """
    if record.tags is None:
        raise ValueError(f"record {record.id}: has no labels to review")
    if len(probs) != len(record.tokens):
        raise ValueError(f"record {record.id}: {len(record.tokens)} words but {len(probs)} rows of probabilities")
    if signal not in SIGNALS:
        raise ValueError(f"unknown review signal {signal!r}; choose from {', '.join(SIGNALS)}")
    if signal == "uncertainty":  # the reason is the least sure word, not a disagreement: no spans needed
        entropy = -(probs * np.log(np.clip(probs, 1e-12, 1.0))).sum(axis=1)
        doubts = [_unsure(record, probs, labels, int(entropy.argmax()))] if len(entropy) else []
        return ReviewScore(record.id, round(float(entropy.sum()), 6), _reason(doubts))
    teacher = _teacher_spans(probs, labels)
    doubts = entity_doubts(record, probs, labels, teacher)
    if signal == "entity-errors":
        score = sum(d.weight for d in doubts)
    elif signal == "token-errors":
        score = float((1.0 - _tag_probs(probs, labels, record.tags)).sum())
    else:  # span-disagreement
        score = float(len(set(record.spans()) ^ set(teacher)))
    return ReviewScore(record.id, round(float(score), 6), _reason(doubts))


def _unsure(record: Record, probs: np.ndarray, labels: Sequence[str], word: int) -> _Doubt:
    """The word the teacher is least sure of, with its two most likely tags."""
    first, second = np.argsort(probs[word])[::-1][:2]
    return _Doubt(1.0, f"teacher unsure of '{record.tokens[word]}': {labels[first]} {probs[word, first]:.2f} or "
                       f"{labels[second]} {probs[word, second]:.2f} (the LLM says {(record.tags or ())[word]})")


def rank_records(records: Sequence[Record], view: TeacherView, signal: str) -> list[ReviewScore]:
    """Every record's score, highest first (ties keep the input order, so a ranking is reproducible).

    Raises:
        ValueError: see :func:`score_record`; or a view of another number of records.
    """
    if len(view.probs) != len(records):
        raise ValueError(f"{len(view.probs)} probability rows for {len(records)} records")
    scores = [score_record(r, p, view.labels, signal) for r, p in zip(records, view.probs)]
    return sorted(scores, key=lambda s: -s.score)


def random_order(records: Sequence[Record], seed: int) -> list[ReviewScore]:
    """The records in a seeded random order (the control arm: review without a ranking), score 0."""
    order = list(range(len(records)))
    random.Random(seed).shuffle(order)
    return [ReviewScore(records[i].id, 0.0, RANDOM) for i in order]


def merge_reviewed(records: Sequence[Record], reviewed: Mapping[str, Record]) -> list[Record]:
    """``records`` with each reviewed one (same id) in its place, in input order: what the student trains on.

    Raises:
        ValueError: a reviewed record whose tokens differ from its original's, or that is not among ``records``.
    """
    ids = {r.id for r in records}
    stray = sorted(set(reviewed) - ids)
    if stray:
        raise ValueError(f"{len(stray)} reviewed records are not among the LLM-labelled ones, e.g. {stray[0]!r}")
    out = []
    for record in records:
        fixed = reviewed.get(record.id)
        if fixed is not None and fixed.tokens != record.tokens:
            raise ValueError(f"record {record.id}: the reviewed tokens differ from the LLM-labelled ones")
        out.append(record if fixed is None else fixed)
    return out


def split_reviewed(records: Sequence[Record], reviewed: Mapping[str, Record]) -> tuple[list[Record], list[Record]]:
    """``records`` without the reviewed ones, and the reviewed ones (in ``records``' order): to train the corrected
    sentences as gold and the rest as distilled, which pays most (EXPERIMENTS.md, issue 31).

    Raises:
        ValueError: as :func:`merge_reviewed`.
    """
    merged = merge_reviewed(records, reviewed)
    return ([r for r in merged if r.id not in reviewed], [r for r in merged if r.id in reviewed])


def apply_review(records: Sequence[Record], reviewed: Mapping[str, Record], chosen: Sequence[ReviewScore],
                 *, reviewer: str) -> list[Record]:
    """Simulated review: the ``chosen`` records get ``reviewed``'s tags (the same ids), the rest are kept.

    Each replaced record says so in its provenance: ``review`` holds the reviewer's name, its rank and score.

    Raises:
        ValueError: a chosen record the reviewer has no labels for, or whose tokens differ.
    """
    by_id = {r.id: r for r in records}
    fixed = {}
    for rank, score in enumerate(chosen, start=1):
        record, answer = by_id.get(score.record_id), reviewed.get(score.record_id)
        if record is None or answer is None or answer.tags is None or answer.tokens != record.tokens:
            raise ValueError(f"record {score.record_id}: the reviewer {reviewer!r} has no labels for these tokens")
        provenance = {**record.provenance, REVIEW_KEY: {"reviewer": reviewer, "rank": rank, "score": score.score}}
        fixed[record.id] = Record(**{**record.__dict__, "tags": answer.tags, "provenance": provenance})
    return merge_reviewed(records, fixed)


@dataclass(frozen=True)
class LabelErrors:
    """How many of the LLM's entity errors (spans it has that gold lacks, plus spans gold has that it lacks) the
    top of a ranking holds: what review at that depth can fix."""

    reviewed: int
    errors_in_reviewed: int
    errors_total: int
    wrong_sentences_in_reviewed: int
    wrong_sentences_total: int

    @property
    def error_share(self) -> float:
        return self.errors_in_reviewed / self.errors_total if self.errors_total else 0.0


def entity_errors(llm: Record, gold: Record) -> int:
    """Spans in one label set but not the other (a mistyped entity counts twice, as entity F1 counts it)."""
    return len(set(llm.spans()) ^ set(gold.spans()))


def label_errors(records: Sequence[Record], gold: Mapping[str, Record], ranking: Sequence[ReviewScore],
                 reviewed: int) -> LabelErrors:
    """The share of the LLM's entity errors in the top ``reviewed`` of ``ranking`` (gold: the same ids)."""
    errors = {r.id: entity_errors(r, gold[r.id]) for r in records}
    top = [s.record_id for s in ranking[:reviewed]]
    return LabelErrors(len(top), sum(errors[i] for i in top), sum(errors.values()),
                       sum(1 for i in top if errors[i]), sum(1 for e in errors.values() if e))
