"""Model cards: a ``README.md`` with YAML front matter (Hugging Face's model-card format) inside a model folder.

Trained folders (``train/trained_card.py``) and export folders (``export/export_card.py``) each get one, so a folder copied
anywhere still says what it was trained on (data sources, record counts, sha256 and bundle digests), how well it
did, and how to load it. The front matter carries the same facts as data, under HF's keys where HF has one
(``library_name``, ``pipeline_tag``, ``model-index``) and under ``offline_ner`` otherwise; an export reads its
source model's card through :func:`read_card_metadata` to carry the training provenance along. Nothing heavy.

Example::

    text = render_card("NER model", {"library_name": "transformers"}, [("Metrics", "| ... |")])
    read_card_metadata(Path("runs/simple-mix/model"))["offline_ner"]["data"]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

CARD_NAME = "README.md"


def render_card(title: str, metadata: Mapping[str, Any], sections: Iterable[tuple[str, str]]) -> str:
    """Front matter, a title, then one ``##`` section per ``(heading, markdown)``."""
    front = yaml.safe_dump(dict(metadata), sort_keys=False, allow_unicode=True)
    body = "\n\n".join(f"## {heading}\n\n{text.strip()}" for heading, text in sections)
    return f"---\n{front}---\n\n# {title}\n\n{body}\n"


def read_card_metadata(folder: Path) -> dict[str, Any]:
    """The front matter of ``folder/README.md``; empty when there is no card or it has no readable front matter."""
    path = Path(folder) / CARD_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    if not text.startswith("---\n"):
        return {}
    front, sep, _ = text[4:].partition("\n---\n")
    try:
        data = yaml.safe_load(front) if sep else None
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub-flavoured table; ``None`` shows as a dash."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join("-" if cell is None else str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def provenance_table(data: Mapping[str, Mapping[str, Any]]) -> str:
    """The data sources of a training run (role -> source, records, sha256, bundle) as a table."""
    rows = []
    for role, source in data.items():
        bundle = source.get("bundle") or {}
        rows.append((role, f"`{source.get('source')}`", source.get("records"),
                     f"`{source['sha256']}`" if source.get("sha256") else None,
                     f"`{bundle['digest']}`" if bundle.get("digest") else None))
    return markdown_table(("role", "source", "records", "sha256", "bundle digest"), rows)
