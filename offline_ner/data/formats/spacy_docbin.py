"""spaCy's formats: a DocBin file (``.spacy``, what ``spacy train`` reads) and ``{"text", "spans"}`` JSONL.

Written with spaCy's own :class:`~spacy.tokens.DocBin`, so spaCy reads it without us: each text becomes a
``Doc`` whose ``doc.text`` is the text exactly (whitespace included) and whose ``doc.ents`` are the entities at
the same character offsets. The Doc's tokens are the package's tokens (the ones the model tagged), so every entity
boundary is a token boundary. Reading a DocBin gives one record per Doc: its non-whitespace tokens, their offsets
into ``doc.text``, IOB2 tags from ``doc.ents``; the id is ``doc.user_data["id"]`` when we wrote it.

Example::

    write_docbin(handle, (spans_of_record(r) for r in records))     # then: spacy train ... --paths.train out.spacy
    records = read_docbin("corpus.spacy")
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any

from offline_ner.data.char_spans import SpanText, token_offsets
from offline_ner.data.lines import STDIN_NAME, input_stem, is_stdin, open_input
from offline_ner.data.records import Record
from offline_ner.errors import DataError


def _words_and_spaces(text: str, offsets: Sequence[tuple[int, int]]) -> tuple[list[str], list[bool]]:
    """spaCy ``words``/``spaces`` that rebuild ``text`` exactly: the gaps between tokens become trailing spaces or
    whitespace tokens, as spaCy's own tokenizer makes them."""
    words: list[str] = []
    spaces: list[bool] = []
    position = 0
    for start, end in [*offsets, (len(text), len(text))]:
        gap = text[position:start]
        if words and gap.startswith(" "):
            spaces[-1] = True
            gap = gap[1:]
        if gap:
            words.append(gap)
            spaces.append(False)
        if end > start:
            words.append(text[start:end])
            spaces.append(False)
        position = end
    return words, spaces


def doc_of(vocab: Any, item: SpanText) -> Any:
    """A spaCy Doc for one text: the package's tokens, the entities as ``doc.ents``, the id in user_data."""
    from spacy.tokens import Doc

    if item.record is not None:
        _, offsets = token_offsets(item.record)
    else:
        from offline_ner.data.text import tokenize

        offsets = tuple((start, end) for _, start, end in tokenize(item.text))
    words, spaces = _words_and_spaces(item.text, offsets)
    doc = Doc(vocab, words=words, spaces=spaces)
    entities = []
    for span in item.spans:
        entity = doc.char_span(span.start, span.end, label=span.label, alignment_mode="strict")
        if entity is None:
            raise ValueError(f"{item.id}: entity [{span.start}, {span.end}) does not fall on token boundaries")
        entities.append(entity)
    doc.ents = entities
    doc.user_data["id"] = item.id
    return doc


def docbin_bytes(items: Iterable[SpanText]) -> bytes:
    """A serialised DocBin of the texts (spaCy keeps the whole bin in memory: it is one zlib stream)."""
    from spacy.tokens import DocBin
    from spacy.vocab import Vocab

    vocab = Vocab()
    docbin = DocBin(attrs=["ORTH", "ENT_IOB", "ENT_TYPE"], store_user_data=True)
    for item in items:
        docbin.add(doc_of(vocab, item))
    return bytes(docbin.to_bytes())


def write_docbin(handle: IO[bytes], items: Iterable[SpanText]) -> None:
    handle.write(docbin_bytes(items))


def record_of_doc(doc: Any, default_id: str, source: str = "") -> Record:
    """A labelled record from a Doc: non-whitespace tokens, offsets into ``doc.text``, tags from ``doc.ents``."""
    tokens, offsets, tags = [], [], []
    for token in doc:
        if token.is_space:
            continue
        tokens.append(token.text)
        offsets.append((token.idx, token.idx + len(token.text)))
        iob = token.ent_iob_
        tags.append(f"{iob}-{token.ent_type_}" if iob in ("B", "I") else "O")
    record_id = str(doc.user_data.get("id", default_id))
    return Record(record_id, tuple(tokens), tuple(tags), doc.text, tuple(offsets), source)


def iter_docbin(path: str | os.PathLike[str]) -> Iterator[Record]:
    """Records from a DocBin file (``-``: stdin); Docs without tokens are skipped.

    Raises:
        DataError: the bytes are not a DocBin, or it holds no Doc with tokens.
    """
    from spacy.tokens import DocBin
    from spacy.vocab import Vocab

    with open_input(path) as handle:
        data = handle.read()
    try:
        docbin = DocBin(store_user_data=True).from_bytes(data)
    except Exception as err:
        raise DataError(f"not a spaCy DocBin ({type(err).__name__}: {err})", path=path) from err
    stem = input_stem(path)
    source = STDIN_NAME if is_stdin(path) else os.path.basename(os.fspath(path))
    count = 0
    for index, doc in enumerate(docbin.get_docs(Vocab())):
        record = record_of_doc(doc, f"{stem}:{index}", source)
        if record.tokens:
            count += 1
            yield record
    if count == 0:
        raise DataError("no documents with tokens found (empty DocBin?)", path=path)


def read_docbin(path: str | os.PathLike[str]) -> list[Record]:
    return list(iter_docbin(path))


def spans_json(item: SpanText) -> dict[str, Any]:
    """spaCy/Prodigy's ``{"text", "spans": [{"start", "end", "label"}]}`` (plus ``id``, and ``score`` if scored)."""
    spans = []
    for span in item.spans:
        entry: dict[str, Any] = {"start": span.start, "end": span.end, "label": span.label}
        if span.score is not None:
            entry["score"] = span.score
        spans.append(entry)
    return {"id": item.id, "text": item.text, "spans": spans}


def write_spans_jsonl(handle: IO[str], items: Iterable[SpanText]) -> int:
    count = 0
    for item in items:
        handle.write(json.dumps(spans_json(item), ensure_ascii=False) + "\n")
        count += 1
    return count
