"""Tokens and cost of a planned run before anything is sent: expected and worst case, and what demonstrations and
self-verification add.

Example::

    estimate = estimate_cost(plan, load_prices(None))
    estimate.max_cost_usd, estimate.to_json()
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from offline_ner.annotate.cost import PriceTable, count_request_tokens
from offline_ner.annotate.plan import RunPlan
from offline_ner.annotate.prompts import build_messages, json_schema_format
from offline_ner.annotate.self_verification import (
    EXPECTED_VERIFY_OUTPUT_TOKENS,
    VERIFY_MAX_TOKENS,
    VERIFY_PLANNED_ENTITIES,
    verification_messages,
)
from offline_ner.annotate.self_verification import RESPONSE_FORMAT as VERIFY_RESPONSE_FORMAT
from offline_ner.data import Span


@dataclass(frozen=True)
class CostPart:
    """Requests, prompt tokens and USD (None: no price for the model) of one part of a run."""

    requests: int
    input_tokens: int
    expected_cost_usd: float | None
    max_cost_usd: float | None


@dataclass(frozen=True)
class CostEstimate:
    """A run's size and cost before anything is sent; ``added`` breaks out what options add (included above)."""

    model: str
    records: int
    requests: int
    input_tokens: int
    expected_output_tokens: int
    max_output_tokens: int
    expected_cost_usd: float | None
    max_cost_usd: float | None
    added: Mapping[str, CostPart]
    price_per_1m_tokens: Mapping[str, float] | None
    prices: Mapping[str, Any]
    batch: bool

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "added": {name: asdict(part) for name, part in self.added.items()}}


def _added(
    prices: PriceTable, model: str, requests: int, input_tokens: int, expected_out: int, worst_out: int, batch: bool
) -> CostPart:
    return CostPart(
        requests=requests,
        input_tokens=input_tokens,
        expected_cost_usd=prices.cost_usd(model, input_tokens=input_tokens, output_tokens=expected_out, batch=batch),
        max_cost_usd=prices.cost_usd(model, input_tokens=input_tokens, output_tokens=worst_out, batch=batch),
    )


def _zero_shot_tokens(plan: RunPlan) -> int:
    """Input tokens of the planned requests, first samples without their demonstrations (one pass over the inputs)."""
    schema = json_schema_format(plan.template) if plan.cfg.response_format == "json_schema" else None
    return sum(
        count_request_tokens(build_messages(plan.template, item.record), schema)
        if request.key == item.keys[0]
        else request.estimated_tokens
        for item in plan.records()
        for request in item.new
    )


def _verification_tokens(plan: RunPlan) -> tuple[int, int]:
    """How many distinct sentences a verification request would be sent for, and their prompt tokens, assuming
    VERIFY_PLANNED_ENTITIES entities each (one pass over the inputs)."""
    schema = VERIFY_RESPONSE_FORMAT if plan.cfg.response_format == "json_schema" else None
    placeholder = [Span(0, 1, plan.template.types[0])] * VERIFY_PLANNED_ENTITIES
    sentences = tokens = 0
    for item in plan.records():
        if item.new and item.new[0].key == item.keys[0]:  # the first record with this sentence (and demonstrations)
            sentences += 1
            messages = verification_messages(plan.template, item.record, placeholder[: len(item.record.tokens)])
            tokens += count_request_tokens(messages, schema)
    return sentences, tokens


def estimate_cost(plan: RunPlan, prices: PriceTable, *, batch: bool = False) -> CostEstimate:
    """Tokens and USD before spending: expected (``expected_output_tokens``) and worst case (``max_tokens``).

    ``added`` breaks out what demonstrations (their prompt tokens; kNN sends no extra request) and
    self-verification (one more request per sentence; its entities are not known yet, so the estimate assumes
    every sentence has VERIFY_PLANNED_ENTITIES) add; both are included in the totals.
    """
    cfg, model = plan.cfg, plan.cfg.model
    input_tokens = plan.requests.prompt_tokens()
    n = len(plan.requests)
    expected_out, worst_out = n * cfg.expected_output_tokens, n * cfg.max_tokens
    added: dict[str, CostPart] = {}
    if any(plan.demos_by_record):
        name = f"demonstrations ({cfg.demos_select}, {cfg.n_demos} per input)"
        added[name] = _added(prices, model, 0, input_tokens - _zero_shot_tokens(plan), 0, 0, batch)
    if cfg.verify:
        unique, verify_in = _verification_tokens(plan)
        verify_expected, verify_worst = unique * EXPECTED_VERIFY_OUTPUT_TOKENS, unique * VERIFY_MAX_TOKENS
        added["verification"] = _added(prices, model, unique, verify_in, verify_expected, verify_worst, batch)
        n, input_tokens = n + unique, input_tokens + verify_in
        expected_out, worst_out = expected_out + verify_expected, worst_out + verify_worst
    return CostEstimate(
        model=model,
        records=len(plan.inputs.records),
        requests=n,
        input_tokens=input_tokens,
        expected_output_tokens=expected_out,
        max_output_tokens=worst_out,
        expected_cost_usd=prices.cost_usd(model, input_tokens=input_tokens, output_tokens=expected_out, batch=batch),
        max_cost_usd=prices.cost_usd(model, input_tokens=input_tokens, output_tokens=worst_out, batch=batch),
        added=added,
        price_per_1m_tokens=prices.price(model),
        prices=prices.describe(),
        batch=batch,
    )
