"""Every reader and writer, fed generated hostile input through the CLI, fails the documented way (issue 28).

For each kind of input (``convert`` from and to every format, ``annotate import``, predict's inputs, shard
manifests, runs.csv, YAML configs, the trust store) Hypothesis takes a valid file and breaks it (bytes that are
not UTF-8, lone surrogate escapes, deep nesting, NaN and infinities, a repeated line, a typo'd tag, a cut, a BOM,
NULs, whitespace inside a token) or writes arbitrary bytes. Whatever it writes, the command:

- exits with a code of the documented table (``ExitCode``), never 1 (an unexpected error);
- when it refuses the file, names it, and for a line-based format names the line too, unless the whole file is
  at fault (empty, no records);
- leaves every file it was given and every output path as they were: nothing created, nothing changed.

Predict's inputs go through ``predict-merge``, which reads them with the same reader as ``predict`` and needs no
model; runs.csv goes through ``import_runs_csv`` (what ``experiment --import-rows`` calls first), because a row
that happens to be valid would otherwise start training. Each target tries 12 inputs (about 20 s in all);
``HOSTILE_EXAMPLES=200`` tries more.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offline_ner.cli.main import cli
from offline_ner.data.formats import RECORD_FORMATS
from offline_ner.errors import DataError, ExitCode
from offline_ner.experiment import experiment_from_mapping, import_runs_csv, runs_csv
from offline_ner.experiment.config import ExperimentConfig
from offline_ner.experiment.grid import expand_grid
from offline_ner.infer.shard import manifest_path
from tests.shards import write_shards

DOCUMENTED = {int(code) for code in ExitCode} - {ExitCode.INTERNAL}
# the errors that blame the whole file rather than one line of it
WHOLE_FILE = re.compile(r"no (records|sentences|documents|usable records|tasks)|empty|not found|nested too deeply|"
                        r"record '|fields \[|expected a JSON")

# pieces that broke some reader once: each is inserted into a valid file at a drawn position
HOSTILE = [
    b"\xff", b"\xc3", b"\x00", b"\xef\xbb\xbf", b"\\ud800", b'"\\udfff"', b"[" * 3000, b"{" * 3000,
    b"NaN", b"Infinity", b"-1e999", b".inf", b".nan", b"1.9", b"true", b"-5", b"I-PRE", b"B-", b" ", b"\t",
    b"\n", b"\n\n", b"\r", b"\x85", "\u2028".encode(), b'"', b",", b"|",
    b"-DOCSTART-", b"=HYPERLINK(\"x\")", b"a: 1\na: 2\n", b"&a [*a, *a]", b"x" * 140_000,
]


Run = Callable[[Path, Path], tuple[int, str]]  # (input file, folder for outputs) -> (exit code, output)


def _cli(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.output + result.stderr


JSONL = b'{"id": "a", "tokens": ["EU", "rejects"], "tags": ["B-ORG", "O"]}\n{"id": "b", "tokens": ["Peter"], ' \
        b'"tags": ["B-PER"]}\n{"text": "Paris is big", "spans": [{"start": 0, "end": 5, "label": "LOC"}]}\n'
CONLL = b"-DOCSTART- -X- O O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\nPeter NNP B-NP B-PER\n"
LABEL_STUDIO = json.dumps([{"data": {"text": "EU rejects Peter"}, "annotations": [{"result": [
    {"type": "labels", "from_name": "label", "to_name": "text",
     "value": {"start": 0, "end": 2, "text": "EU", "labels": ["ORG"]}}]}]}]).encode()
TEXT = b"EU rejects German call.\nPeter Blackburn said so.\n"
IMPORT_JSONL = b'{"tokens": ["EU", "rejects"], "llm": ["B-ORG", "O"]}\n{"tokens": ["Peter"], "llm": ["B-PER"]}\n'
IMPORT_CONLL = b"EU B-ORG\nrejects O\n\nPeter B-PER\n"
DOCS = b'{"id": "d1", "text": "EU rejects German call."}\n{"id": "d2", "text": "Peter said so."}\n'
YAML = b"regimen: gold\nepochs: 2\nlearning_rate: 5.0e-5\nschedule:\n  kind: sigmoid\n  k: 10\nlabels: [O, B-PER, I-PER]\n"


def _convert(draw: st.DrawFn) -> Run:
    fmt = draw(st.sampled_from(RECORD_FORMATS))
    return lambda source, folder: _cli("convert", source, "--to", fmt, "-o", folder / f"out.{fmt}")


def _aux(work: Path) -> Path:
    """Where a run's helper files go (a reference input, its shards): beside the folder that is compared."""
    aux = work.parent / "aux"
    aux.mkdir(exist_ok=True)
    return aux


