"""The spend limit of a run: reserve a request's worst case before sending it, book its actual cost after.

Example::

    budget = Budget(5.0, prices, "gpt-4o")
    reserved = budget.reserve(input_tokens=900, max_output_tokens=512)
    budget.settle(reserved, usage_cost(reply.body, prices, "gpt-4o"))
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from typing import Any

from offline_ner.annotate.cost import INPUT_TOKEN_MARGIN, PriceTable
from offline_ner.errors import BudgetExceededError, ConfigError


class Budget:
    """Thread-safe spend tracking: reserve the worst case before a request, settle the actual cost after.

    The worst case is the request's prompt tokens (with INPUT_TOKEN_MARGIN) plus all of ``max_tokens``, and a
    reservation is swapped for the actual cost in one step, so however many requests run at once the spend never
    passes the limit while the endpoint bills no more than that.
    """

    def __init__(self, limit_usd: float | None, prices: PriceTable, model: str) -> None:
        if limit_usd is not None and prices.price(model) is None:
            raise ConfigError(f"--budget needs a price for model {model!r}; add it with --prices FILE")
        self.limit_usd, self.prices, self.model = limit_usd, prices, model
        self.spent_usd = 0.0
        self._reserved = 0.0
        self._lock = threading.Lock()

    def reserve(self, input_tokens: int, max_output_tokens: int) -> float:
        """Hold the worst-case cost of one request; returns the amount to pass to :meth:`settle`.

        Raises:
            BudgetExceededError: the request could take the spend past the limit.
        """
        worst_input = math.ceil(input_tokens * INPUT_TOKEN_MARGIN)
        cost = self.prices.cost_usd(self.model, input_tokens=worst_input, output_tokens=max_output_tokens) or 0.0
        with self._lock:
            if self.limit_usd is not None and self.spent_usd + self._reserved + cost > self.limit_usd:
                raise BudgetExceededError(
                    f"stopped before exceeding the budget of ${self.limit_usd:.4f}: ${self.spent_usd:.4f} spent; "
                    "finished replies are kept in the journal, rerun with a larger --budget to continue"
                )
            self._reserved += cost
        return cost

    def settle(self, reserved: float, actual: float) -> None:
        """Release a reservation and book the actual cost together (0.0 when the request failed)."""
        with self._lock:
            self._reserved -= reserved
            self.spent_usd += actual


def usage_cost(body: Mapping[str, Any], prices: PriceTable, fallback_model: str, batch: bool = False) -> float:
    """The cost of one reply from the usage it reports (0.0 when the model has no price)."""
    usage = body.get("usage") or {}
    model = str(body.get("model") or fallback_model)
    cost = prices.cost_usd(
        model,
        input_tokens=int(usage.get("prompt_tokens") or 0),
        output_tokens=int(usage.get("completion_tokens") or 0),
        batch=batch,
    )
    return cost or 0.0
