"""The closed-side training stage: gold + distilled records -> a fine-tuned token-classification model folder.

Pure parts import fast (``schedules``, ``regimens``, ``sampler``, ``config``, ``base_model``); ``train`` and
``evaluate_model`` load torch and transformers on first use, so ``offline-ner schedules`` and ``--help`` stay quick.

Example::

    from offline_ner.train import TrainConfig, train
    result = train(TrainConfig(regimen="blend"), gold=gold, distilled=distilled, dev=dev, out_dir=Path("run"))
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import offline_ner.hf_offline  # noqa: F401  (before anything imports transformers)
from offline_ner.train.base_model import resolve_base_model
from offline_ner.train.config import ScheduleConfig, TrainConfig
from offline_ner.train.regimens import REGIMENS
from offline_ner.train.schedules import SCHEDULE_KINDS, blend_share

if TYPE_CHECKING:  # the type checker sees the lazy names' real types
    from offline_ner.train.evaluation import (
        EvalReport,
        evaluate_model,
        gold_tags,
        predict_tags,
        predict_word_probs,
        score_tags,
    )
    from offline_ner.train.trainer import TrainResult, train

# public name -> module that defines it, imported on first access (they pull in torch)
_LAZY = {
    "train": "offline_ner.train.trainer",
    "TrainResult": "offline_ner.train.trainer",
    "evaluate_model": "offline_ner.train.evaluation",
    "EvalReport": "offline_ner.train.evaluation",
    "predict_tags": "offline_ner.train.evaluation",
    "gold_tags": "offline_ner.train.evaluation",
    "score_tags": "offline_ner.train.evaluation",
    "predict_word_probs": "offline_ner.train.evaluation",
}

__all__ = [
    "REGIMENS",
    "SCHEDULE_KINDS",
    "EvalReport",
    "ScheduleConfig",
    "TrainConfig",
    "TrainResult",
    "blend_share",
    "evaluate_model",
    "gold_tags",
    "predict_tags",
    "predict_word_probs",
    "resolve_base_model",
    "score_tags",
    "train",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'offline_ner.train' has no attribute {name!r}")
