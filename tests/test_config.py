"""YAML config loading into frozen dataclasses: unknown keys, wrong types and bad YAML are clear errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from offline_ner.config import (
    apply_overrides,
    find_config,
    load_config,
    packaged_config_names,
    packaged_configs_dir,
)
from offline_ner.errors import ConfigError, ExitCode


@dataclass(frozen=True)
class Inner:
    kind: str = "sigmoid"
    k: float = 10.0


@dataclass(frozen=True)
class Outer:
    epochs: int = 3
    lr: float = 5e-5
    name: str | None = None
    sizes: tuple[int, ...] = (500,)
    inner: Inner = field(default_factory=Inner)


def test_yaml_with_nested_section_and_override_builds_the_dataclass(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("epochs: 2\nsizes: [1, 2]\ninner:\n  kind: power\n", encoding="utf-8")
    cfg = load_config(path, Outer, overrides=["inner.k=3", "lr=1e-4"])
    assert cfg == Outer(epochs=2, lr=1e-4, sizes=(1, 2), inner=Inner(kind="power", k=3))


def test_missing_file_means_defaults_only_when_no_path_is_given() -> None:
    assert load_config(None, Outer) == Outer()


def test_unknown_key_is_named_with_the_known_keys(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("epochz: 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown key\\(s\\) epochz; known keys: epochs") as info:
        load_config(path, Outer)
    assert info.value.exit_code == ExitCode.CONFIG



def test_a_key_that_yaml_reads_as_a_number_is_an_unknown_key_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("inner:\n  .inf: 10\n", encoding="utf-8")  # YAML reads `.inf` as the float infinity
    with pytest.raises(ConfigError, match="inner: unknown key\\(s\\) inf; known keys: k") as info:
        load_config(path, Outer)
    assert info.value.exit_code == ExitCode.CONFIG

@pytest.mark.parametrize(("text", "message"), [("epochs: two\n", "epochs: expected int"),
                                                ("inner:\n  k: fast\n", "inner.k: expected float"),
                                                ("epochs: [\n", ":2: invalid YAML"),
                                                ("- a\n", "expected a mapping")])
def test_bad_values_and_bad_yaml_name_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(path, Outer)


def test_override_without_equals_sign_is_rejected() -> None:
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        apply_overrides({}, ["epochs"])


def test_a_packaged_config_is_found_by_name_from_any_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # an installed host: no configs/ folder beside the working directory
    assert find_config("simple_mix") == packaged_configs_dir() / "simple_mix.yaml"
    assert find_config("experiments/paper").name == "paper.yaml"
    assert {"simple_mix", "gold", "experiments/paper"} <= set(packaged_config_names())


def test_a_file_beats_a_packaged_name_and_an_unknown_name_lists_the_packaged_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "simple_mix").write_text("epochs: 1\n", encoding="utf-8")
    assert find_config("simple_mix") == Path("simple_mix")
    with pytest.raises(ConfigError, match="not a packaged config name .*simple_mix") as err:
        load_config("simple_mixx", Outer)
    assert err.value.exit_code == ExitCode.CONFIG
