"""One set of input checks for every engine (``infer/input_checks.py``): the local engine, Ray and Spark refuse the
same things the same way, before a model loads or a cluster starts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from offline_ner.errors import DataError, EngineInputError, ExitCode
from offline_ner.infer.config import InferConfig
from offline_ner.infer.input_checks import check_columns, check_inputs, check_output_format
from offline_ner.infer.local_engine import merge_files, predict_files
from offline_ner.infer.shard import ShardSpec

pytestmark = pytest.mark.usefixtures("no_network")

CONLL = "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\n"
LABEL_STUDIO = '[{"data": {"text": "Paris"}}]\n'


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_conll_is_token_input_locally_and_refused_by_ray_as_a_usage_error(tmp_path: Path) -> None:
    source = write(tmp_path / "test.conll", CONLL)
    assert check_inputs([source]) is True
    with pytest.raises(EngineInputError, match="not CoNLL sentences") as caught:
        check_inputs([source], engine="ray")
    assert caught.value.exit_code == ExitCode.USAGE


@pytest.mark.parametrize("engine", ["local", "ray"])
def test_no_input_and_a_format_predict_cannot_read_are_refused_by_every_engine(engine: str, tmp_path: Path) -> None:
    with pytest.raises(EngineInputError, match="at least one input"):
        check_inputs([], engine=engine)
    with pytest.raises(EngineInputError, match="looks like label-studio"):
        check_inputs([write(tmp_path / "tasks.json", LABEL_STUDIO)], engine=engine)


def test_parquet_is_refused_by_the_local_engine_and_conll_cannot_mix_with_documents(tmp_path: Path) -> None:
    with pytest.raises(EngineInputError, match="add --engine ray"):
        check_inputs([tmp_path / "d.parquet"])
    with pytest.raises(EngineInputError, match="cannot be mixed"):
        check_inputs([write(tmp_path / "a.conll", CONLL), write(tmp_path / "b.txt", "Paris.\n")])


def test_conll_output_needs_token_input() -> None:
    assert check_output_format("auto", is_tokens=True) == "conll"
    assert check_output_format("auto", is_tokens=False) == "jsonl"
    with pytest.raises(EngineInputError, match="--format conll needs CoNLL"):
        check_output_format("conll", is_tokens=False)


def test_a_table_without_id_or_text_is_refused_by_name() -> None:
    check_columns(["id", "text", "extra"], "the DataFrame")
    with pytest.raises(DataError, match=r"missing \['text'\]"):
        check_columns(["id"], "the DataFrame")


def test_local_predict_files_is_the_library_call_behind_predict_and_its_shards_merge(
    tiny_onnx_dir: Path, tmp_path: Path
) -> None:
    docs = write(tmp_path / "docs.jsonl", "".join(json.dumps({"id": str(i), "text": f"Anna met Tom in Oslo {i}."})
                                                  + "\n" for i in range(6)))
    whole = predict_files([docs], tiny_onnx_dir, tmp_path / "whole.jsonl", InferConfig(device="cpu", precision="fp32"))
    assert whole.output_format == "jsonl" and whole.shard is None and whole.throughput.documents == 6
    chosen: list[dict] = []
    parts = [tmp_path / f"part-{k}.jsonl" for k in (1, 2)]
    for k, part in enumerate(parts, start=1):
        run = predict_files([docs], tiny_onnx_dir, part, InferConfig(device="cpu", precision="fp32"), shard=ShardSpec.parse(f"{k}/2"),
                            on_start=chosen.append)
        assert run.shard is not None and run.to_json()["shard"]["manifest"].endswith(".shard.json")
    assert [c["device"] for c in chosen] == ["cpu", "cpu"]
    report = merge_files(parts, [docs], tmp_path / "merged.jsonl")
    assert report.units == 6
    assert (tmp_path / "merged.jsonl").read_bytes() == (tmp_path / "whole.jsonl").read_bytes()