def _merge(source: Path, work: Path) -> tuple[int, str]:
    # shards of another input: a readable input is a foreign one (17); an unreadable one is a data error (4)
    reference = _aux(work) / "reference.jsonl"
    reference.write_bytes(DOCS)
    parts = write_shards(reference, _aux(work) / "parts", 1)
    return _cli("predict-merge", "--input", source, "-o", work / "merged.jsonl", *parts)


def _shard_beside(work: Path) -> None:
    """A finished shard output in ``work``, whose manifest the test then overwrites with hostile bytes."""
    reference = _aux(work) / "reference.jsonl"
    reference.write_bytes(DOCS)
    for path in write_shards(reference, _aux(work) / "parts", 1):
        for made in (path, manifest_path(path)):
            (work / made.name).write_bytes(made.read_bytes())


def _manifest(source: Path, work: Path) -> tuple[int, str]:
    return _cli("predict-merge", "--input", _aux(work) / "reference.jsonl", "-o", work / "merged.jsonl",
                work / "part-1.jsonl")


def _train_config(source: Path, work: Path) -> tuple[int, str]:
    # no data source: a config that happens to be valid stops at the usage error, before torch is imported
    return _cli("train", "--config", source, "--out", work / "run")


def _trust_add(source: Path, work: Path) -> tuple[int, str]:
    return _cli("trust", "add", PUBLIC_KEY, "--role", "annotator", "--threshold", "1", "--kind", "annotations",
                "--trust-store", source)


def _runs_csv(source: Path, folder: Path) -> tuple[int, str]:
    cfg = _experiment(folder)
    try:
        import_runs_csv(cfg, source)
    except DataError as err:
        return int(err.exit_code), f"Error: {err}"
    except Exception as err:  # noqa: BLE001  (what the CLI's handler would turn into exit 1)
        return int(ExitCode.INTERNAL), f"{type(err).__name__}: {err}"
    return 0, ""


def _experiment(folder: Path) -> ExperimentConfig:
    return experiment_from_mapping({
        "name": "fuzz", "out_dir": str(folder / "exp"), "gold": "g.conll", "dev": "g.conll", "test": "g.conll",
        "distilled": {"llm": {"path": "nb.jsonl", "format": "noisebench", "id_prefix": "train"}},
        "gold_sizes": [4], "seeds": [1, 2], "step_budget": 4, "train": {"base_model": "model"},
        "arms": [{"name": "gold-only", "regimen": "gold"}],
    })


def _valid_runs_csv() -> bytes:
    rows = [{"arm": c.arm, "label": c.label, "regimen": c.regimen, "gold_size": c.gold_size, "seed": c.seed,
             "fingerprint": c.fingerprint, "test": {"f1": 0.7, "per_type_f1": {"PER": 0.8}}, "dev_f1": 0.7,
             "steps": 4, "wall_s": 1.5, "n_distilled": 0} for c in expand_grid(_experiment(Path("/nowhere")))]
    return runs_csv(rows).encode()


PUBLIC_KEY = Path()  # set by the module fixture: a real Ed25519 public key file
TRUST = json.dumps({"version": 1, "keys": {}, "roles": {}, "streams": {"s": {"sequence": 3, "digest": "ab" * 32}}},
                   indent=2).encode()

# name: (file name, a valid example, a run drawn per example | None, a fixed run | None, the codes that mean "this
# file is bad" (then the message must name it), whether the format is line-based (then also the line))
TARGETS: dict[str, tuple[str, bytes, Callable[[st.DrawFn], Run] | None, Run | None, frozenset[int], bool]] = {
    "convert-jsonl": ("in.jsonl", JSONL, _convert, None, frozenset({4}), True),
    "convert-conll": ("in.conll", CONLL, _convert, None, frozenset({4}), True),
    "convert-label-studio": ("in.json", LABEL_STUDIO, _convert, None, frozenset({4}), False),
    "convert-text": ("in.txt", TEXT, _convert, None, frozenset({4}), True),
    "annotate-import-jsonl": ("labels.jsonl", IMPORT_JSONL, None, lambda s, f: _cli(
        "annotate", "import", s, "--llm-field", "llm", "--on-error", "skip", "--out", f / "ann"),
        frozenset({4}), True),
    "annotate-import-conll": ("labels.conll", IMPORT_CONLL, None, lambda s, f: _cli(
        "annotate", "import", s, "--out", f / "ann"), frozenset({4}), True),
    "predict-input-jsonl": ("docs.jsonl", DOCS, None, _merge, frozenset({4}), True),
    "predict-input-conll": ("docs.conll", IMPORT_CONLL, None, _merge, frozenset({4}), True),
    "shard-manifest": ("part-1.jsonl.shard.json", b"", None, _manifest, frozenset({17}), False),
    "runs-csv": ("runs.csv", b"", None, _runs_csv, frozenset({4}), True),
    # YAML names the line of a syntax error, and the key (not its line) of a wrong value
    "yaml-config": ("train.yaml", YAML, None, _train_config, frozenset({3}), False),
    "trust-store": ("trust.json", TRUST, None, _trust_add, frozenset({33}), False),
}


