"""One document of any size (issue 27): a text longer than a chunk is tagged a chunk of its sentences at a time,
with exact offsets and the entities of tagging it whole, and written an entity at a time.

The engine is the tiny random BERT (fp32): it tags arbitrary words as entities, so every check below sees many.
Chunks and tokenizer pieces are made small here, so that a document of a few thousand characters already crosses
many of both; the default sizes only scale the same code.
"""

from __future__ import annotations

import io
import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from offline_ner.data import Document, tokenized_sentences
from offline_ner.data import text as text_module
from offline_ner.infer import Entity, NerEngine
from offline_ner.infer.output import hf_entity, write_documents

pytestmark = pytest.mark.usefixtures("no_network")

CHUNK_CHARS = 600
PIECE_CHARS = 900
WORDS = ["Angela", "Merkel", "met", "Dr.", "Smith", "of", "the", "U.S.", "embassy", "in", "Paris", "on", "Tuesday",
         "Google", "(", "Zürich", ")", "said", "'s", "2-1", "naïve", "東京"]


@pytest.fixture(autouse=True)
def _small_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(text_module, "MAX_PIECE_CHARS", PIECE_CHARS)


@pytest.fixture(scope="module")
def whole(tiny_onnx_dir: Path) -> NerEngine:
    """The path that tags a document as one chunk (every document here is shorter than its chunk)."""
    return NerEngine(tiny_onnx_dir, device="cpu", precision="fp32", chunk_chars=10**8)


def streaming(tiny_onnx_dir: Path) -> NerEngine:
    return NerEngine(tiny_onnx_dir, device="cpu", precision="fp32", chunk_chars=CHUNK_CHARS)


def prose(seed: int, sentences: int, end: str = ". ") -> str:
    rng = random.Random(seed)
    parts = []
    for _ in range(sentences):
        parts.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 25))) + rng.choice([end, end, "\n"]))
    return "".join(parts)


def assert_exact(document: str, entities: list[Entity]) -> None:
    assert entities, "the random model should tag plenty of words"
    end = 0
    for entity in entities:
        assert document[entity.start : entity.end] == entity.text
        assert end <= entity.start < entity.end
        end = entity.end


def test_a_document_with_no_sentence_end_is_windowed_with_exact_offsets(tiny_onnx_dir: Path) -> None:
    # one line, no sentence end: pieces of PIECE_CHARS, each one sentence far longer than a model window
    rng = random.Random(1)
    document = " ".join(rng.choice([w for w in WORDS if w not in ("Dr.", "U.S.")]) for _ in range(2500))
    engine = NerEngine(tiny_onnx_dir, device="cpu", precision="fp32", chunk_chars=CHUNK_CHARS, max_seq_tokens=64,
                       overlap_tokens=16)
    reference = NerEngine(tiny_onnx_dir, device="cpu", precision="fp32", chunk_chars=10**8, max_seq_tokens=64,
                          overlap_tokens=16)
    [entities] = engine.predict([document])
    assert_exact(document, entities)
    assert engine.stats.tokens > 64 * len(document) // PIECE_CHARS, "each piece must span several windows"
    assert engine.stats.max_chunk_chars <= CHUNK_CHARS + PIECE_CHARS
    assert entities == next(reference.predict([document]))


def test_a_long_document_gives_the_entities_of_the_whole_document(tiny_onnx_dir: Path, whole: NerEngine) -> None:
    # sentences run across chunk boundaries and across piece cuts of one long line (a sentence end in no line)
    documents = [prose(2, 300), prose(3, 300, end=" "), prose(4, 300).replace("\n", " ")]
    engine = streaming(tiny_onnx_dir)
    for document in documents:
        assert len(document) > 10 * CHUNK_CHARS
        [entities] = engine.predict([document])
        assert_exact(document, entities)
        assert entities == next(whole.predict([document]))
    assert engine.stats.documents == len(documents)
    assert engine.stats.max_chunk_chars <= CHUNK_CHARS + PIECE_CHARS


def test_long_and_short_documents_together_keep_their_order_and_entities(tiny_onnx_dir: Path,
                                                                         whole: NerEngine) -> None:
    texts = ["Angela Merkel met Dr. Smith in Paris.", prose(5, 200), "", "Google said so.", prose(6, 150), "Paris"]
    assert list(streaming(tiny_onnx_dir).predict(texts)) == list(whole.predict(texts))


def test_a_long_document_is_tagged_as_its_entities_are_read(tiny_onnx_dir: Path) -> None:
    # the memory bound, through the API: after the first entity only the first chunk has been tagged
    document = prose(7, 400)
    engine = streaming(tiny_onnx_dir)
    entities = next(engine.predict_stream([document]))  # unpacking would ask for a next document
    first = next(entities)
    assert document[first.start : first.end] == first.text
    tagged = engine.stats.tokens
    assert 0 < engine.stats.max_chunk_chars <= CHUNK_CHARS + PIECE_CHARS < len(document) / 10
    rest = list(entities)
    assert engine.stats.tokens > 10 * tagged, "the rest of the document is tagged only as it is read"
    assert [first, *rest] == next(streaming(tiny_onnx_dir).predict([document]))
    assert engine.stats.max_chunk_chars <= CHUNK_CHARS + PIECE_CHARS


def test_a_long_document_left_unread_is_tagged_before_the_next(tiny_onnx_dir: Path, whole: NerEngine) -> None:
    texts = [prose(8, 200), "Angela Merkel met Dr. Smith in Paris."]
    engine = streaming(tiny_onnx_dir)
    results = engine.predict_stream(texts)
    next(results)  # never read
    assert list(next(results)) == next(whole.predict(texts[1:]))
    assert engine.stats.documents == 2
    assert engine.stats.sentences == len(tokenized_sentences(texts[0])) + 1


def test_entities_are_written_one_at_a_time_with_the_bytes_of_a_whole_line() -> None:
    entities = [Entity("PER", 0, 6, 'Ang"la', 0.5), Entity("LOC", 10, 14, "東京", 0.25)]
    written: list[str] = []

    def lazily() -> Iterator[Entity]:
        for entity in entities:
            written.append(entity.text)
            yield entity

    for fmt, shape in (("jsonl", Entity.to_json), ("hf", hf_entity)):
        handle = io.StringIO()
        docs = [(Document("a", "x"), lazily()), (Document("b:2", "y"), iter(()))]
        write_documents(handle, fmt, docs)
        lines = handle.getvalue().splitlines()
        assert lines == [json.dumps({"id": "a", "entities": [shape(e) for e in entities]}, ensure_ascii=False),
                         json.dumps({"id": "b:2", "entities": []})]
    assert written == ['Ang"la', "東京"] * 2
