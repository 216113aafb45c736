"""Write the annotation folder that ``offline-ner bundle create --kind annotations`` takes.

Layout (all files written atomically; same inputs and journal give byte-identical files)::

    records.jsonl     the LLM-labelled records, one per line, each with its provenance
    provenance.json   the run: model string(s), template name/version/hash, parameters, input digests,
                      alignment and parse counts, selection effects, failures, usage and cost
    qa.json           only when gold exists: P/R/F1 per type and agreement tables of LLM labels vs gold

Example::

    write_annotation_folder(Path("out/"), records, provenance, qa)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from offline_ner._fs import atomic_write_text
from offline_ner.data import Record, write_jsonl

RECORDS_FILE = "records.jsonl"
PROVENANCE_FILE = "provenance.json"
QA_FILE = "qa.json"


def _dump(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_annotation_folder(
    out: Path, records: Iterable[Record], provenance: Mapping[str, Any], qa: Mapping[str, Any] | None
) -> dict[str, Path]:
    """Write the folder; a stale ``qa.json`` from an earlier run without gold is removed. Returns the paths."""
    return {"records": write_records_file(out, records), **write_run_files(out, provenance, qa)}


def write_records_file(out: Path, records: Iterable[Record]) -> Path:
    """``records.jsonl``, written as the records come (one at a time when ``records`` is a generator)."""
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(records, out / RECORDS_FILE)
    return out / RECORDS_FILE


def write_run_files(out: Path, provenance: Mapping[str, Any], qa: Mapping[str, Any] | None) -> dict[str, Path]:
    """``provenance.json`` and ``qa.json`` (a stale ``qa.json`` is removed when there is no QA)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"provenance": out / PROVENANCE_FILE}
    atomic_write_text(paths["provenance"], _dump(provenance))
    qa_path = out / QA_FILE
    if qa is not None:
        atomic_write_text(qa_path, _dump(qa))
        paths["qa"] = qa_path
    elif qa_path.exists():
        qa_path.unlink()
    return paths
