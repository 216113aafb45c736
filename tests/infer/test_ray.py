"""The Ray Data engine (extra ``[ray]``) on a local 2-CPU Ray cluster started here: its output equals the
single-process engine's byte for byte on JSONL, text lines, text folders and Parquet, in input order, and bad input
fails with the same error and exit code. The tests that need the cluster skip when ray is not installed (the default
install has no [ray]); the refusals made before any cluster starts run everywhere."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from offline_ner.cli.main import cli
from offline_ner.errors import DataError, ExitCode
from offline_ner.infer.ray_engine import LOCAL_NODE_IP, local_worker_priority

WORDS = ["Angela Merkel", "visited", "Paris", "and", "Zürich", "(東京)", "met", "Macron", "in", "Berlin", "👍🏽", "."]


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    """A local Ray cluster of 2 CPUs on 127.0.0.1 for this module's tests, shut down afterwards (no dashboard, no
    usage stats, workers at the test's own priority as ``predict --engine ray`` starts them)."""
    ray = pytest.importorskip("ray", reason="ray is not installed: pip install -e '.[ray]' to run the Ray engine tests")
    previous = os.environ.get("RAY_USAGE_STATS_ENABLED")
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # never phone home
    with local_worker_priority():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
                 object_store_memory=200 * 1024 * 1024, _node_ip_address=LOCAL_NODE_IP)
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield
    ray.shutdown()
    if previous is None:
        os.environ.pop("RAY_USAGE_STATS_ENABLED", None)
    else:
        os.environ["RAY_USAGE_STATS_ENABLED"] = previous


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output + result.stderr


def write_docs(path: Path, count: int) -> Path:
    lines = []
    for i in range(count):
        text = " ".join(WORDS[(i * 7 + j) % len(WORDS)] for j in range(i % 9))  # includes empty documents
        lines.append(json.dumps({"id": f"doc-{i}", "text": text}, ensure_ascii=False) + "\n")
    path.write_text("".join(lines), encoding="utf-8")
    return path


def predict(onnx: Path, out: Path, *args: str) -> Path:
    code, output = run("predict", "--model", str(onnx), "-o", str(out), "--device", "cpu", "--precision", "fp32",
                       *args)
    assert code == 0, output
    return out


def test_ray_engine_output_is_identical_to_one_process_on_jsonl(cluster: None, tiny_onnx_dir: Path,
                                                                  tmp_path: Path) -> None:
    source = write_docs(tmp_path / "docs.jsonl", 300)
    single = predict(tiny_onnx_dir, tmp_path / "single.jsonl", "--input", str(source))
    # 2 actors and batches of 32: the documents are split over actors and come back in input order
    spread = predict(tiny_onnx_dir, tmp_path / "ray.jsonl", "--input", str(source), "--engine", "ray",
                     "--actors", "2", "--threads", "1", "--batch-docs", "32")
    assert spread.read_bytes() == single.read_bytes()


@pytest.mark.parametrize("precision", [(), ("--precision", "int8")])
def test_ray_engine_output_is_identical_to_one_process_in_the_default_precision_and_int8(
    cluster: None, tiny_onnx_dir: Path, tmp_path: Path, precision: tuple[str, ...]
) -> None:
    # the default (fp32 on the CPU) and the per-row int8 graph: no actor's batches change a document's numbers
    source = write_docs(tmp_path / "docs.jsonl", 300)
    code, output = run("predict", "--model", str(tiny_onnx_dir), "-o", str(tmp_path / "single.jsonl"), "--device",
                       "cpu", "--input", str(source), *precision)
    assert code == 0, output
    code, output = run("predict", "--model", str(tiny_onnx_dir), "-o", str(tmp_path / "ray.jsonl"), "--device",
                       "cpu", "--input", str(source), "--engine", "ray", "--actors", "2", "--threads", "1",
                       "--batch-docs", "32", *precision)
    assert code == 0 and "warning" not in output, output
    assert (tmp_path / "ray.jsonl").read_bytes() == (tmp_path / "single.jsonl").read_bytes()


def test_text_lines_and_folders_keep_the_single_process_ids_and_order(cluster: None, tiny_onnx_dir: Path,
                                                                       tmp_path: Path) -> None:
    (tmp_path / "lines.txt").write_bytes("Paris is big.\n\nBerlin too.\nZ\xfcrich caf\xe9.\n".encode("cp1252"))
    folder = tmp_path / "articles"
    (folder / "b").mkdir(parents=True)
    for name in ("z.txt", "a.txt", "b/m.txt"):
        (folder / name).write_text(f"{name}: Angela Merkel met Macron in Rome.\r\nMadrid.", encoding="utf-8")
    inputs = ("--input", str(tmp_path / "lines.txt"), "--input", str(folder))
    single = predict(tiny_onnx_dir, tmp_path / "single.jsonl", *inputs)
    spread = predict(tiny_onnx_dir, tmp_path / "ray.jsonl", *inputs, "--engine", "ray", "--batch-docs", "2")
    assert spread.read_bytes() == single.read_bytes()
    ids = [json.loads(line)["id"] for line in spread.read_text(encoding="utf-8").splitlines()]
    assert ids == ["lines:1", "lines:2", "lines:3", "lines:4", "a", "b/m", "z"]


