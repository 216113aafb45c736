"""OpenAI Batch API mode: half the price, replies within 24 h, no rate-limit juggling.

Flow: write the missing requests as JSONL (``custom_id`` = journal key), upload the file, create the batch,
remember its id in the journal, poll, download the output and error files, merge replies into the journal by
``custom_id``, then assemble the annotation folder exactly as a live run does. A restarted process finds the
stored batch id and polls it instead of submitting (and paying) twice. :func:`merge_batch_output` also accepts
an output file downloaded by hand, with no network at all.

Example::

    summary = run_batch(plan, client, journal, out=Path("ann/"), prices=prices)
    # offline: merge_batch_output(plan, journal, Path("batch_output.jsonl").read_bytes())
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar

import openai

from offline_ner.annotate.assemble import assemble_into
from offline_ner.annotate.client import LLMClient
from offline_ner.annotate.cost import PriceTable
from offline_ner.annotate.journal import Journal, canonical_json_text
from offline_ner.annotate.plan import RunPlan
from offline_ner.annotate.prompts import with_response_format
from offline_ner.annotate.run import check_failed
from offline_ner.contracts import AnnotationSummary
from offline_ner.errors import AnnotateError, ConfigError, DataError, LLMAuthError, LLMTransportError

ENDPOINT: Final = "/v1/chat/completions"
FINAL_STATES = frozenset({"completed", "failed", "expired", "cancelled"})
T = TypeVar("T")


def batch_name(plan: RunPlan) -> str:
    """A stable name for the plan's batch: the hash of its request keys, so a restart finds the same batch."""
    return hashlib.sha256(canonical_json_text(sorted(plan.requests.keys())).encode()).hexdigest()[:32]


def _request_body(plan: RunPlan, body: dict[str, Any]) -> tuple[dict[str, Any], str]:
    name = plan.cfg.response_format
    return with_response_format(body, name, plan.response_format), name


def _refuse_verification(plan: RunPlan) -> None:
    if plan.cfg.verify:
        raise ConfigError(
            "self-verification needs the extraction replies first; the Batch API mode does not run it: use "
            "`annotate run --verify` (the journal keeps the batch's replies, so they are not requested again)"
        )


def batch_input(plan: RunPlan, journal: Journal) -> tuple[bytes, list[str]]:
    """The batch input JSONL for every planned request the journal lacks, and those keys.

    Raises:
        ConfigError: ``verify`` is set (its requests depend on the extraction replies: a second batch).
    """
    _refuse_verification(plan)
    done = journal.keys()
    lines, keys = [], []
    for request in plan.requests:
        if request.key in done:
            continue
        body, _ = _request_body(plan, request.body)
        lines.append(canonical_json_text({"custom_id": request.key, "method": "POST", "url": ENDPOINT, "body": body}))
        keys.append(request.key)
    return "".join(line + "\n" for line in lines).encode("utf-8"), keys


@dataclass
class MergeReport:
    """How a batch output merged: replies stored, failed requests (with reasons), unknown custom ids."""

    merged: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    unknown: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"merged": self.merged, "errors": self.errors, "unknown_custom_ids": self.unknown}


def _lines(data: bytes, where: str) -> list[dict[str, Any]]:
    items = []
    for line_no, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise DataError(f"invalid JSON in a batch file ({err})", path=where, line=line_no) from err
        if not isinstance(item, dict) or "custom_id" not in item:
            raise DataError("a batch line needs a custom_id", path=where, line=line_no)
        items.append(item)
    return items


def merge_batch_output(
    plan: RunPlan, journal: Journal, output: bytes, errors: bytes | None = None, *, batch_id: str | None = None
) -> MergeReport:
    """Store each successful reply of a batch output file under its ``custom_id``; collect the failures.

    Raises:
        ConfigError: ``verify`` is set.
        DataError: a line is not JSON or lacks ``custom_id``.
    """
    _refuse_verification(plan)
    known = set(plan.requests.keys())
    report = MergeReport()
    for item in _lines(output, "batch output") + _lines(errors or b"", "batch error file"):
        key = item["custom_id"]
        if key not in known:
            report.unknown += 1
            continue
        response = item.get("response") or {}
        status = response.get("status_code")
        if status == 200 and isinstance(response.get("body"), dict):
            journal.put(
                key,
                {
                    "body": response["body"],
                    "request_id": response.get("request_id"),
                    "response_format": plan.cfg.response_format,
                    "attempts": 1,
                    "batch_id": batch_id,
                },
            )
            report.merged += 1
        else:
            detail = item.get("error") or (response.get("body") or {}).get("error") or {}
            report.errors.append({"custom_id": key, "status": status, "error": detail})
    return report


