"""The model card (``README.md``) of a trained model folder: metrics, data provenance, bundle digests, how to load.

``provenance`` comes from whoever read the data (the CLI): per role (gold, distilled, dev, base_model) the source
as given, the record count, the file's sha256 and, for ``bundle:`` sources, the imported bundle's digest. The
metrics are the run's :class:`~offline_ner.contracts.TrainMetrics`. Rendering is pure; :func:`write_model_card` writes the file atomically.

Example::

    write_model_card(result.model_dir, result.metrics, {"gold": {"source": "gold.conll", "records": 1000, ...}})
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from offline_ner._fs import atomic_write_text
from offline_ner.contracts import TrainMetrics
from offline_ner.data.model_card import CARD_NAME, markdown_table, provenance_table, render_card


def _f1(value: float | None) -> str | None:
    return None if value is None else f"{value:.4f}"


def trained_model_card(metrics: TrainMetrics, provenance: Mapping[str, Mapping[str, Any]]) -> str:
    """The card's text for a folder trained with ``metrics`` from the sources in ``provenance``."""
    data = {role: dict(source) for role, source in provenance.items()}
    facts = {
        "kind": "trained-model",
        "regimen": metrics.regimen,
        "base_model": metrics.base_model,
        "best_dev_f1": metrics.best_dev_f1,
        "dev_f1_all": metrics.dev_f1_all,
        "dev_eval_mode": metrics.dev_eval_mode,
        "steps": metrics.steps,
        "labels": list(metrics.labels),
        "data": data,
    }
    metadata = {
        "library_name": "transformers",
        "pipeline_tag": "token-classification",
        "tags": ["ner", "offline-ner", f"regimen-{metrics.regimen}"],
        "model-index": [{"name": Path(metrics.base_model).name + f"-{metrics.regimen}",
                         "results": [{"task": {"type": "token-classification"},
                                      "metrics": [{"type": "f1", "name": "dev F1 (seqeval)",
                                                   "value": metrics.dev_f1_all}]}]}],
        "offline_ner": facts,
    }
    phases = markdown_table(
        ("phase", "best dev F1", "at step", "steps", "stopped early"),
        [(p.name, _f1(p.best_dev_f1), p.best_step, p.steps, p.stopped_early) for p in metrics.phases],
    )
    sections = [
        ("Metrics", (f"Dev F1 {_f1(metrics.dev_f1_all)} (seqeval, {metrics.dev_eval_mode} mode) after "
                    f"{metrics.steps} steps; regimen `{metrics.regimen}`, base model `{metrics.base_model}`."
                    f"\n\n{phases}")),
        ("Data provenance", "What this model was trained and selected on, as read by `offline-ner train`:\n\n"
                            + provenance_table(data)),
        ("Labels", ", ".join(f"`{label}`" for label in metrics.labels)),
        ("Use", ("```python\nfrom transformers import AutoModelForTokenClassification, AutoTokenizer\n"
                "model = AutoModelForTokenClassification.from_pretrained(FOLDER, local_files_only=True)\n```\n\n"
                "Export for inference: `offline-ner export --model FOLDER -o FOLDER-onnx --int8`.")),
    ]
    return render_card(f"Token classifier ({metrics.regimen})", metadata, sections)


def write_model_card(model_dir: Path, metrics: TrainMetrics, provenance: Mapping[str, Mapping[str, Any]]) -> Path:
    """Write ``model_dir/README.md`` (atomically) and return its path."""
    path = Path(model_dir) / CARD_NAME
    atomic_write_text(path, trained_model_card(metrics, provenance))
    return path
