"""Selection and noise handling: agreement, token masks, confident learning, relabelling, k-of-n, k-fold judges."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from offline_ner.data import SAMPLE_TAGS_KEY, Record, Span, spans_from_tags
from offline_ner.data.teacher_view import TeacherView
from offline_ner.experiment import (
    SelectionConfig,
    apply_selection,
    select_by_agreement,
    selection_report,
    span_agreement,
)
from offline_ner.experiment.selection import (
    apply_issues,
    combine_folds,
    fold_assignment,
    judging_folds,
    label_issues,
    mask_disagreements,
    relabel,
    retype,
    vote_samples,
)
from offline_ner.train.features import NO_LOSS_KEY


def rec(i: int, tags: tuple[str, ...]) -> Record:
    return Record(id=f"s{i}", tokens=tuple(f"w{j}" for j in range(len(tags))), tags=tags)


def test_sentence_is_kept_only_when_llm_and_teacher_spans_agree() -> None:
    distilled = [rec(0, ("B-PER", "I-PER", "O")), rec(1, ("B-ORG", "O", "O")), rec(2, ("O", "O", "O"))]
    teacher = [("B-PER", "I-PER", "O"), ("B-LOC", "O", "O"), ("O", "O", "O")]
    kept = select_by_agreement(distilled, teacher, min_agreement=1.0)
    assert [r.id for r in kept] == ["s0", "s2"]
    assert kept[0].tags == ("B-PER", "I-PER", "O")  # the LLM's labels are kept, never replaced


def test_partial_agreement_passes_a_lower_threshold() -> None:
    distilled = [rec(0, ("B-PER", "O", "B-LOC"))]
    teacher = [("B-PER", "O", "O")]
    assert select_by_agreement(distilled, teacher, min_agreement=0.6) == distilled
    assert select_by_agreement(distilled, teacher, min_agreement=0.7) == []


def test_teacher_tags_of_the_wrong_length_are_a_caller_bug() -> None:
    with pytest.raises(ValueError, match="2 tokens but 1 teacher tags"):
        select_by_agreement([rec(0, ("O", "O"))], [("O",)], 1.0)


tags_strategy = st.lists(st.sampled_from(["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]), max_size=12)


@given(tags_strategy, tags_strategy)
def test_span_agreement_is_symmetric_within_unit_interval_and_one_on_identity(a: list[str], b: list[str]) -> None:
    sa, sb = spans_from_tags(a), spans_from_tags(b)
    assert span_agreement(sa, sb) == span_agreement(sb, sa)
    assert 0.0 <= span_agreement(sa, sb) <= 1.0
    assert span_agreement(sa, sa) == 1.0


def test_span_agreement_counts_type_and_boundaries() -> None:
    assert span_agreement([Span(0, 2, "PER")], [Span(0, 1, "PER")]) == 0.0
    assert span_agreement([Span(0, 2, "PER")], [Span(0, 2, "ORG")]) == 0.0


# -- noise handling beyond agreement -------------------------------------------------------------------------

LABELS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-MISC", "I-MISC")


def probs(*rows: tuple[str, float]) -> np.ndarray:
    """One word per row: the teacher gives ``p`` to its tag and spreads the rest evenly."""
    out = np.zeros((len(rows), len(LABELS)), dtype=np.float32)
    for i, (tag, p) in enumerate(rows):
        out[i] = (1 - p) / (len(LABELS) - 1)
        out[i, LABELS.index(tag)] = p
    return out


def test_token_mask_keeps_tags_and_gives_no_loss_only_where_llm_and_teacher_disagree() -> None:
    distilled = [rec(0, ("B-PER", "I-PER", "O", "B-MISC")), rec(1, ("B-ORG",)), rec(2, ("O", "O"))]
    teacher = [("B-PER", "I-PER", "O", "B-ORG"), ("O",), ("O", "O")]
    kept = mask_disagreements(distilled, teacher)
    assert [r.id for r in kept] == ["s0", "s2"]  # s1's only word disagrees: nothing left to learn from
    assert kept[0].tags == distilled[0].tags and kept[0].provenance[NO_LOSS_KEY] == [3]
    assert NO_LOSS_KEY not in kept[1].provenance


def test_relabelling_takes_the_teachers_tag_only_where_it_is_confident_and_repairs_iob2() -> None:
    distilled = [rec(0, ("B-MISC", "I-MISC", "O", "B-PER"))]
    view = TeacherView(LABELS, [probs(("B-ORG", 0.95), ("I-ORG", 0.6), ("O", 0.99), ("O", 0.5))])
    (out,) = relabel(distilled, view, min_confidence=0.9)
    # word 1 stays I-MISC (teacher unsure), so after B-ORG it starts a new MISC entity
    assert out.tags == ("B-ORG", "B-MISC", "O", "B-PER")
    assert relabel(distilled, view, min_confidence=1.0) == distilled


def test_retyping_keeps_the_llms_spans_and_takes_the_teachers_type_where_it_is_confident() -> None:
    distilled = [rec(0, ("B-LOC", "I-LOC", "O", "B-MISC", "O"))]
    # span 1: ORG mass about 0.83 and 0.92 (mean 0.87); span 2: the teacher says O (not another type): the LLM's span stays;
    # word 4: the teacher's PER is no LLM span, so it is not added
    view = TeacherView(LABELS, [probs(("B-ORG", 0.8), ("I-ORG", 0.9), ("O", 0.99), ("O", 0.9), ("B-PER", 0.99))])
    (out,) = retype(distilled, view, min_confidence=0.7)
    assert out.tags == ("B-ORG", "I-ORG", "O", "B-MISC", "O")
    assert retype(distilled, view, min_confidence=0.9) == distilled  # 0.87 < 0.9: the LLM's type stays


def test_confident_learning_flags_tokens_the_teachers_confidently_contradict() -> None:
    clean = [rec(i, ("B-PER", "O", "B-ORG")) for i in range(40)]
    noisy = [rec(40 + i, ("B-PER", "O", "B-MISC")) for i in range(10)]
    view = TeacherView(LABELS, [probs(("B-PER", 0.9), ("O", 0.95), ("B-ORG", 0.9))] * 50)
    issues = label_issues([*clean, *noisy], view)
    flagged = [i for i, words in enumerate(issues) if words]
    # cleanlab leaves a few examples of every given class unflagged (min_examples_per_class), so not all 10
    assert set(flagged) <= set(range(40, 50)) and len(flagged) >= 5
    assert all(issues[i] == [2] for i in flagged)
    dropped = apply_issues([*clean, *noisy], issues, "drop")
    masked = apply_issues([*clean, *noisy], issues, "mask")
    assert len(dropped) == 50 - len(flagged) and len(masked) == 50
    assert masked[flagged[0]].provenance[NO_LOSS_KEY] == [2] and masked[flagged[0]].tags == noisy[0].tags


def test_k_of_n_votes_over_the_records_llm_samples() -> None:
    samples = [["B-PER", "O", "B-LOC"], ["B-PER", "O", "O"], ["B-PER", "O", "B-ORG"]]
    record = Record(id="s", tokens=("a", "b", "c"), tags=("B-PER", "O", "B-LOC"), provenance={SAMPLE_TAGS_KEY: samples})
    assert vote_samples([record], k=2)[0].tags == ("B-PER", "O", "O")
    assert vote_samples([record], k=1)[0].tags == ("B-PER", "O", "B-LOC")  # one vote each: earliest wins
    with pytest.raises(ValueError, match="needs records annotated with --samples >= 2"):
        vote_samples([rec(0, ("O",))], k=2)


def test_identical_gold_sentences_share_a_fold_and_every_fold_gets_sentences() -> None:
    gold = [rec(i, ("O",) * (i % 7 + 1)) for i in range(40)]  # 7 distinct token sequences, repeated
    folds = fold_assignment(gold, folds=3, seed=1)
    assert set(folds) == {0, 1, 2} and folds == fold_assignment(gold, folds=3, seed=1)
    by_tokens: dict[tuple[str, ...], set[int]] = {}
    for record, fold in zip(gold, folds):
        by_tokens.setdefault(record.tokens, set()).add(fold)
    assert all(len(f) == 1 for f in by_tokens.values())
    with pytest.raises(ValueError, match="at least 8 distinct gold sentences"):
        fold_assignment(gold, folds=8, seed=1)


def test_a_distilled_sentence_that_is_also_gold_is_judged_only_by_the_teacher_that_never_saw_it() -> None:
    gold = [rec(i, ("O",) * (i + 1)) for i in range(4)]
    fold_of = [0, 1, 0, 1]
    same_id = gold[1].with_tags(("B-PER", "O"))
    same_tokens = Record(id="other", tokens=gold[2].tokens, tags=("O",) * 3)
    unseen = Record(id="new", tokens=("x",), tags=("O",))
    judged = judging_folds([same_id, same_tokens, unseen], gold, fold_of)
    assert judged == [1, 0, None]
    fold_probs = [[np.full((2, 2), 0.0), np.full((3, 2), 0.0), np.full((1, 2), 0.2)],
                  [np.full((2, 2), 1.0), np.full((3, 2), 1.0), np.full((1, 2), 0.4)]]
    combined = combine_folds(fold_probs, judged)
    assert combined[0].max() == 1.0 and combined[1].max() == 0.0  # out-of-fold teacher only
    assert np.allclose(combined[2], 0.3)  # nobody trained on it: the mean of all teachers


def test_selection_report_counts_kept_masked_and_relabelled_per_type() -> None:
    offered = [rec(0, ("B-PER", "I-PER", "O", "B-MISC")), rec(1, ("B-ORG", "O")), rec(2, ("B-MISC", "O"))]
    masked = Record(**{**offered[0].__dict__, "provenance": {NO_LOSS_KEY: [3]}})
    relabelled = offered[1].with_tags(("B-ORG", "B-LOC"))
    report = selection_report(offered, [masked, relabelled])  # s2 dropped
    assert report["sentences"] == {"offered": 3, "kept": 2}
    assert report["tokens"] == {"offered": 8, "masked": 1, "relabelled": 1}
    per = report["per_type"]
    assert (per["MISC"]["llm_entities"], per["MISC"]["kept_entities"], per["MISC"]["masked_tokens"]) == (2, 0, 1)
    assert per["PER"]["kept_fraction"] == 1.0 and per["ORG"]["trained_entities"] == 1
    assert per["LOC"]["trained_entities"] == 1 and per["LOC"]["llm_entities"] == 0
    assert per["O"]["relabelled_tokens"] == 1 and list(per)[-1] == "O"


@pytest.mark.parametrize("kind", ["cv_agreement", "token_mask", "confident_learning", "relabel"])
def test_fold_kinds_refuse_to_run_without_the_fold_teachers(kind: str) -> None:
    with pytest.raises(ValueError, match="fold teachers"):
        apply_selection(SelectionConfig(kind=kind), [rec(0, ("O",))], teacher_tags=[("O",)])  # type: ignore[arg-type]