@st.composite
def hostile(draw: st.DrawFn, valid: bytes) -> bytes:
    """A valid file broken once or twice, or arbitrary bytes."""
    if not valid or draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=200))
    data = valid
    for _ in range(draw(st.integers(1, 2))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["insert", "replace", "cut", "repeat"]))
        if action == "insert":
            data = data[:at] + draw(st.sampled_from(HOSTILE)) + data[at:]
        elif action == "replace":
            data = data[:at] + draw(st.sampled_from(HOSTILE)) + data[at + 1:]
        elif action == "cut":
            data = data[:at]
        else:
            lines = data.splitlines(keepends=True)
            k = draw(st.integers(0, max(len(lines) - 1, 0)))
            data = b"".join([*lines[: k + 1], *lines[k:]])
    return data


def _snapshot(folder: Path) -> dict[str, tuple[bool, bytes]]:
    """Every path under ``folder`` with its bytes; lock files (the trust store's) are not outputs."""
    return {str(p.relative_to(folder)): (p.is_dir(), b"" if p.is_dir() else p.read_bytes())
            for p in sorted(folder.rglob("*")) if not p.name.endswith(".lock")}


@contextlib.contextmanager
def _folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="hostile-") as name:
        yield Path(name)


@pytest.fixture(scope="module", autouse=True)
def public_key(tmp_path_factory: pytest.TempPathFactory) -> None:
    global PUBLIC_KEY
    keys = tmp_path_factory.mktemp("keys")
    result = CliRunner(env={"OFFLINE_NER_KEY_PASSPHRASE": "correct horse battery staple"}).invoke(
        cli, ["keys", "generate", "--out", str(keys), "--name", "k"])
    assert result.exit_code == 0, result.output
    PUBLIC_KEY = keys / "k.pub"
    TARGETS["runs-csv"] = (*TARGETS["runs-csv"][:1], _valid_runs_csv(), *TARGETS["runs-csv"][2:])
    work = tmp_path_factory.mktemp("manifest") / "work"
    work.mkdir()
    _shard_beside(work)
    manifest = (work / "part-1.jsonl.shard.json").read_bytes()
    TARGETS["shard-manifest"] = (*TARGETS["shard-manifest"][:1], manifest, *TARGETS["shard-manifest"][2:])


@pytest.mark.parametrize("target", sorted(TARGETS))
@settings(max_examples=int(os.environ.get("HOSTILE_EXAMPLES", "12")), deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_hostile_input_exits_with_a_documented_code_names_the_file_and_changes_nothing(
        target: str, data: st.DataObject) -> None:
    name, valid, drawn, fixed, blames, line_based = TARGETS[target]
    content = data.draw(hostile(valid), label="content")
    run = drawn(data.draw) if drawn is not None else fixed
    assert run is not None
    with _folder() as folder:
        work = folder / "work"
        work.mkdir()
        if target == "shard-manifest":
            _shard_beside(work)
        source = work / name
        source.write_bytes(content)
        before = _snapshot(work)
        code, output = run(source, work)
        assert code in DOCUMENTED, f"exit {code}: {output[-2000:]}"
        if code == 0:
            return
        assert _snapshot(work) == before, f"files changed by a failed run: {output[-500:]}"
        if code in blames:  # a manifest's shard may be named instead: "part-1.jsonl: its ids differ ..."
            assert str(source) in output or str(source).removesuffix(".shard.json") + ":" in output, output[-1000:]
            if line_based and not WHOLE_FILE.search(output):
                assert re.search(rf"{re.escape(str(source))}:\d+: ", output), output[-1000:]
