"""``offline-ner review rank`` / ``merge``: the LLM-labelled sentences most likely wrong, as Label Studio tasks,
and the reviewed ones back in their place (thin layer over offline_ner.review)."""

from __future__ import annotations

from pathlib import Path

import click

from offline_ner.cli._common import EXIT_CODES_EPILOG, emit, handles_errors, json_option
from offline_ner.data.formats import INPUT_FORMATS
from offline_ner.data.windows import WINDOW_TOKENS
from offline_ner.review.choices import DEFAULT_SIGNAL, SIGNALS
from offline_ner.train.config import TrainConfig


@click.group(epilog=EXIT_CODES_EPILOG)
def review() -> None:
    """Review where it pays: rank LLM-labelled sentences for people to correct first, then add the corrected ones
    to your gold set (the rest stay distilled).

    \b
        offline-ner review rank llm.jsonl --model runs/gold-only/model --top 500 -o review-tasks.json
        # Label Studio: import review-tasks.json, correct, export as JSON
        offline-ner review merge llm.jsonl project-1-at-2026-01-01.json --gold gold.conll \\
            --gold-out gold-reviewed.jsonl -o distilled.jsonl
        offline-ner train --config simple_mix --gold gold-reviewed.jsonl --distilled distilled.jsonl \\
            --dev dev.conll --out runs/reviewed
    """


@review.command("rank", epilog=EXIT_CODES_EPILOG)
@click.argument("records_path", metavar="RECORDS", type=click.Path(path_type=Path))
@click.option("--model", "model_dir", required=True, type=click.Path(path_type=Path),
              help="A trained model folder that judges the labels: train one on your gold sentences only "
              "(regimen gold), so it knows your guidelines and has not learnt the LLM's mistakes.")
@click.option("--top", type=click.IntRange(min=1), required=True,
              help="How many sentences to send for review (the first of the ranking).")
@click.option("--signal", type=click.Choice(SIGNALS), default=DEFAULT_SIGNAL, show_default=True,
              help="uncertainty: where the judge is least sure (total word entropy), the corrections a student "
              "gains most from; entity-errors: expected wrong, missed or mistyped entities (finds the most label "
              "errors: for auditing labels); token-errors: expected wrong word tags; span-disagreement: entities "
              "the judge and the LLM do not share.")
@click.option("-o", "--output", "tasks_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Label Studio tasks (JSON), ranked, the LLM's labels as pre-annotations.")
@click.option("--ranking", "ranking_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write every record's rank, score and reason here (JSONL).")
@click.option("--input-format", type=click.Choice(["auto", *INPUT_FORMATS]), default="auto", show_default=True,
              help="Format of RECORDS; auto: detected from the content.")
@click.option("--batch-size", type=click.IntRange(min=1), default=TrainConfig().eval_batch_size, show_default=True)
@json_option
@handles_errors
def rank(records_path: Path, model_dir: Path, top: int, signal: str, tasks_path: Path, ranking_path: Path | None,
           input_format: str, batch_size: int, as_json: bool) -> None:
    """Rank the LLM-labelled RECORDS by what correcting each is likely worth, and write the TOP ones as Label
    Studio tasks for people to correct.

    The model reads every sentence once (no training); each task says why it was picked ("teacher says ORG where
    the LLM says LOC: 'Wall Street' (0.92)"). After review, export the project as JSON and put the corrected
    sentences in place of their LLM labels with `offline-ner review merge`.

    Examples:

    \b
        offline-ner review rank llm.jsonl --model runs/gold-only/model --top 500 -o review-tasks.json \\
            --ranking ranking.jsonl
    """
    from offline_ner.data import read_records, require_tags
    from offline_ner.data.teacher_view import TeacherView
    from offline_ner.review import rank_records, write_review_files
    from offline_ner.train import predict_word_probs

    records = read_records(records_path, input_format)  # bad input fails before torch loads
    require_tags(records, "review ranks labelled records (the LLM's tags)", path=records_path)
    view = TeacherView(*predict_word_probs(model_dir, records, batch_size, WINDOW_TOKENS))
    ranking = rank_records(records, view, signal)
    count = write_review_files(records, ranking, top=top, tasks_path=tasks_path, ranking_path=ranking_path,
                               signal=signal)
    queued = ranking[:count]
    summary = {"tasks": str(tasks_path), "ranking": None if ranking_path is None else str(ranking_path),
               "records": len(records), "queued": count, "signal": signal,
               "queued_score": round(sum(s.score for s in queued), 3),
               "total_score": round(sum(s.score for s in ranking), 3)}
    emit(summary, as_json, f"wrote {count} of {len(records)} sentences to {tasks_path} (signal {signal}: they hold "
         f"{summary['queued_score']:.1f} of the records' total score {summary['total_score']:.1f})")


