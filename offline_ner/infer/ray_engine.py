"""Batch NER on a Ray cluster (extra ``[ray]``): Ray Data reads the documents, a pool of actors each holding one
ONNX Runtime session (:class:`NerPredictor`, one :class:`NerEngine` per actor) tags them with ``map_batches``, and
the output keeps the input order, so it is identical, entity for entity, to one ``predict`` process.

Inputs: JSONL files (``{"id", "text"}`` per line), text files (one document per line), folders of ``.txt`` files
(one document per file) and Parquet files with ``id`` and ``text`` columns. Text and JSONL are read by the same
readers as the single-process engine (:mod:`offline_ner.infer.inputs`), inside Ray read tasks, one task per group
of files, so ids, lenient decoding and error messages (file and line) are the same. The documents travel in blocks
of about :data:`BLOCK_CHARS` characters of text, and each block is one model call of one actor, so even a small
input is spread over every actor. Every path (inputs and model
folder) must be visible at the same place on every node: a shared filesystem, as on a Slurm or Kubernetes cluster.

Nothing here imports ``ray`` at module level: the module loads on hosts without the extra, and the functions say
how to install it when it is missing.

Example::

    import ray
    from offline_ner.infer.ray_engine import predict_dataset, read_documents, write_entities

    ray.init(address="auto")                       # or ray.init() for a local cluster
    ds = read_documents(["news.jsonl"])
    tagged = predict_dataset(ds, "runs/onnx", concurrency=8, num_cpus=4)
    write_entities(tagged, "entities.jsonl")       # or tagged.write_parquet("out/")
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from offline_ner._fs import atomic_writer
from offline_ner.data import Document
from offline_ner.data.text import read_text_file
from offline_ner.errors import DataError, InferError, OfflineNerError
from offline_ner.infer.config import ACTOR_THREADS, BLOCK_CHARS, InferConfig
from offline_ner.infer.engine import NerEngine
from offline_ner.infer.input_checks import RAY_INSTALL_HINT, check_inputs, is_parquet
from offline_ner.infer.inputs import detect_format, iter_documents, write_entity_lines
from offline_ner.infer.model_dir import read_model_folder

if TYPE_CHECKING:
    import pyarrow as pa
    import ray.data

TEXT_FOLDER_PATTERN = "**/*.txt"  # as offline_ner.data.iter_text_folder
# documents per model call when Ray needs a row count: GPU actors (Ray Data asks GPU map_batches for a batch_size)
BATCH_DOCUMENTS = 512
# documents a read task hands to Ray at once at most (Ray merges or slices them into blocks of BLOCK_CHARS)
READ_ROWS = 1024
# CPUs a read task reserves: none, so reading never waits behind actors that reserve every CPU of the cluster (a
# 2-CPU node with 2 one-CPU actors would leave a one-CPU read task unscheduled for ever); parsing costs little
READ_CPUS = 0
LOCAL_NODE_IP = "127.0.0.1"  # a local cluster (no --address) listens on loopback only
# Ray starts its workers at niceness 15, below the driver: on a shared host any other job at normal priority then
# starves the actors (300 documents took 14 min instead of 50 s beside two nice-5 test runs). A local cluster
# started for one command runs its actors at the command's own priority instead (unless the caller set it).
WORKER_NICENESS_ENV = "RAY_worker_niceness"


def _require_ray() -> Any:
    try:
        import ray
    except ImportError as err:
        raise InferError(RAY_INSTALL_HINT) from err
    return ray


def _entities_type() -> pa.DataType:
    """The Arrow type of the ``entities`` column: a list of the fields of ``Entity.to_json``, in that order."""
    import pyarrow as pa

    return pa.list_(pa.struct([
        ("type", pa.string()), ("start", pa.int64()), ("end", pa.int64()), ("text", pa.string()),
        ("score", pa.float64()),
    ]))


def _documents_table(docs: Sequence[Document]) -> pa.Table:
    import pyarrow as pa

    return pa.table({
        "id": pa.array([doc.id for doc in docs], pa.string()),
        "text": pa.array([doc.text for doc in docs], pa.string()),
    })


def _batched(items: Iterable[Document], chars: int, rows: int = READ_ROWS) -> Iterator[list[Document]]:
    """Consecutive lists of documents holding about ``chars`` characters of text (at most ``rows`` documents)."""
    batch: list[Document] = []
    size = 0
    for item in items:
        batch.append(item)
        size += len(item.text)
        if size >= chars or len(batch) == rows:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _source_files(inputs: Sequence[Path], fmt: str) -> tuple[list[str], dict[str, tuple[str, str]]]:
    """Every file to read, in the single-process engine's order, and how to read each: (format, id root)."""
    files: list[str] = []
    how: dict[str, tuple[str, str]] = {}
    for path in inputs:
        if not path.exists():
            raise DataError("input not found", path=path)
        if path.is_dir():
            found = sorted(p for p in path.glob(TEXT_FOLDER_PATTERN) if p.is_file())
            if not found:
                raise DataError(f"no files matching {TEXT_FOLDER_PATTERN!r}", path=path)
            for file in found:  # absolute, not resolved: a symlinked file keeps its name (its id) in the folder
                files.append(os.path.abspath(file))
                how[files[-1]] = ("file", os.path.abspath(path))
        else:
            files.append(os.path.abspath(path))
            how[files[-1]] = ("parquet" if is_parquet(path) else detect_format(path) if fmt == "auto" else fmt, "")
    return files, how


