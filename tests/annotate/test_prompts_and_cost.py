"""Versioned templates, token counting and the dated price table; the stage's import boundary."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

import offline_ner.annotate
from offline_ner.annotate import build_messages, count_message_tokens, load_prices, load_template
from offline_ner.annotate.prompts import BUILTIN_TEMPLATES, json_schema_format
from offline_ner.data import Record
from offline_ner.errors import ConfigError

RECORD = Record("s", ("EU", "rejects", "German", "call"))


@pytest.mark.parametrize("name", sorted(BUILTIN_TEMPLATES))
def test_builtin_templates_render_indexed_tokens_and_strict_schema(name: str) -> None:
    template = load_template(name)
    messages = build_messages(template, RECORD)
    assert "0:EU 1:rejects 2:German 3:call" in messages[-1]["content"]
    assert "PER" in messages[0]["content"] and "$" not in messages[0]["content"]
    assert json_schema_format(template)["json_schema"]["strict"] is True


def test_cot_demonstration_carries_candidates_and_justifications() -> None:
    template = load_template("cot_conll")
    demo = Record("d", ("Anne", "Murray"), ("B-PER", "I-PER"))
    answer = json.loads(build_messages(template, RECORD, [demo])[2]["content"])
    assert answer["candidates"] == ["Anne Murray"] and answer["entities"][0]["justification"]


def test_a_users_template_file_gets_its_own_hash(tmp_path: Path) -> None:
    builtin = load_template("fewshot_conll")
    path = tmp_path / "mine.json"
    data = json.loads((Path(offline_ner.annotate.__file__).parent / "templates" / "fewshot_conll.v1.json").read_text())
    data["system"] += " Be careful."
    path.write_text(json.dumps(data))
    assert load_template(path).sha256 != builtin.sha256


def test_template_with_unknown_placeholder_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(
        json.dumps(
            {
                "name": "x",
                "version": "1",
                "system": "$nope",
                "user": "",
                "type_definitions": {"PER": "p"},
                "response_schema": {},
            }
        )
    )
    with pytest.raises(ConfigError, match="placeholder"):
        load_template(path)


def test_message_tokens_are_counted_offline() -> None:
    assert count_message_tokens([{"role": "user", "content": "hello world"}]) == 3 + 3 + 1 + 2


def test_returned_model_versions_are_priced_by_their_family() -> None:
    prices = load_prices(None)
    assert prices.price("gpt-4o-2024-08-06") == prices.price("gpt-4o") != prices.price("gpt-4o-mini")
    assert prices.cost_usd("gpt-4o", input_tokens=1_000_000, output_tokens=0) == 2.5
    assert prices.cost_usd("gpt-4o", input_tokens=1_000_000, output_tokens=0, batch=True) == 1.25
    assert prices.price("llama-3") is None


def test_user_price_table_overrides_and_extends_the_packaged_one(tmp_path: Path) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text(
        "as_of: '2026-01-01'\nmodels:\n  gpt-4o: {input: 1.0, output: 2.0}\n  smollm2: {input: 0, output: 0}\n"
    )
    prices = load_prices(path)
    assert prices.as_of == "2026-01-01" and prices.price("gpt-4o") == {"input": 1.0, "output": 2.0}
    assert prices.price("smollm2") == {"input": 0.0, "output": 0.0} and prices.price("gpt-4") is not None


def test_annotate_imports_no_other_stage() -> None:
    package = Path(offline_ner.annotate.__file__).parent
    allowed = (
        "offline_ner.contracts",
        "offline_ner.data",
        "offline_ner.errors",
        "offline_ner._fs",
        "offline_ner.config",
        "offline_ner.hf_offline",
        "offline_ner.annotate",
    )
    for module in package.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                if name.startswith("offline_ner"):
                    assert name.startswith(allowed), f"{module.name} imports {name}"
