"""The model card (``README.md``) of an export folder: each graph's validation, the source model, its training.

The training facts (metrics, data provenance, bundle digests) come from the source model's own card, when it has
one (``offline-ner train`` writes it), so the folder that is deployed says what it was trained on. The card is
written before the manifest, so ``export.json`` lists its sha256 like every other file. Pure rendering.

Example::

    text = export_card(model_dir, variants, labels, {"model.safetensors": "ab12..."})
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from offline_ner.data.model_card import markdown_table, provenance_table, read_card_metadata, render_card


def export_card(
    model_dir: Path, variants: Sequence[Mapping[str, Any]], labels: Sequence[str], source_sha256: Mapping[str, str]
) -> str:
    """The card's text for an export of ``model_dir`` holding ``variants`` (with their validation results)."""
    trained = read_card_metadata(model_dir).get("offline_ner") or {}
    facts = {
        "kind": "onnx-export",
        "source_model": {"path": str(Path(model_dir).resolve()), "sha256": dict(source_sha256)},
        "variants": {v["name"]: {"file": v["file"], "precision": v["precision"], "device": v["device"],
                                 "argmax_agreement": v["validation"]["argmax_agreement"],
                                 "max_abs_logit_diff": v["validation"]["max_abs_logit_diff"]} for v in variants},
        "labels": list(labels),
        "training": trained,
    }
    metadata: dict[str, Any] = {"library_name": "onnx", "pipeline_tag": "token-classification",
                                "tags": ["ner", "offline-ner", "onnx"], "offline_ner": facts}
    graphs = markdown_table(
        ("graph", "precision", "device", "argmax agreement with PyTorch", "max abs logit diff"),
        [(f"`{v['file']}`", v["precision"], v["device"], f"{v['validation']['argmax_agreement']:.4f}",
          f"{v['validation']['max_abs_logit_diff']:.2e}") for v in variants],
    )
    weights = "\n".join(f"- `{name}`: `{digest}`" for name, digest in sorted(source_sha256.items()))
    if trained:
        f1 = trained.get("dev_f1_all", trained.get("best_dev_f1"))
        training = (f"Regimen `{trained.get('regimen')}`, base model `{trained.get('base_model')}`, dev F1 "
                    f"{'-' if f1 is None else format(f1, '.4f')} (seqeval) after {trained.get('steps')} steps.\n\n"
                    + provenance_table(trained.get("data") or {}))
    else:
        training = f"`{model_dir}` has no model card, so its training data is not recorded here."
    sections = [
        ("Graphs", ("Every graph was validated against the PyTorch model before this folder was published; "
                   f"`export.json` holds the sha256 of every file.\n\n{graphs}")),
        ("Source model", f"`{Path(model_dir).resolve()}`\n\n{weights}"),
        ("Training and data provenance", training),
        ("Labels", ", ".join(f"`{label}`" for label in labels)),
        ("Use", ("`offline-ner predict --model FOLDER --input docs.jsonl -o entities.jsonl`, or in Python "
                "`NerEngine(FOLDER).predict(texts)`.")),
    ]
    return render_card("ONNX token classifier", metadata, sections)
