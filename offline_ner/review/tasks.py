"""The review queue as files: the top of a ranking as Label Studio tasks, and the whole ranking as JSONL.

Each task is the record's LLM labels as pre-annotations (what a reviewer corrects, which is faster than labelling
from scratch), in ranked order, with ``data.review`` = ``{"rank", "score", "reason", "signal"}`` so the
reviewer sees why a sentence was picked and Label Studio can sort or filter by it. The reviewed project export
comes back with ``offline-ner convert export.json --to jsonl`` as records whose provenance says a person labelled
them (``annotator: human``).

Example::

    write_review_files(records, rank_records(records, view, "entity-errors"), top=500,
                       tasks_path="review-tasks.json", ranking_path="ranking.jsonl", signal="entity-errors")
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from typing import Any

from offline_ner._fs import atomic_writer
from offline_ner.data import Record, spans_of_record
from offline_ner.data.formats.label_studio import task_of, write_tasks
from offline_ner.review.choices import REVIEW_KEY
from offline_ner.review.ranking import ReviewScore


def review_task(record: Record, rank: int, score: ReviewScore, signal: str) -> dict[str, Any]:
    """One Label Studio task: the record's labels as pre-annotations, plus why it is in the queue."""
    task = task_of(spans_of_record(record))
    task["data"][REVIEW_KEY] = {"rank": rank, "score": score.score, "reason": score.reason, "signal": signal}
    return task


def write_review_files(records: Sequence[Record], ranking: Sequence[ReviewScore], *, top: int,
                       tasks_path: str | os.PathLike[str], ranking_path: str | os.PathLike[str] | None,
                       signal: str) -> int:
    """The ``top`` first of ``ranking`` as Label Studio tasks (ranked order), and every record's rank as JSONL;
    both written atomically. Returns the number of tasks.

    Raises:
        ValueError: the ranking names a record that is not in ``records``.
    """
    by_id = {r.id: r for r in records}
    missing = [s.record_id for s in ranking if s.record_id not in by_id]
    if missing:
        raise ValueError(f"the ranking names {len(missing)} records that are not in the input, e.g. {missing[0]!r}")
    chosen = ranking[:top]
    with atomic_writer(tasks_path, "w") as handle:
        count = write_tasks(handle, (review_task(by_id[s.record_id], rank, s, signal)
                                     for rank, s in enumerate(chosen, start=1)))
    if ranking_path is not None:
        with atomic_writer(ranking_path, "w") as handle:
            for rank, s in enumerate(ranking, start=1):
                row = {"rank": rank, **dataclasses.asdict(s), "signal": signal, "in_tasks": rank <= top}
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return count
