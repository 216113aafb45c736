"""Sharded batch inference for any scheduler: cut one input into N shards by a stable hash of each unit's id, run
each shard anywhere (Slurm array, Kubernetes Job, ``xargs -P``), then merge the outputs back into input order.

A unit is one document (text/JSONL input: one output line) or one sentence (CoNLL input: one block of lines
ending in a blank line). Unit ``id`` goes to shard ``int(sha256(id)[:8]) % N + 1``, so the cut depends on
nothing but the ids and N: every host agrees without talking to the others. Every shard reads the whole input
(and hashes it, ids and content, into ``input_sha256``) but runs the model only on its own units.

Each shard writes its output and, beside it, ``<output>.shard.json``: K, N, the input's sha256 and unit count,
this shard's unit count, the sha256 of the ordered ids it covered and the sha256 of its output bytes. The
manifest is removed before a shard starts and written (atomically) only after its output is complete, so a
crashed shard has no manifest and its rerun replaces only its own two files.

:func:`merge_shards` reads the input again (ids and content only, no model), checks that the shards cover it
exactly once, and copies each unit's bytes from its shard in input order: the result is byte-identical to one
unsharded run. Any missing, duplicated, foreign (another input, another N) or altered shard raises
:class:`ShardError` (``ExitCode.SHARD``) before anything is written.

Example::

    spec = ShardSpec.parse("2/4")
    run = ShardRun(spec, Path("parts/part-2.jsonl"), "jsonl")
    ...  # predict over run.select(documents), write parts/part-2.jsonl
    run.finish()
    merge_shards(documents_again, sorted(Path("parts").glob("part-*.jsonl")), Path("entities.jsonl"))
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import IO, TypeVar

from offline_ner._fs import atomic_write_text, atomic_writer, sha256_file
from offline_ner.data import Document, Record
from offline_ner.errors import ShardError

MANIFEST_SUFFIX = ".shard.json"
MANIFEST_VERSION = 1
OUTPUT_FORMATS = ("jsonl", "conll")  # jsonl: one line per unit; conll: lines up to and including a blank line

Unit = TypeVar("Unit", Document, Record)


@dataclass(frozen=True)
class ShardSpec:
    """Shard ``index`` (1-based, as in ``--shard 2/4``) of ``count``."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 1 <= self.index <= self.count:
            raise ValueError(f"shard must be K/N with 1 <= K <= N, got {self.index}/{self.count}")

    @classmethod
    def parse(cls, text: str) -> ShardSpec:
        """``"K/N"`` -> ShardSpec; ValueError (with the expected form) otherwise."""
        index, sep, count = text.partition("/")
        if not sep or not index.strip().isdigit() or not count.strip().isdigit():
            raise ValueError(f"shard must be K/N (e.g. 2/4), got {text!r}")
        return cls(int(index), int(count))

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def shard_of(unit_id: str, count: int) -> int:
    """The 1-based shard that owns ``unit_id`` among ``count``: stable across hosts, runs and Python versions."""
    digest = hashlib.sha256(unit_id.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def _id_line(unit_id: str) -> bytes:
    return json.dumps(unit_id).encode("ascii") + b"\n"


def _content_line(unit: Document | Record) -> bytes:
    # JSON with ensure_ascii: unambiguous framing, and lone surrogates from JSON input encode too
    body = unit.text if isinstance(unit, Document) else list(unit.tokens)
    return json.dumps([unit.id, body]).encode("ascii") + b"\n"


def manifest_path(output: Path) -> Path:
    """Where a shard output's manifest lives: beside it, ``<output>.shard.json``."""
    return output.with_name(output.name + MANIFEST_SUFFIX)


@dataclass(frozen=True)
class ShardManifest:
    """What one finished shard covered; written beside its output, read by :func:`merge_shards`."""

    shard: int
    shards: int
    output_format: str
    input_sha256: str  # every unit of the whole input, ids and content, in order
    input_units: int
    units: int  # units in this shard
    ids_sha256: str  # this shard's ids, in input order
    output_sha256: str
    hash: str = "sha256(id)[:8] mod N + 1"
    version: int = MANIFEST_VERSION

    def write(self, output: Path) -> Path:
        path = manifest_path(output)
        atomic_write_text(path, json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")
        return path

    @classmethod
    def read(cls, output: Path) -> ShardManifest:
        """The manifest of shard output ``output``; ShardError when it is absent (unfinished shard) or unreadable."""
        path = manifest_path(output)
        try:
            raw = json.loads(path.read_bytes())
        except FileNotFoundError:
            raise ShardError(f"{output}: no manifest {path.name}; the shard did not finish, rerun it") from None
        except OSError as err:  # a folder, unreadable
            raise ShardError(f"{path}: cannot read the shard manifest: {err.strerror or err}") from None
        except RecursionError:
            raise ShardError(f"{path}: not a shard manifest (JSON nested too deeply)") from None
        except ValueError as err:  # not UTF-8, not JSON
            raise ShardError(f"{path}: not a shard manifest ({err})") from None
        problem = _manifest_problem(raw)
        if problem:
            raise ShardError(f"{path}: not a shard manifest ({problem})")
        return cls(**raw)


def _manifest_problem(raw: object) -> str | None:
    """What is wrong with a decoded manifest (a field missing, unknown or of the wrong type), or None."""
    if not isinstance(raw, dict):
        return f"expected a JSON object, found {type(raw).__name__}"
    if raw.get("version") != MANIFEST_VERSION:
        return f"manifest version {raw.get('version')!r}, expected {MANIFEST_VERSION}"
    types = {f.name: f.type for f in fields(ShardManifest)}
    if set(raw) != set(types):
        return f"fields {sorted(raw)}, expected {sorted(types)}"
    for name, kind in types.items():
        value = raw[name]
        if kind == "int" and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            return f"{name} must be a whole number, not {value!r}"
        if kind == "str" and not isinstance(value, str):
            return f"{name} must be a string, not {value!r}"
    for name in ("input_sha256", "ids_sha256", "output_sha256"):
        if not re.fullmatch(r"[0-9a-f]{64}", raw[name]):
            return f"{name} must be 64 lowercase hex digits, not {raw[name][:80]!r}"
    if not 1 <= raw["shard"] <= raw["shards"]:
        return f"shard {raw['shard']} of {raw['shards']}: expected 1 <= K <= N"
    if raw["output_format"] not in OUTPUT_FORMATS:
        return f"output_format {raw['output_format']!r}, expected one of {', '.join(OUTPUT_FORMATS)}"
    return None


class ShardRun:
    """One shard of a predict run: selects its units while hashing the whole input, then writes the manifest.

    Creating it removes a stale manifest, so a shard that crashes before :meth:`finish` leaves none behind.
    """

    def __init__(self, spec: ShardSpec, output: Path, output_format: str) -> None:
        if os.fspath(output) == "-":
            raise ValueError("a shard needs an output file (its manifest goes beside it), not stdout")
        if output_format not in OUTPUT_FORMATS:
            raise ValueError(f"output_format must be one of {OUTPUT_FORMATS}, not {output_format!r}")
        self.spec, self.output, self.output_format = spec, Path(output), output_format
        self._input = hashlib.sha256()
        self._ids = hashlib.sha256()
        self._input_units = self._units = 0
        self._done = False
        manifest_path(self.output).unlink(missing_ok=True)

    def select(self, units: Iterable[Unit]) -> Iterator[Unit]:
        """This shard's units, in input order; every unit (own or not) goes into the input's digest."""
        for unit in units:
            self._input.update(_content_line(unit))
            self._input_units += 1
            if shard_of(unit.id, self.spec.count) == self.spec.index:
                self._ids.update(_id_line(unit.id))
                self._units += 1
                yield unit
        self._done = True

    def finish(self) -> ShardManifest:
        """Write the manifest for the now complete output (call after the output file is in place)."""
        if not self._done:
            raise RuntimeError("ShardRun.finish() before select() consumed the whole input")
        manifest = ShardManifest(
            shard=self.spec.index, shards=self.spec.count, output_format=self.output_format,
            input_sha256=self._input.hexdigest(), input_units=self._input_units, units=self._units,
            ids_sha256=self._ids.hexdigest(), output_sha256=sha256_file(self.output),
        )
        manifest.write(self.output)
        return manifest


@dataclass(frozen=True)
class MergeReport:
    """What a merge covered."""

    shards: int
    units: int
    input_sha256: str


def _check_set(manifests: dict[Path, ShardManifest]) -> tuple[int, str]:
    """N and the output format, once the shards agree on both and each K in 1..N appears exactly once."""
    if not manifests:
        raise ShardError("no shard outputs given")
    counts = {m.shards for m in manifests.values()}
    if len(counts) > 1:
        by_n = "; ".join(
            f"N={n}: " + ", ".join(str(p) for p, m in manifests.items() if m.shards == n) for n in sorted(counts)
        )
        raise ShardError(f"shards were cut for different N (foreign shard?): {by_n}")
    formats = {m.output_format for m in manifests.values()}
    if len(formats) > 1:
        raise ShardError(f"shards mix output formats {sorted(formats)}")
    (count,), (fmt,) = counts, formats
    owners: dict[int, list[Path]] = {}
    for path, manifest in manifests.items():
        owners.setdefault(manifest.shard, []).append(path)
    duplicated = {k: paths for k, paths in owners.items() if len(paths) > 1}
    if duplicated:
        k, paths = min(duplicated.items())
        raise ShardError(f"shard {k}/{count} given more than once: " + ", ".join(map(str, paths)))
    missing = sorted(set(range(1, count + 1)) - set(owners))
    if missing:
        raise ShardError(f"missing shard(s) {', '.join(f'{k}/{count}' for k in missing)} of {count}")
    return count, fmt


def _route(units: Iterable[Document | Record], manifests: dict[int, tuple[Path, ShardManifest]]) -> array[int]:
    """The shard of each input unit, in order, after checking the input is the one every shard covered."""
    count = len(manifests)
    digest = hashlib.sha256()
    ids = {k: hashlib.sha256() for k in manifests}
    sizes = dict.fromkeys(manifests, 0)
    route = array("I")
    for unit in units:
        digest.update(_content_line(unit))
        k = shard_of(unit.id, count)
        ids[k].update(_id_line(unit.id))
        sizes[k] += 1
        route.append(k)
    for k, (path, manifest) in sorted(manifests.items()):
        if manifest.input_sha256 != digest.hexdigest() or manifest.input_units != len(route):
            raise ShardError(
                f"{path}: foreign shard, made from another input ({manifest.input_units} units, sha256 "
                f"{manifest.input_sha256[:12]}…) than this one ({len(route)} units, {digest.hexdigest()[:12]}…)"
            )
        if manifest.units != sizes[k] or manifest.ids_sha256 != ids[k].hexdigest():
            raise ShardError(f"{path}: its ids differ from the ids of shard {k}/{count} of this input")
        if not path.is_file():
            raise ShardError(f"{path}: shard output missing beside its manifest; rerun shard {k}/{count}")
        if sha256_file(path) != manifest.output_sha256:
            raise ShardError(f"{path}: output changed after its manifest was written (sha256 differs); rerun it")
    return route


def _read_unit(handle: IO[bytes], output_format: str) -> bytes:
    if output_format == "jsonl":
        return handle.readline()
    lines = []
    while (line := handle.readline()) and line != b"\n":
        lines.append(line)
    return b"".join(lines) + line


def _check_paths(outputs: Sequence[Path], destination: Path) -> None:
    """The same shard file named twice (directly or via a link), or a destination that is a shard output or its
    manifest, would merge one shard twice or overwrite a shard: refused before anything is read."""
    seen: dict[str, Path] = {}
    for path in outputs:
        real = os.path.realpath(path)
        if real in seen:
            raise ShardError(f"{path}: shard output given twice (also as {seen[real]})")
        seen[real] = Path(path)
    if os.fspath(destination) != "-":
        target = os.path.realpath(destination)
        for real, path in seen.items():
            if target in (real, os.path.realpath(manifest_path(path))):
                raise ShardError(f"{destination}: the merged output would overwrite shard {path}; choose another -o")


def merge_shards(units: Iterable[Document | Record], outputs: Sequence[Path], destination: Path) -> MergeReport:
    """Merge shard ``outputs`` of the input ``units`` into ``destination`` (``-``: stdout), in input order.

    Raises:
        ShardError: a shard is missing, given twice (or its file named twice), unfinished (no manifest), cut for
            another N or from another input, or its output changed after it finished; ``destination`` is a shard
            output. Nothing is written then.
    """
    _check_paths(outputs, destination)
    manifests = {Path(path): ShardManifest.read(Path(path)) for path in outputs}
    count, output_format = _check_set(manifests)
    by_shard = {m.shard: (path, m) for path, m in manifests.items()}
    route = _route(units, by_shard)
    handles = {k: open(path, "rb") for k, (path, _) in by_shard.items()}  # noqa: SIM115 (closed below)
    try:
        with atomic_writer(destination, "wb") as out:
            for k in route:
                unit = _read_unit(handles[k], output_format)
                if not unit:
                    raise ShardError(f"{by_shard[k][0]}: ends before its last unit")
                out.write(unit)
            for k, handle in handles.items():
                if handle.read(1):
                    raise ShardError(f"{by_shard[k][0]}: holds more units than its manifest lists")
    finally:
        for handle in handles.values():
            handle.close()
    return MergeReport(shards=count, units=len(route), input_sha256=by_shard[1][1].input_sha256)
