"""Regimens: which data each training phase uses. Pure: no torch, no I/O.

A regimen is an ordered tuple of phases. Sequential regimens (``distilled_then_gold``, Huang et al.'s
"Simple Mix" and their best, and ``gold_then_distilled``) have two phases; each later phase starts from the
weights an earlier one ended with (its best dev checkpoint by default, see ``TrainConfig.carry_over``).
``union`` shuffles both sets together in one phase; ``blend`` draws each batch's distilled share from a
schedule (``schedules.py``).

Example::

    [p.name for p in regimen_phases("distilled_then_gold")]   # -> ['distilled', 'gold']
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Phase:
    """One training phase: the pools it samples from and whether a schedule mixes them."""

    name: str
    uses_gold: bool
    uses_distilled: bool
    is_blend: bool = False


_GOLD = Phase("gold", uses_gold=True, uses_distilled=False)
_DISTILLED = Phase("distilled", uses_gold=False, uses_distilled=True)

REGIMEN_PHASES: dict[str, tuple[Phase, ...]] = {
    "gold": (_GOLD,),
    "distilled": (_DISTILLED,),
    "union": (Phase("union", uses_gold=True, uses_distilled=True),),
    "distilled_then_gold": (_DISTILLED, _GOLD),
    "gold_then_distilled": (_GOLD, _DISTILLED),
    "blend": (Phase("blend", uses_gold=True, uses_distilled=True, is_blend=True),),
}
REGIMENS: tuple[str, ...] = tuple(REGIMEN_PHASES)


def regimen_phases(regimen: str) -> tuple[Phase, ...]:
    """The phases of ``regimen`` in training order; ValueError for an unknown regimen."""
    try:
        return REGIMEN_PHASES[regimen]
    except KeyError:
        raise ValueError(f"unknown regimen {regimen!r}; choose one of {', '.join(REGIMENS)}") from None
