"""What ``predict`` writes: one writer per output format, each streaming (except spaCy's DocBin, one zlib blob).

Formats (``offline_ner.data.formats.PREDICTION_FORMATS``):

- ``jsonl``: ``{"id", "entities": [{"type", "start", "end", "text", "score"}]}`` per document; for token (CoNLL)
  input, our JSONL records with the predicted tags (what ``bundle create`` and ``train`` read).
- ``conll``: token input only; ``token gold predicted`` when the input had tags (conlleval's layout), else
  ``token predicted``.
- ``hf``: ``{"id", "entities": [...]}`` with each entity shaped as transformers' token-classification pipeline
  gives it with ``aggregation_strategy="simple"``: ``entity_group``, ``score``, ``word``, ``start``, ``end``.
- ``spacy``: a DocBin (``doc.text`` the input text, ``doc.ents`` the entities); ``spacy-jsonl``: ``{"id",
  "text", "spans": [{"start", "end", "label", "score"}]}``.
- ``label-studio``: a JSON list of Label Studio tasks with the entities as ``predictions`` (pre-annotations).

For token input the text of span formats is the tokens joined by single spaces (offsets into that text).

Example::

    with atomic_writer(out, OUTPUT_MODES["hf"]) as handle:
        write_documents(handle, "hf", zip(docs, engine.predict(doc.text for doc in docs)))
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any

from offline_ner.data import CharSpan, Document, Record, SpanText, dumps_record, format_conll_with_gold
from offline_ner.data.char_spans import spans_of_record
from offline_ner.infer.entities import Entity
from offline_ner.infer.inputs import write_entities_jsonl, write_entity_lines

# formats with one line (or, for conll, one blank-line-ended block) per input unit: the ones shards can join
LINE_FORMATS = ("jsonl", "conll", "hf", "spacy-jsonl")
BINARY_FORMATS = ("spacy",)


def open_mode(fmt: str) -> str:
    return "wb" if fmt in BINARY_FORMATS else "w"


def hf_entity(entity: Entity) -> dict[str, Any]:
    """One entity as the transformers pipeline shapes it (``aggregation_strategy="simple"``)."""
    return {"entity_group": entity.type, "score": entity.score, "word": entity.text, "start": entity.start,
            "end": entity.end}


def _span_text(doc: Document, entities: Iterable[Entity]) -> SpanText:
    spans = tuple(CharSpan(e.start, e.end, e.type, e.score) for e in entities)
    return SpanText(doc.id, doc.text, spans)


def _write_span_texts(handle: IO[Any], fmt: str, items: Iterable[SpanText], model_version: str) -> None:
    if fmt == "spacy":
        from offline_ner.data.formats.spacy_docbin import write_docbin

        write_docbin(handle, items)
    elif fmt == "spacy-jsonl":
        from offline_ner.data.formats.spacy_docbin import write_spans_jsonl

        write_spans_jsonl(handle, items)
    elif fmt == "label-studio":
        from offline_ner.data.formats.label_studio import write_label_studio

        write_label_studio(handle, items, model_version=model_version)
    else:
        raise ValueError(f"not a span format: {fmt!r}")


def write_documents(
    handle: IO[Any], fmt: str, items: Iterable[tuple[Document, Iterable[Entity]]], model_version: str = "offline-ner"
) -> None:
    """Write the entities of documents (raw text input) in ``fmt`` (not ``conll``: that needs token input).

    The line formats ``jsonl`` and ``hf`` write a document's entities one at a time as they come (a document of
    any size stays in bounded memory); the others gather each document's entities first.
    """
    if fmt == "jsonl":
        write_entities_jsonl(handle, items)
    elif fmt == "hf":
        write_entity_lines(handle, ((doc.id, map(hf_entity, entities)) for doc, entities in items))
    elif fmt == "conll":
        raise ValueError("conll output needs token (CoNLL) input")
    else:
        _write_span_texts(handle, fmt, (_span_text(doc, entities) for doc, entities in items), model_version)


def _predicted(pairs: Iterable[tuple[Record, Sequence[str]]]) -> Iterator[Record]:
    """Records carrying the predicted tags in place of any gold ones."""
    for record, tags in pairs:
        yield record.with_tags(tags)


def write_sentences(
    handle: IO[Any], fmt: str, pairs: Iterable[tuple[Record, Sequence[str]]], model_version: str = "offline-ner"
) -> None:
    """Write predicted tags of pre-tokenised sentences (token input) in ``fmt``."""
    if fmt == "conll":
        handle.writelines(format_conll_with_gold(pairs))
    elif fmt == "jsonl":
        handle.writelines(map(dumps_record, _predicted(pairs)))
    elif fmt == "hf":
        for item in map(spans_of_record, _predicted(pairs)):
            entities = [{"entity_group": s.label, "score": None, "word": item.text[s.start : s.end], "start": s.start,
                         "end": s.end} for s in item.spans]
            handle.write(json.dumps({"id": item.id, "entities": entities}, ensure_ascii=False) + "\n")
    else:
        _write_span_texts(handle, fmt, map(spans_of_record, _predicted(pairs)), model_version)
