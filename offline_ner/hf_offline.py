"""Make the closed side provably offline: Hugging Face libraries must never try the hub.

Import this module before ``transformers`` (closed-side stages import it in their ``__init__``). It sets
``HF_HUB_OFFLINE=1`` and ``TRANSFORMERS_OFFLINE=1`` unconditionally, so a missing model becomes a clear
:class:`~offline_ner.errors.ModelNotFoundError` instead of a download attempt.
"""

from __future__ import annotations

import os

OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


def enforce_offline() -> None:
    """Set the Hugging Face offline variables for this process and its children."""
    os.environ.update(OFFLINE_ENV)


enforce_offline()
