"""A whole annotation run over one CoNLL file, as the CLI does it, for tests that compare runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from offline_ner.annotate import AnnotateConfig, Journal, annotate, load_inputs, load_prices, load_template, plan_run
from offline_ner.annotate.client import LLMClient
from offline_ner.annotate.replay import Recorder


def annotate_file(cfg: AnnotateConfig, conll_file: Path, out: Path, recorder: Recorder | None = None) -> dict[str, Any]:
    """Annotate ``conll_file`` into the folder ``out`` (journal beside it); returns the run summary."""
    plan = plan_run(load_inputs([conll_file]), cfg, load_template("fewshot_conll"))
    journal = Journal(out.parent / f"{out.name}.sqlite")
    try:
        client = LLMClient(cfg, recorder=recorder)
        return annotate(plan, out=out, journal=journal, client=client, prices=load_prices(None))
    finally:
        journal.close()
