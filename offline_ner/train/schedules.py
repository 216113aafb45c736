"""Blend schedules: the share of distilled records a training step sees, as a pure function of training progress.

Huang, Tang & Chen (2024) blend gold and LLM-distilled data with sigmoid and power-decay curves but publish no
formulas, so these are ours. Progress ``p`` runs from 0 (first step) to 1 (last step of the phase); the result is
the share of distilled records in the batch at that point, always clamped to ``[0, 1]``. Every kind, with its
parameters (defaults in :data:`SCHEDULE_PARAMS`):

- ``sigmoid``      ``s_max / (1 + exp(k (p - p0)))``. ``k > 0`` falls from ~``s_max`` to ~0 around ``p0``
  (distilled first, gold later: a smooth "Simple Mix"); ``k < 0`` rises instead.
- ``power``        ``s0 (1 - p)^alpha`` when ``tau == 0`` (reaches 0 at p = 1), else the heavy-tailed
  ``s0 (1 + p / tau)^-alpha`` (never reaches 0; small ``tau`` falls fast early).
- ``linear``       ``s0 + (s1 - s0) p``.
- ``exponential``  ``s0 exp(-rate p)`` (``rate > 0`` decays).
- ``step``         ``s0`` while ``p < p0``, then ``s1`` (the discrete "distilled then gold" inside one phase).

This module does not sample anything (``sampler.py`` turns a curve into batches) and imports neither torch nor
numpy, so its tests run in milliseconds.

Example::

    blend_share("sigmoid", 0.5, k=10.0)          # -> 0.5
    blend_share("power", 1.0)                    # -> 0.0
    curve = schedule_curve("step", p0=0.3)       # Callable[[float], float]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

# every parameter's default (the one place; train.config.ScheduleConfig reads them from here); each is part of
# the curves plotted by `offline-ner schedules`
PARAM_DEFAULTS: Mapping[str, float] = {
    "s_max": 1.0,  # sigmoid: start with (almost) only distilled records
    "k": 10.0,  # sigmoid: the switch takes about 40% of training (share 0.88 -> 0.12 over p0 +- 0.2)
    "p0": 0.5,  # sigmoid/step: switch half-way, the same split as two equal phases (distilled_then_gold)
    "s0": 1.0,  # power/linear/exponential/step: start with only distilled records
    "s1": 0.0,  # linear/step: end with only gold, which the paper finds should come last
    "alpha": 2.0,  # power: quadratic decay, half of the distilled records are seen in the first 21% of training
    "tau": 0.0,  # power: 0 selects s0 (1 - p)^alpha, which reaches 0 at the end
    "rate": 5.0,  # exponential: share 1 -> 0.007 at the end, a fast early decay for comparison with power
}
# kind -> its parameters with their defaults
SCHEDULE_PARAMS: Mapping[str, Mapping[str, float]] = {
    kind: {name: PARAM_DEFAULTS[name] for name in names}
    for kind, names in {
        "sigmoid": ("s_max", "k", "p0"),
        "power": ("s0", "alpha", "tau"),
        "linear": ("s0", "s1"),  # the plain baseline between the curves
        "exponential": ("s0", "rate"),
        "step": ("s0", "s1", "p0"),
    }.items()
}
SCHEDULE_KINDS: tuple[str, ...] = tuple(SCHEDULE_PARAMS)
SCHEDULE_FORMULAS: Mapping[str, str] = {
    "sigmoid": "s_max / (1 + exp(k (p - p0)))",
    "power": "s0 (1 - p)^alpha if tau == 0 else s0 (1 + p/tau)^-alpha",
    "linear": "s0 + (s1 - s0) p",
    "exponential": "s0 exp(-rate p)",
    "step": "s0 if p < p0 else s1",
}

SHARE_PARAMS = ("s_max", "s0", "s1")  # parameters that are themselves shares, so must lie in [0, 1]


def check_share(where: str, name: str, value: float) -> None:
    """ValueError unless ``value`` lies in [0, 1] (``name`` is one of :data:`SHARE_PARAMS`)."""
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{where}{name} is a share and must lie in [0, 1], not {value}")


def _sigmoid(p: float, s_max: float, k: float, p0: float) -> float:
    z = k * (p - p0)
    # exp overflows past ~709; the limit is 0 (k > 0, late) or s_max (early)
    return 0.0 if z > 700 else s_max / (1.0 + math.exp(z))


def _power(p: float, s0: float, alpha: float, tau: float) -> float:
    return s0 * (1.0 - p) ** alpha if tau == 0 else s0 * (1.0 + p / tau) ** -alpha


def _linear(p: float, s0: float, s1: float) -> float:
    return s0 + (s1 - s0) * p


def _exponential(p: float, s0: float, rate: float) -> float:
    return s0 * math.exp(min(-rate * p, 700.0))


def _step(p: float, s0: float, s1: float, p0: float) -> float:
    return s0 if p < p0 else s1


_CURVES: Mapping[str, Callable[..., float]] = {
    "sigmoid": _sigmoid,
    "power": _power,
    "linear": _linear,
    "exponential": _exponential,
    "step": _step,
}


def check_params(kind: str, params: Mapping[str, float]) -> dict[str, float]:
    """Defaults for ``kind`` overlaid with ``params``; ValueError for an unknown kind, key or out-of-range value."""
    if kind not in SCHEDULE_PARAMS:
        raise ValueError(f"unknown schedule kind {kind!r}; choose one of {', '.join(SCHEDULE_KINDS)}")
    unknown = sorted(set(params) - set(SCHEDULE_PARAMS[kind]))
    if unknown:
        raise ValueError(f"schedule {kind!r} takes {', '.join(SCHEDULE_PARAMS[kind])}, not {', '.join(unknown)}")
    merged = {**SCHEDULE_PARAMS[kind], **{k: float(v) for k, v in params.items()}}
    for name, value in merged.items():
        if not math.isfinite(value):
            raise ValueError(f"schedule {kind!r}: {name} must be finite, not {value}")
        if name in SHARE_PARAMS:
            check_share(f"schedule {kind!r}: ", name, value)
    if kind == "power" and (merged["alpha"] < 0 or merged["tau"] < 0):
        raise ValueError("schedule 'power': alpha and tau must be >= 0")
    return merged


def blend_share(kind: str, progress: float, **params: float) -> float:
    """Share of distilled records at ``progress`` in [0, 1] for schedule ``kind``.

    Args:
        kind: one of :data:`SCHEDULE_KINDS`.
        progress: fraction of the phase's steps done; values outside [0, 1] are clamped.
        **params: the kind's parameters (see the module docstring); missing ones take their defaults.

    Returns:
        The share in [0, 1].

    Raises:
        ValueError: unknown kind or parameter, or a parameter out of range (a caller bug or a bad config).
    """
    merged = check_params(kind, params)
    p = min(1.0, max(0.0, float(progress)))
    return min(1.0, max(0.0, _CURVES[kind](p, **merged)))


def schedule_curve(kind: str, **params: float) -> Callable[[float], float]:
    """``blend_share`` with ``kind`` and ``params`` checked once and bound: progress -> share."""
    merged = check_params(kind, params)
    curve = _CURVES[kind]

    def share(progress: float) -> float:
        p = min(1.0, max(0.0, float(progress)))
        return min(1.0, max(0.0, curve(p, **merged)))

    return share
