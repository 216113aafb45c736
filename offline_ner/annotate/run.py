"""Run an annotation: plan, send, verify, assemble, write the folder. Each step is its own module:

1. :mod:`~offline_ner.annotate.plan` computes the journal key of each (record, sample); identical requests share
   a key and are sent once. It keeps the keys, not the records. (:mod:`~offline_ner.annotate.estimate` prices a
   plan.)
2. :mod:`~offline_ner.annotate.send` reads the records again and sends every request the journal lacks,
   ``concurrency`` at a time, committing each reply to the journal at once, within one
   :mod:`~offline_ner.annotate.budget`; with ``cfg.verify`` it then sends one verification request per labelled
   sentence, derived from the journalled replies.
3. :mod:`~offline_ner.annotate.assemble` reads the records again and their replies from the journal, parses and
   aligns them, applies verification and selection filters, and streams the records into the folder, then writes
   provenance and QA.

Every step streams the records from the input files, so memory does not grow with the number of sentences (a
few dozen bytes a sentence for the keys; with gold tags, QA keeps each record's tags).

Example::

    plan = plan_run(load_inputs([Path("valid.txt")]), cfg, load_template("fewshot_conll"), demos)
    summary = annotate(plan, out=Path("ann/"), journal=Journal(Path("ann.sqlite")), client=LLMClient(cfg),
                       prices=load_prices(None))
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from offline_ner.annotate.assemble import assemble_into
from offline_ner.annotate.budget import Budget
from offline_ner.annotate.cost import PriceTable
from offline_ner.annotate.journal import Journal
from offline_ner.annotate.plan import RunPlan
from offline_ner.annotate.send import ExecutionStats, Progress, execute_requests, verify
from offline_ner.contracts import AnnotationSummary, PartialAnnotation
from offline_ner.errors import BudgetExceededError, LLMReplyError

if TYPE_CHECKING:  # the SDK is imported only by code that sends requests
    from offline_ner.annotate.client import LLMClient


def annotate(
    plan: RunPlan,
    *,
    out: Path,
    journal: Journal,
    client: LLMClient,
    prices: PriceTable,
    budget_usd: float | None = None,
    progress: Progress | None = None,
) -> AnnotationSummary:
    """Execute the plan, then write the annotation folder (also after a budget stop, marked incomplete).

    Returns:
        The folder's provenance plus this process's requests sent, journal hits and spend.

    Raises:
        BudgetExceededError: after writing the partial folder (its ``report``: a :class:`PartialAnnotation`).
        LLMAuthError, LLMQuotaError, LLMContextLengthError, LLMTransportError: nothing is written.
        LLMReplyError: more records failed than ``cfg.max_failed`` allows, after writing the folder (its
            ``report``: the :class:`AnnotationSummary`).
    """
    try:
        stats = send_all(plan, client, journal, prices=prices, budget_usd=budget_usd, progress=progress)
    except BudgetExceededError as err:
        err.report = PartialAnnotation(str(out), assemble_into(out, plan, journal, prices)["records_out"])
        raise
    provenance = assemble_into(out, plan, journal, prices)
    summary = AnnotationSummary(out=str(out), provenance=provenance, this_run=stats.frozen())
    return check_failed(summary, plan.cfg.max_failed)


def check_failed(summary: AnnotationSummary, max_failed: float) -> AnnotationSummary:
    """The summary, when no more than ``max_failed`` (a share of the input records) failed.

    Raises:
        LLMReplyError: too many failed records (its ``report``: the summary; the folder is already written).
    """
    failed, records_in = len(summary.failed), int(summary.provenance.get("records_in", 0))
    if failed > max_failed * records_in:
        first = summary.failed[0]
        raise LLMReplyError(
            f"{failed} of {records_in} records have no usable LLM reply ({failed / max(records_in, 1):.1%}; "
            f"--max-failed allows {max_failed:.1%}); first: {first['id']}: {first['reason']}. {summary.out} is "
            "written without them; each failure is listed in its provenance.json",
            report=summary,
        )
    return summary


def send_all(
    plan: RunPlan,
    client: LLMClient,
    journal: Journal,
    *,
    prices: PriceTable,
    budget_usd: float | None,
    progress: Progress | None,
) -> ExecutionStats:
    """Send the extraction requests, then (``cfg.verify``) the verification requests, within one budget."""
    budget = Budget(budget_usd, prices, plan.cfg.model)
    stats = execute_requests(
        plan.requests, plan.cfg, plan.response_format, client, journal, prices=prices, budget=budget, progress=progress
    )
    if plan.cfg.verify:
        stats = stats + verify(plan, client, journal, prices=prices, budget=budget, progress=progress)
    return stats
