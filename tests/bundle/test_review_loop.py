"""The README's review loop up to training, through the CLI: LLM labels -> Label Studio pre-annotations ->
corrected export -> ``bundle create`` as gold -> import -> the records ``train --gold bundle:...`` reads."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from offline_ner.cli.main import cli
from offline_ner.data import Document, read_records, sentence_records, write_jsonl
from offline_ner.data.char_spans import spans_of_record
from offline_ner.data.formats.spacy_docbin import docbin_bytes

TEXT = "Angela Merkel visited Paris. The EU met in Brussels on Monday."


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner(env=env).invoke(cli, list(args), catch_exceptions=False)


def _trusted_key(env: dict[str, str], tmp_path: Path) -> Path:
    assert run(env, "keys", "generate", "--out", str(tmp_path / "keys"), "--name", "reviewer").exit_code == 0
    added = run(env, "trust", "add", str(tmp_path / "keys" / "reviewer.pub.pem"), "--role", "annotator",
                "--kind", "annotations", "--threshold", "1")
    assert added.exit_code == 0, added.output
    return tmp_path / "keys" / "reviewer.key"


def _bundle_and_resolve(env: dict[str, str], key: Path, source: Path, stream: str, tmp_path: Path) -> Path:
    out = tmp_path / f"{stream}.bundle"
    created = run(env, "bundle", "create", "--kind", "annotations", "--stream", stream, "--sequence", "1",
                  "--key", str(key), str(source), "-o", str(out), "--json")
    assert created.exit_code == 0, created.output
    assert run(env, "bundle", "import", str(out)).exit_code == 0
    return Path(run(env, "bundle", "resolve", f"bundle:{stream}/records.jsonl").stdout.strip())


def test_reviewed_label_studio_export_is_bundled_as_gold(env: dict[str, str], tmp_path: Path) -> None:
    llm = [r.with_tags(["B-PER", "I-PER", "O", "B-ORG", "O"] if k == 0 else ["O", "B-ORG", "O", "O", "B-LOC", "O",
                                                                             "O", "O"])
           for k, r in enumerate(sentence_records(Document("news-1", TEXT, "news.txt")))]
    write_jsonl(llm, tmp_path / "llm.jsonl")
    converted = run(env, "convert", str(tmp_path / "llm.jsonl"), "--to", "label-studio", "-o",
                    str(tmp_path / "tasks.json"))
    assert converted.exit_code == 0, converted.output
    tasks = json.loads((tmp_path / "tasks.json").read_text())
    # the reviewer fixes "Paris" (LLM: ORG) to LOC and submits; Label Studio exports tasks with annotations
    for task in tasks:
        result = task["predictions"][0]["result"]
        for region in result:
            if region["value"]["text"] == "Paris":
                region["value"]["labels"] = ["LOC"]
        task["annotations"] = [{"id": 1, "result": result, "was_cancelled": False, "completed_by": 1}]
    export = tmp_path / "project-1-at-2026-01-01-00-00.json"
    export.write_text(json.dumps(tasks))
    records = _bundle_and_resolve(env, _trusted_key(env, tmp_path), export, "reviewed", tmp_path)
    gold = read_records(records)
    reviewed = [llm[0].with_tags(["B-PER", "I-PER", "O", "B-LOC", "O"]), llm[1]]
    review = {"annotator": "human", "review": {"tool": "label-studio", "annotation_id": 1, "completed_by": 1}}
    assert gold == [r.with_tags(r.tags, provenance={**r.provenance, **review}) for r in reviewed]


def test_spacy_docbin_is_bundled_as_gold(env: dict[str, str], tmp_path: Path) -> None:
    labelled = [r.with_tags(["O"] * len(r.tokens)) for r in sentence_records(Document("d", TEXT))]
    path = tmp_path / "corpus.spacy"
    path.write_bytes(docbin_bytes(map(spans_of_record, labelled)))
    records = _bundle_and_resolve(env, _trusted_key(env, tmp_path), path, "spacy-gold", tmp_path)
    assert [(r.id, r.tokens, r.tags) for r in read_records(records)] == [(r.id, r.tokens, r.tags) for r in labelled]
