"""A mistyped tag never becomes a class of its own (issue 28, item 6).

One ``I-PRE`` (for ``I-PER``) in gold data once passed ``convert`` and ``train``, and the model gained ``B-PRE`` and
``I-PRE`` with "head for 11 labels" as the only hint. Tags outside the run's label set (the CoNLL labels, unless
the user names another set: ``convert --labels``, ``labels:`` in the training config) are refused with file and
line. A CoNLL file whose last column is not tags reads as plain text: bundled as annotations it would carry no
tags at all, so ``bundle create`` refuses it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from offline_ner.cli.main import cli
from offline_ner.errors import ExitCode

TYPO = "EU B-ORG\nrejects O\nGerman B-MISC\ncall O\nto O\nboycott O\nPeter B-PER\nBlackburn I-PRE\n"
PASSPHRASE = {"OFFLINE_NER_KEY_PASSPHRASE": "correct horse battery staple"}


def _invoke(*args: str | Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner(env=env).invoke(cli, [str(a) for a in args])
    return result.exit_code, result.output + result.stderr


def test_convert_refuses_a_mistyped_tag_naming_file_and_line(tmp_path: Path) -> None:
    gold = tmp_path / "gold.conll"
    gold.write_text(TYPO, encoding="utf-8")
    code, output = _invoke("convert", gold, "--to", "jsonl", "-o", tmp_path / "gold.jsonl")
    assert code == ExitCode.DATA, output
    assert "gold.conll:8: unknown tag 'I-PRE'" in output
    assert not (tmp_path / "gold.jsonl").exists()


def test_convert_refuses_a_mistyped_tag_in_jsonl_naming_its_line(tmp_path: Path) -> None:
    gold = tmp_path / "gold.jsonl"
    rows = [{"id": "a", "tokens": ["EU"], "tags": ["B-ORG"]}, {"id": "b", "tokens": ["Peter"], "tags": ["B-PRE"]}]
    gold.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    code, output = _invoke("convert", gold, "--to", "conll", "-o", tmp_path / "gold.conll")
    assert code == ExitCode.DATA, output
    assert "gold.jsonl:2: unknown tag 'B-PRE'" in output


def test_convert_accepts_other_types_once_the_user_names_the_set(tmp_path: Path) -> None:
    data = tmp_path / "drugs.conll"
    data.write_text("Aspirin B-DRUG\nhelps O\n", encoding="utf-8")
    code, output = _invoke("convert", data, "--to", "jsonl", "-o", tmp_path / "drugs.jsonl",
                           "--labels", "O,B-DRUG,I-DRUG")
    assert code == 0, output
    assert json.loads((tmp_path / "drugs.jsonl").read_text())["tags"] == ["B-DRUG", "O"]


@pytest.mark.parametrize("role", ["gold", "distilled"])
def test_train_refuses_a_mistyped_tag_before_training(tmp_path: Path, role: str) -> None:
    typo = tmp_path / f"{role}.conll"
    typo.write_text(TYPO, encoding="utf-8")
    clean = tmp_path / "clean.conll"
    clean.write_text("EU B-ORG\nrejects O\n", encoding="utf-8")
    sources = {"gold": clean, "distilled": clean, role: typo}
    # a base model that does not exist: without the check, training gets as far as loading it (exit 5)
    code, output = _invoke("train", "--gold", sources["gold"], "--distilled", sources["distilled"],
                           "--base-model", tmp_path / "no-model", "--out", tmp_path / "run")
    assert code == ExitCode.DATA, output
    assert f"{role}.conll:8: unknown tag 'I-PRE'" in output


def test_train_takes_another_label_set_from_the_config(tmp_path: Path) -> None:
    data = tmp_path / "drugs.conll"
    data.write_text("Aspirin B-DRUG\nhelps O\n", encoding="utf-8")
    config = tmp_path / "drugs.yaml"
    config.write_text("regimen: distilled_then_gold\nlabels: [O, B-DRUG, I-DRUG]\n", encoding="utf-8")
    code, output = _invoke("train", "--config", config, "--gold", data, "--out", tmp_path / "run")
    # the gold data passed the label check; what stops the run (before torch is imported) is the missing source
    assert code == ExitCode.USAGE, output
    assert "give --distilled" in output


@pytest.mark.parametrize("lines", [2, 6500])
def test_bundle_create_refuses_a_conll_file_without_a_tag_column(tmp_path: Path, lines: int) -> None:
    pos = tmp_path / "pos.conll"
    pos.write_text("".join(f"word{i} NN\n" for i in range(lines)), encoding="utf-8")
    keys = tmp_path / "keys"
    assert _invoke("keys", "generate", "--out", keys, "--name", "k", env=PASSPHRASE)[0] == 0
    bundle = tmp_path / "pos.bundle"
    code, output = _invoke("bundle", "create", pos, "--kind", "annotations", "--stream", "s", "--sequence", "1",
                           "--key", keys / "k.key", "-o", bundle, env=PASSPHRASE)
    assert code == ExitCode.DATA, output
    assert "pos.conll" in output and "no tags" in output
    assert not bundle.exists()
