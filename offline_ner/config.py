"""YAML config files → frozen dataclasses. The only module that reads YAML.

Each stage defines its own frozen dataclass (``TrainConfig`` in ``train/``, ...); this module turns a mapping into
one, rejecting unknown keys and wrong types with a :class:`ConfigError` that names the file and the key. Nested
dataclass fields are built recursively; ``--set key.sub=value`` overrides from the CLI go through
:func:`apply_overrides`.

Shipped configs live in ``offline_ner/configs/`` (package data, so an installed wheel has them) and are named
without folder or suffix: ``simple_mix``, ``experiments/paper``. A path to any YAML file works everywhere too.

Example::

    cfg = load_config("simple_mix", TrainConfig, overrides=["epochs=2"])   # or "my/own.yaml"
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import math
import os
import re
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from offline_ner.errors import ConfigError

T = TypeVar("T")

# a packaged config's name: its path under offline_ner/configs/ without ".yaml" (simple_mix, experiments/paper)
PACKAGED_NAME_RE = re.compile(r"[A-Za-z0-9_]+(/[A-Za-z0-9_]+)*")


def packaged_configs_dir() -> Path:
    """The folder of the configs shipped inside the package (``offline_ner/configs``)."""
    return Path(str(importlib.resources.files("offline_ner") / "configs"))


def packaged_config_names() -> list[str]:
    """Every shipped config by name, e.g. ``["blend_linear", ..., "experiments/paper", ...]``."""
    root = packaged_configs_dir()
    return sorted(path.relative_to(root).with_suffix("").as_posix() for path in root.rglob("*.yaml"))


def find_config(name_or_path: str | os.PathLike[str]) -> Path:
    """An existing YAML file, else the packaged config of that name (``simple_mix``).

    Raises:
        ConfigError: neither a file nor a packaged name; the message lists the packaged names.
    """
    path = Path(name_or_path)
    if path.is_file():
        return path
    if PACKAGED_NAME_RE.fullmatch(os.fspath(name_or_path)):
        packaged = packaged_configs_dir() / f"{os.fspath(name_or_path)}.yaml"
        if packaged.is_file():
            return packaged
    raise ConfigError(
        f"{path}: config file not found, and not a packaged config name ({', '.join(packaged_config_names())})"
    )


def load_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse a YAML file (or packaged config, by name: :func:`find_config`) whose top level is a mapping."""
    path = find_config(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the config file: {err.strerror or err}") from err
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: not valid UTF-8; re-encode the config as UTF-8") from err
    try:
        data = _safe_load(text)
    except yaml.reader.ReaderError as err:  # a character YAML does not allow (NUL, most control characters)
        line = text[: err.position].count("\n") + 1
        raise ConfigError(f"{path}:{line}: invalid YAML: character {err.character!r} is not allowed") from err
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigError(f"{where}: invalid YAML: {getattr(err, 'problem', None) or err}") from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level, found {type(data).__name__}")
    return data


class _UniqueKeyLoader(yaml.SafeLoader):
    """safe_load that refuses a key given twice in one mapping (YAML would keep the last one silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, typing.Hashable) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (given twice; which one should win?)", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _safe_load(text: str) -> Any:
    """One YAML document, safely; yaml.YAMLError also for a duplicate key and for nesting too deep to build."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except RecursionError as err:
        raise yaml.YAMLError("nested too deeply") from err


def apply_overrides(mapping: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Return a copy of ``mapping`` with ``dotted.key=value`` overrides applied (values parsed as YAML)."""
    result: dict[str, Any] = _deep_copy(mapping)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r}: expected KEY=VALUE, e.g. epochs=3 or schedule.kind=sigmoid")
        node = result
        *parents, leaf = key.split(".")
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"override {item!r}: {part!r} is not a section")
            node = child
        try:
            node[leaf] = _safe_load(raw) if raw else ""
        except yaml.YAMLError as err:
            raise ConfigError(f"override {item!r}: the value is not valid YAML: {getattr(err, 'problem', None) or err}") from err
    return result


def overridden_keys(overrides: Iterable[str]) -> dict[str, str]:
    """Dotted key -> the ``--set`` item that set it (the last one wins, as in :func:`apply_overrides`)."""
    return {item.partition("=")[0]: item for item in overrides}


def _deep_copy(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, Mapping) else v for k, v in mapping.items()}


def _matches(value: Any, annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if annotation is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if annotation is float:  # .inf and .nan are YAML floats, never a usable setting
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin is typing.Literal:
        return value in typing.get_args(annotation)
    if origin in (tuple, list):
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        return isinstance(value, (list, tuple)) and all(_matches(v, args[0]) for v in value) if args else True
    if origin in (dict, Mapping):
        return isinstance(value, dict)
    if isinstance(annotation, type):
        return isinstance(value, annotation)
    return True


def _coerce(value: Any, annotation: Any) -> Any:
    """YAML 1.1 reads ``5e-5`` (no dot) as a string: accept it where a float is expected."""
    wants_float = annotation is float or float in typing.get_args(annotation)
    if wants_float and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def from_mapping(
    cls: type[T],
    mapping: Mapping[str, Any],
    *,
    where: str = "config",
    prefix: str = "",
    overridden: Mapping[str, str] | None = None,
) -> T:
    """Build dataclass ``cls`` from ``mapping``; unknown keys and wrong types raise ConfigError.

    ``where`` (the file) and ``prefix`` (the dotted section) go into error messages; a key in ``overridden``
    (dotted key -> ``--set`` item) is blamed on that override instead of the file.
    """
    overridden = overridden or {}

    def blame(key: str) -> str:
        return f"--set {overridden[key]}" if key in overridden else where

    section = prefix.rstrip(".") or "top level"
    if not isinstance(mapping, Mapping):
        raise ConfigError(f"{where}: {section}: expected a mapping, found {type(mapping).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(str(key) for key in set(mapping) - set(fields))  # YAML keys can be numbers: `.inf: 10`
    if unknown:
        raise ConfigError(
            f"{blame(prefix + unknown[0])}: {section}: unknown key(s) {', '.join(unknown)}; "
            f"known keys: {', '.join(sorted(fields))}"
        )
    values: dict[str, Any] = {}
    for name, value in mapping.items():
        annotation = hints[name]
        key = prefix + name
        candidates = (annotation, *typing.get_args(annotation))
        nested = [a for a in candidates if isinstance(a, type) and dataclasses.is_dataclass(a)]
        if nested and isinstance(value, Mapping):
            values[name] = from_mapping(nested[0], value, where=where, prefix=key + ".", overridden=overridden)
            continue
        value = _coerce(value, annotation)
        if not _matches(value, annotation):
            raise ConfigError(f"{blame(key)}: {key}: expected {_describe(annotation)}, found {value!r}")
        if isinstance(value, list):
            value = tuple(value)
        values[name] = value
    try:
        return cls(**values)
    except (TypeError, ValueError) as err:
        # a check across keys: blame the file and name the overrides that took part
        involved = [overridden[prefix + name] for name in mapping if prefix + name in overridden]
        also = f" (with --set {', --set '.join(involved)})" if involved else ""
        raise ConfigError(f"{where}{also}: {section}: {err}") from err


def _describe(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def load_config(
    path: str | os.PathLike[str] | None, cls: type[T], *, overrides: Iterable[str] = ()
) -> T:
    """Load ``path`` (or start from defaults when None), apply overrides, build ``cls``."""
    overrides = list(overrides)
    mapping = load_yaml(path) if path is not None else {}
    mapping = apply_overrides(mapping, overrides)
    where = str(path) if path is not None else "config"
    return from_mapping(cls, mapping, where=where, overridden=overridden_keys(overrides))
