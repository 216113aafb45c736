"""Plain text: decode leniently, split into sentences and CoNLL-style tokens with exact character offsets.

Tokens come from spaCy's rule-based English tokenizer (English defaults, no model, no download, no network) and
sentences from its sentencizer's rule, both adjusted to the conventions of CoNLL-2003, the data the models are
trained on. The tokenizer's rule tables were read from spaCy once and ship with the package (``rule_tables.json``);
spaCy's algorithm runs over them in plain Python (:mod:`offline_ner.data.rule_tokenizer`, tested token for token
against spaCy), so no host needs spaCy to tokenise, and a ``predict`` process never pays its import (BENCHMARKS.md). Each adjustment below was kept because it brought tokens, sentences or raw-text
F1 closer to CoNLL's (``scripts/bench_text.py``; the numbers are in BENCHMARKS.md). What comes out: abbreviations,
initials and acronyms stay whole (``Dr.``, ``W.``, ``U.S.``), so do hyphenated words, scores and dates (``2-foot``,
``3-1``, ``1996-12-06``), decades and codes (``1980s``, ``6PR``); possessive ``'s`` and ``n't`` are split off, as
CoNLL splits them. Every token is an exact slice of the text: ``text[start:end] == token``. Sentences never cut a
token, and every non-space character of a text lies in exactly one sentence.

What :func:`text_tokenizer` describes (name, rules version, spaCy version, fingerprint) is written into every ONNX
export (``export.json``), and inference refuses an export whose recorded tokenizer differs from the one it would
run (:func:`tokenizer_mismatch`).

Example::

    for doc in iter_text_folder("bbc/"):
        for record in sentence_records(doc):
            print(record.id, record.tokens, record.offsets)
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import hashlib
import importlib.metadata
import importlib.resources
import json
import os
import re
import sys
import types
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from offline_ner.data.records import Document, Record
from offline_ner.data.rule_tokenizer import RuleTables, RuleTokenizer, SpacyToken
from offline_ner.errors import DataError

Token = tuple[str, int, int]  # (token, start, end) with text[start:end] == token

MAX_SENTENCE_TOKENS = 128  # longer sentences become several records: keeps LLM prompts and model windows short
# characters spaCy tokenises at once: a longer line is cut at a space (or, with no space, anywhere), so memory
# stays flat on one-line documents of any size; spaCy's own default refuses texts over 1,000,000 characters
MAX_PIECE_CHARS = 100_000
# what export.json records; bump "rules" whenever a rule in this module changes the tokens or sentences it gives
TOKENIZER_NAME = "spacy-en-conll"
RULE_TABLES = "rule_tables.json"  # in this package: the tables read from spaCy (scripts/update_rule_tables.py)
TOKENIZER_RULES = 1
# title abbreviations spaCy's English exceptions lack that stand before names and numbers in news and Wikipedia
# text; without them "Lt. Col. Hoyt" splits into three sentences (the failure "Dr" + ". Nner" seen on BBC text)
EXTRA_ABBREVIATIONS = ("No.", "Nos.", "Lt.", "Col.", "Capt.", "Sgt.", "Maj.", "Cpl.", "Sr.", "Ft.", "Ave.")
# a company's abbreviated legal form before a capitalised word ends a sentence: in CoNLL-2003 (all splits) it did
# 20 times out of 20 ("Newmont Mining Corp. Santa Fe ..."); not before another one ("Samsung Co. Ltd.")
COMPANY_ABBREVIATIONS = frozenset({"Corp.", "Inc.", "Co.", "Ltd."})
# a sentence may end at these; not "!": in names (Kerrang!, Yahoo!) it is followed by a capital just like a
# sentence end, and a missed sentence end costs an NER model far less than a name cut in two
SENTENCE_END_CHARS = (".", "?", "。", "？", "۔", "؟", "।", "॥")
# the text whose tokens and sentences fingerprint the tokenizer in export.json: one case per rule above
PROBE_TEXT = (
    "He signed in Dec. 1980 with Kerrang! Records in London. James W. Hoyt (b. 1950) was its founder.\n"
    "Dr. Nner's 2-foot 6PR band of the 1980s won 3-1 on 1996-12-06 at No. 10, didn't it? Lt. Col. Ross met "
    "U.S. staff (on Saturday): A.B. Corp. said so. He left Orbis Corp. The firm's shares fell 2.5 percent to "
    "$1,000.50 at Samsung Co. Ltd., said \"Mr. X.\"\n1. Olga Melnik (Russia) 2:31.44\nNewmont Mining Corp."
)


def decode_text(raw: bytes) -> tuple[str, str]:
    """Decode bytes as UTF-8, falling back to Windows-1252 then Latin-1; returns ``(text, encoding_used)``.

    Old news archives mix encodings: one stray Latin-1 byte must not make an article unreadable. A leading UTF-8
    byte-order mark is dropped, as by every reader (:mod:`offline_ner.data.lines`).
    """
    raw = raw.removeprefix(codecs.BOM_UTF8)
    for encoding in ("utf-8", "cp1252"):
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1"), "latin-1"


def _import_spacy() -> Any:
    """Import spaCy without torch and without its command line, the two parts of its import the tokenizer never
    uses (the rest of spaCy's ``__init__`` it cannot skip: the tokenizer's own modules import most of it).

    - thinc, under spaCy, imports torch whenever it is installed (2-3 s of CPU and ~300 MB), and inference hosts
      must not load it at all: ``import torch`` is made to fail while spaCy loads (thinc copes).
    - spaCy's ``__init__`` imports its command line (typer, weasel, requests, httpx, jinja2: about a third of the
      import, BENCHMARKS.md) only to re-export ``spacy.info``: stand-in ``spacy.cli`` modules serve that import
      and are removed afterwards, so a later ``import spacy.cli`` loads the real one and ``spacy.info`` calls it.
      Should a spaCy release import more of its command line, the stand-ins are dropped and spaCy imported whole.
    """
    if "spacy" in sys.modules:
        return sys.modules["spacy"]
    hide = "torch" not in sys.modules
    if hide:
        sys.modules["torch"] = None  # type: ignore[assignment]  # "import torch" raises ImportError; thinc copes
    try:
        try:
            with _stand_in_spacy_cli():
                import spacy
        except ImportError:
            for name in [name for name in sys.modules if name == "spacy" or name.startswith("spacy.")]:
                del sys.modules[name]
            import spacy
    finally:
        if hide and sys.modules.get("torch", 0) is None:
            del sys.modules["torch"]
    return spacy


@contextlib.contextmanager
def _stand_in_spacy_cli() -> Iterator[None]:
    info = types.ModuleType("spacy.cli.info")
    info.info = _spacy_info  # type: ignore[attr-defined]
    cli = types.ModuleType("spacy.cli")
    cli.__path__ = []  # a package with no submodules: importing any other spacy.cli module fails
    cli.info = info  # type: ignore[attr-defined]
    stand_ins = {"spacy.cli": cli, "spacy.cli.info": info}
    sys.modules.update(stand_ins)
    try:
        yield
    finally:
        for name, module in stand_ins.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]


def _spacy_info(*args: Any, **kwargs: Any) -> Any:
    """``spacy.info`` imported on first use (see :func:`_import_spacy`)."""
    from spacy.cli.info import info

    return info(*args, **kwargs)


def _spacy_tokenizer() -> Any:
    """spaCy's rule-based English tokenizer, adjusted to CoNLL: where the rule tables come from (spaCy is imported
    only here, see :func:`spacy_rule_tables`).

    Built from the English defaults exactly as spaCy's own tokenizer factory builds it, with the adjustments
    passed in, rather than through ``spacy.blank("en")`` and changed afterwards: that resolves a pipeline config
    and then loads the ~1,350 special cases again for every setting changed, three times in all.
    """
    _import_spacy()
    from spacy.attrs import ORTH
    from spacy.lang.en import English
    from spacy.lang.tokenizer_exceptions import emoticons
    from spacy.tokenizer import Tokenizer
    from spacy.util import compile_infix_regex, compile_prefix_regex, compile_suffix_regex
    from spacy.vocab import Vocab

    defaults = English.Defaults
    # CoNLL keeps hyphenated words, scores and dates whole (Bre-X, 3-1, 1996-12-06): drop the hyphen infixes (should
    # spaCy reword these rules, the fingerprint of "2-foot ... 3-1 on 1996-12-06" in PROBE_TEXT changes)
    infixes = [rule.replace(r"[+\-\*^]", r"[+\*^]") for rule in defaults.infixes if not re.search(rule, "one-day")]
    # news has no emoticons, but it has "(on Saturday):", which the ")" + ":" emoticon rule would glue together
    rules = {text: value for text, value in defaults.tokenizer_exceptions.items() if text not in emoticons}
    rules.update({abbreviation: [{ORTH: abbreviation}] for abbreviation in EXTRA_ABBREVIATIONS})
    return Tokenizer(
        Vocab(),
        rules=rules,
        prefix_search=compile_prefix_regex(defaults.prefixes).search,
        suffix_search=compile_suffix_regex(defaults.suffixes).search,
        infix_finditer=compile_infix_regex(infixes).finditer,
        token_match=defaults.token_match,
        url_match=defaults.url_match,
    )


def spacy_rule_tables() -> RuleTables:
    """The rule tables read afresh from the installed spaCy (needs ``offline-ner[train]``): what
    ``scripts/update_rule_tables.py`` writes to :data:`RULE_TABLES`, and a test compares with it."""
    return RuleTables.from_spacy(_spacy_tokenizer(), importlib.metadata.version("spacy"))


def _tables() -> RuleTables:
    """The tokenizer's rule tables as shipped with the package (:data:`RULE_TABLES`, read from spaCy once by a
    maintainer), so no host imports spaCy to tokenise, and every host tokenises alike whichever spaCy it has, or
    none. The fingerprint of what the tables give (:func:`text_tokenizer`) is what exports record and inference
    checks."""
    path = importlib.resources.files("offline_ner.data") / RULE_TABLES
    return RuleTables.from_json(json.loads(path.read_text(encoding="utf-8")))


@functools.lru_cache(maxsize=1)
def _tokenizer() -> RuleTokenizer:
    """The tokenizer: spaCy's algorithm over spaCy's rule tables, adjusted to CoNLL (built once per process)."""
    return RuleTokenizer(_tables())


def _pieces(fragments: Iterable[str]) -> Iterator[tuple[int, str]]:
    """Spans of a text to tokenise separately, as ``(offset, piece)``: each line, long lines cut at a space near
    the size limit. The text comes as consecutive ``fragments`` (one whole string is one fragment).

    A line break ends a sentence (titles, datelines, table rows and paragraphs each stand alone, as in CoNLL).
    A piece is decided from at most :data:`MAX_PIECE_CHARS` + 1 characters of its line, so the buffer never holds
    more than that plus one fragment: whatever the text's size, fragments of a stream are read as pieces are
    taken (:func:`iter_sentences`).
    """
    buffer, pos, base = "", 0, 0  # the text from offset ``base`` on is ``buffer``; ``buffer[:pos]`` is done
    stream = iter(fragments)
    ended = False
    while True:
        newline = buffer.find("\n", pos, pos + MAX_PIECE_CHARS + 1)
        if newline >= 0:  # a whole line (or the rest of one) of at most MAX_PIECE_CHARS
            if newline > pos:
                yield base + pos, buffer[pos:newline]
            pos = newline + 1
        elif len(buffer) - pos > MAX_PIECE_CHARS:  # this line goes on beyond the limit: cut it at its last space
            cut = buffer.rfind(" ", pos + 1, pos + MAX_PIECE_CHARS)
            cut = cut if cut > pos else pos + MAX_PIECE_CHARS
            yield base + pos, buffer[pos:cut]
            pos = cut
        elif not ended:  # the line may go on in the next fragment
            fragment = next(stream, None)
            if fragment is None:
                ended = True
            else:
                buffer, base, pos = buffer[pos:] + fragment, base + pos, 0
        else:
            if pos < len(buffer):
                yield base + pos, buffer[pos:]
            return


OPENING_QUOTES = frozenset('"\'“‘«')


def _is_punct(word: str) -> bool:
    """spaCy's IS_PUNCT lexeme flag (``spacy.lang.lex_attrs.is_punct``): every character is Unicode punctuation."""
    return all(unicodedata.category(char).startswith("P") for char in word)


