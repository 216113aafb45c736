"""``offline-ner convert``: labelled records from one format to another (thin layer over data.formats)."""

from __future__ import annotations

from pathlib import Path

import click

from offline_ner.cli._common import EXIT_CODES_EPILOG, emit, handles_errors, json_option
from offline_ner.data.formats import INPUT_FORMATS, RECORD_FORMATS
from offline_ner.errors import DataError


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
              help="The label set, in id order (HF JSONL's integer ner_tags index it); a tag outside it is refused "
              "with its file and line. Default: O and B-/I- of PER, ORG, LOC, MISC.")
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
    from offline_ner.data import label_list, read_records, write_records

    records = read_records(source, input_format, labels=labels, allowed=labels or label_list())
    try:
        count = write_records(records, out_path, fmt)
    except DataError as err:  # a record the output format cannot hold: name the input it came from
        if err.path is not None:
            raise
        raise DataError(str(err), path=source) from err
    emit({"output": str(out_path), "records": count, "format": fmt}, as_json,
         f"wrote {count} records to {out_path}", err=str(out_path) == "-")
