"""kNN demonstration retrieval: the nearest labelled pool sentences per input, deterministic, cached, recorded."""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from offline_ner.annotate import (
    AnnotateConfig,
    Inputs,
    Journal,
    annotate,
    load_inputs,
    load_prices,
    load_template,
    plan_run,
)
from offline_ner.annotate.client import LLMClient
from offline_ner.annotate.retrieve import knn_demonstrations
from offline_ner.data import Record, read_jsonl
from offline_ner.errors import AnnotateError
from tests.annotate.llm_server import LLMServer

DIMENSIONS = 256


class WordEncoder:
    """A transparent sentence encoder: hashed bag of lower-cased words, unit length; counts its calls."""

    name = "test-words-v1"

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded.extend(texts)
        vectors = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                vectors[row, zlib.crc32(word.encode()) % DIMENSIONS] += 1.0
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


POOL = [
    Record("train:0", ("Rain", "fell", "in", "Paris"), ("O", "O", "O", "B-LOC")),
    Record("train:1", ("Acme", "shares", "rose", "on", "Monday"), ("B-ORG", "O", "O", "O", "O")),
    Record("train:2", ("Anne", "Murray", "sang", "in", "London"), ("B-PER", "I-PER", "O", "O", "B-LOC")),
    Record("train:3", ("Acme", "shares", "fell", "sharply"), ("B-ORG", "O", "O", "O")),
    Record("train:4", ("Murray", "sang", "again"), ("B-PER", "O", "O")),
    Record("train:5", ("unlabelled", "shares", "rose"), None),
]
INPUTS = [
    Record("test:0", ("Reuters", "shares", "rose", "on", "Tuesday")),
    Record("test:1", ("Anne", "Murray", "sang", "in", "Paris")),
]


def test_knn_picks_the_nearest_labelled_sentences_with_the_nearest_last() -> None:
    chosen = knn_demonstrations(INPUTS, POOL, k=2, encoder=WordEncoder())
    assert [[d.id for d in demos] for demos in chosen] == [["train:3", "train:1"], ["train:4", "train:2"]]


def test_knn_never_shows_a_pool_sentence_that_is_also_an_input() -> None:
    twin = Record("test:9", ("Murray", "sang", "again"))
    chosen = knn_demonstrations([twin, Record("test:8", ("Murray", "sang"))], POOL, k=1, encoder=WordEncoder())
    assert [demos[0].id for demos in chosen] == ["train:2", "train:2"]  # train:4 is test:9's sentence


def test_equally_similar_demonstrations_are_ordered_by_pool_position() -> None:
    pool = [Record(f"train:{i}", ("same", "words"), ("O", "O")) for i in range(4)]
    (demos,) = knn_demonstrations([Record("t", ("same", "words", "here"))], pool, k=3, encoder=WordEncoder())
    assert [d.id for d in demos] == ["train:2", "train:1", "train:0"]


def test_embeddings_are_cached_in_the_journal(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    first = WordEncoder()
    chosen = knn_demonstrations(INPUTS, POOL, k=2, encoder=first, store=journal)
    again = WordEncoder()
    assert knn_demonstrations(INPUTS, POOL, k=2, encoder=again, store=journal) == chosen
    journal.close()
    assert len(first.embedded) == 7 and again.embedded == []


def test_knn_run_sends_each_input_its_own_demonstrations_and_records_them(
    llm_server: LLMServer, cfg: AnnotateConfig, tmp_path: Path
) -> None:
    path = tmp_path / "test.jsonl"
    path.write_text("".join(json.dumps({"id": r.id, "tokens": list(r.tokens)}) + "\n" for r in INPUTS))
    knn_cfg = AnnotateConfig(**{**cfg.__dict__, "demos_select": "knn", "n_demos": 2})
    inputs = load_inputs([path])
    journal = Journal(tmp_path / "ann.sqlite")
    chosen = knn_demonstrations(inputs.records, POOL, k=2, encoder=WordEncoder(), store=journal)
    plan = plan_run(inputs, knn_cfg, load_template("fewshot_conll"), demos_by_record=chosen)
    annotate(plan, out=tmp_path / "ann", journal=journal, client=LLMClient(knn_cfg), prices=load_prices(None))
    journal.close()
    shown = {}
    for request in llm_server.chat_requests():
        users = [m["content"] for m in request["messages"] if m["role"] == "user"]
        shown[users[-1].split("Tokens: 0:")[1].split()[0]] = [u.split("Tokens: 0:")[1].split()[0] for u in users[:-1]]
    assert shown == {"Reuters": ["Acme", "Acme"], "Anne": ["Murray", "Anne"]}
    records = read_jsonl(tmp_path / "ann" / "records.jsonl")
    assert [r.provenance["demonstrations"] for r in records] == [["train:3", "train:1"], ["train:4", "train:2"]]
    provenance = json.loads((tmp_path / "ann" / "provenance.json").read_text())
    assert provenance["demonstrations"] == {"select": "knn", "k": 2, "unique": 4}


def test_a_pool_sharing_an_id_with_the_input_is_refused(cfg: AnnotateConfig) -> None:
    leaked = [Record("test:0", ("Acme", "shares", "rose"), ("B-ORG", "O", "O"))]
    chosen = knn_demonstrations(INPUTS, leaked, k=1, encoder=WordEncoder())
    inputs = Inputs(records=tuple(INPUTS), gold={}, digests=())
    with pytest.raises(AnnotateError, match="never from the split"):
        plan_run(inputs, cfg, load_template("fewshot_conll"), demos_by_record=chosen)
