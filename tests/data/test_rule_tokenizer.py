"""The text tokenizer runs spaCy's algorithm in plain Python over spaCy's rule tables: it must give spaCy's tokens
exactly, and the tables shipped with the package must be spaCy's and keep spaCy out of every process."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from offline_ner.data import read_conll
from offline_ner.data import text as text_module
from offline_ner.data.rule_tokenizer import RuleTables, RuleTokenizer

ROOT = Path(__file__).resolve().parents[2]
WIKISTYLE = ROOT / "scripts" / "data" / "wikistyle.conll"


def spacy_blank_tokenizer() -> object:
    """The tokenizer as it was first built: ``spacy.blank("en")``, then adjusted in place; its vocabulary computes
    every lexeme flag, IS_SPACE and IS_PUNCT among them."""
    import spacy
    from spacy.attrs import ORTH
    from spacy.lang.tokenizer_exceptions import emoticons
    from spacy.util import compile_infix_regex

    nlp = spacy.blank("en")
    infixes = [rule.replace(r"[+\-\*^]", r"[+\*^]") for rule in nlp.Defaults.infixes if not re.search(rule, "one-day")]
    nlp.tokenizer.infix_finditer = compile_infix_regex(infixes).finditer
    nlp.tokenizer.rules = {text: value for text, value in nlp.tokenizer.rules.items() if text not in emoticons}
    for abbreviation in text_module.EXTRA_ABBREVIATIONS:
        nlp.tokenizer.add_special_case(abbreviation, [{ORTH: abbreviation}])
    return nlp.tokenizer


@pytest.fixture(scope="module")
def spacy_tokenizer() -> object:
    return text_module._spacy_tokenizer()


@pytest.fixture(scope="module")
def ours(spacy_tokenizer: object) -> RuleTokenizer:
    """Built from the tables of the spaCy tokenizer above (the shipped tables are another test's business)."""
    return RuleTokenizer(RuleTables.from_spacy(spacy_tokenizer, "test"))


def spacy_tokens(tokenizer: object, text: str) -> list[tuple[str, int]]:
    return [(token.text, token.idx) for token in tokenizer(text)]  # type: ignore[operator]


def test_tokens_and_the_flags_sentences_read_are_spacys_blank_english_adjusted_in_place(ours: RuleTokenizer) -> None:
    from spacy.attrs import IDX, IS_PUNCT, IS_SPACE, LENGTH

    words = [line.split()[0] for line in WIKISTYLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts = [text_module.PROBE_TEXT, " ".join(words), "Hi :) (on Saturday): Bre-X's 3-1 win, U.S.-based A.B. Corp. :-("]
    reference = spacy_blank_tokenizer()
    for text in texts:
        rows = [[idx, len(token), token.isspace(), text_module._is_punct(token)] for token, idx in ours(text)]
        assert rows == reference(text).to_array([IDX, LENGTH, IS_SPACE, IS_PUNCT]).tolist()  # type: ignore[operator]


def test_tokens_are_spacys_on_every_conll_2003_document(shared_data: Path, ours: RuleTokenizer,
                                                         spacy_tokenizer: object) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from bench_text import documents
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    records = read_conll(shared_data / "conll2003" / "test.txt") + read_conll(WIKISTYLE)
    pieces = [line for text, _ in documents(records, 20) for line in text.split("\n")]
    assert len(pieces) > 1000
    assert [ours(piece) for piece in pieces] == [spacy_tokens(spacy_tokenizer, piece) for piece in pieces]


TRIGGERS = [
    "Dr.", "U.S.", "'s", "n't", "e.g.", "a.m.", "10a.m.", "Corp.", "No.", "1.", "'", "''", "``", "...", '"', "(", ")",
    "!", "?", ".", ",", ":", "-", "--", "$", "%", "1980s", "3-1", "http://x.org/a?b=1", "www.a.com", "a@b.co", ":)",
    "a", "B", "7", "é", "東京", " ", "  ", "\t", "\u00a0", "\u2028", "\u200b",
]


@given(st.lists(st.sampled_from(TRIGGERS), max_size=40))
@example(["(", "'s", ")", "  ", "10a.m.", "."])
def test_tokens_are_spacys_on_text_built_from_affixes_and_special_cases(
    ours: RuleTokenizer, spacy_tokenizer: object, parts: list[str]
) -> None:
    text = "".join(parts)
    assert ours(text) == spacy_tokens(spacy_tokenizer, text)


@given(st.text(max_size=200))
def test_tokens_are_spacys_on_any_text(ours: RuleTokenizer, spacy_tokenizer: object, text: str) -> None:
    assert ours(text) == spacy_tokens(spacy_tokenizer, text)


def test_tables_survive_their_json_form(ours: RuleTokenizer) -> None:
    tables = ours.tables
    assert RuleTables.from_json(json.loads(json.dumps(tables.to_json()))) == tables


def run_fresh(code: str, cache: Path) -> str:
    """Run ``code`` in a fresh interpreter whose user cache folder is ``cache``; returns its stdout."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(cache)}
    return subprocess.run([sys.executable, "-c", code], check=True, env=env, capture_output=True, text=True).stdout


def test_the_shipped_tables_are_the_installed_spacys() -> None:
    shipped, fresh = text_module._tables().to_json(), text_module.spacy_rule_tables().to_json()
    shipped.pop("spacy"), fresh.pop("spacy")  # another spaCy release with the same rules is no difference
    assert shipped == fresh, "spaCy's rules changed: run scripts/update_rule_tables.py (and bump TOKENIZER_RULES)"


def test_tokenising_never_imports_spacy_and_writes_no_cache(tmp_path: Path) -> None:
    code = (
        "import sys, json; from offline_ner.data import text_tokenizer, tokenize; tokenize('Dr. Smith.');"
        "print(json.dumps([text_tokenizer(), sorted(m for m in ('spacy', 'torch', 'weasel', 'requests', 'typer')"
        " if m in sys.modules)]))"
    )
    first, loaded = json.loads(run_fresh(code, tmp_path))
    assert loaded == [] and first["spacy"] == text_module._tables().spacy
    assert not list(tmp_path.iterdir())


def test_spacys_command_line_stays_importable_after_the_tables_are_read(tmp_path: Path) -> None:
    # spaCy's CLI (typer, weasel, requests) is a third of its import; it stays importable for anyone who wants it
    run_fresh("from offline_ner.data import text; text.spacy_rule_tables();"
              "import spacy, spacy.cli; assert callable(spacy.cli.download) and callable(spacy.info)", tmp_path)
