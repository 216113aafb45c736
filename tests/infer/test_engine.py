"""The engine on a real ONNX session of the tiny random BERT: offsets, long documents, devices, precisions.

A random model tags arbitrary words as entities, which is what the offset properties need: many entities, in
every kind of text.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from offline_ner.data import iob2_violations
from offline_ner.errors import ExitCode, InferError, ModelNotFoundError
from offline_ner.infer import Entity, NerEngine
from offline_ner.infer.session import cuda_unavailable_reason

pytestmark = pytest.mark.usefixtures("no_network")

SENTENCES = [
    "Angela Merkel met Emmanuel Macron in Paris on Tuesday.",
    "The European Union fined Google 2.4 billion euros.",
    "José Mourinho was appointed manager of AS Roma?",
    "Zürich-based UBS completed its takeover of Credit Suisse.",
    "Tokyo (東京) hosted the Olympic Games in 2021.",
    "Mr. O'Neill of AT&T told CNN that the U.S. deal would close soon.",
]
HAS_CUDA = cuda_unavailable_reason() is None


@pytest.fixture(scope="module")
def engine(tiny_onnx_dir: Path) -> NerEngine:
    return NerEngine(tiny_onnx_dir, device="cpu", precision="fp32")


def assert_well_formed(text: str, entities: list[Entity]) -> None:
    previous_end = 0
    for entity in entities:
        assert text[entity.start : entity.end] == entity.text
        assert previous_end <= entity.start < entity.end <= len(text)
        assert not entity.text[0].isspace() and not entity.text[-1].isspace()
        assert 0.0 < entity.score <= 1.0
        previous_end = entity.end


def shift(entities: list[Entity], offset: int) -> list[tuple]:
    return [(e.type, e.start + offset, e.end + offset, e.text) for e in entities]


def test_every_entity_surface_is_the_text_at_its_offsets(engine: NerEngine) -> None:
    results = list(engine.predict(SENTENCES))
    assert sum(map(len, results)) > 10, "the random model should predict plenty of entities"
    for text, entities in zip(SENTENCES, results):
        assert_well_formed(text, entities)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=80), min_size=1, max_size=6))
@example(["café\u0301 naïve 👍🏽 \u200b Straße İstanbul ǅ ﬁ"])
@example(["", "   ", "\n\n", "\u00a0"])
def test_offsets_hold_for_any_text(engine: NerEngine, texts: list[str]) -> None:
    results = list(engine.predict(texts))
    assert len(results) == len(texts)
    for text, entities in zip(texts, results):
        assert_well_formed(text, entities)


def test_a_document_of_many_sentences_gives_the_entities_of_its_sentences(engine: NerEngine) -> None:
    document = " ".join(SENTENCES * 10)  # ~100 sentences, ~1,700 subword tokens: far beyond one model window
    one_by_one, offset = [], 0
    for sentence, entities in zip(SENTENCES * 10, engine.predict(SENTENCES * 10)):
        one_by_one += shift(entities, offset)
        offset += len(sentence) + 1
    [whole] = engine.predict([document])
    assert shift(whole, 0) == one_by_one


def test_issue_18_text_is_two_sentences_for_the_engine(tiny_onnx_dir: Path) -> None:
    fresh = NerEngine(tiny_onnx_dir, device="cpu")
    text = "He signed in Dec. 1980 with Kerrang ! Records in London. James W. Hoyt ( b. 1950 ) was its founder."
    list(fresh.predict([text]))
    assert fresh.stats.sentences == 2
    assert 0 < fresh.stats.tokenize_seconds < fresh.stats.seconds
    assert 0 < fresh.stats.to_json()["tokenize_share"] < 1


def test_a_sentence_longer_than_the_window_is_tagged_word_by_word_once(tiny_onnx_dir: Path) -> None:
    words = [f"Word{i % 7} Paris Berlin" for i in range(150)]  # one "sentence": no sentence-final punctuation
    text = " ".join(words)
    small = NerEngine(tiny_onnx_dir, device="cpu", max_seq_tokens=32, overlap_tokens=8)
    [entities] = small.predict([text])
    assert small.stats.tokens > 32 * 10, "the sentence must have been split into many windows"
    assert_well_formed(text, entities)
    [tags] = small.predict_tokens([text.split()])
    assert len(tags) == len(text.split())


def test_token_api_returns_one_tag_per_word(engine: NerEngine) -> None:
    sentences = [["EU", "rejects", "German", "call"], ["Peter", "Blackburn"], ["\u200b"], ["naïve", "👍"]]
    tags = list(engine.predict_tokens(sentences))
    assert [len(t) for t in tags] == [4, 2, 1, 2]
    assert tags[2] == ["O"], "a word with no subword token stays O"
    assert all(tag in engine.scheme.labels for sentence in tags for tag in sentence)


def test_tags_are_valid_iob2_by_default_and_argmax_is_kept_as_an_option(tiny_onnx_dir: Path) -> None:
    # the random model labels words independently: its argmax breaks IOB2 often, Viterbi never
    words = [sentence.split() for sentence in SENTENCES * 3] + [[f"Word{i % 7}", "Paris"] * 60 for i in range(3)]
    viterbi = NerEngine(tiny_onnx_dir, device="cpu", precision="fp32", max_seq_tokens=32, overlap_tokens=8)
    argmax = NerEngine(tiny_onnx_dir, device="cpu", precision="fp32", max_seq_tokens=32, overlap_tokens=8,
                       decode="argmax")
    decoded, plain = list(viterbi.predict_tokens(words)), list(argmax.predict_tokens(words))
    assert sum(len(iob2_violations(tags)) for tags in plain) > 0, "the random model should break IOB2"
    assert all(iob2_violations(tags) == [] for tags in decoded)
    assert all(d == p for d, p in zip(decoded, plain) if not iob2_violations(p)), "valid argmax tags stay as they are"
    assert viterbi.describe()["decode"] == "viterbi" and argmax.describe()["decode"] == "argmax"


def test_an_unknown_decoder_is_refused(tiny_onnx_dir: Path) -> None:
    with pytest.raises(ValueError, match="decode must be one of"):
        NerEngine(tiny_onnx_dir, device="cpu", decode="beam")


def test_empty_and_blank_documents_have_no_entities(engine: NerEngine) -> None:
    assert list(engine.predict(["", " ", "\n", "\t\n "])) == [[], [], [], []]
    assert list(engine.predict([])) == []


def test_stats_report_throughput_and_padding(tiny_onnx_dir: Path) -> None:
    fresh = NerEngine(tiny_onnx_dir, device="cpu")
    list(fresh.predict(SENTENCES * 50))
    assert fresh.stats.documents == 300 and fresh.stats.tokens > 0
    assert fresh.stats.padding_efficiency >= 0.9
    assert "tokens/s" in fresh.stats.line() and "padding efficiency" in fresh.stats.line()


@pytest.mark.skipif(HAS_CUDA, reason="this machine has CUDA")
def test_cpu_is_chosen_and_reported_without_cuda(tiny_onnx_dir: Path) -> None:
    auto = NerEngine(tiny_onnx_dir)
    chosen = auto.describe()
    assert chosen["device"] == "cpu" and chosen["providers"] == ["CPUExecutionProvider"]
    assert "not using CUDA: " in chosen["reason"]
    assert chosen["model_file"] == "model.onnx", "auto precision on CPU is fp32; int8 runs on request"


@pytest.mark.skipif(HAS_CUDA, reason="this machine has CUDA")
def test_device_cuda_without_cuda_is_a_clear_error(tiny_onnx_dir: Path) -> None:
    with pytest.raises(InferError, match="--device cpu") as caught:
        NerEngine(tiny_onnx_dir, device="cuda")
    assert caught.value.exit_code == ExitCode.INFER


def test_precision_picks_the_matching_graph(tiny_onnx_dir: Path, tmp_path: Path) -> None:
    assert NerEngine(tiny_onnx_dir, device="cpu", precision="int8").variant.file == "model_int8.onnx"
    assert NerEngine(tiny_onnx_dir, device="cpu", precision="fp32").variant.file == "model.onnx"
    assert NerEngine(tiny_onnx_dir, device="cpu", precision="fp16").variant.file == "model_gpu_fp16.onnx"


def test_int8_and_fp16_graphs_mostly_agree_with_fp32(tiny_onnx_dir: Path, engine: NerEngine) -> None:
    words = [s.split() for s in SENTENCES * 5]
    reference = np.concatenate(list(engine.predict_tokens(words)))
    for precision, floor in (("fp16", 0.99), ("int8", 0.75)):
        other = NerEngine(tiny_onnx_dir, device="cpu", precision=precision)
        tags = np.concatenate(list(other.predict_tokens(words)))
        assert (tags == reference).mean() >= floor, precision


def test_folder_that_is_not_an_export_is_model_not_found(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="offline-ner export"):
        NerEngine(tmp_path)


def test_inference_needs_neither_torch_nor_transformers(tiny_onnx_dir: Path) -> None:
    code = (
        "import sys\n"
        "from offline_ner.infer import NerEngine\n"
        f"engine = NerEngine({str(tiny_onnx_dir)!r}, device='cpu')\n"
        "list(engine.predict(['Angela Merkel visited Paris.']))\n"
        "heavy = [m for m in ('torch', 'transformers', 'optimum') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="needs CUDA")
def test_cuda_engine_with_io_binding_agrees_with_cpu(tiny_onnx_dir: Path, engine: NerEngine) -> None:
    gpu = NerEngine(tiny_onnx_dir, device="cuda")
    assert gpu.describe()["providers"][0] in ("CUDAExecutionProvider", "TensorrtExecutionProvider")
    assert "CUDAExecutionProvider" in ort.get_available_providers()
    words = [s.split() for s in SENTENCES * 5]
    gpu_tags = np.concatenate(list(gpu.predict_tokens(words)))
    agree = np.mean(gpu_tags == np.concatenate(list(engine.predict_tokens(words))))
    assert agree >= 0.99
