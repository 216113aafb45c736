"""Same input, same entities: a document's entities and scores depend on the document and the model only, not on
what shares its batch, the batch budget or the thread count, for every graph the CPU runs by default or on request
(fp32, the per-row int8 graph, fp16). An int8 graph with one activation scale per batch tensor breaks it (the
last test shows the mechanism), which is why ``predict`` warns when shards or Ray run one.

A random tiny BERT tags arbitrary words as entities, so every example has entities whose scores can move.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offline_ner.infer import Entity, NerEngine

pytestmark = pytest.mark.usefixtures("no_network")

WORDS = ["Angela", "Merkel", "visited", "Paris", "and", "Zürich", "met", "Macron", "in", "Berlin", "the", "UN",
         "said", "on", "Tuesday", "New", "York", "Google", "fined", "2.4", "billion", ",", "(東京)", "."]
CPU_PRECISIONS = ("fp32", "int8", "fp16")
# small windows, so long sentences become overlapping windows that are batched with other documents' rows
WINDOW = {"max_seq_tokens": 40, "overlap_tokens": 8}

words = st.lists(st.sampled_from(WORDS), min_size=1, max_size=50)
document = st.lists(words, min_size=1, max_size=3).map(lambda sentences: " . ".join(map(" ".join, sentences)))


def entities_of(onnx_dir: Path, precision: str, documents: list[str], **config: int) -> list[list[Entity]]:
    engine = NerEngine(onnx_dir, device="cpu", precision=precision, **WINDOW, **config)
    return list(engine.predict(documents))


@pytest.mark.parametrize("precision", CPU_PRECISIONS)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    target=document,
    others=st.lists(document, max_size=12),
    position=st.integers(0, 12),
    batch_tokens=st.sampled_from([16, 64, 200, 512, 4096]),
    threads=st.sampled_from([1, 2]),
)
def test_a_document_gets_the_same_entities_and_scores_alone_and_in_any_batch(
    tiny_onnx_dir: Path, precision: str, target: str, others: list[str], position: int, batch_tokens: int,
    threads: int,
) -> None:
    alone = entities_of(tiny_onnx_dir, precision, [target], threads=1)[0]
    position = min(position, len(others))
    batch = [*others[:position], target, *others[position:]]
    together = entities_of(tiny_onnx_dir, precision, batch, max_batch_tokens=batch_tokens, threads=threads)
    assert together[position] == alone


def test_the_exported_int8_graph_is_the_per_row_one(tiny_onnx_dir: Path) -> None:
    engine = NerEngine(tiny_onnx_dir, device="cpu", precision="int8")
    assert engine.variant.activation_scales == "per-row" and engine.variant.batch_independent


def test_a_per_tensor_int8_graph_is_known_as_batch_dependent(per_tensor_onnx_dir: Path) -> None:
    assert not NerEngine(per_tensor_onnx_dir, device="cpu", precision="int8").variant.batch_independent


@pytest.mark.parametrize(("graph", "independent"), [("per_tensor_onnx_dir", False), ("tiny_onnx_dir", True)])
def test_int8_logits_of_a_row_depend_on_its_neighbours_only_with_per_tensor_scales(
    graph: str, independent: bool, request: pytest.FixtureRequest
) -> None:
    # the mechanism under the property above, at the graph: one row alone, then padded beside a longer one
    engine = NerEngine(request.getfixturevalue(graph), device="cpu", precision="int8")
    row, neighbour = [101, 7592, 2088, 102], [101, *range(2000, 2030), 102]
    ids = np.zeros((2, len(neighbour)), dtype=np.int64)
    ids[0, : len(row)], ids[1] = row, neighbour
    mask = (ids != 0).astype(np.int64)
    alone = engine.runner.run({"input_ids": ids[:1, : len(row)], "attention_mask": mask[:1, : len(row)],
                               "token_type_ids": np.zeros((1, len(row)), dtype=np.int64)})
    batched = engine.runner.run({"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})
    assert np.array_equal(alone[0], batched[0, : len(row)]) == independent
