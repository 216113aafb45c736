"""Loading token classifiers from local folders, and batched word-level prediction (torch lives here).

Example::

    model, tokenizer = load_classifier(model_dir)
    label_ids = predict_words(model, tokenizer, records, batch_size=64)   # valid IOB2 (Viterbi), engine's windows
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import offline_ner.hf_offline  # noqa: F401  (before transformers: never try the Hub)

# isort: split
import numpy as np
import torch
from transformers import AutoModelForTokenClassification, AutoTokenizer

from offline_ner._quiet_warnings import notes_for_log
from offline_ner.data import DEFAULT_DECODER, Record
from offline_ner.data.model_labels import agreed_labels
from offline_ner.data.viterbi import IOB2Constraints, decode_labels
from offline_ner.data.windows import OVERLAP_TOKENS, WINDOW_TOKENS
from offline_ner.errors import ModelNotFoundError
from offline_ner.train.base_model import resolve_base_model
from offline_ner.train.features import Feature, build_features, join_windows

HF_MODELING_LOGGER, NEW_HEAD_WARNING = "transformers.modeling_utils", "Some weights of"


def load_tokenizer(model_dir: Path) -> Any:
    """The folder's fast tokenizer (word alignment needs ``word_ids``)."""
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True, use_fast=True)
    except (OSError, ValueError) as err:
        raise ModelNotFoundError(f"cannot load a tokenizer from {model_dir}: {err}") from err
    if not tokenizer.is_fast:
        raise ModelNotFoundError(f"{model_dir} has no fast tokenizer (tokenizer.json); word alignment needs one")
    return tokenizer


def load_classifier(model_dir: Path, labels: Sequence[str] | None = None) -> tuple[Any, Any]:
    """A token classifier and its tokenizer from a local folder, never the Hub.

    With ``labels``, the classifier head is sized and named for them (a new head when the folder has none or a
    different size, e.g. MiniLM's sentence-transformers folder); without, the folder's own ``id2label`` is used.

    Raises:
        ModelNotFoundError: the folder is missing, incomplete, or not loadable.
        LabelFilesError: without ``labels``, the folder's label files disagree.
    """
    folder = resolve_base_model(model_dir)
    tokenizer = load_tokenizer(folder)
    kwargs: dict[str, Any] = {"local_files_only": True}
    if labels is None:
        agreed_labels(folder)  # the folder's own labels: id2label, label2id (and labels.json) must agree
    else:
        kwargs.update(
            num_labels=len(labels),
            id2label=dict(enumerate(labels)),
            label2id={label: i for i, label in enumerate(labels)},
            ignore_mismatched_sizes=True,
        )
    # with new labels, transformers warns at length that the new head "should be TRAINed": we are about to
    head_note = f"{folder.name}: a new classifier head for {len(labels or ())} labels starts from random weights"
    quiet = notes_for_log(HF_MODELING_LOGGER, NEW_HEAD_WARNING, head_note) if labels is not None else nullcontext()
    try:
        with quiet:
            model = AutoModelForTokenClassification.from_pretrained(folder, **kwargs)
    except (OSError, ValueError) as err:
        raise ModelNotFoundError(f"cannot load a token classifier from {folder}: {err}") from err
    return model, tokenizer


def pad_batch(items: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad id lists to the longest: ``(input_ids, attention_mask)``."""
    width = max(len(ids) for ids in items)
    input_ids = torch.full((len(items), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    for row, ids in enumerate(items):
        input_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        mask[row, : len(ids)] = 1
    return input_ids, mask


@torch.inference_mode()
def predict_words(
    model: Any, tokenizer: Any, records: Sequence[Record], batch_size: int, max_length: int = WINDOW_TOKENS,
    decode: str = DEFAULT_DECODER, overlap_tokens: int = OVERLAP_TOKENS,
) -> list[list[int]]:
    """Per record, the label id of every word (scored at its first subword; long records in the engine's
    overlapping windows, joined back), decoded per record by ``decode`` (``viterbi``: valid IOB2 over the model's
    ``id2label``; ``argmax``: each word alone)."""
    features, _ = build_features(records, tokenizer, None, max_length, overlap_tokens)
    model.eval()
    device = next(model.parameters()).device
    features.sort(key=lambda f: len(f.input_ids))  # each batch pads little; join_windows takes any order
    scores: list[np.ndarray] = []  # per feature, the label log-probabilities at its word positions
    for start in range(0, len(features), batch_size):
        chunk = features[start : start + batch_size]
        input_ids, mask = pad_batch([f.input_ids for f in chunk], tokenizer.pad_token_id or 0)
        logits = model(input_ids=input_ids.to(device), attention_mask=mask.to(device)).logits
        log_probs = torch.log_softmax(logits.float(), dim=-1).cpu().numpy()
        scores.extend(row[list(feature.word_positions)] for feature, row in zip(chunk, log_probs))
    labels = [label for _, label in sorted((int(i), label) for i, label in model.config.id2label.items())]
    return decode_words(features, scores, len(records), labels, decode)


def decode_words(
    features: Sequence[Feature], scores: Sequence[np.ndarray], n_records: int, labels: Sequence[str],
    decode: str = DEFAULT_DECODER,
) -> list[list[int]]:
    """Per record, the label id of every word, from each feature's label log-probabilities at its word positions
    (``scores[i]``: ``(len(features[i].word_positions), len(labels))``), windows joined back and each record
    decoded by ``decode``. Shared by prediction and the trainer's dev scoring, so both pick tags alike."""
    # join_windows picks the window that labels each word: let it pick row numbers into the stacked scores
    base = np.cumsum([0] + [len(s) for s in scores])
    numbered: list[Any] = []
    for feature, first in zip(features, base):
        index = np.zeros(len(feature.input_ids), dtype=np.int64)
        index[list(feature.word_positions)] = np.arange(first, first + len(feature.word_positions))
        numbered.append(index)
    rows = join_windows(features, numbered, n_records)
    lengths = np.array([len(words) for words in rows], dtype=np.int64)
    stacked = np.concatenate(scores) if len(scores) else np.zeros((0, len(labels)), dtype=np.float32)
    word_scores = stacked[np.fromiter(itertools.chain.from_iterable(rows), dtype=np.int64, count=int(lengths.sum()))]
    ids = decode_labels(word_scores, lengths, IOB2Constraints.from_labels(labels), decode).tolist()
    ends = np.cumsum(lengths).tolist()
    return [ids[end - size : end] for end, size in zip(ends, lengths.tolist())]
