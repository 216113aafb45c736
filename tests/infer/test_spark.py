"""The Spark adapter (extra ``[spark]``) on a local Spark of 2 cores (``local[2]``) started here: its entities equal
the single-process engine's byte for byte, over several partitions and batches, in input order. The tests that need
Spark skip when pyspark or Java is missing (CI installs neither); the install hint is checked everywhere."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from offline_ner.cli.main import cli
from offline_ner.errors import DataError, ExitCode, InferError
from offline_ner.infer import InferConfig, NerEngine

LOOPBACK = ("127.0.0.1", "::1", "localhost")
TEXTS = ["Angela Merkel visited Paris and Zürich.", "", "Macron met (東京) officials in Berlin 👍🏽 .",
         "The European Union and Siemens AG signed in Madrid."]


class NetworkBlockedError(OSError):
    """A connection beyond this machine, attempted in a closed-network test."""


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This module's closed network: Spark's driver talks to its own JVM over loopback sockets (py4j), so
    connections to loopback stay open, as they do on a closed network; any other connection or lookup fails."""
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_create, real_lookup = socket.create_connection, socket.getaddrinfo

    def local(address: Any) -> bool:
        return not isinstance(address, tuple) or str(address[0]) in LOOPBACK

    def guard(real: Any) -> Any:
        def call(first: Any, *args: Any, **kwargs: Any) -> Any:
            target = args[0] if isinstance(first, socket.socket) else first
            if isinstance(first, socket.socket) and first.family == socket.AF_UNIX or local(target):
                return real(first, *args, **kwargs)
            raise NetworkBlockedError(f"network access attempted in a closed-network test: {target!r}")
        return call

    monkeypatch.setattr(socket.socket, "connect", guard(real_connect))
    monkeypatch.setattr(socket.socket, "connect_ex", guard(real_connect_ex))
    monkeypatch.setattr(socket, "create_connection", guard(real_create))
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *a, **k: (
        real_lookup(host, *a, **k) if host in LOOPBACK or host is None else guard(real_lookup)((host,), *a, **k)))
    yield


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    """A local Spark of 2 cores on 127.0.0.1 (no UI), its Python workers on this interpreter; stopped afterwards.
    Small file splits, so one JSONL file becomes several partitions."""
    pytest.importorskip("pyspark", reason="pyspark is not installed: pip install -e '.[spark]' to run the Spark tests")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Java is not installed: OFFLINE_NER_EXTRAS=spark scripts/setup.sh installs default-jre-headless")
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    session = (SparkSession.builder.master("local[2]").appName("offline-ner-tests")
               .config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1")
               .config("spark.driver.bindAddress", "127.0.0.1").config("spark.sql.files.maxPartitionBytes", "2048")
               .config("spark.sql.shuffle.partitions", "2").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def write_docs(path: Path, count: int) -> Path:
    rows = [{"id": f"doc-{i}", "text": TEXTS[i % len(TEXTS)] + f" Case {i}."} for i in range(count)]
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def test_spark_entities_are_identical_to_one_process_over_partitions_and_batches(spark: Any, tiny_onnx_dir: Path,
                                                                                 tmp_path: Path) -> None:
    from offline_ner.infer.spark_udf import predict_dataframe, write_entities

    source = write_docs(tmp_path / "docs.jsonl", 120)
    single = tmp_path / "single.jsonl"
    result = CliRunner().invoke(cli, ["predict", "--model", str(tiny_onnx_dir), "--input", str(source), "-o",
                                      str(single), "--device", "cpu", "--precision", "fp32"])
    assert result.exit_code == 0, result.output
    docs = spark.read.json(str(source))
    assert docs.rdd.getNumPartitions() > 1  # 2 KB splits: the documents are spread over several tasks
    tagged = predict_dataframe(docs, tiny_onnx_dir, InferConfig(device="cpu", precision="fp32"), batch_size=8)
    assert write_entities(tagged, tmp_path / "spark.jsonl") == 120
    assert (tmp_path / "spark.jsonl").read_bytes() == single.read_bytes()


def test_the_entities_column_parses_into_structs_inside_spark(spark: Any, tiny_onnx_dir: Path) -> None:
    from pyspark.sql import functions

    from offline_ner.infer.spark_udf import ENTITIES_DDL, predict_dataframe

    config = InferConfig(device="cpu", precision="fp32")
    docs = spark.createDataFrame([(7, TEXTS[0])], "id long, text string")
    row = predict_dataframe(docs, tiny_onnx_dir, config).select(
        "id", functions.from_json("entities", ENTITIES_DDL).alias("entities")).first()
    expected = [entity.to_json() for entity in next(NerEngine(tiny_onnx_dir, config).predict([TEXTS[0]]))]
    assert row["id"] == "7"
    assert [entity.asDict() for entity in row["entities"]] == expected


def test_a_document_without_text_fails_with_our_data_error_not_a_java_trace(spark: Any, tiny_onnx_dir: Path,
                                                                           tmp_path: Path) -> None:
    from offline_ner.infer.spark_udf import predict_dataframe, write_entities

    docs = spark.createDataFrame([("a", "Paris."), ("b", None)], "id string, text string")
    with pytest.raises(DataError, match="a document's 'text' must be a string, found null") as caught:
        write_entities(predict_dataframe(docs, tiny_onnx_dir), tmp_path / "out.jsonl")
    assert caught.value.exit_code == ExitCode.DATA
    assert not (tmp_path / "out.jsonl").exists()


def test_without_the_spark_extra_the_adapter_says_how_to_install_it(tiny_onnx_dir: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from offline_ner.infer.spark_udf import entities_udf

    monkeypatch.setitem(sys.modules, "pyspark", None)  # as on a host without the extra: `import pyspark` fails
    with pytest.raises(InferError, match=r"pip install 'offline-ner\[spark\]'") as caught:
        entities_udf(tiny_onnx_dir)
    assert caught.value.exit_code == ExitCode.INFER


def test_this_modules_closed_network_still_refuses_other_hosts(no_network: None) -> None:
    with pytest.raises(NetworkBlockedError):
        socket.getaddrinfo("example.org", 443)
    with pytest.raises(NetworkBlockedError):
        socket.create_connection(("192.0.2.1", 80), timeout=1)
