"""`offline-ner experiment` end to end through the CLI, with the distilled records coming from a signed bundle."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from offline_ner.cli.main import cli
from offline_ner.data import Record, write_conll, write_jsonl


def invoke(*args: str | Path, env: dict[str, str]) -> dict:
    result = CliRunner().invoke(cli, [*map(str, args), "--json"], env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_experiment_reads_distilled_records_from_an_imported_bundle(tmp_path: Path, tiny_bert_dir: Path) -> None:
    env = {"OFFLINE_NER_KEY_PASSPHRASE": "test-passphrase", "OFFLINE_NER_TRUST_STORE": str(tmp_path / "trust.json"),
           "OFFLINE_NER_STORE": str(tmp_path / "store")}
    sentence = Record(id="x", tokens=("Anna", "visited", "Tarrow", "."), tags=("B-PER", "O", "B-LOC", "O"))
    write_conll([sentence] * 6, tmp_path / "gold.conll")
    write_jsonl([sentence.with_tags(("B-ORG", "O", "O", "O"), id=f"llm:{i}") for i in range(4)],
                tmp_path / "records.jsonl")
    invoke("keys", "generate", "--out", tmp_path / "keys", "--name", "annotator", env=env)
    invoke("bundle", "create", "--kind", "annotations", "--stream", "llm", "--sequence", "1", "--key",
           tmp_path / "keys" / "annotator.key", tmp_path / "records.jsonl", "-o", tmp_path / "llm.bundle", env=env)
    invoke("trust", "add", tmp_path / "keys" / "annotator.pub.pem", "--role", "annotator", "--kind", "annotations",
           "--threshold", "1", env=env)
    invoke("bundle", "import", tmp_path / "llm.bundle", env=env)
    config = {
        "name": "bundle", "out_dir": str(tmp_path / "out"), "gold": str(tmp_path / "gold.conll"),
        "distilled": {"llm": "bundle:llm/records.jsonl"}, "dev": str(tmp_path / "gold.conll"),
        "test": str(tmp_path / "gold.conll"), "gold_sizes": [3], "seeds": [1], "step_budget": 2,
        "train": {"base_model": str(tiny_bert_dir), "batch_size": 2, "max_length": 16, "eval_every_steps": 1,
                  "torch_threads": 1},
        "arms": [{"name": "simple-mix", "regimen": "distilled_then_gold"}],
    }
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(config))
    outcome = invoke("experiment", "--config", tmp_path / "exp.yaml", env=env)
    assert outcome["ran"] == ["simple-mix_gold=3_seed=1"] and outcome["pending"] == []
    row = json.loads((tmp_path / "out" / "results.jsonl").read_text())
    assert row["n_distilled"] == 4 and row["steps"] == 2
