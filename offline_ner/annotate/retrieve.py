"""kNN demonstration retrieval (GPT-NER): each input gets the k labelled pool sentences nearest in meaning.

On CoNLL-2003 test sentences, GPT-NER's own published outputs score F1 0.825 with kNN-retrieved demonstrations
and 0.642 with random ones: the demonstrations are the largest lever on label quality a user controls.

Sentences are embedded by a sentence encoder (``encoder.MiniLMEncoder`` in production), compared by cosine
similarity, and the k nearest are taken. The choice is deterministic: similarities are rounded to
SIMILARITY_DECIMALS (float noise between batchings cannot reorder them) and ties go to the earlier pool record.
The nearest demonstration is placed last, next to the sentence it helps with. A pool sentence with exactly the
tokens of any input is never chosen (it would leak that input's answer; CoNLL-2003 train and test share short
table lines such as "for , goals against , points ) :"); a pool record whose id is an input's id means the wrong
split was given and is refused by ``prompts.check_demonstrations``.

Embeddings are cached in an :class:`EmbeddingStore` (the journal is one), keyed by encoder name and text, so a
resumed run picks the same demonstrations without embedding again.

Example::

    chosen = knn_demonstrations(inputs.records, read_records(Path("train.txt")), k=8, encoder=encoder, store=journal)
    plan = plan_run(inputs, cfg, template, demos_by_record=chosen)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

import numpy as np

from offline_ner.annotate.input_files import Records
from offline_ner.data import Record

SIMILARITY_DECIMALS = 5
CHUNK_INPUTS = 256  # inputs compared with the whole pool at once: 256 x 14,041 CoNLL train sentences = 14 MB


class SentenceEncoder(Protocol):
    """Anything that turns sentences into unit-length vectors; ``name`` keys the embedding cache."""

    name: str

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


class EmbeddingStore(Protocol):
    """A persistent key → vector cache (``Journal`` implements it)."""

    def get_vectors(self, keys: Sequence[str]) -> dict[str, np.ndarray]: ...

    def put_vectors(self, vectors: Mapping[str, np.ndarray]) -> None: ...


def sentence_text(record: Record) -> str:
    """What is embedded: the record's text when it has one, else its tokens joined by spaces."""
    return record.text or " ".join(record.tokens)


def embedding_key(encoder_name: str, text: str) -> str:
    return hashlib.sha256(f"{encoder_name}\0{text}".encode()).hexdigest()


def embed_records(
    records: Iterable[Record], encoder: SentenceEncoder, store: EmbeddingStore | None = None
) -> np.ndarray:
    """Vectors for ``records`` in order; cached ones come from ``store``, the rest are embedded and stored."""
    texts = [sentence_text(r) for r in records]
    keys = [embedding_key(encoder.name, t) for t in texts]
    found = store.get_vectors(sorted(set(keys))) if store is not None else {}
    missing = sorted({k: t for k, t in zip(keys, texts) if k not in found}.items())
    if missing:
        vectors = encoder.embed([t for _, t in missing])
        fresh = {k: vectors[i].astype(np.float32) for i, (k, _) in enumerate(missing)}
        if store is not None:
            store.put_vectors(fresh)
        found = {**found, **fresh}
    if not keys:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack([found[k] for k in keys])


def knn_demonstrations(
    inputs: Records,
    pool: Sequence[Record],
    k: int,
    encoder: SentenceEncoder,
    store: EmbeddingStore | None = None,
) -> tuple[tuple[Record, ...], ...]:
    """Per input, its ``k`` nearest labelled pool records, least similar first (the nearest is last).

    Args:
        inputs: the records to annotate.
        pool: candidate demonstrations (train/dev); records without tags, and records with exactly the tokens of an
            input, are ignored.
        k: demonstrations per input.
        encoder: the sentence encoder.
        store: embedding cache (the journal), or None.

    Raises:
        ValueError: ``k`` < 1.
    """
    if k < 1:
        raise ValueError(f"k={k}: kNN needs at least one demonstration per input")
    input_sentences = {r.tokens for r in inputs}
    labelled = [r for r in pool if r.tags is not None and r.tokens not in input_sentences]
    if not inputs or not labelled:
        return tuple(() for _ in inputs)
    pool_vectors = embed_records(labelled, encoder, store)
    input_vectors = embed_records(inputs, encoder, store)
    chosen: list[tuple[Record, ...]] = []
    for start in range(0, len(inputs), CHUNK_INPUTS):
        similarity = np.round(input_vectors[start : start + CHUNK_INPUTS] @ pool_vectors.T, SIMILARITY_DECIMALS)
        order = np.argsort(-similarity, axis=1, kind="stable")  # stable: ties keep pool order
        for row in range(similarity.shape[0]):
            chosen.append(tuple(labelled[i] for i in reversed(order[row, :k])))
    return tuple(chosen)
