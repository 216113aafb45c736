"""The public surface: every name in ``__all__`` resolves, and the stage entry points are the stages' own."""

from __future__ import annotations

import importlib

import pytest

import offline_ner

STAGES = ["offline_ner.data", "offline_ner.annotate", "offline_ner.bundle", "offline_ner.train",
          "offline_ner.export", "offline_ner.infer", "offline_ner.experiment"]


@pytest.mark.parametrize("name", offline_ner.__all__)
def test_every_top_level_export_resolves(name: str) -> None:
    assert getattr(offline_ner, name) is not None


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_all_lists_only_names_it_defines(stage: str) -> None:
    module = importlib.import_module(stage)
    assert sorted(module.__all__) == sorted(set(module.__all__))
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert missing == []


def test_top_level_entry_points_are_the_stage_objects() -> None:
    from offline_ner.bundle import verify_bundle
    from offline_ner.infer import NerEngine

    assert offline_ner.verify_bundle is verify_bundle and offline_ner.NerEngine is NerEngine


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        offline_ner.not_a_thing  # noqa: B018
