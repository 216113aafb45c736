"""Sharded predict (``--shard K/N``) and ``predict-merge`` on the tiny export: merged output equals one run byte for
byte, and a missing, duplicated, foreign, unfinished or altered shard is refused with exit 17."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from offline_ner.cli.main import cli
from offline_ner.errors import ExitCode
from offline_ner.infer.shard import ShardSpec, manifest_path, shard_of

pytestmark = pytest.mark.usefixtures("no_network")

N = 3
WORDS = ["Angela Merkel", "visited", "Paris", "and", "Zürich", "(東京)", "met", "Macron", "in", "Berlin", "👍🏽", "."]


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output + result.stderr


def predict(onnx: Path, source: Path, out: Path, *extra: str) -> None:
    code, output = run("predict", "--model", str(onnx), "--input", str(source), "-o", str(out), "--device", "cpu",
                       "--precision", "fp32",
                       *extra)
    assert code == 0, output


def merge(source: Path, out: Path, *parts: Path) -> tuple[int, str]:
    return run("predict-merge", "--input", str(source), "-o", str(out), *map(str, parts))


def write_docs(path: Path, count: int, salt: int = 0) -> Path:
    lines = []
    for i in range(count):
        text = " ".join(WORDS[(i * 7 + j + salt) % len(WORDS)] for j in range(i % 9))  # includes empty docs
        lines.append(json.dumps({"id": f"doc-{i}", "text": text}, ensure_ascii=False) + "\n")
    path.write_text("".join(lines), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def sharded(tiny_onnx_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | list[Path]]:
    """One unsharded run and its N shards over 40 JSONL documents, made once for the tests that only read them."""
    root = tmp_path_factory.mktemp("sharded")
    source = write_docs(root / "docs.jsonl", 40)
    predict(tiny_onnx_dir, source, root / "single.jsonl")
    parts = [root / f"part-{k}.jsonl" for k in range(1, N + 1)]
    for k, part in enumerate(parts, start=1):
        predict(tiny_onnx_dir, source, part, "--shard", f"{k}/{N}")
    return {"root": root, "source": source, "single": root / "single.jsonl", "parts": parts}


def copy_parts(parts: list[Path], folder: Path) -> list[Path]:
    folder.mkdir()
    for part in parts:
        shutil.copy(part, folder / part.name)
        shutil.copy(manifest_path(part), manifest_path(folder / part.name))
    return [folder / part.name for part in parts]


def test_shard_of_is_a_stable_hash_of_the_id() -> None:
    # pinned: a change here would re-cut every shard already on disk, so old and new shards could not merge
    assert [shard_of(f"doc-{i}", 4) for i in range(8)] == [3, 2, 1, 2, 2, 4, 4, 4]
    assert shard_of("news:1", 4) == 2 and shard_of("news:1", 1) == 1
    counts = [sum(shard_of(f"doc-{i}", 4) == k for i in range(4000)) for k in range(1, 5)]
    assert min(counts) > 900  # roughly even


@pytest.mark.parametrize("text", ["0/4", "5/4", "2", "a/4", "2/0", ""])
def test_bad_shard_spec_is_a_usage_error(text: str, tiny_onnx_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="K/N|1 <= K <= N"):
        ShardSpec.parse(text)
    code, output = run("predict", "--model", str(tiny_onnx_dir), "--input", str(write_docs(tmp_path / "d.jsonl", 2)),
                       "-o", str(tmp_path / "o.jsonl"), "--shard", text)
    assert code == ExitCode.USAGE and "K/N" in output


def test_merged_shards_equal_one_run_byte_for_byte(sharded: dict, tmp_path: Path) -> None:
    parts = sharded["parts"]
    manifests = [json.loads(manifest_path(part).read_text()) for part in parts]
    assert sum(m["units"] for m in manifests) == 40 and all(m["units"] > 0 for m in manifests)
    assert {m["input_units"] for m in manifests} == {40} and len({m["input_sha256"] for m in manifests}) == 1
    out = tmp_path / "merged.jsonl"
    code, output = merge(sharded["source"], out, *reversed(parts))  # any order of shard arguments
    assert code == 0, output
    assert out.read_bytes() == sharded["single"].read_bytes()


def test_conll_shards_merge_to_the_unsharded_tags(tiny_onnx_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "test.conll"
    source.write_text("".join(f"{w} NNP O\nsaid VBD O\n{w}s NNP O\n\n" for w in [w.split()[-1] for w in WORDS * 2]),
                      encoding="utf-8")
    predict(tiny_onnx_dir, source, tmp_path / "single.conll")
    parts = [tmp_path / f"part-{k}.conll" for k in (1, 2)]
    for k, part in enumerate(parts, start=1):
        predict(tiny_onnx_dir, source, part, "--shard", f"{k}/2")
    code, output = merge(source, tmp_path / "merged.conll", *parts)
    assert code == 0, output
    assert (tmp_path / "merged.conll").read_bytes() == (tmp_path / "single.conll").read_bytes()


def test_merge_refuses_a_missing_shard(sharded: dict, tmp_path: Path) -> None:
    code, output = merge(sharded["source"], tmp_path / "m.jsonl", *sharded["parts"][:-1])
    assert code == ExitCode.SHARD and f"missing shard(s) {N}/{N}" in output
    assert not (tmp_path / "m.jsonl").exists()


def test_merge_refuses_a_duplicated_shard(sharded: dict, tmp_path: Path) -> None:
    copies = copy_parts(sharded["parts"], tmp_path / "again")
    code, output = merge(sharded["source"], tmp_path / "m.jsonl", *sharded["parts"], copies[0])
    assert code == ExitCode.SHARD and f"shard 1/{N} given more than once" in output
    assert not (tmp_path / "m.jsonl").exists()


def test_merge_refuses_a_shard_of_another_input(sharded: dict, tiny_onnx_dir: Path, tmp_path: Path) -> None:
    other = write_docs(tmp_path / "other.jsonl", 40, salt=1)  # same ids, other texts
    foreign = tmp_path / "part-2.jsonl"
    predict(tiny_onnx_dir, other, foreign, "--shard", f"2/{N}")
    parts = [sharded["parts"][0], foreign, sharded["parts"][2]]
    code, output = merge(sharded["source"], tmp_path / "m.jsonl", *parts)
    assert code == ExitCode.SHARD and "foreign shard, made from another input" in output and str(foreign) in output
    assert not (tmp_path / "m.jsonl").exists()


def test_merge_refuses_shards_cut_for_another_n(sharded: dict, tiny_onnx_dir: Path, tmp_path: Path) -> None:
    foreign = tmp_path / "half-2.jsonl"
    predict(tiny_onnx_dir, sharded["source"], foreign, "--shard", "2/2")
    code, output = merge(sharded["source"], tmp_path / "m.jsonl", *sharded["parts"], foreign)
    assert code == ExitCode.SHARD and "different N" in output
    assert not (tmp_path / "m.jsonl").exists()


def test_merge_refuses_an_output_changed_after_its_shard_finished(sharded: dict, tmp_path: Path) -> None:
    parts = copy_parts(sharded["parts"], tmp_path / "parts")
    lines = parts[1].read_text(encoding="utf-8").splitlines(keepends=True)
    parts[1].write_text("".join(lines[:-1]), encoding="utf-8")  # truncated by hand
    code, output = merge(sharded["source"], tmp_path / "m.jsonl", *parts)
    assert code == ExitCode.SHARD and "output changed after its manifest was written" in output
    parts[1].unlink()
    code, output = merge(sharded["source"], tmp_path / "m.jsonl", *parts)
    assert code == ExitCode.SHARD and "shard output missing beside its manifest" in output


def test_rerun_of_a_crashed_shard_replaces_only_itself(sharded: dict, tiny_onnx_dir: Path, tmp_path: Path) -> None:
    parts = copy_parts(sharded["parts"], tmp_path / "parts")
    # a crash mid-rerun: the shard removed its manifest first and died before its output was complete
    manifest_path(parts[1]).unlink()
    parts[1].write_text('{"id": "doc-', encoding="utf-8")
    code, output = merge(sharded["source"], tmp_path / "m.jsonl", *parts)
    assert code == ExitCode.SHARD and "did not finish, rerun it" in output
    before = {p: (p.read_bytes(), manifest_path(p).read_bytes()) for p in (parts[0], parts[2])}
    predict(tiny_onnx_dir, sharded["source"], parts[1], "--shard", f"2/{N}")
    assert {p: (p.read_bytes(), manifest_path(p).read_bytes()) for p in (parts[0], parts[2])} == before
    code, output = merge(sharded["source"], tmp_path / "m.jsonl", *parts)
    assert code == 0, output
    assert (tmp_path / "m.jsonl").read_bytes() == sharded["single"].read_bytes()


@pytest.mark.parametrize(("precision", "graph"),
                         [((), "model.onnx (fp32)"), (("--precision", "int8"), "model_int8.onnx (int8)")])
def test_merged_shards_equal_one_run_byte_for_byte_in_the_default_precision_and_int8(
    tiny_onnx_dir: Path, tmp_path: Path, precision: tuple[str, ...], graph: str
) -> None:
    # shards run with another batch budget than the single run, and still merge to it byte for byte
    source = write_docs(tmp_path / "docs.jsonl", 40)
    code, output = run("predict", "--model", str(tiny_onnx_dir), "--input", str(source), "-o",
                       str(tmp_path / "single.jsonl"), "--device", "cpu", *precision)
    assert code == 0 and graph in output, output
    parts = [tmp_path / f"part-{k}.jsonl" for k in range(1, N + 1)]
    for k, part in enumerate(parts, start=1):
        code, output = run("predict", "--model", str(tiny_onnx_dir), "--input", str(source), "-o", str(part),
                           "--device", "cpu", "--shard", f"{k}/{N}", "--batch-tokens", "64", *precision)
        assert code == 0 and "warning" not in output, output
    code, output = merge(source, tmp_path / "merged.jsonl", *parts)
    assert code == 0, output
    assert (tmp_path / "merged.jsonl").read_bytes() == (tmp_path / "single.jsonl").read_bytes()


def test_shards_of_a_per_tensor_int8_graph_warn_that_batches_change_their_numbers(
    sharded: dict, per_tensor_onnx_dir: Path, tmp_path: Path
) -> None:
    code, output = run("predict", "--model", str(per_tensor_onnx_dir), "--input", str(sharded["source"]), "-o",
                       str(tmp_path / "p.jsonl"), "--device", "cpu", "--precision", "int8", "--shard", "1/2")
    assert code == 0 and "warning: this int8 graph quantises activations with one scale per batch" in output
