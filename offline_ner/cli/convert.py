"""``offline-ner convert``: labelled records from one format to another (thin layer over data.formats)."""

from __future__ import annotations

from pathlib import Path

import click

from offline_ner.cli._common import EXIT_CODES_EPILOG, emit, handles_errors, json_option
from offline_ner.data.formats import INPUT_FORMATS, RECORD_FORMATS


def _labels(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, ...] | None:
    return None if value is None else tuple(label.strip() for label in value.split(",") if label.strip())


@click.command(epilog=EXIT_CODES_EPILOG)
@click.argument("source", type=click.Path(path_type=Path))
@click.option("-o", "--output", "out_path", default=Path("-"), type=click.Path(path_type=Path), show_default=True,
              help="Output file ('-': stdout).")
@click.option("--to", "fmt", required=True, type=click.Choice(RECORD_FORMATS),
              help="jsonl: records (what bundle create and train read); label-studio: tasks whose tags are "
              "pre-annotations; spacy: a DocBin; spacy-jsonl: {text, spans}; conll: token tag.")
@click.option("--input-format", type=click.Choice(["auto", *INPUT_FORMATS]), default="auto", show_default=True,
              help="Format of SOURCE; auto: detected from the content.")
@click.option("--labels", default=None, callback=_labels, metavar="O,B-PER,...",
              help="Label names, in id order, for HF JSONL whose ner_tags are integers.")
@json_option
@handles_errors
def convert(source: Path, out_path: Path, fmt: str, input_format: str, labels: tuple[str, ...] | None,
            as_json: bool) -> None:
    """Convert the records in SOURCE ('-': stdin) to another format; the output appears only when all was read.

    Examples:

    \b
        offline-ner convert llm.jsonl --to label-studio -o tasks.json      # LLM labels as pre-annotations
        offline-ner convert project-export.json --to jsonl -o reviewed.jsonl
        offline-ner convert hf_train.jsonl --labels O,B-PER,I-PER,B-ORG,I-ORG --to conll -o train.conll
    """
    from offline_ner.data import read_records, write_records

    records = read_records(source, input_format, labels=labels)
    count = write_records(records, out_path, fmt)
    emit({"output": str(out_path), "records": count, "format": fmt}, as_json,
         f"wrote {count} records to {out_path}", err=str(out_path) == "-")