def _parquet_blocks(path: str) -> Iterator[pa.Table]:
    """``id`` (as a string, like JSONL ids) and ``text`` of a Parquet file, in row order."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    for batch in pq.ParquetFile(path).iter_batches(batch_size=READ_ROWS, columns=["id", "text"]):
        yield pa.table({"id": batch.column("id").cast(pa.string()), "text": batch.column("text")})


def _document_files_datasource(files: list[str], how: dict[str, tuple[str, str]], block_chars: int) -> Any:
    from ray.data.datasource import FileBasedDatasource

    class DocumentFiles(FileBasedDatasource):
        """Text lines, JSONL and .txt files read by offline_ner's own readers, and Parquet files, in tables of
        about ``block_chars`` characters. One datasource for all, so inputs keep their order and read tasks take
        no CPU."""

        def _read_stream(self, f: Any, path: str) -> Iterator[pa.Table]:
            fmt, root = how[os.path.abspath(path)]
            if fmt == "file":
                relative = Path(os.path.abspath(path)).relative_to(root).as_posix()
                doc = read_text_file(path, doc_id=relative.removesuffix(".txt"), source=f"{Path(root).name}/{relative}")
                yield _documents_table([doc])
                return
            if fmt == "parquet":
                yield from _parquet_blocks(path)
                return
            for batch in _batched(iter_documents(path, fmt), block_chars):
                yield _documents_table(batch)

    return DocumentFiles(files)


def read_documents(
    inputs: Sequence[str | os.PathLike[str]], fmt: str = "auto", *, block_chars: int = BLOCK_CHARS
) -> ray.data.Dataset:
    """A Ray Dataset of ``{"id", "text"}`` rows from JSONL files, text files, folders of .txt files or Parquet.

    Rows come in the order the single-process engine reads them (inputs in order, a folder's files sorted, a
    Parquet file's rows in order). Parquet files (``.parquet``, ``.pq``) need ``id`` and ``text`` columns. Blocks
    hold about ``block_chars`` characters of text (the dataset's ``DataContext.target_max_block_size``), so
    :func:`predict_dataset` gives each block to one model call.

    Raises:
        InferError: ray is not installed.
        EngineInputError: CoNLL input, no input (:func:`~offline_ner.infer.input_checks.check_inputs`).
        DataError: a missing input, an empty folder, a Parquet file without ``id``/``text``; when the dataset
            runs, a malformed JSONL line (file and line).
    """
    ray = _require_ray()
    paths = [Path(p) for p in inputs]
    check_inputs(paths, fmt, engine="ray")
    files, how = _source_files(paths, fmt)
    ds = ray.data.read_datasource(_document_files_datasource(files, how, block_chars), num_cpus=READ_CPUS)
    # this dataset's own context (a copy of the caller's): Ray cuts the read output into blocks of this many bytes
    ds.context.target_max_block_size = block_chars
    return ds


class NerPredictor:
    """The ``map_batches`` callable: one :class:`NerEngine` (one ONNX Runtime session) per Ray actor.

    Takes Arrow batches with ``id`` and ``text`` and returns ``id`` plus ``entities`` (a list of
    ``{type, start, end, text, score}`` per row, offsets into ``text``).
    """

    def __init__(self, onnx_dir: str, config: InferConfig) -> None:
        self.engine = NerEngine(onnx_dir, config)

    def __call__(self, batch: pa.Table) -> pa.Table:
        import pyarrow as pa

        ids = [str(doc_id) for doc_id in batch.column("id").to_pylist()]
        texts = batch.column("text").to_pylist()
        for doc_id, text in zip(ids, texts):
            if not isinstance(text, str):
                raise DataError(f"document {doc_id!r}: 'text' must be a string, found {type(text).__name__}")
        entities = [[entity.to_json() for entity in found] for found in self.engine.predict(texts)]
        return pa.table({"id": pa.array(ids, pa.string()), "entities": pa.array(entities, _entities_type())})


def predict_dataset(
    ds: ray.data.Dataset,
    model_dir: str | os.PathLike[str],
    config: InferConfig | None = None,
    *,
    concurrency: int | tuple[int, int] | None = None,
    num_cpus: float = ACTOR_THREADS,
    num_gpus: float = 0,
    batch_size: int | None = None,
) -> ray.data.Dataset:
    """Tag every row of ``ds`` (columns ``id``, ``text``) on a pool of actors; rows keep their order.

    Args:
        ds: documents, e.g. from :func:`read_documents`, ``ray.data.read_parquet`` or ``from_items``.
        model_dir: an export folder, at the same path on every node.
        config: engine settings for every actor; its ``threads`` defaults to ``num_cpus`` (one ORT intra-op thread
            per CPU Ray reserves for the actor), its ``device`` to ``cuda`` when ``num_gpus`` > 0.
        concurrency: actors (or a ``(min, max)`` autoscaling range); default: Ray's, 1 to as many as fit. Actors
            that reserve every CPU leave none for read tasks that need one (Ray's own ``read_parquet`` lists
            files in a 1-CPU task): read with ``num_cpus=0``, as :func:`read_documents` does, or leave a CPU free.
        num_cpus, num_gpus: reserved per actor; ``num_gpus=1`` gives each actor its own GPU on GPU nodes.
        batch_size: documents per model call of one actor; None: one call per block of ``ds`` (about
            :data:`BLOCK_CHARS` characters from :func:`read_documents`; give a number for datasets with large
            blocks, e.g. from ``ray.data.read_parquet``), or :data:`BATCH_DOCUMENTS` on GPUs, where Ray needs one.

    Returns:
        A lazy Dataset with columns ``id`` and ``entities``; write it with :func:`write_entities` (one JSONL file
        identical to ``offline-ner predict``) or with Ray's own writers.
    """
    from ray.data import ActorPoolStrategy

    cfg = config or InferConfig()
    if cfg.threads is None:
        cfg = dataclasses.replace(cfg, threads=max(1, int(num_cpus)))
    if num_gpus and cfg.device == "auto":
        cfg = dataclasses.replace(cfg, device="cuda")
    if batch_size is None and num_gpus:
        batch_size = BATCH_DOCUMENTS
    if concurrency is None:
        pool = ActorPoolStrategy(min_size=1, max_size=None)
    elif isinstance(concurrency, int):
        pool = ActorPoolStrategy(size=concurrency)
    else:
        pool = ActorPoolStrategy(min_size=concurrency[0], max_size=concurrency[1])
    tagged = ds.map_batches(
        NerPredictor,
        fn_constructor_args=(str(Path(model_dir).resolve()), cfg),
        batch_size=batch_size,
        batch_format="pyarrow",
        compute=pool,
        num_cpus=num_cpus,
        num_gpus=num_gpus,
    )
    tagged.context.execution_options.preserve_order = True
    return tagged


def batch_dependent_on_cpu(model_dir: str | os.PathLike[str], precision: str) -> bool:
    """Whether the graph a CPU actor loads for ``precision`` shares one activation scale per batch (an int8 export
    from before per-row scales, or optimum's), so its output depends on which documents share a batch. False when
    the export holds no CPU graph for it (the actors then report the error)."""
    try:
        return not read_model_folder(Path(model_dir)).variant_for("cpu", precision).batch_independent
    except InferError:
        return False


def _our_error(err: BaseException) -> OfflineNerError | None:
    """The OfflineNerError a Ray task raised, however Ray wrapped it (RayTaskError, UserCodeException)."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [err]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OfflineNerError) and type(current).__module__.startswith("offline_ner"):
            return current
        stack.extend([getattr(current, "cause", None), current.__cause__, current.__context__])
    return None


def iter_entity_rows(tagged: ray.data.Dataset) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """``(id, entities)`` per document, in order, as the cluster finishes them (an error from a task is ours)."""
    tagged.context.execution_options.preserve_order = True
    try:
        for batch in tagged.iter_batches(batch_format="pyarrow", batch_size=None):
            table: Any = batch  # a pyarrow Table (batch_format="pyarrow")
            yield from zip(table.column("id").to_pylist(), table.column("entities").to_pylist())
    except Exception as err:
        ours = _our_error(err)
        if ours is None:
            raise
        raise ours from None


def write_entities(tagged: ray.data.Dataset, out_path: str | os.PathLike[str]) -> int:
    """Write ``predict_dataset``'s output as the JSONL ``offline-ner predict`` writes (atomically); returns the
    number of documents."""
    with atomic_writer(out_path, "w") as handle:
        return write_entity_lines(handle, iter_entity_rows(tagged))


@dataclasses.dataclass(frozen=True)
class RayRun:
    """What :func:`predict_files` did: documents written, actors and threads used, the cluster it ran on."""

    documents: int
    actors: int
    threads_per_actor: int
    gpus_per_actor: float
    cluster_cpus: float
    address: str
    seconds: float

    def line(self) -> str:
        """The run in one line (the CLI prints it on stderr)."""
        return (f"ray: {self.documents} documents in {self.seconds:.2f} s on {self.actors} actors x "
                f"{self.threads_per_actor} threads ({self.cluster_cpus:g} CPUs in the cluster, {self.address})")


def init_ray(ray: Any, address: str | None) -> None:
    """Join the cluster at ``address``, or start a local one bound to 127.0.0.1 (it needs no network interface).

    Ray's usage statistics (which would phone home) are off unless the caller set ``RAY_USAGE_STATS_ENABLED``:
    this runs in closed networks. A local cluster's workers run at this process's priority (see
    :data:`WORKER_NICENESS_ENV`) unless the caller set ``RAY_worker_niceness``.
    """
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if address is not None:
        ray.init(address=address, configure_logging=False, log_to_driver=False)
        return
    with local_worker_priority():
        ray.init(configure_logging=False, log_to_driver=False, _node_ip_address=LOCAL_NODE_IP,
                 include_dashboard=False)


@contextlib.contextmanager
def local_worker_priority() -> Iterator[None]:
    """Around ``ray.init`` of a local cluster: its workers (started by the raylet launched there, which reads
    this environment) keep this process's niceness instead of Ray's +15; the environment is restored after."""
    if WORKER_NICENESS_ENV in os.environ:
        yield
        return
    os.environ[WORKER_NICENESS_ENV] = "0"
    try:
        yield
    finally:
        os.environ.pop(WORKER_NICENESS_ENV, None)


def predict_files(
    inputs: Sequence[str | os.PathLike[str]],
    model_dir: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    config: InferConfig | None = None,
    *,
    fmt: str = "auto",
    address: str | None = None,
    actors: int | None = None,
    batch_size: int | None = None,
) -> RayRun:
    """``offline-ner predict --engine ray``: read ``inputs``, tag them on a Ray cluster, write one JSONL file.

    Joins the cluster at ``address`` (``"auto"``: the one this node belongs to), or starts a local one when
    ``address`` is None, unless Ray is already initialised in this process; a cluster this call started is
    stopped before it returns. Each actor reserves ``config.threads`` CPUs (default 1) and, with
    ``device="cuda"``, one GPU; ``actors`` defaults to what the cluster holds (CPUs / threads, or GPUs);
    ``batch_size`` (documents per model call) to one block of about :data:`BLOCK_CHARS` characters per call.
    """
    import time

    check_inputs(inputs, fmt, engine="ray")
    ray = _require_ray()
    cfg = config or InferConfig()
    threads = cfg.threads or ACTOR_THREADS
    gpus = 1 if cfg.device == "cuda" else 0
    started_here = not ray.is_initialized()
    if started_here:
        init_ray(ray, address)
    try:
        resources = ray.cluster_resources()
        cpus = float(resources.get("CPU", 1))
        if actors is None:
            actors = int(resources.get("GPU", 0)) if gpus else int(cpus // threads)
        if actors < 1:
            raise InferError(f"the Ray cluster has no room for one actor ({threads} CPUs"
                             f"{', 1 GPU' if gpus else ''}); it has {dict(resources)}")
        begin = time.perf_counter()
        tagged = predict_dataset(read_documents(inputs, fmt), model_dir,
                                 dataclasses.replace(cfg, threads=threads), concurrency=actors, num_cpus=threads,
                                 num_gpus=gpus, batch_size=batch_size)
        documents = write_entities(tagged, out_path)
        return RayRun(documents, actors, threads, gpus, cpus, address or "local", time.perf_counter() - begin)
    finally:
        if started_here:
            ray.shutdown()
