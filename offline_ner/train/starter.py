"""A commented starting config for one regimen (``offline-ner init config``), built from the shipped configs.

The text is the shipped config for that regimen (``offline_ner/configs/*.yaml``, with its comments saying why each
value was chosen), followed by every other :class:`TrainConfig` key, commented out, at its default. No second copy
of any config lives here: the shipped file is chosen by the ``regimen:`` it declares (for ``blend``, the one whose
schedule is the default schedule), and the defaults come from the dataclass. Pure apart from reading those files.

Example::

    text = starter_config("blend")   # blend_sigmoid.yaml + the remaining keys, commented out
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from offline_ner.config import load_yaml, packaged_configs_dir
from offline_ner.errors import ConfigError
from offline_ner.train.config import ScheduleConfig, TrainConfig
from offline_ner.train.regimens import REGIMENS


def shipped_config_for(regimen: str) -> Path:
    """The shipped config that declares ``regimen`` (for ``blend``: the default schedule kind's).

    Raises:
        ConfigError: ``regimen`` is unknown, or no shipped config declares it.
    """
    if regimen not in REGIMENS:
        raise ConfigError(f"regimen must be one of {', '.join(REGIMENS)}, not {regimen!r}")
    default_kind = ScheduleConfig().kind
    for path in sorted(packaged_configs_dir().glob("*.yaml")):  # top level only: experiments/ are grids
        mapping = load_yaml(path)
        kind = (mapping.get("schedule") or {}).get("kind", default_kind)
        if mapping.get("regimen") == regimen and (regimen != "blend" or kind == default_kind):
            return path
    raise ConfigError(f"no shipped config declares regimen {regimen!r}")  # a packaging bug


def _default_lines(present: set[str]) -> list[str]:
    lines = []
    for field in dataclasses.fields(TrainConfig):
        if field.name in present or field.name == "schedule":
            continue
        value = getattr(TrainConfig(), field.name)
        lines.append(f"# {field.name}: {json.dumps(list(value) if isinstance(value, tuple) else value)}")
    return lines


def starter_config(regimen: str | None = None) -> str:
    """YAML text for ``regimen`` (default: :class:`TrainConfig`'s) that ``load_config`` reads back unchanged."""
    regimen = regimen or TrainConfig().regimen
    path = shipped_config_for(regimen)
    text = path.read_text(encoding="utf-8").rstrip("\n")
    header = (f"# Written by `offline-ner init config --regimen {regimen}` from the shipped config "
              f"'{path.stem}'.\n# Train with: offline-ner train --config THIS_FILE --gold ... --dev ... --out ...\n")
    others = _default_lines(set(load_yaml(path)))
    footer = "\n\n# Every other key at its default (uncomment to change; `offline-ner train --help` lists shorthands):\n"
    return header + text + (footer + "\n".join(others) if others else "") + "\n"