def _sentences_of(tokens: list[SpacyToken], text: str, base: int) -> list[list[Token]]:
    """Sentences from the tokens of one piece ``text`` of a document (found at ``base``), with the CoNLL rules.

    The sentence rule is spaCy's sentencizer's (after a sentence-end token, the next token that is not
    punctuation starts a sentence), skipping whitespace tokens (spaCy's IS_SPACE), with the additions commented
    below.
    """
    sentences: list[list[Token]] = []
    current: list[Token] = []
    seen_end = after_company = False
    for word, idx in tokens:
        if word.isspace():
            continue
        start = base + idx
        if word in SENTENCE_END_CHARS:
            seen_end = True
        elif (seen_end or after_company) and word not in COMPANY_ABBREVIATIONS and not _is_punct(word):
            seen_end = False
            if _is_list_number(current):
                # a numbered item, "1. Olga Melnik (Russia) 2:31.44": CoNLL keeps "1." whole, the item one sentence
                (number, start_n, _), (_, _, end_n) = current
                current = [(number + ".", start_n, end_n)]
            # a sentence starts with neither a lower-case letter nor a digit: "No. 10", "Inc. said" stay together
            elif current and not (word[0].islower() or word[0].isdigit()):
                # an opening quote glued to the first word belongs to the new sentence: 'said. "I think'
                quote = current[-1]
                moved = quote[2] == start and _is_opening_quote(quote, text, base)
                if moved:
                    current.pop()
                if current:
                    sentences.append(_split_final_period(current))
                current = [quote] if moved else []
        after_company = word in COMPANY_ABBREVIATIONS
        current.append((word, start, start + len(word)))
    if current:
        sentences.append(_split_final_period(current))
    return sentences


