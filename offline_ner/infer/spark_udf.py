"""Batch NER on Spark (extra ``[spark]``): a ``predict_batch_udf`` that tags a text column, one :class:`NerEngine`
(one ONNX Runtime session) per Spark Python worker, so entities come out identical, entity for entity, to one
``predict`` process.

The UDF returns each document's entities as a JSON string (``[{"type", "start", "end", "text", "score"}, ...]``,
offsets into the text), because ``predict_batch_udf`` returns scalars, tensors or flat structs, not lists of
structs; ``from_json(col, ENTITIES_DDL)`` turns it into an array of structs inside Spark. The model folder must be
at the same path on every executor (a shared filesystem), as for Ray. Spark needs Java (Debian's
``default-jre-headless``; ``OFFLINE_NER_EXTRAS=spark scripts/setup.sh`` installs it when missing).

Nothing here imports ``pyspark`` at module level: the module loads on hosts without the extra.

Example::

    from pyspark.sql import SparkSession
    from offline_ner.infer.spark_udf import predict_dataframe, write_entities

    spark = SparkSession.builder.master("local[4]").getOrCreate()
    docs = spark.read.json("news.jsonl")                 # columns id, text
    tagged = predict_dataframe(docs, "runs/onnx")        # columns id, entities (JSON)
    write_entities(tagged, "entities.jsonl")             # as `offline-ner predict` writes it
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from offline_ner import errors
from offline_ner._fs import atomic_writer
from offline_ner.errors import DataError, InferError, OfflineNerError
from offline_ner.infer.config import InferConfig
from offline_ner.infer.input_checks import check_columns
from offline_ner.infer.inputs import write_entity_lines

if TYPE_CHECKING:
    import numpy as np
    from pyspark.sql import Column, DataFrame

INSTALL_HINT = "the Spark adapter needs the [spark] extra: pip install 'offline-ner[spark]' (and Java)"
# documents per call of predict_batch_udf's predict function (Spark's Arrow batches are cut to this): the Ray
# engine's measurements hold here too, any batch of a few hundred news articles pads as well as one big chunk
BATCH_DOCUMENTS = 256
# the Spark SQL type of the UDF's JSON, for from_json: the fields of Entity.to_json, in that order
ENTITIES_DDL = "array<struct<type:string,start:bigint,end:bigint,text:string,score:double>>"
# the last line of a worker's Python traceback, which is all of an error that crosses the JVM back to the driver
_WORKER_ERROR = re.compile(r"^offline_ner\.errors\.(\w+): (.+)$", re.MULTILINE)


def _require_pyspark() -> Any:
    try:
        import pyspark.ml.functions
    except ImportError as err:
        raise InferError(INSTALL_HINT) from err
    return pyspark


def _task_cpus() -> int:
    """CPUs Spark gives each task (``spark.task.cpus``, default 1): the ORT threads of one worker's session."""
    from pyspark import TaskContext

    context = TaskContext.get()
    return max(1, int(context.cpus())) if context is not None else 1


def make_predict_fn(onnx_dir: str, config: InferConfig) -> Callable[[], Callable[[np.ndarray], np.ndarray]]:
    """``predict_batch_udf``'s loader: opens the engine once per Python worker (Spark caches what it returns) and
    gives back a function from an array of texts to an array of JSON entity lists."""

    def load() -> Callable[[np.ndarray], np.ndarray]:
        import numpy as np

        from offline_ner.infer.engine import NerEngine

        cfg = config if config.threads is not None else dataclasses.replace(config, threads=_task_cpus())
        engine = NerEngine(onnx_dir, cfg)

        def predict(texts: np.ndarray) -> np.ndarray:
            batch = texts.tolist()
            for text in batch:
                if not isinstance(text, str):  # Spark hands a null as None or NaN
                    kind = "null" if text is None or (isinstance(text, float) and math.isnan(text)) else type(text).__name__
                    raise DataError(f"a document's 'text' must be a string, found {kind}")
            found = engine.predict(batch)
            return np.array([json.dumps([entity.to_json() for entity in entities], ensure_ascii=False)
                             for entities in found], dtype=object)

        return predict

    return load


def entities_udf(
    model_dir: str | os.PathLike[str], config: InferConfig | None = None, *, batch_size: int = BATCH_DOCUMENTS
) -> Callable[..., Column]:
    """A Spark UDF: a string column of texts in, a string column of JSON entity lists out.

    ``config.threads`` defaults to the CPUs Spark gives each task (``spark.task.cpus``), so the sessions of
    concurrent tasks do not oversubscribe the executor's cores.

    Raises:
        InferError: pyspark is not installed.
    """
    _require_pyspark()
    from pyspark.ml.functions import predict_batch_udf
    from pyspark.sql.types import StringType

    onnx_dir = str(Path(model_dir).resolve())
    return predict_batch_udf(make_predict_fn(onnx_dir, config or InferConfig()), return_type=StringType(),
                             batch_size=batch_size)


def predict_dataframe(
    df: DataFrame, model_dir: str | os.PathLike[str], config: InferConfig | None = None, *,
    batch_size: int = BATCH_DOCUMENTS,
) -> DataFrame:
    """``df``'s ``id`` (as a string, like JSONL ids) and its ``text`` tagged: columns ``id`` and ``entities`` (JSON),
    rows in ``df``'s order.

    Raises:
        DataError: ``df`` lacks an ``id`` or ``text`` column (the rule Ray applies to Parquet files).
    """
    from pyspark.sql import functions

    check_columns(df.columns, "the DataFrame")

    tag = entities_udf(model_dir, config, batch_size=batch_size)
    return df.select(functions.col("id").cast("string").alias("id"), tag(functions.col("text")).alias("entities"))


def write_entities(tagged: DataFrame, out_path: str | os.PathLike[str]) -> int:
    """Write ``predict_dataframe``'s rows, in order, as the JSONL ``offline-ner predict`` writes (atomically) from
    the driver; returns the number of documents. For outputs too large for one writer use Spark's own writers."""
    try:
        with atomic_writer(out_path, "w") as handle:
            return write_entity_lines(handle, ((row["id"], json.loads(row["entities"]))
                                               for row in tagged.toLocalIterator()))
    except Exception as err:
        ours = worker_error(err)
        if ours is None:
            raise
        raise ours from None


def worker_error(err: BaseException) -> OfflineNerError | None:
    """The offline_ner error a Spark Python worker raised, rebuilt from the traceback text Spark returns wrapped in
    Java exceptions (only the text crosses the JVM), so bad input fails as in one process; None if not ours."""
    found = _WORKER_ERROR.search(str(err))
    kind = getattr(errors, found.group(1), None) if found else None
    if found is None or not (isinstance(kind, type) and issubclass(kind, OfflineNerError)):
        return None
    return kind(found.group(2))