def test_parquet_documents_give_what_the_same_documents_give_as_jsonl(cluster: None, tiny_onnx_dir: Path,
                                                                       tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = write_docs(tmp_path / "docs.jsonl", 120)
    rows = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines()]
    parquet = tmp_path / "docs.parquet"
    pq.write_table(pa.Table.from_pylist(rows), parquet, row_group_size=25)  # several row groups, read in order
    single = predict(tiny_onnx_dir, tmp_path / "single.jsonl", "--input", str(source))
    spread = predict(tiny_onnx_dir, tmp_path / "ray.jsonl", "--input", str(parquet), "--engine", "ray",
                     "--batch-docs", "16")
    assert spread.read_bytes() == single.read_bytes()


def test_predict_dataset_tags_any_dataset_with_id_and_text(cluster: None, tiny_onnx_dir: Path) -> None:
    import ray

    from offline_ner.infer import InferConfig, NerEngine
    from offline_ner.infer.ray_engine import iter_entity_rows, predict_dataset

    texts = ["Angela Merkel visited Paris.", "", "Zürich (東京) met Macron in Berlin."] * 5
    ds = ray.data.from_items([{"id": i, "text": text} for i, text in enumerate(texts)])
    config = InferConfig(device="cpu", precision="fp32")
    rows = list(iter_entity_rows(predict_dataset(ds, tiny_onnx_dir, config, concurrency=2, batch_size=4)))
    expected = [[entity.to_json() for entity in found] for found in NerEngine(tiny_onnx_dir, config).predict(texts)]
    assert [doc_id for doc_id, _ in rows] == [str(i) for i in range(len(texts))]
    assert [entities for _, entities in rows] == expected


def test_a_malformed_jsonl_line_fails_as_in_one_process(cluster: None, tiny_onnx_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "bad.jsonl"
    source.write_text('{"id": "a", "text": "Paris"}\n{"id": "b", "txt": "Rome"}\n', encoding="utf-8")
    out = tmp_path / "ray.jsonl"
    code, output = run("predict", "--model", str(tiny_onnx_dir), "--input", str(source), "-o", str(out),
                       "--engine", "ray")
    assert code == ExitCode.DATA and f"{source}:2: missing field 'text'" in output
    assert not out.exists()


def test_token_input_is_refused_by_the_ray_engine_before_any_work(tiny_onnx_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "test.conll"
    source.write_text("EU NNP B-NP B-ORG\n\n", encoding="utf-8")
    code, output = run("predict", "--model", str(tiny_onnx_dir), "--input", str(source), "-o",
                       str(tmp_path / "o.conll"), "--engine", "ray")
    assert code == ExitCode.USAGE and "not CoNLL sentences" in output


def test_ray_options_without_the_ray_engine_are_a_usage_error(tiny_onnx_dir: Path, tmp_path: Path) -> None:
    code, output = run("predict", "--model", str(tiny_onnx_dir), "--input", str(write_docs(tmp_path / "d.jsonl", 2)),
                       "-o", str(tmp_path / "o.jsonl"), "--actors", "2")
    assert code == ExitCode.USAGE and "--actors apply to --engine ray only" in output


def test_a_parquet_file_without_an_id_column_is_refused_before_a_cluster_starts(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow", reason="pyarrow comes with the [ray] extra")
    import pyarrow.parquet as pq

    from offline_ner.infer.input_checks import check_inputs

    pq.write_table(pa.table({"text": ["Paris"]}), tmp_path / "d.parquet")
    with pytest.raises(DataError, match=r"missing \['id'\]"):
        check_inputs([tmp_path / "d.parquet"], engine="ray")


def test_parquet_input_without_the_ray_engine_is_a_usage_error(tiny_onnx_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "d.parquet").write_bytes(b"PAR1")
    code, output = run("predict", "--model", str(tiny_onnx_dir), "--input", str(tmp_path / "d.parquet"), "-o",
                       str(tmp_path / "o.jsonl"))
    assert code == ExitCode.USAGE and "add --engine ray" in output


def test_without_the_ray_extra_the_ray_engine_says_how_to_install_it(tiny_onnx_dir: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as on a host without the extra: `import ray` fails
    code, output = run("predict", "--model", str(tiny_onnx_dir), "--input", str(write_docs(tmp_path / "d.jsonl", 2)),
                       "-o", str(tmp_path / "o.jsonl"), "--engine", "ray")
    assert code == ExitCode.INFER and "pip install 'offline-ner[ray]'" in output
    assert not (tmp_path / "o.jsonl").exists()
