"""``scripts/bench_text.py --json`` on the tiny export: one line with the keys issue 18 specifies."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.usefixtures("no_network")
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_text.py"
WIKISTYLE = SCRIPT.parent / "data" / "wikistyle.conll"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_text", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_detokenised_text_puts_every_gold_token_at_its_offsets() -> None:
    bench = load_script()
    text, offsets = bench.detokenize(["He", "said", '"', "Kerrang", "!", "'s", "(", "b.", "1950", ")", '"', "."])
    assert text == 'He said "Kerrang!\'s (b. 1950)".'
    assert [text[a:b] for a, b in offsets] == ["He", "said", '"', "Kerrang", "!", "'s", "(", "b.", "1950", ")", '"', "."]


def test_json_line_has_the_gaps_and_the_tokenisation_share(tiny_onnx_dir: Path, capsys: pytest.CaptureFixture) -> None:
    bench = load_script()
    assert bench.main(["--onnx", str(tiny_onnx_dir), "--conll", str(WIKISTYLE), "--domain", f"wiki={WIKISTYLE}",
                       "--json"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    result = json.loads(line)
    assert {"gap_conll", "gap_wiki", "tokenize_share"} <= set(result)
    assert result["gap_conll"] == result["gap_wiki"], "the same file scores the same under both names"
    assert 0 < result["tokenize_share"] < 1 and -1 <= result["gap_conll"] <= 1
    assert result["domains"]["wiki"]["raw_sentences"] == result["domains"]["wiki"]["sentences"] == 39
