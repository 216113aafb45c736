"""Re-read the raw-text tokenizer's rule tables from the installed spaCy into offline_ner/data/rule_tables.json.

Why: the tables ship with the package so that no host imports spaCy to tokenise; a maintainer runs this
after a spaCy upgrade or a change to the rules in ``offline_ner.data.text`` (tests/data/test_rule_tokenizer.py
fails until then). Needs ``offline-ner[train]`` (spaCy). If the tokens change, bump ``TOKENIZER_RULES``: exports
record the fingerprint, and inference refuses an export whose tokenizer differs.

Usage: python scripts/update_rule_tables.py
"""

from __future__ import annotations

import json
from pathlib import Path

from offline_ner._fs import atomic_write_text
from offline_ner.data import text

OUT = Path(__file__).resolve().parents[1] / "offline_ner" / "data" / text.RULE_TABLES


def main() -> None:
    tables = text.spacy_rule_tables()
    atomic_write_text(OUT, json.dumps(tables.to_json(), ensure_ascii=False, indent=0, sort_keys=True) + "\n")
    print(f"wrote {OUT}: spaCy {tables.spacy}, {len(tables.specials)} special cases")


if __name__ == "__main__":
    main()