def _is_list_number(tokens: list[Token]) -> bool:
    return len(tokens) == 2 and tokens[0][0].isdigit() and tokens[1][0] == "." and tokens[0][2] == tokens[1][1]


def _is_opening_quote(token: Token, text: str, base: int) -> bool:
    word, start, _ = token
    return word in OPENING_QUOTES and (start == base or text[start - base - 1].isspace())


def _split_final_period(tokens: list[Token]) -> list[Token]:
    """CoNLL's convention: a sentence-final abbreviation gives its period to the sentence ("Corp" + ".")."""
    word, start, end = tokens[-1]
    if len(word) > 1 and word.endswith(".") and not word.endswith(".."):
        tokens[-1:] = [(word[:-1], start, end - 1), (".", end - 1, end)]
    return tokens


def iter_sentences(fragments: Iterable[str]) -> Iterator[list[Token]]:
    """The sentences of one text given as consecutive ``fragments``, each as its tokens ``(token, start, end)``
    (offsets into the whole text), one at a time.

    A stream: the text is read a fragment at a time as sentences are taken, and at most one piece (a line, or
    :data:`MAX_PIECE_CHARS` of a longer one) plus one fragment is held, so a document of any size is split in
    bounded memory. The sentences are those :func:`tokenized_sentences` gives for the joined text.
    """
    tokenizer = _tokenizer()
    for begin, piece in _pieces(fragments):
        yield from _sentences_of(tokenizer(piece), piece, begin)


