"""Send planned requests ``concurrency`` at a time, committing each reply to the journal as it arrives, within
one budget; stop cleanly before a request that could exceed it.

Example::

    stats = execute(plan, LLMClient(cfg), journal, prices=prices, budget_usd=5.0)
    stats.sent, stats.journal_hits
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from offline_ner.annotate.assemble import label_all, stored_replies
from offline_ner.annotate.budget import Budget, usage_cost
from offline_ner.annotate.config import AnnotateConfig
from offline_ner.annotate.cost import PriceTable
from offline_ner.annotate.journal import Journal
from offline_ner.annotate.plan import PlannedRequest, RunPlan, verification_requests
from offline_ner.annotate.self_verification import RESPONSE_FORMAT as VERIFY_RESPONSE_FORMAT
from offline_ner.contracts import RequestStats
from offline_ner.errors import AnnotateError, BudgetExceededError

if TYPE_CHECKING:  # the SDK is imported only by code that sends requests
    from offline_ner.annotate.client import LLMClient

Progress = Callable[[int], None]


@dataclass
class ExecutionStats:
    """What this process sent (journal hits cost nothing and are not requests)."""

    sent: int = 0
    journal_hits: int = 0
    retries: int = 0
    spent_usd: float = 0.0

    def __add__(self, other: ExecutionStats) -> ExecutionStats:
        return ExecutionStats(
            self.sent + other.sent,
            self.journal_hits + other.journal_hits,
            self.retries + other.retries,
            self.spent_usd + other.spent_usd,
        )

    def frozen(self) -> RequestStats:
        return RequestStats(self.sent, self.journal_hits, self.retries, self.spent_usd)


def execute(
    plan: RunPlan,
    client: LLMClient,
    journal: Journal,
    *,
    prices: PriceTable,
    budget_usd: float | None = None,
    progress: Progress | None = None,
) -> ExecutionStats:
    """Send every planned request missing from the journal; each reply is committed as soon as it arrives.

    Raises:
        BudgetExceededError: the next request could exceed the budget (requests in flight finish first).
        LLMAuthError, LLMQuotaError, LLMContextLengthError, LLMTransportError: from the client; the run stops.
    """
    budget = Budget(budget_usd, prices, plan.cfg.model)
    return execute_requests(
        plan.requests, plan.cfg, plan.response_format, client, journal, prices=prices, budget=budget, progress=progress
    )


def execute_requests(
    requests: Sequence[PlannedRequest],
    cfg: AnnotateConfig,
    response_format: Mapping[str, Any] | None,
    client: LLMClient,
    journal: Journal,
    *,
    prices: PriceTable,
    budget: Budget,
    progress: Progress | None = None,
) -> ExecutionStats:
    """:func:`execute` for any list of requests sharing one response format and one budget."""
    stats = ExecutionStats()
    done = journal.keys()
    todo = [r for r in requests if r.key not in done]
    stats.journal_hits = len(requests) - len(todo)
    if progress is not None and stats.journal_hits:
        progress(stats.journal_hits)
    stop = threading.Event()
    errors: list[BaseException] = []
    lock = threading.Lock()

    def send_one(request: PlannedRequest) -> None:
        if stop.is_set():
            return
        try:
            reserved = budget.reserve(request.estimated_tokens, int(request.body["max_tokens"]))
            try:
                reply = client.complete(
                    request.body, response_format=response_format, estimated_tokens=request.estimated_tokens
                )
            except BaseException:
                budget.settle(reserved, 0.0)
                raise
        except AnnotateError as err:
            stop.set()
            with lock:
                errors.append(err)
            return
        # one step: releasing the reservation before booking the cost let another thread reserve the same room
        budget.settle(reserved, usage_cost(reply.body, prices, cfg.model))
        journal.put(
            request.key,
            {
                "body": reply.body,
                "request_id": reply.request_id,
                "response_format": reply.response_format,
                "attempts": reply.attempts,
            },
        )
        with lock:
            stats.sent += 1
            stats.retries += reply.attempts - 1
        if progress is not None:
            progress(1)

    def send(request: PlannedRequest) -> None:
        try:
            send_one(request)
        except BaseException:  # a bug or a disk error: stop the queued requests too, then let it propagate
            stop.set()
            raise

    spent_before = budget.spent_usd
    with ThreadPoolExecutor(max_workers=max(1, cfg.concurrency), thread_name_prefix="annotate") as pool:
        for future in [pool.submit(send, request) for request in todo]:
            future.result()
    stats.spent_usd = budget.spent_usd - spent_before
    if errors:
        # fail-fast errors outrank a budget stop: they say what the user must fix first
        errors.sort(key=lambda e: isinstance(e, BudgetExceededError))
        raise errors[0]
    return stats


def verify(
    plan: RunPlan,
    client: LLMClient,
    journal: Journal,
    *,
    prices: PriceTable,
    budget: Budget,
    progress: Progress | None = None,
) -> ExecutionStats:
    """Send the verification requests for the extraction replies in the journal (``cfg.verify``).

    Raises:
        BudgetExceededError, LLMAuthError, LLMQuotaError, LLMContextLengthError, LLMTransportError: as execute.
    """
    labelled, _ = label_all(plan, stored_replies(plan.requests, journal))
    requests = list({r.key: r for r in verification_requests(plan, labelled).values()}.values())
    schema = VERIFY_RESPONSE_FORMAT if plan.cfg.response_format == "json_schema" else None
    return execute_requests(
        requests, plan.cfg, schema, client, journal, prices=prices, budget=budget, progress=progress
    )
