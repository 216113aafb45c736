"""``offline-ner annotate``: label text with an LLM into an annotation folder (connected side only).

Each command parses options, calls one library entry point in ``offline_ner.annotate`` and prints a summary
(``--json``: one JSON document on stdout). Progress bars go to stderr.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from offline_ner.annotate.config import DEMOS_SELECTS, RESPONSE_FORMATS, AnnotateConfig
from offline_ner.annotate.importer import ON_ERROR_CHOICES, ImportSpec
from offline_ner.cli._common import EXIT_CODES_EPILOG, emit, handles_errors, json_option
from offline_ner.contracts import AnnotationSummary
from offline_ner.data.text import MAX_SENTENCE_TOKENS
from offline_ner.errors import ExitCode

F = Callable[..., Any]
_DEFAULTS = AnnotateConfig()  # the defaults help texts name (the options themselves default to the config's)
_IMPORT = ImportSpec()  # annotate import's option defaults


def _stack(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    def apply(command: F) -> F:
        for decorator in reversed(decorators):
            command = decorator(command)
        return command

    return apply


input_arguments = click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))

request_options = _stack(
    click.option("--config", "config_path", type=click.Path(exists=True, path_type=Path), help="AnnotateConfig YAML."),
    click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config key (repeatable)."),
    click.option("--model", help=f"Model name sent to the endpoint (default {_DEFAULTS.model})."),
    click.option("--base-url", help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1 (default: OpenAI)."),
    click.option("--api-key-env", help=f"Environment variable holding the API key (default {_DEFAULTS.api_key_env})."),
    click.option("--template", help="Built-in template (fewshot_conll, cot_conll) or a template JSON file."),
    click.option(
        "--demos",
        type=click.Path(exists=True, path_type=Path),
        help="Labelled train/dev file (CoNLL or JSONL) to take demonstrations from; never the annotated split.",
    ),
    click.option("--n-demos", type=int,
                 help=f"Number of demonstrations (default {_DEFAULTS.n_demos}; needs --demos); k for knn."),
    click.option(
        "--demos-select", type=click.Choice(DEMOS_SELECTS),
        help="first: the same first --n-demos labelled sentences for every input (default); knn: per input its "
        "--n-demos nearest --demos sentences by all-MiniLM-L6-v2 embeddings (GPT-NER; no extra requests, longer "
        "prompts when k is larger).",
    ),
    click.option(
        "--encoder-cache", type=click.Path(file_okay=False, path_type=Path),
        help="Folder for the encoder's one-time ONNX export (default ~/.cache/offline_ner).",
    ),
    click.option(
        "--verify", is_flag=True, default=None,
        help="Self-verification (GPT-NER): one more request per sentence with entities asks the model to confirm "
        "each entity's type; rejected entities are dropped. Adds requests: see `annotate plan`.",
    ),
    click.option("--samples", type=int, help="Samples per sentence (repeated calls)."),
    click.option("--agree-k", type=int, help="Keep entities that at least K of the samples agree on."),
    click.option("--temperature", type=float),
    click.option("--max-tokens", type=int, help="Reply token limit (also the budget's worst case)."),
    click.option("--seed", type=int),
    click.option("--response-format", type=click.Choice(RESPONSE_FORMATS)),
    click.option("--max-sentence-tokens", type=int, default=MAX_SENTENCE_TOKENS, show_default=True,
                 help="Chunk longer sentences."),
    click.option("--prices", type=click.Path(exists=True, path_type=Path), help="Price table JSON/YAML override."),
)

transport_options = _stack(
    click.option("--concurrency", type=int, help=f"Parallel requests (default {_DEFAULTS.concurrency})."),
    click.option("--rpm", "requests_per_minute", type=int, help="Client-side requests-per-minute limit."),
    click.option("--tpm", "tokens_per_minute", type=int, help="Client-side tokens-per-minute limit."),
    click.option("--timeout-s", type=float, help="Per-request timeout in seconds."),
    click.option(
        "--drop-alignment-problems", is_flag=True, default=None, help="Drop records whose reply did not align."
    ),
)

output_options = _stack(
    click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Annotation folder."),
    click.option(
        "--journal",
        type=click.Path(dir_okay=False, path_type=Path),
        help="SQLite journal/cache (default: <out>.journal.sqlite beside the folder). Reuse it to resume.",
    ),
)

failure_option = click.option(
    "--max-failed", type=click.FloatRange(0.0, 1.0),
    help=f"Share of records (0-1) that may end without a usable reply (unparsable, cut off, missing) before the "
    f"run fails ({int(ExitCode.LLM_REPLY)} in the exit codes below; default {_DEFAULTS.max_failed:g}: any failed record). "
    "The folder is written either way, failures listed in provenance.json.",
)  # fmt: skip

# options that set an AnnotateConfig field of the same name (the others: inputs, output, bundle, prices)
CONFIG_KEYS = frozenset(field.name for field in dataclasses.fields(AnnotateConfig))


def _config(options: dict[str, Any]) -> AnnotateConfig:
    from offline_ner.config import load_config

    cfg = load_config(options.get("config_path"), AnnotateConfig, overrides=options.get("overrides") or ())
    given = {key: value for key, value in options.items() if key in CONFIG_KEYS and value is not None}
    return dataclasses.replace(cfg, **given)


def _plan(options: dict[str, Any], journal: Any = None) -> tuple[Any, Any]:
    """The run plan and price table from the shared options; kNN embeddings are cached in ``journal``."""
    from offline_ner.annotate import load_inputs, load_prices, load_template, plan_run, select_demonstrations
    from offline_ner.data import read_records

    cfg = _config(options)
    inputs = load_inputs(list(options["inputs"]), max_tokens=options["max_sentence_tokens"])
    template = load_template(cfg.template)
    if cfg.demos_select == "knn":
        if not options.get("demos"):
            raise click.UsageError("--demos-select knn needs --demos (a labelled train/dev file)")
        from offline_ner.annotate.encoder import MiniLMEncoder, default_cache_dir
        from offline_ner.annotate.retrieve import knn_demonstrations

        encoder = MiniLMEncoder(cache_dir=options.get("encoder_cache") or default_cache_dir())
        chosen = knn_demonstrations(inputs.records, read_records(options["demos"]), cfg.n_demos, encoder, journal)
        return plan_run(inputs, cfg, template, demos_by_record=chosen), load_prices(options.get("prices"))
    demos = select_demonstrations(read_records(options["demos"]), cfg.n_demos) if options.get("demos") else []
    return plan_run(inputs, cfg, template, demos), load_prices(options.get("prices"))


def _journal_path(out: Path, journal: Path | None) -> Path:
    return journal if journal is not None else out.parent / f"{out.name}.journal.sqlite"


def _progress(total: int, desc: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="req", file=sys.stderr, disable=None)


def _summary_text(summary: AnnotationSummary) -> str:
    result = summary.provenance
    lines = [f"wrote {summary.records_out} records to {summary.out} (models: {', '.join(summary.models) or '-'})"]
    if summary.this_run is not None:
        run = summary.this_run
        lines.append(f"requests sent {run.sent}, journal hits {run.journal_hits}, retries {run.retries}")
    if "usage" in result:
        lines.append(f"usage {result['usage']['total_tokens']} tokens, cost ${result['cost_usd']:.4f}")
    if summary.failed:
        lines.append(f"failed records: {len(summary.failed)} (listed in provenance.json)")
    verification = (result.get("selection") or {}).get("verification")
    if verification:
        lines.append(
            f"verification: {verification['rejected']} of {verification['entities']} entities rejected and dropped, "
            f"{verification['unverified']} unanswered (kept)"
        )
    if result.get("on_error", {}).get("skipped_rows") or result.get("on_error", {}).get("repaired_tags"):
        skipped = result["on_error"]
        lines.append(f"bad rows skipped {skipped['skipped_rows']}, tags replaced with O {skipped['repaired_tags']}")
    if summary.qa:
        qa, covered = summary.qa, summary.coverage or {}
        lines.append(f"QA vs gold: P {qa['precision']:.3f} R {qa['recall']:.3f} F1 {qa['f1']:.3f}")
        if covered:
            lines.append(
                f"coverage {covered['labelled']}/{covered['gold_records']} gold records ({covered['failed']} failed, "
                f"{covered['skipped']} skipped, counted as misses)"
            )
    if summary.bundle:
        lines.append(f"signed bundle: {summary.bundle}")
    return "\n".join(lines)


def bundle_options(command: F) -> F:
    """--sign-key/--stream/--sequence/--bundle-out: also turn the folder into a signed annotations bundle."""
    return _stack(
        click.option("--sign-key", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="Private key: also write a signed annotations bundle (needs --stream, --sequence, "
                     "--bundle-out; passphrase from OFFLINE_NER_KEY_PASSPHRASE or a prompt)."),
        click.option("--stream", help="Bundle stream name, e.g. conll-llm."),
        click.option("--sequence", type=int, help="Bundle sequence number (must grow per stream)."),
        click.option("--bundle-out", type=click.Path(dir_okay=False, path_type=Path), help="Bundle file to write."),
    )(command)  # fmt: skip


def _check_bundle_options(options: dict[str, Any]) -> None:
    """Fail on incomplete bundle options before any request is paid for."""
    if options.get("sign_key") is None:
        return
    missing = [name for name in ("stream", "sequence", "bundle_out") if options.get(name) is None]
    if missing:
        raise click.UsageError(f"--sign-key needs {', '.join('--' + m.replace('_', '-') for m in missing)}")


def _maybe_bundle(summary: AnnotationSummary, options: dict[str, Any]) -> AnnotationSummary:
    """Sign the annotation folder into a bundle when --sign-key is given (the CLI combines the two stages)."""
    key_path = options.get("sign_key")
    if key_path is None:
        return summary
    from offline_ner.bundle import create_bundle, load_private_key
    from offline_ner.cli.keys import read_passphrase

    key = load_private_key(key_path, read_passphrase(f"Passphrase for {key_path}"))
    bundle = create_bundle(
        Path(summary.out), kind="annotations", stream=options["stream"], sequence=options["sequence"], keys=[key],
        out=options["bundle_out"],
    )  # fmt: skip
    return dataclasses.replace(summary, bundle=str(bundle))


@click.group(epilog=EXIT_CODES_EPILOG)
def annotate() -> None:
    """Label records with an LLM (OpenAI or any OpenAI-compatible endpoint) into an annotation folder.

    The folder (records.jsonl, provenance.json, qa.json when gold exists) is what
    `offline-ner bundle create --kind annotations` signs for transfer.
    """


@annotate.command(epilog=EXIT_CODES_EPILOG)
@input_arguments
@request_options
@transport_options
@output_options
@failure_option
@click.option("--budget", "budget_usd", type=float, help="Stop cleanly before spending more than this many USD.")
@click.option("--record", "record_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Append every (request, response) exchange to this JSONL file, for `annotate replay`.")  # fmt: skip
@bundle_options
@json_option
@handles_errors
def run(as_json: bool, **options: Any) -> None:
    """Annotate INPUTS (CoNLL files, JSONL records, folders of .txt articles) with an LLM.

    Replies are journalled as they arrive: rerunning the same command after a crash or a budget stop sends only
    what is missing and writes byte-identical files. Gold tags in the input are kept aside for qa.json.

    \b
    Example:
      export OPENAI_API_KEY=...
      offline-ner annotate run conll2003/valid.txt --demos conll2003/train.txt \\
          --model gpt-4o --budget 5 --out ann/valid
      offline-ner annotate run bbc/ --base-url http://127.0.0.1:8080/v1 --model local --out ann/bbc
    """
    from offline_ner.annotate import Journal
    from offline_ner.annotate import annotate as annotate_plan
    from offline_ner.annotate.client import LLMClient
    from offline_ner.annotate.replay import Recorder

    _check_bundle_options(options)
    journal = Journal(_journal_path(options["out"], options.get("journal")))
    try:
        plan, prices = _plan(options, journal)
    except BaseException:
        journal.close()
        raise
    recorder = Recorder(options["record_path"]) if options.get("record_path") else None
    client = LLMClient(plan.cfg, recorder=recorder)
    # verification adds at most one request per unique sentence (only those with entities are sent)
    bar = _progress(len(plan.requests) * (2 if plan.cfg.verify else 1), "annotate")
    try:
        result = annotate_plan(
            plan, out=options["out"], journal=journal, client=client, prices=prices,
            budget_usd=options.get("budget_usd"), progress=bar.update,
        )  # fmt: skip
    finally:
        bar.close()
        journal.close()
        if recorder is not None:
            recorder.close()
    result = _maybe_bundle(result, options)
    emit(result.to_json(), as_json, _summary_text(result))


@annotate.command(epilog=EXIT_CODES_EPILOG)
@input_arguments
@request_options
@click.option("--batch", is_flag=True, help="Price for the Batch API (50% off).")
@json_option
@handles_errors
def plan(as_json: bool, batch: bool, **options: Any) -> None:
    """Estimate requests, tokens and cost for annotating INPUTS, without sending anything.

    Tokens are counted with tiktoken (cl100k_base, offline); prices come from the dated table in the package
    or --prices FILE. The worst case assumes every reply uses --max-tokens.

    \b
    Example:
      offline-ner annotate plan conll2003/valid.txt --demos conll2003/train.txt --model gpt-4o-mini --json
    """
    from offline_ner.annotate import estimate_cost

    run_plan, prices = _plan(options)
    estimate = estimate_cost(run_plan, prices, batch=batch)

    def usd(value: float | None) -> str:
        return "unknown (no price for this model; pass --prices)" if value is None else f"${value:.4f}"

    human = (
        f"{estimate.records} records -> {estimate.requests} requests to {estimate.model}\n"
        f"input tokens {estimate.input_tokens}, output expected {estimate.expected_output_tokens} "
        f"(at most {estimate.max_output_tokens})\n"
        f"cost expected {usd(estimate.expected_cost_usd)}, at most {usd(estimate.max_cost_usd)} "
        f"(prices as of {estimate.prices['as_of']})"
    )
    for name, extra in estimate.added.items():
        human += (
            f"\n{name} adds {extra.requests} requests, {extra.input_tokens} input tokens: "
            f"expected {usd(extra.expected_cost_usd)}, at most {usd(extra.max_cost_usd)} (included above)"
        )
    emit(estimate.to_json(), as_json, human)


@annotate.group(epilog=EXIT_CODES_EPILOG)
def batch() -> None:
    """OpenAI Batch API: half price, results within 24 h; resumable from the journal."""


@batch.command("run", epilog=EXIT_CODES_EPILOG)
@input_arguments
@request_options
@output_options
@failure_option
@click.option("--poll-interval-s", type=float, default=30.0, show_default=True)
@click.option("--wait-s", type=float, help="Stop polling after this long (rerun the command to resume).")
@bundle_options
@json_option
@handles_errors
def batch_run(as_json: bool, poll_interval_s: float, wait_s: float | None, **options: Any) -> None:
    """Submit INPUTS as one batch (or resume the batch stored in the journal), poll, merge, write the folder.

    \b
    Example:
      offline-ner annotate batch run bbc/ --model gpt-4o --out ann/bbc --wait-s 600
      offline-ner annotate batch run bbc/ --model gpt-4o --out ann/bbc     # later: resumes the same batch
    """
    from offline_ner.annotate import Journal
    from offline_ner.annotate.batch import run_batch
    from offline_ner.annotate.client import LLMClient

    _check_bundle_options(options)
    journal = Journal(_journal_path(options["out"], options.get("journal")))
    try:
        run_plan, prices = _plan(options, journal)
        result = run_batch(
            run_plan, LLMClient(run_plan.cfg), journal, out=options["out"], prices=prices,
            poll_interval_s=poll_interval_s, timeout_s=wait_s,
            on_poll=lambda b: click.echo(f"batch {b.id}: {b.status}", err=True),
        )  # fmt: skip
    finally:
        journal.close()
    result = _maybe_bundle(result, options)
    emit(result.to_json(), as_json, _summary_text(result))


@batch.command("merge", epilog=EXIT_CODES_EPILOG)
@input_arguments
@request_options
@output_options
@failure_option
@click.option("--output", "output_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Downloaded batch output JSONL.")  # fmt: skip
@click.option("--errors", "error_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Downloaded batch error JSONL.")  # fmt: skip
@bundle_options
@json_option
@handles_errors
def batch_merge(as_json: bool, output_file: Path, error_file: Path | None, **options: Any) -> None:
    """Merge a downloaded batch output file (no network) and write the folder; INPUTS and options as submitted.

    \b
    Example:
      offline-ner annotate batch merge bbc/ --model gpt-4o --output batch_abc_output.jsonl --out ann/bbc
    """
    from offline_ner.annotate import Journal
    from offline_ner.annotate.batch import merge_batch_output, write_batch_result

    _check_bundle_options(options)
    journal = Journal(_journal_path(options["out"], options.get("journal")))
    try:
        run_plan, prices = _plan(options, journal)
        errors = error_file.read_bytes() if error_file else None
        report = merge_batch_output(run_plan, journal, output_file.read_bytes(), errors)
        result = write_batch_result(run_plan, journal, out=options["out"], prices=prices, report=report, batch_id=None)
    finally:
        journal.close()
    result = _maybe_bundle(result, options)
    emit(result.to_json(), as_json, _summary_text(result))


@annotate.command("import", epilog=EXIT_CODES_EPILOG)
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Annotation folder.")
@click.option("--llm-field", default=_IMPORT.llm_field, show_default=True, help="JSONL field with the LLM's IOB2 tags.")
@click.option("--gold-field", help="JSONL field with gold IOB2 tags (enables qa.json).")
@click.option("--id-field", help="JSONL field with a unique record id (default <file stem>:<index>).")
@click.option("--tokens-field", default=_IMPORT.tokens_field, show_default=True)
@click.option("--llm-column", type=int, default=_IMPORT.llm_column, show_default=True, help="CoNLL column of the LLM tags.")
@click.option("--gold-column", type=int, help="CoNLL column of the gold tags.")
@click.option("--model", default=_IMPORT.model, show_default=True, help="Model that produced the labels, for provenance.")
@click.option("--on-error", type=click.Choice(ON_ERROR_CHOICES), default=_IMPORT.on_error, show_default=True,
              help="What one bad row does: stop (raise), drop it (skip), or replace malformed LLM tags with O and "
              "drop only unrepairable rows (repair). Counts and lines go to provenance.json; QA counts skipped "
              "rows' gold entities as misses.")  # fmt: skip
@bundle_options
@json_option
@handles_errors
def import_(as_json: bool, path: Path, out: Path, **options: Any) -> None:
    """Turn an existing LLM label file (JSONL or CoNLL columns) into an annotation folder with QA.

    \b
    Example:
      offline-ner annotate import noisebench_conll03_aligned.jsonl --llm-field noise_llm \\
          --gold-field gold_conll2003 --model "gpt-3.5-turbo (NoiseBench)" --out ann/noisebench
    """
    from offline_ner.annotate import import_labels, write_annotation_folder

    _check_bundle_options(options)
    spec_fields = {f.name for f in dataclasses.fields(ImportSpec)}
    spec = ImportSpec(**{k: v for k, v in options.items() if k in spec_fields})
    result = import_labels(path, spec)
    write_annotation_folder(out, result.records, result.provenance, result.qa)
    per_type_f1 = {t: row["f1"] for t, row in result.qa["final"]["per_type"].items()} if result.qa else None
    summary = _maybe_bundle(AnnotationSummary(str(out), result.provenance, per_type_f1=per_type_f1), options)
    emit(summary.to_json(), as_json, _summary_text(summary))


@annotate.command(epilog=EXIT_CODES_EPILOG)
@click.option("--recordings", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSONL written by `annotate run --record`.")  # fmt: skip
@click.option("--port", type=int, default=0, show_default=True, help="Port on 127.0.0.1 (0: any free port).")
@handles_errors
def replay(recordings: Path, port: int) -> None:
    """Serve recorded chat completions on 127.0.0.1 until interrupted; prints the base URL first.

    \b
    Example:
      offline-ner annotate replay --recordings demo/recordings.jsonl --port 0 &
      offline-ner annotate run demo/news/ --base-url http://127.0.0.1:PORT/v1 --model SmolLM2 --out ann/
    """
    from offline_ner.annotate.replay import ReplayServer

    server = ReplayServer(recordings, port=port)
    click.echo(server.base_url)
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
