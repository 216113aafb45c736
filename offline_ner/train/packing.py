"""Packed training batches: a batch's sentences laid end to end in a few rows, without padding between them.

Length-grouped batches avoid padding by putting sentences of one length together, and that costs F1 when the
budget is small (BENCHMARKS.md: 4 test F1 points after 2 epochs on 1,000 CoNLL sentences): a batch of only short
sentences is not a sample of the data. Packing keeps random batches and still avoids most padding. The sentences
of a batch go into rows of up to ``row_tokens`` tokens (first fit, longest first; a longer sentence gets a row
of its own). Each sentence keeps its own positions (0, 1, ...) and a block-diagonal attention mask stops every
token from seeing another sentence, so the model computes what it computes on the sentences one by one; only the
matrix shapes change. Longer rows pad less but cost more attention (it grows with the row length).

Example::

    batch = pack_batch(items, pad_id=0, row_tokens=64)
    batch["attention_mask"].shape        # (rows, width, width): who may attend to whom
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch


def pack_rows(lengths: Sequence[int], row_tokens: int) -> list[list[int]]:
    """Item indices per row: first-fit decreasing into rows of ``max(row_tokens, longest item)`` tokens."""
    capacity = max(row_tokens, *lengths)
    rows: list[list[int]] = []
    room: list[int] = []
    for index in sorted(range(len(lengths)), key=lambda i: (-lengths[i], i)):
        row = next((r for r, free in enumerate(room) if lengths[index] <= free), None)
        if row is None:
            rows.append([index])
            room.append(capacity - lengths[index])
        else:
            rows[row].append(index)
            room[row] -= lengths[index]
    return rows


def pack_batch(items: Sequence[dict[str, Any]], pad_id: int, row_tokens: int) -> dict[str, torch.Tensor]:
    """Model inputs for ``items`` (``input_ids`` and ``labels`` each) packed into rows.

    Returns ``input_ids``, ``labels`` (-100 on padding), ``position_ids`` (restarting at 0 for each sentence),
    ``token_type_ids`` and a 3-D ``attention_mask`` (1 where a token may attend: its own sentence only; a padding
    position attends to itself, so no softmax row is empty).
    """
    lengths = [len(item["input_ids"]) for item in items]
    rows = pack_rows(lengths, row_tokens)
    width = max(sum(lengths[i] for i in row) for row in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    positions = torch.zeros((len(rows), width), dtype=torch.long)
    mask = torch.zeros((len(rows), width, width), dtype=torch.long)
    for r, row in enumerate(rows):
        start = 0
        for index in row:
            end = start + lengths[index]
            input_ids[r, start:end] = torch.tensor(items[index]["input_ids"])
            labels[r, start:end] = torch.tensor(items[index]["labels"])
            positions[r, start:end] = torch.arange(lengths[index])
            mask[r, start:end, start:end] = 1
            start = end
        padding = torch.arange(start, width)
        mask[r, padding, padding] = 1
    return {"input_ids": input_ids, "labels": labels, "position_ids": positions,
            "token_type_ids": torch.zeros_like(input_ids), "attention_mask": mask}
