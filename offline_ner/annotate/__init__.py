"""Connected side: label records with an LLM (OpenAI or any OpenAI-compatible endpoint) into an annotation folder.

Modules, one job each: ``prompts`` (versioned templates, demonstrations), ``parse`` (reply → mentions, fallback
chain), ``align`` (mentions → IOB2, pure), ``client`` (SDK transport, the one retry policy), ``journal`` (SQLite
WAL cache), ``run`` (plan, execute, assemble), ``batch`` (Batch API), ``cost`` (tokens, dated prices), ``qa``
(seqeval P/R/F1, agreement), ``retrieve`` (kNN demonstrations) and ``encoder``
(its MiniLM sentence embeddings), ``verify`` (self-verification requests and verdicts), ``importer`` (existing
label files), ``replay`` (record and serve exchanges for the offline demo), ``inputs`` and ``folder`` (reading
sources, writing output).

This package never imports ``bundle``: the CLI turns the folder into a signed bundle.

Example::

    inputs = load_inputs([Path("valid.txt")])
    plan = plan_run(inputs, cfg, load_template("fewshot_conll"), demos)
    journal, client = Journal(Path("ann.sqlite")), LLMClient(cfg)
    annotate(plan, out=Path("ann/"), journal=journal, client=client, prices=load_prices(None))
"""

from offline_ner.annotate.align import Alignment, align_mentions
from offline_ner.annotate.assemble import AnnotationResult, assemble
from offline_ner.annotate.config import AnnotateConfig
from offline_ner.annotate.cost import PriceTable, count_message_tokens, load_prices
from offline_ner.annotate.estimate import estimate_cost
from offline_ner.annotate.folder import write_annotation_folder
from offline_ner.annotate.importer import ImportSpec, import_labels
from offline_ner.annotate.input_files import Inputs, load_inputs
from offline_ner.annotate.journal import Journal, request_key
from offline_ner.annotate.parse import Mention, ParsedReply, parse_reply
from offline_ner.annotate.plan import RunPlan, plan_run
from offline_ner.annotate.prompts import (
    PromptTemplate,
    build_messages,
    check_demonstrations,
    load_template,
    select_demonstrations,
)
from offline_ner.annotate.qa import qa_report
from offline_ner.annotate.run import annotate
from offline_ner.annotate.send import execute

__all__ = [
    "Alignment",
    "AnnotateConfig",
    "AnnotationResult",
    "ImportSpec",
    "Inputs",
    "Journal",
    "Mention",
    "ParsedReply",
    "PriceTable",
    "PromptTemplate",
    "RunPlan",
    "align_mentions",
    "annotate",
    "assemble",
    "build_messages",
    "check_demonstrations",
    "count_message_tokens",
    "estimate_cost",
    "execute",
    "import_labels",
    "load_inputs",
    "load_prices",
    "load_template",
    "parse_reply",
    "plan_run",
    "qa_report",
    "request_key",
    "select_demonstrations",
    "write_annotation_folder",
]
