"""Packed batches: every sentence placed once, no row over its budget, and the model's output unchanged by packing."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from offline_ner.train.packing import pack_batch, pack_rows


@given(st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=24), st.integers(min_value=1, max_value=64))
def test_every_item_lands_in_exactly_one_row_within_the_row_budget(lengths: list[int], row_tokens: int) -> None:
    rows = pack_rows(lengths, row_tokens)
    assert sorted(i for row in rows for i in row) == list(range(len(lengths)))
    capacity = max(row_tokens, *lengths)
    assert all(sum(lengths[i] for i in row) <= capacity for row in rows)


def test_short_sentences_share_rows_and_a_long_one_gets_its_own() -> None:
    assert pack_rows([10, 50, 6, 30], row_tokens=40) == [[1], [3, 0, 2]]  # rows of max(40, 50) tokens


def test_packed_logits_equal_the_logits_of_each_sentence_alone(tiny_bert_dir: Path) -> None:
    import torch
    from transformers import AutoModelForTokenClassification

    model = AutoModelForTokenClassification.from_pretrained(tiny_bert_dir, local_files_only=True).eval()
    items = [{"input_ids": [101, *range(2000, 2000 + n), 102], "labels": [-100, *([1] * n), -100]}
             for n in (3, 9, 1, 14, 5)]
    batch = pack_batch(items, pad_id=0, row_tokens=16)
    assert batch["attention_mask"].dim() == 3 and batch["input_ids"].shape[0] < len(items)
    with torch.no_grad():
        packed = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
        alone = [model(input_ids=torch.tensor([item["input_ids"]])).logits[0] for item in items]
    found = 0
    for r, row in enumerate(pack_rows([len(i["input_ids"]) for i in items], 16)):
        start = 0
        for index in row:
            n = len(items[index]["input_ids"])
            assert torch.allclose(packed[r, start:start + n], alone[index], atol=1e-5)
            assert batch["labels"][r, start:start + n].tolist() == items[index]["labels"]
            start += n
            found += 1
    assert found == len(items)
