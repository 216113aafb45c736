"""Entity-level evaluation with seqeval: precision, recall and F1, overall and per entity type.

Two modes: ``default`` scores like conlleval (a dangling ``I-X`` still starts an entity), ``strict`` scores
exact IOB2 (seqeval ``mode="strict", scheme=IOB2``: a span whose tags break IOB2 is not an entity). Words are
predicted at their first subword, in the ONNX engine's overlapping windows (``offline_ner.data.windows``), so no
word goes unscored and a trained folder scores as its export does, and decoded
per record into valid IOB2 by default (constrained Viterbi; ``decode="argmax"`` keeps each word's own best label,
and the report counts the ``I-`` tags that then break IOB2). Never uses ``evaluate.load`` (it fetches code from
the Hub).

Example::

    report = evaluate_model("runs/simple-mix/model", read_records("test.conll"), mode="strict")
    print(report.table()); report.f1
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqeval.metrics import classification_report, f1_score, precision_score, recall_score
from seqeval.scheme import IOB2

from offline_ner.data import DEFAULT_DECODER, Record, iob2_violations, require_tags
from offline_ner.data.windows import OVERLAP_TOKENS, WINDOW_TOKENS
from offline_ner.train.config import EVAL_MODES, TrainConfig

# unless told otherwise, evaluation scores as a training run's dev scoring does: its mode and batch size
_DEFAULTS = TrainConfig()


@dataclass(frozen=True)
class EvalReport:
    """Micro-averaged entity P/R/F1 plus per-type scores (``per_type[type] = {p, r, f1, support}``)."""

    precision: float
    recall: float
    f1: float
    per_type: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    mode: str = _DEFAULTS.eval_mode
    records: int = 0
    invalid_tags: int = 0  # predicted I-X tags with no B-X or I-X before them (none from Viterbi decoding)

    @property
    def support(self) -> int:
        """Gold entities scored."""
        return int(sum(scores["support"] for scores in self.per_type.values()))

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "records": self.records,
            "entities": self.support,
            "invalid_tags": self.invalid_tags,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "per_type": {name: dict(scores) for name, scores in self.per_type.items()},
        }

    def table(self) -> str:
        """A fixed-width table: one row per type, then the micro average."""
        rows = [f"{'type':<8} {'precision':>9} {'recall':>9} {'f1':>9} {'support':>8}"]
        for name, s in sorted(self.per_type.items()):
            rows.append(f"{name:<8} {s['p']:>9.4f} {s['r']:>9.4f} {s['f1']:>9.4f} {int(s['support']):>8}")
        rows.append(f"{'micro':<8} {self.precision:>9.4f} {self.recall:>9.4f} {self.f1:>9.4f} {self.support:>8}")
        return "\n".join(rows) + f"\n({self.mode} mode, {self.records} records, {self.invalid_tags} invalid IOB2 tags)"


def score_tags(
    gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]], mode: str = _DEFAULTS.eval_mode
) -> EvalReport:
    """Score predicted IOB2 tag sequences against gold ones. Pure.

    Raises:
        ValueError: unknown mode, or sequences of different lengths (a caller bug).
    """
    if mode not in EVAL_MODES:
        raise ValueError(f"mode must be one of {', '.join(EVAL_MODES)}, not {mode!r}")
    if len(gold) != len(predicted) or any(len(g) != len(p) for g, p in zip(gold, predicted)):
        raise ValueError("gold and predicted tag sequences differ in length")
    y_true, y_pred = [list(g) for g in gold], [list(p) for p in predicted]
    kwargs: dict[str, Any] = {"mode": "strict", "scheme": IOB2} if mode == "strict" else {}
    report = classification_report(y_true, y_pred, output_dict=True, zero_division=0, **kwargs)
    per_type = {
        name: {"p": s["precision"], "r": s["recall"], "f1": s["f1-score"], "support": int(s["support"])}
        for name, s in report.items()
        if not name.endswith(" avg")
    }
    return EvalReport(
        precision=float(precision_score(y_true, y_pred, zero_division=0, **kwargs)),
        recall=float(recall_score(y_true, y_pred, zero_division=0, **kwargs)),
        f1=float(f1_score(y_true, y_pred, zero_division=0, **kwargs)),
        per_type=per_type,
        mode=mode,
        records=len(gold),
        invalid_tags=sum(len(iob2_violations(tags)) for tags in y_pred),
    )


def evaluate_model(
    model_dir: str | os.PathLike[str],
    records: Sequence[Record],
    mode: str = _DEFAULTS.eval_mode,
    batch_size: int = _DEFAULTS.eval_batch_size,
    max_length: int = WINDOW_TOKENS,
    decode: str = DEFAULT_DECODER,
    overlap_tokens: int = OVERLAP_TOKENS,
) -> EvalReport:
    """Predict ``records`` with the token classifier in ``model_dir`` and score against their tags.

    Args:
        model_dir: a Hugging Face model folder with tokenizer and ``id2label`` (what ``train`` writes).
        records: labelled records.
        mode: ``default`` or ``strict`` (IOB2-exact).
        batch_size: records per inference batch.
        max_length: window size in subwords (the engine's by default); longer records are windowed, never
            truncated.
        overlap_tokens: subwords consecutive windows share (the engine's by default); below ``max_length - 2``.
        decode: ``viterbi`` (valid IOB2) or ``argmax`` (each word's best label alone).

    Raises:
        ModelNotFoundError: ``model_dir`` is missing or incomplete.
        DataError: a record has no tags.
    """
    gold = gold_tags(records)
    predicted = predict_tags(model_dir, records, batch_size=batch_size, max_length=max_length, decode=decode,
                             overlap_tokens=overlap_tokens)
    return score_tags(gold, predicted, mode=mode)


def gold_tags(records: Sequence[Record]) -> list[list[str]]:
    """The records' tags, for scoring any model's predictions against them.

    Raises:
        DataError: a record has no tags.
    """
    require_tags(records, "evaluation needs gold tags")
    return [list(r.tags or ()) for r in records]


def predict_tags(
    model_dir: str | os.PathLike[str], records: Sequence[Record], batch_size: int = _DEFAULTS.eval_batch_size,
    max_length: int = WINDOW_TOKENS,
    decode: str = DEFAULT_DECODER,
    overlap_tokens: int = OVERLAP_TOKENS,
) -> list[tuple[str, ...]]:
    """Per record, the PyTorch model's IOB2 tag for every word (first subword; long records windowed), decoded
    by ``decode`` (default: the best-scoring valid IOB2 tags).

    For evaluation and for teacher-student selection on the closed side; batch inference at scale belongs to
    the ONNX engine (``offline_ner.infer``).

    Raises:
        ModelNotFoundError: ``model_dir`` is missing or incomplete.
    """
    from offline_ner.train._model import load_classifier, predict_words  # torch stays out of pure scoring

    model, tokenizer = load_classifier(Path(model_dir))
    id2label = {int(i): label for i, label in model.config.id2label.items()}
    word_ids = predict_words(model, tokenizer, records, batch_size=batch_size, max_length=max_length, decode=decode,
                             overlap_tokens=overlap_tokens)
    return [tuple(id2label[i] for i in ids) for ids in word_ids]


def predict_word_probs(
    model_dir: Path, records: Sequence[Record], batch_size: int, max_length: int
) -> tuple[tuple[str, ...], list[Any]]:
    """The model's labels and, per record, the softmax over them at every word's first subword (windows joined)."""
    import numpy as np
    import torch

    from offline_ner.train._model import load_classifier, pad_batch
    from offline_ner.train.features import build_features

    model, tokenizer = load_classifier(model_dir)
    labels = tuple(model.config.id2label[i] for i in range(len(model.config.id2label)))
    features, _ = build_features(records, tokenizer, None, max_length)
    order = sorted(range(len(features)), key=lambda i: len(features[i].input_ids))  # batches pad little
    out = [np.zeros((len(r.tokens), len(labels)), dtype=np.float32) for r in records]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device).eval()
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            chunk = [features[i] for i in order[start : start + batch_size]]
            input_ids, mask = pad_batch([f.input_ids for f in chunk], tokenizer.pad_token_id or 0)
            logits = model(input_ids=input_ids.to(device), attention_mask=mask.to(device)).logits
            probs = logits.float().softmax(-1).cpu().numpy()
            for feature, row in zip(chunk, probs):
                words = out[feature.record_index]
                words[feature.word_start : feature.word_start + len(feature.word_positions)] = \
                    row[list(feature.word_positions)]
    return labels, out