def iter_tokenized_sentences(texts: Iterable[str]) -> Iterator[list[list[Token]]]:
    """For each text, its sentences, each as its tokens ``(token, start, end)`` (offsets into that text).

    One pass of the tokenizer gives both tokens and sentences, one text at a time.
    """
    for text in texts:
        yield list(iter_sentences((text,)))


def tokenized_sentences(text: str) -> list[list[Token]]:
    """The sentences of ``text``, each as its tokens ``(token, start, end)``."""
    return next(iter_tokenized_sentences([text]))


def tokenize(text: str) -> list[Token]:
    """Tokens of ``text`` as ``(token, start, end)``."""
    return [token for sentence in tokenized_sentences(text) for token in sentence]


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence character spans, from the first character of a sentence's first token to its last token's end."""
    return [(sentence[0][1], sentence[-1][2]) for sentence in tokenized_sentences(text)]


@functools.lru_cache(maxsize=1)
def text_tokenizer() -> dict[str, Any]:
    """What tokenises raw text here: name, rules version, spaCy version, and a fingerprint of its output.

    The fingerprint (sha256 of the tokens and sentences of :data:`PROBE_TEXT`) changes when a spaCy upgrade
    changes what the rules give, so a different spaCy that tokenises the same way is no mismatch.
    """
    sentences = [[token for token, _, _ in sentence] for sentence in tokenized_sentences(PROBE_TEXT)]
    digest = hashlib.sha256(json.dumps(sentences, ensure_ascii=False).encode("utf-8")).hexdigest()
    return {
        "name": TOKENIZER_NAME,
        "rules": TOKENIZER_RULES,
        "spacy": _tokenizer().tables.spacy,
        "fingerprint": digest[:16],
    }


def tokenizer_mismatch(recorded: Mapping[str, Any] | None) -> str | None:
    """Why text tokenised here would not be tokenised as ``recorded`` says (None when it would be)."""
    current = text_tokenizer()
    if not recorded:
        return "it records no text tokenizer (exported before tokenizers were recorded)"
    differing = [key for key in ("name", "rules", "fingerprint") if recorded.get(key) != current[key]]
    if differing:
        return (
            f"it was exported with text tokenizer {dict(recorded)} but this installation tokenises with "
            f"{current} ({', '.join(differing)} differ)"
        )
    return None


def sentence_records(document: Document, max_tokens: int = MAX_SENTENCE_TOKENS) -> list[Record]:
    """Unlabelled records, one per sentence (or chunk of ``max_tokens``), offsets relative to the record text.

    ``provenance['char_start']`` is where the record's text starts in the document, so spans map back.
    """
    records: list[Record] = []
    for tokens in tokenized_sentences(document.text):
        for chunk_start in range(0, len(tokens), max_tokens):
            chunk = tokens[chunk_start : chunk_start + max_tokens]
            first = chunk[0][1]
            records.append(
                Record(
                    id=f"{document.id}:{len(records)}",
                    tokens=tuple(token for token, _, _ in chunk),
                    text=document.text[first : chunk[-1][2]],
                    offsets=tuple((s - first, e - first) for _, s, e in chunk),
                    source=document.source,
                    provenance={"document": document.id, "char_start": first},
                )
            )
    return records


def read_text_file(path: str | os.PathLike[str], doc_id: str | None = None, source: str = "") -> Document:
    """One document from a text file, leniently decoded (see :func:`decode_text`)."""
    path = Path(path)
    try:
        text, _ = decode_text(path.read_bytes())
    except FileNotFoundError as err:
        raise DataError("file not found", path=path) from err
    return Document(id=doc_id or path.stem, text=text.replace("\r\n", "\n"), source=source or path.name)


def iter_text_folder(folder: str | os.PathLike[str], pattern: str = "**/*.txt") -> Iterator[Document]:
    """Documents from every matching file under ``folder``, in sorted path order; ids are relative paths."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError("not a folder of text files", path=folder)
    paths = sorted(p for p in folder.glob(pattern) if p.is_file())
    if not paths:
        raise DataError(f"no files matching {pattern!r}", path=folder)
    for path in paths:
        relative = path.relative_to(folder).as_posix()
        yield read_text_file(path, doc_id=relative.removesuffix(".txt"), source=f"{folder.name}/{relative}")


def iter_text_lines(path: str | os.PathLike[str]) -> Iterator[Document]:
    """One document per line of a file or stdin (``-``), leniently decoded (UTF-8, else cp1252/Latin-1 per line);
    ids ``<stem>:<line>``; blank lines are empty documents, so output lines match input lines."""
    from offline_ner.data.lines import STDIN_NAME, input_stem, is_stdin, open_input

    stem, source = input_stem(path), STDIN_NAME if is_stdin(path) else Path(path).name
    try:
        with open_input(path) as handle:
            for line_no, raw in enumerate(handle, start=1):
                text, _ = decode_text(raw.rstrip(b"\r\n"))
                yield Document(id=f"{stem}:{line_no}", text=text, source=source)
    except FileNotFoundError as err:
        raise DataError("file not found", path=path) from err
