"""Every record reader, fed any bytes, returns well-formed records or raises one DataError: never anything else."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offline_ner.data import Record, read_conll, read_jsonl
from offline_ner.errors import DataError


@pytest.mark.parametrize(("reader", "suffix"), [(read_conll, ".conll"), (read_jsonl, ".jsonl")])
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=300))
def test_any_bytes_give_records_or_one_data_error(
    tmp_path: Path, reader: Callable[[Path], list[Record]], suffix: str, raw: bytes
) -> None:
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(raw)
    try:
        records = reader(path)
    except DataError:
        return
    assert records and all(r.tokens and (r.tags is None or len(r.tags) == len(r.tokens)) for r in records)
