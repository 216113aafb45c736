"""docs/bundle-format.md and manifest.schema.json say what the code does: exit codes, fields, severity, constants."""

from __future__ import annotations

import json
import re
from pathlib import Path

from offline_ner import errors
from offline_ner.bundle import manifest
from offline_ner.bundle.envelope import PAYLOAD_TYPE
from offline_ner.bundle.runtime import install_script
from offline_ner.bundle.verify import SEVERITY

SPEC = Path(__file__).resolve().parents[2] / "docs"
FORMAT_MD = (SPEC / "bundle-format.md").read_text(encoding="utf-8")


def test_exit_code_table_matches_the_error_classes() -> None:
    rows = re.findall(r"^\| (\d+) +\| `(\w+)` +\|", FORMAT_MD, flags=re.MULTILINE)
    documented = {int(code): name for code, name in rows}
    bundle_classes = {
        cls.exit_code.value: cls.__name__
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.BundleError)
    }
    assert documented == bundle_classes


def test_documented_severity_order_is_the_verifiers() -> None:
    line = re.search(r"in this order:\s+([\d,\s]+)\(", FORMAT_MD)
    assert line is not None
    assert [int(code) for code in line.group(1).replace(",", " ").split()] == [cls.exit_code.value for cls in SEVERITY]


def test_schema_matches_the_manifest_rules() -> None:
    schema = json.loads((SPEC / "manifest.schema.json").read_text())
    assert set(schema["required"]) == set(schema["properties"]) == manifest._FIELDS
    assert schema["properties"]["format"]["const"] == manifest.FORMAT
    assert tuple(schema["properties"]["kind"]["enum"]) == manifest.KINDS
    assert schema["properties"]["stream"]["pattern"] == f"^{manifest.STREAM_RE.pattern}$"
    assert schema["properties"]["sequence"]["maximum"] == manifest.MAX_SEQUENCE
    assert set(schema["properties"]["files"]["items"]["required"]) == manifest._FILE_FIELDS
    assert schema["properties"]["files"]["maxItems"] == manifest.Limits().max_files


def test_constants_in_the_spec_and_install_sh_match_the_code() -> None:
    script = install_script().decode()
    assert PAYLOAD_TYPE in FORMAT_MD and f"PAYLOAD_TYPE='{PAYLOAD_TYPE}'" in script
    assert manifest.MAGIC.decode().strip() in FORMAT_MD and manifest.MAGIC.decode().strip() in script
    assert f"MAX_ENVELOPE={manifest.Limits().max_envelope_bytes}" in script