def _api(call: Callable[[], T], what: str) -> T:
    """Translate SDK errors of the files/batches endpoints at the boundary."""
    try:
        return call()
    except openai.AuthenticationError as err:
        raise LLMAuthError(f"{what}: the endpoint rejected the API key (HTTP {err.status_code})") from err
    except openai.APIError as err:
        raise LLMTransportError(f"{what} failed: {err}") from err


def submit_batch(plan: RunPlan, client: LLMClient, journal: Journal) -> str | None:
    """The batch id for this plan: the stored one if it was submitted before, else a new batch (None: nothing to do)."""
    name = batch_name(plan)
    stored = journal.batch(name)
    if stored is not None:
        return stored[0]
    data, keys = batch_input(plan, journal)
    if not keys:
        return None
    sdk = client.sdk
    uploaded = _api(lambda: sdk.files.create(file=("batch_input.jsonl", data), purpose="batch"), "upload batch input")
    batch = _api(
        lambda: sdk.batches.create(input_file_id=uploaded.id, endpoint=ENDPOINT, completion_window="24h"),
        "create batch",
    )
    journal.remember_batch(name, batch.id, keys)
    return batch.id


def run_batch(
    plan: RunPlan,
    client: LLMClient,
    journal: Journal,
    *,
    out: Path,
    prices: PriceTable,
    poll_interval_s: float = 30.0,
    timeout_s: float | None = None,
    on_poll: Callable[[Any], None] | None = None,
) -> AnnotationSummary:
    """Submit (or resume), poll until the batch ends, merge, and write the annotation folder.

    Raises:
        AnnotateError: the batch failed or was cancelled, or polling exceeded ``timeout_s`` (resume later).
        LLMAuthError, LLMTransportError: the files/batches endpoints failed.
    """
    batch_id = submit_batch(plan, client, journal)
    report = MergeReport()
    if batch_id is not None:
        sdk = client.sdk
        started = time.monotonic()
        while True:
            batch = _api(lambda: sdk.batches.retrieve(batch_id), f"retrieve batch {batch_id}")
            if on_poll is not None:
                on_poll(batch)
            if batch.status in FINAL_STATES:
                break
            if timeout_s is not None and time.monotonic() - started > timeout_s:
                raise AnnotateError(f"batch {batch_id} still {batch.status}; rerun the same command to resume it")
            time.sleep(poll_interval_s)
        if batch.status in ("failed", "cancelled") and not batch.output_file_id:
            raise AnnotateError(f"batch {batch_id} ended {batch.status}: {batch.errors}")
        output = _download(sdk, batch.output_file_id, batch_id)
        errors = _download(sdk, batch.error_file_id, batch_id)
        report = merge_batch_output(plan, journal, output, errors, batch_id=batch_id)
    return write_batch_result(plan, journal, out=out, prices=prices, report=report, batch_id=batch_id)


def _download(sdk: openai.OpenAI, file_id: str | None, batch_id: str) -> bytes:
    if not file_id:
        return b""
    return _api(lambda: sdk.files.content(file_id).content, f"download {file_id} of batch {batch_id}")


def write_batch_result(
    plan: RunPlan, journal: Journal, *, out: Path, prices: PriceTable, report: MergeReport, batch_id: str | None
) -> AnnotationSummary:
    """Assemble from the journal (batch prices) and write the folder; the merge report goes into provenance.

    Raises:
        LLMReplyError: more records failed than ``cfg.max_failed`` allows (after writing the folder).
    """
    extra = {"batch": {"id": batch_id, **report.as_dict()}}
    provenance = assemble_into(out, plan, journal, prices, mode="batch", batch=True, extra=extra)
    return check_failed(AnnotationSummary(out=str(out), provenance=provenance), plan.cfg.max_failed)
