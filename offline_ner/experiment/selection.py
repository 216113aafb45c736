"""Annotation selection and noise handling: what happens to the distilled labels before training. Pure (numpy; no
torch, cleanlab imported on use).

The LLM labels we distil from are noisy (NoiseBench's GPT labels: F1 0.554 against gold, MISC 0.135), and the
paper names selection as future work. Each kind of :class:`~offline_ner.experiment.config.SelectionConfig` is one
function here; :func:`apply_selection` dispatches, :func:`selection_report` counts what a kind kept, masked or
relabelled per entity type.

* ``agreement`` / ``cv_agreement``: keep a sentence when the span F1 between its LLM spans and the teacher's
  reaches ``min_agreement`` (both finding no entity agree, F1 1.0); the LLM's labels are kept, never replaced.
* ``token_mask``: keep every sentence, but tokens whose LLM tag differs from the teacher's get no loss
  (partial-annotation learning: ``provenance["no_loss_words"]``, read by ``train.features``).
* ``confident_learning``: cleanlab's ``token_classification.filter.find_label_issues`` over the teachers'
  probabilities flags tokens; their sentences are dropped or the tokens masked (``action``).
* ``relabel``: the teacher's tag replaces the LLM's where the teacher's probability reaches ``min_confidence``.
* ``retype``: the LLM's spans are kept; the teacher's type replaces a span's where its probability mass for that
  type reaches ``min_confidence``.
* ``k_of_n``: the entities at least k of the record's n LLM samples agree on (``provenance["sample_tags"]``).

Who judges (the "fold" kinds): k teachers, teacher i trained on the gold subset without fold i (folds group
identical sentences). A distilled sentence that is also a gold sentence of the subset (same id, else same tokens)
is judged by the one teacher that did not train on it (out-of-fold); every other distilled sentence, i.e. all of
them when the distilled and gold sets are disjoint as in the paper's design, by the mean of the k teachers'
probabilities. So no sentence is judged by a model that trained on it.

Example::

    kept = select_by_agreement(distilled, teacher_tags, min_agreement=1.0)
    report = selection_report(distilled, kept)
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from offline_ner.data import SAMPLE_TAGS_KEY, Record, Span, agree_spans, repair_iob2, spans_from_tags, tags_from_spans
from offline_ner.data.teacher_view import TeacherView
from offline_ner.experiment.config import SelectionConfig
from offline_ner.train.features import NO_LOSS_KEY


def span_agreement(a: Sequence[Span], b: Sequence[Span]) -> float:
    """Entity-level F1 between two span sets of one sentence (exact boundaries and type); 1.0 when both empty."""
    if not a and not b:
        return 1.0
    common = len(set(a) & set(b))
    return 2 * common / (len(a) + len(b))


def _check_lengths(distilled: Sequence[Record], per_record: Sequence[Any], what: str) -> None:
    if len(per_record) != len(distilled):
        raise ValueError(f"{len(per_record)} teacher {what} sequences for {len(distilled)} distilled records")
    for record, row in zip(distilled, per_record):
        if len(row) != len(record.tokens):
            raise ValueError(f"record {record.id}: {len(record.tokens)} tokens but {len(row)} teacher {what}")


def select_by_agreement(
    distilled: Sequence[Record], teacher_tags: Sequence[Sequence[str]], min_agreement: float
) -> list[Record]:
    """The distilled records whose LLM spans agree with the teacher's by at least ``min_agreement``.

    Raises:
        ValueError: the teacher tagged a different number of records or tokens (a caller bug).
    """
    _check_lengths(distilled, teacher_tags, "tags")
    return [record for record, tags in zip(distilled, teacher_tags)
            if span_agreement(record.spans(), spans_from_tags(tags)) >= min_agreement]


def _masked(record: Record, words: Sequence[int]) -> Record | None:
    """``record`` with ``words`` given no loss (on top of any it had); None when no word would be trained."""
    no_loss = sorted({*record.provenance.get(NO_LOSS_KEY, ()), *words})
    if len(no_loss) == len(record.tokens):
        return None
    if not no_loss:
        return record
    return Record(**{**record.__dict__, "provenance": {**record.provenance, NO_LOSS_KEY: no_loss}})


def mask_disagreements(distilled: Sequence[Record], teacher_tags: Sequence[Sequence[str]]) -> list[Record]:
    """Every record, with no loss on the words whose LLM tag differs from the teacher's.

    A record where every word disagrees has nothing left to learn from and is dropped.

    Raises:
        ValueError: teacher tags of the wrong count or length (a caller bug).
    """
    _check_lengths(distilled, teacher_tags, "tags")
    out = []
    for record, tags in zip(distilled, teacher_tags):
        masked = _masked(record, [i for i, (mine, theirs) in enumerate(zip(record.tags or (), tags)) if mine != theirs])
        if masked is not None:
            out.append(masked)
    return out


def label_issues(distilled: Sequence[Record], view: TeacherView) -> list[list[int]]:
    """Per record, the words cleanlab's confident learning flags as mislabelled by the LLM.

    Raises:
        ImportError: cleanlab is not installed (``pip install 'offline-ner[selection]'``).
        ValueError: an LLM tag outside the teacher's label set, or probabilities of the wrong shape.
    """
    from cleanlab.token_classification.filter import find_label_issues

    _check_lengths(distilled, view.probs, "probabilities")
    index = {label: i for i, label in enumerate(view.labels)}
    unknown = sorted({t for r in distilled for t in r.tags or () if t not in index})
    if unknown:
        raise ValueError(f"LLM tags {', '.join(unknown)} are not in the teacher's labels {list(view.labels)}")
    labels = [[index[t] for t in r.tags or ()] for r in distilled]
    issues: list[list[int]] = [[] for _ in distilled]
    # n_jobs=1: the shared CPU machine; the token-level problem is small next to the teachers' training
    for sentence, word in find_label_issues(labels, list(view.probs), n_jobs=1):
        issues[sentence].append(int(word))
    return [sorted(words) for words in issues]


def apply_issues(distilled: Sequence[Record], issues: Sequence[Sequence[int]], action: str) -> list[Record]:
    """``drop``: the records without an issue; ``mask``: every record, its flagged words without loss."""
    if action == "drop":
        return [record for record, words in zip(distilled, issues) if not words]
    out = [_masked(record, words) for record, words in zip(distilled, issues)]
    return [record for record in out if record is not None]


def relabel(distilled: Sequence[Record], view: TeacherView, min_confidence: float) -> list[Record]:
    """Each record with the teacher's tag wherever the teacher gives it at least ``min_confidence``, IOB2-repaired.

    Raises:
        ValueError: probabilities of the wrong count or length (a caller bug).
    """
    _check_lengths(distilled, view.probs, "probabilities")
    out = []
    for record, probs, teacher in zip(distilled, view.probs, view.argmax_tags()):
        sure = probs.max(axis=1) >= min_confidence
        tags = tuple(t if confident else mine for mine, t, confident in zip(record.tags or (), teacher, sure))
        tags = repair_iob2(tags)[0]
        out.append(record if tags == record.tags else record.with_tags(tags))
    return out


def retype(distilled: Sequence[Record], view: TeacherView, min_confidence: float) -> list[Record]:
    """Each record with the LLM's own spans, each span typed by the teacher where the teacher's probability mass for
    another type (its B- and I- tags, averaged over the span's words) is at least ``min_confidence``.

    Where entities are and where they end stay the LLM's: that is the knowledge a gold-trained teacher lacks, and
    what dropping, masking or relabelling throws away. The type is where the LLM is most often wrong against
    CoNLL's conventions (ORG against LOC, MISC), and where a teacher trained on those conventions is not.

    Raises:
        ValueError: probabilities of the wrong count or length (a caller bug).
    """
    _check_lengths(distilled, view.probs, "probabilities")
    types = sorted({_type(label) for label in view.labels} - {OUTSIDE})
    columns = {t: [i for i, label in enumerate(view.labels) if _type(label) == t] for t in types}

    def typed(span: Span, probs: np.ndarray) -> Span:
        words = probs[span.start:span.end]
        mass = {t: float(words[:, cols].sum(axis=1).mean()) for t, cols in columns.items()}
        best = max(mass, key=mass.__getitem__)
        return span._replace(label=best) if best != span.label and mass[best] >= min_confidence else span

    out = []
    for record, probs in zip(distilled, view.probs):
        spans = record.spans()
        retyped = [typed(span, probs) for span in spans]
        out.append(record if retyped == spans else record.with_tags(tags_from_spans(retyped, len(record.tokens))))
    return out


def vote_samples(distilled: Sequence[Record], k: int) -> list[Record]:
    """Each record tagged with the entities at least ``k`` of its LLM samples agree on.

    Raises:
        ValueError: a record without per-sample tags (annotate with ``--samples N``, N >= k), or with fewer than k.
    """
    out = []
    for record in distilled:
        samples = record.provenance.get(SAMPLE_TAGS_KEY)
        if not samples or len(samples) < k:
            found = len(samples) if samples else 0
            raise ValueError(f"record {record.id} has {found} LLM samples (provenance.{SAMPLE_TAGS_KEY}); k_of_n with "
                             f"k={k} needs records annotated with --samples >= {k}")
        spans, _ = agree_spans([spans_from_tags(tags) for tags in samples], k)
        tags = tags_from_spans(spans, len(record.tokens))
        out.append(record if tags == record.tags else record.with_tags(tags))
    return out


def apply_selection(
    selection: SelectionConfig,
    distilled: Sequence[Record],
    teacher_tags: Sequence[Sequence[str]] | None = None,
    view: TeacherView | None = None,
) -> list[Record]:
    """The records a student trains on under ``selection``.

    ``teacher_tags``: the teacher arm's model's tags (``agreement``); ``view``: the fold teachers (fold kinds).

    Raises:
        ValueError: the kind's teacher input is missing, or see the kind's function.
    """
    kind = selection.kind
    if kind == "k_of_n":
        return vote_samples(distilled, selection.k)
    if kind == "agreement":
        if teacher_tags is None:
            raise ValueError("agreement selection needs the teacher model's tags")
        return select_by_agreement(distilled, teacher_tags, selection.min_agreement)
    if view is None:
        raise ValueError(f"{kind} selection needs the fold teachers' probabilities")
    if kind == "cv_agreement":
        return select_by_agreement(distilled, view.tags(), selection.min_agreement)
    if kind == "token_mask":
        return mask_disagreements(distilled, view.tags())
    if kind == "confident_learning":
        return apply_issues(distilled, label_issues(distilled, view), selection.action)
    if kind == "relabel":
        return relabel(distilled, view, selection.min_confidence)
    if kind == "retype":
        return retype(distilled, view, selection.min_confidence)
    raise ValueError(f"unknown selection kind {kind!r}")


# -- who judges: k-fold teachers ------------------------------------------------------------------------------


def fold_assignment(gold: Sequence[Record], folds: int, seed: int) -> list[int]:
    """The fold (0..folds-1) of each gold record; identical sentences share a fold, so a teacher trained without
    fold i has seen none of them.

    Raises:
        ValueError: fewer distinct sentences than folds.
    """
    groups = sorted({record.tokens for record in gold})
    if len(groups) < folds:
        raise ValueError(f"{folds} folds need at least {folds} distinct gold sentences, found {len(groups)}")
    random.Random(seed).shuffle(groups)
    fold_of = {tokens: i % folds for i, tokens in enumerate(groups)}
    return [fold_of[record.tokens] for record in gold]


def judging_folds(distilled: Sequence[Record], gold: Sequence[Record], fold_of: Sequence[int]) -> list[int | None]:
    """Per distilled record, the fold whose teacher must judge it alone (it is that fold's gold sentence: same id,
    else same tokens), or None when no teacher trained on it (then the mean of all judges)."""
    by_id = {record.id: fold for record, fold in zip(gold, fold_of)}
    by_tokens = {record.tokens: fold for record, fold in zip(gold, fold_of)}
    return [by_id.get(record.id, by_tokens.get(record.tokens)) for record in distilled]


def combine_folds(fold_probs: Sequence[Sequence[np.ndarray]], judged_by: Sequence[int | None]) -> list[np.ndarray]:
    """Per record: the probabilities of its out-of-fold teacher, or the mean over every fold's teacher."""
    out = []
    for index, fold in enumerate(judged_by):
        if fold is None:
            out.append(np.mean([probs[index] for probs in fold_probs], axis=0))
        else:
            out.append(np.asarray(fold_probs[fold][index]))
    return out


# -- what it did, per entity type -----------------------------------------------------------------------------

OUTSIDE = "O"  # the per-type report's row for tokens outside any entity


def _type(tag: str) -> str:
    return OUTSIDE if tag == OUTSIDE else tag[2:]


def selection_report(offered: Sequence[Record], selected: Sequence[Record]) -> dict[str, Any]:
    """What a selection did to the LLM labels, overall and per entity type (``O`` counts tokens only).

    Per type: ``llm_entities`` offered; ``kept_entities``, LLM entities still trained on unchanged (sentence kept,
    span still there, no word masked); ``trained_entities``, entities of that type the student trains on
    (relabelled ones included); ``tokens`` with that LLM tag type, ``masked_tokens`` and ``relabelled_tokens``
    among them. ``kept_fraction`` = kept / offered entities.
    """
    chosen = {record.id: record for record in selected}
    stats: dict[str, Counter[str]] = {}

    def count(kind: str, key: str, n: int = 1) -> None:
        stats.setdefault(kind, Counter())[key] += n

    masked_total = relabelled_total = tokens_total = 0
    for record in offered:
        llm_tags = record.tags or ()
        after = chosen.get(record.id)
        no_loss = set(after.provenance.get(NO_LOSS_KEY, ())) if after is not None else set()
        after_tags = after.tags or () if after is not None else ()
        for i, tag in enumerate(llm_tags):
            count(_type(tag), "tokens")
            tokens_total += 1
            if i in no_loss:
                count(_type(tag), "masked_tokens")
                masked_total += 1
            if after is not None and after_tags[i] != tag:
                count(_type(tag), "relabelled_tokens")
                relabelled_total += 1
        trained = set()
        if after is not None:
            trained = {s for s in spans_from_tags(after_tags) if not no_loss & set(range(s.start, s.end))}
            for span in trained:
                count(span.label, "trained_entities")
        for span in record.spans():
            count(span.label, "llm_entities")
            count(span.label, "kept_entities", span in trained)
    per_type: dict[str, Mapping[str, Any]] = {}
    for name in sorted(stats, key=lambda t: (t == OUTSIDE, t)):
        row: dict[str, Any] = {key: stats[name][key] for key in
               ("llm_entities", "kept_entities", "trained_entities", "tokens", "masked_tokens", "relabelled_tokens")}
        row["kept_fraction"] = round(row["kept_entities"] / row["llm_entities"], 4) if row["llm_entities"] else None
        per_type[name] = row
    return {
        "sentences": {"offered": len(offered), "kept": len(selected)},
        "tokens": {"offered": tokens_total, "masked": masked_total, "relabelled": relabelled_total},
        "per_type": per_type,
    }
