"""The model card (``README.md``) of a trained model folder: metrics, data provenance, bundle digests, how to load.

``provenance`` comes from whoever read the data (the CLI): per role (gold, distilled, dev, base_model) the source
as given, the record count, the file's sha256 and, for ``bundle:`` sources, the imported bundle's digest. The
metrics are ``metrics.json``'s. Rendering is pure; :func:`write_model_card` writes the file atomically.

Example::

    write_model_card(result.model_dir, result.metrics, {"gold": {"source": "gold.conll", "records": 1000, ...}})
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from offline_ner._fs import atomic_write_text
from offline_ner.data.model_card import CARD_NAME, markdown_table, provenance_table, render_card


def _f1(value: Any) -> str | None:
    return None if value is None else f"{value:.4f}"


def _dev_f1(metrics: Mapping[str, Any]) -> Any:
    """The final model on every dev record; older metrics have only the selection records' best."""
    return metrics.get("dev_f1_all", metrics["best_dev_f1"])


def trained_model_card(metrics: Mapping[str, Any], provenance: Mapping[str, Mapping[str, Any]]) -> str:
    """The card's text for a folder trained with ``metrics`` from the sources in ``provenance``."""
    data = {role: dict(source) for role, source in provenance.items()}
    facts = {
        "kind": "trained-model",
        "regimen": metrics["regimen"],
        "base_model": str(metrics["base_model"]),
        "best_dev_f1": metrics["best_dev_f1"],
        "dev_f1_all": metrics.get("dev_f1_all"),
        "dev_eval_mode": metrics.get("dev_eval_mode"),
        "steps": metrics["steps"],
        "labels": list(metrics["labels"]),
        "data": data,
    }
    metadata = {
        "library_name": "transformers",
        "pipeline_tag": "token-classification",
        "tags": ["ner", "offline-ner", f"regimen-{metrics['regimen']}"],
        "model-index": [{"name": Path(str(metrics["base_model"])).name + f"-{metrics['regimen']}",
                         "results": [{"task": {"type": "token-classification"},
                                      "metrics": [{"type": "f1", "name": "dev F1 (seqeval)",
                                                   "value": _dev_f1(metrics)}]}]}],
        "offline_ner": facts,
    }
    phases = markdown_table(
        ("phase", "best dev F1", "at step", "steps", "stopped early"),
        [(p["name"], _f1(p["best_dev_f1"]), p["best_step"], p["steps"], p["stopped_early"])
         for p in metrics.get("phases", [])],
    )
    sections = [
        ("Metrics", (f"Dev F1 {_f1(_dev_f1(metrics))} (seqeval, "
                    f"{metrics.get('dev_eval_mode', 'default')} mode) after {metrics['steps']} steps; regimen "
                    f"`{metrics['regimen']}`, base model `{metrics['base_model']}`.\n\n{phases}")),
        ("Data provenance", "What this model was trained and selected on, as read by `offline-ner train`:\n\n"
                            + provenance_table(data)),
        ("Labels", ", ".join(f"`{label}`" for label in metrics["labels"])),
        ("Use", ("```python\nfrom transformers import AutoModelForTokenClassification, AutoTokenizer\n"
                "model = AutoModelForTokenClassification.from_pretrained(FOLDER, local_files_only=True)\n```\n\n"
                "Export for inference: `offline-ner export --model FOLDER -o FOLDER-onnx --int8`.")),
    ]
    return render_card(f"Token classifier ({metrics['regimen']})", metadata, sections)


def write_model_card(model_dir: Path, metrics: Mapping[str, Any], provenance: Mapping[str, Mapping[str, Any]]) -> Path:
    """Write ``model_dir/README.md`` (atomically) and return its path."""
    path = Path(model_dir) / CARD_NAME
    atomic_write_text(path, trained_model_card(metrics, provenance))
    return path
