"""Send planned requests ``concurrency`` at a time, committing each reply to the journal as it arrives, within
one budget; stop cleanly before a request that could exceed it.

An extraction reply that was cut off (``finish_reason`` ``"length"``, or JSON broken off before its first entity)
is re-asked once with ``REASK_MAX_TOKENS_FACTOR`` times the ``max_tokens``; the journal keeps the second reply,
with the first one's id and usage under ``reasked``. A second cut-off reply is kept too, and assembly lists its
record as failed.

Example::

    stats = execute(plan, LLMClient(cfg), journal, prices=prices, budget_usd=5.0)
    stats.sent, stats.journal_hits
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from offline_ner.annotate.assemble import is_cut_off, labelled_records
from offline_ner.annotate.budget import Budget, usage_cost
from offline_ner.annotate.config import AnnotateConfig
from offline_ner.annotate.cost import PriceTable
from offline_ner.annotate.journal import SQL_VARIABLES, Journal
from offline_ner.annotate.plan import PlannedRequest, RunPlan, verification_requests
from offline_ner.annotate.self_verification import RESPONSE_FORMAT as VERIFY_RESPONSE_FORMAT
from offline_ner.contracts import RequestStats
from offline_ner.errors import AnnotateError, BudgetExceededError, LLMContextLengthError

if TYPE_CHECKING:  # the SDK is imported only by code that sends requests
    from offline_ner.annotate.client import LLMClient, Reply

Progress = Callable[[int], None]
# a cut-off reply is asked again once with this many times the max_tokens: 2x keeps prompt + reply inside a 4k
# context for a CoNLL prompt at the default 1024, where a larger factor would turn the re-ask into a context error
REASK_MAX_TOKENS_FACTOR = 2
QUEUED_PER_WORKER = 4  # submitted requests per worker thread: enough to keep every worker busy


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
    requests: Iterable[PlannedRequest],
    cfg: AnnotateConfig,
    response_format: Mapping[str, Any] | None,
    client: LLMClient,
    journal: Journal,
    *,
    prices: PriceTable,
    budget: Budget,
    progress: Progress | None = None,
    reask_cut_off: bool = True,
) -> ExecutionStats:
    """:func:`execute` for any requests sharing one response format and one budget; ``requests`` is read as it is
    sent (``SQL_VARIABLES`` ahead), so a stream of requests is never held whole.

    ``reask_cut_off``: ask a cut-off extraction reply again with a larger ``max_tokens`` (see the module docstring).
    """
    stats = ExecutionStats()
    stop = threading.Event()
    errors: list[BaseException] = []
    lock = threading.Lock()

    def complete(body: dict[str, Any], estimated_tokens: int) -> Reply:
        reserved = budget.reserve(estimated_tokens, int(body["max_tokens"]))
        try:
            reply = client.complete(body, response_format=response_format, estimated_tokens=estimated_tokens)
        except BaseException:
            budget.settle(reserved, 0.0)
            raise
        # one step: releasing the reservation before booking the cost let another thread reserve the same room
        budget.settle(reserved, usage_cost(reply.body, prices, cfg.model))
        return reply

    def send_one(request: PlannedRequest) -> None:
        if stop.is_set():
            return
        try:
            reply = complete(request.body, request.estimated_tokens)
            first, reasked = reply, None
            if reask_cut_off and is_cut_off(reply.body):
                larger = {**request.body, "max_tokens": int(request.body["max_tokens"]) * REASK_MAX_TOKENS_FACTOR}
                try:
                    reply = complete(larger, request.estimated_tokens)
                except LLMContextLengthError:
                    pass  # no room for a longer reply: the cut-off one is kept, and its record fails
                else:
                    reasked = {"max_tokens": larger["max_tokens"], "cut_off_reply": _reply_summary(first.body)}
        except AnnotateError as err:
            stop.set()
            with lock:
                errors.append(err)
            return
        entry = {
            "body": reply.body,
            "request_id": reply.request_id,
            "response_format": reply.response_format,
            "attempts": reply.attempts,
        }
        journal.put(request.key, entry if reasked is None else {**entry, "reasked": reasked})
        with lock:
            stats.sent += 1 + (reasked is not None)
            stats.retries += reply.attempts - 1 + (first.attempts - 1 if reasked is not None else 0)
        if progress is not None:
            progress(1)

    def send(request: PlannedRequest) -> None:
        try:
            send_one(request)
        except BaseException:  # a bug or a disk error: stop the queued requests too, then let it propagate
            stop.set()
            raise

    spent_before = budget.spent_usd
    workers = max(1, cfg.concurrency)
    # at most QUEUED_PER_WORKER requests per worker wait in the pool: memory stays flat however many are planned
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="annotate") as pool:
        pending: set[Future[None]] = set()
        stream = iter(requests)
        while chunk := list(itertools.islice(stream, SQL_VARIABLES)):  # one journal lookup per chunk
            done = journal.present([r.key for r in chunk])
            hits = sum(r.key in done for r in chunk)
            stats.journal_hits += hits
            if progress is not None and hits:
                progress(hits)
            for request in chunk:
                if request.key in done or stop.is_set():
                    continue
                pending.add(pool.submit(send, request))
                if len(pending) >= workers * QUEUED_PER_WORKER:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        future.result()
        for future in pending:
            future.result()
    stats.spent_usd = budget.spent_usd - spent_before
    if errors:
        # fail-fast errors outrank a budget stop: they say what the user must fix first
        errors.sort(key=lambda e: isinstance(e, BudgetExceededError))
        raise errors[0]
    return stats


def _reply_summary(body: Mapping[str, Any]) -> dict[str, Any]:
    """What the journal keeps of a cut-off reply: enough to bill it and to trace it."""
    choices = body.get("choices") or [{}]
    finish = choices[0].get("finish_reason") if isinstance(choices[0], dict) else None
    return {"id": body.get("id"), "model": body.get("model"), "usage": body.get("usage"), "finish_reason": finish}


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
    schema = VERIFY_RESPONSE_FORMAT if plan.cfg.response_format == "json_schema" else None
    return execute_requests(
        _verification_stream(plan, journal), plan.cfg, schema, client, journal, prices=prices, budget=budget,
        progress=progress, reask_cut_off=False,
    )  # fmt: skip


def _verification_stream(plan: RunPlan, journal: Journal) -> Iterator[PlannedRequest]:
    """The distinct verification requests, derived one record at a time from the journalled extraction replies
    (only their 32-byte keys are held, to send each once)."""
    seen: set[bytes] = set()
    for labelled in labelled_records(plan, journal):
        request = verification_requests(plan, [labelled]).get(labelled.id)
        if request is not None and (digest := bytes.fromhex(request.key)) not in seen:
            seen.add(digest)
            yield request