@review.command("merge", epilog=EXIT_CODES_EPILOG)
@click.argument("records_path", metavar="RECORDS", type=click.Path(path_type=Path))
@click.argument("reviewed_path", metavar="REVIEWED", type=click.Path(path_type=Path))
@click.option("-o", "--output", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The distilled set to train on (JSONL): RECORDS without the reviewed ones, or with --into "
              "distilled, with the reviewed ones in their place.")
@click.option("--into", type=click.Choice(["gold", "distilled"]), default="gold", show_default=True,
              help="gold: the reviewed sentences join your gold set (--gold, written to --gold-out), which pays "
              "most; distilled: they replace their LLM labels in the distilled set.")
@click.option("--gold", "gold_path", type=click.Path(path_type=Path), help="Your gold set (--into gold).")
@click.option("--gold-out", "gold_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Where the gold set plus the reviewed sentences go (JSONL; --into gold).")
@json_option
@handles_errors
def merge(records_path: Path, reviewed_path: Path, out_path: Path, into: str, gold_path: Path | None,
          gold_out: Path | None, as_json: bool) -> None:
    """Put the reviewed sentences of REVIEWED (a Label Studio export or any labelled file; matched to RECORDS by
    id, tokens must be the same) where they pay: into your gold set, the rest of RECORDS staying distilled.

    With Simple Mix at 1,000 gold sentences, 1,000 reviewed sentences added to gold reached 0.844 test F1 (2
    seeds), the same sentences corrected in place 0.826 (EXPERIMENTS.md). Reviewed records keep their provenance
    (annotator human, who submitted, when). Written atomically; nothing is written when a record does not match.

    Examples:

    \b
        offline-ner review merge llm.jsonl project-1-at-2026-01-01.json --gold gold.conll \\
            --gold-out gold-reviewed.jsonl -o distilled.jsonl
        offline-ner review merge llm.jsonl reviewed.jsonl --into distilled -o distilled.jsonl
    """
    from offline_ner.data import read_records, require_tags, write_records
    from offline_ner.errors import DataError
    from offline_ner.review import merge_reviewed, split_reviewed

    if into == "gold" and (gold_path is None or gold_out is None):
        raise click.UsageError("--into gold needs --gold (your gold set) and --gold-out (where gold + reviewed go)")
    records = read_records(records_path)
    reviewed = read_records(reviewed_path)
    require_tags(reviewed, "reviewed records carry the corrected labels", path=reviewed_path)
    gold = read_records(gold_path) if gold_path is not None else []
    by_id = {r.id: r for r in reviewed}
    try:
        if into == "gold":
            distilled, corrected = split_reviewed(records, by_id)
        else:
            distilled, corrected = merge_reviewed(records, by_id), []
    except ValueError as err:
        raise DataError(str(err), path=reviewed_path) from err
    if gold_out is not None and into == "gold":
        write_records([*gold, *corrected], gold_out)
    write_records(distilled, out_path)
    summary = {"output": str(out_path), "into": into, "distilled": len(distilled), "reviewed": len(reviewed),
               "gold_out": None if gold_out is None or into != "gold" else str(gold_out),
               "gold": len(gold) + len(corrected) if into == "gold" else None}
    where = f"{summary['gold']} gold records to {gold_out}, " if into == "gold" else ""
    emit(summary, as_json, f"wrote {where}{len(distilled)} distilled records to {out_path} ({len(reviewed)} reviewed)")
