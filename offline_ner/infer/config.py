"""The inference engine's settings. Pure data; :func:`offline_ner.config.load_config` fills it from YAML.

Example::

    engine = NerEngine("runs/onnx", InferConfig(device="cpu", max_batch_tokens=2048))
"""

from __future__ import annotations

from dataclasses import dataclass

from offline_ner.data.iob2 import DECODERS, DEFAULT_DECODER
from offline_ner.data.windows import OVERLAP_TOKENS, WINDOW_TOKENS

DEVICES = ("auto", "cuda", "cpu")
PRECISIONS = ("auto", "fp32", "fp16", "int8")
# Ray engine (offline_ner.infer.ray_engine), here so the CLI can name them without importing Ray:
# BLOCK_CHARS: text per block, and so per model call of one actor (characters, about Arrow bytes): small enough that a small
# input still gives every actor several blocks and the last one leaves little idle time (300 BBC articles: ~19
# blocks of ~2 s for one thread; one 512-document batch had left one of two actors idle: 2.03x), large
# enough to lose nothing: one thread tagged 120 BBC articles in 12.71 s in 32k chunks, 12.59 s in 64k, 12.81 s in
# one 1 M chunk (16k: 13.90 s), padding efficiency 0.977 against 0.998 (BENCHMARKS.md, Ray Data engine)
BLOCK_CHARS = 32 * 1024
ACTOR_THREADS = 1  # ORT threads (and CPUs reserved) per actor: one actor per core scales best on CPU nodes


@dataclass(frozen=True)
class InferConfig:
    """How :class:`~offline_ner.infer.NerEngine` runs."""

    # auto: CUDA when a session really gets the CUDA provider, else CPU (the choice and reason are reported)
    device: str = "auto"
    # auto: fp16 fused graph on CUDA, fp32 on CPU (int8, when exported, on request: model_dir.PREFERENCES says why)
    precision: str = "auto"
    # subword tokens per batch (rows x padded width); 4,096 gave the best CPU throughput (scripts/bench_infer.py)
    max_batch_tokens: int = 4096
    # rows per batch cap, so a flood of 3-token sentences does not build one giant batch of tiny rows
    max_batch_size: int = 512
    # model window including [CLS]/[SEP], and the tokens consecutive windows share (offline_ner.data.windows)
    max_seq_tokens: int = WINDOW_TOKENS
    overlap_tokens: int = OVERLAP_TOKENS
    # split documents into sentences first (the model was trained on sentences); else only windows
    split_sentences: bool = True
    # intra-op threads; None = physical cores (hyper-threads share FMA units; more threads only contend)
    threads: int | None = None
    # ORT session graph optimisation; "all" measured fastest for the plain graph on CPU (scripts/bench_infer.py)
    graph_optimization: str = "all"
    # characters of input gathered before sorting into batches: big enough for >= 0.9 padding efficiency,
    # small enough that memory stays flat on any input size
    chunk_chars: int = 1_000_000
    # CPU threads busy-wait between operators; off: on the shared 2-core box (load ~8) spinning cut throughput
    # by 1.6x (fp32) and 1.8x (int8); on a dedicated host it gains a few percent at most
    spin_wait: bool = False
    # try the TensorRT provider before CUDA (needs TensorRT libraries; first run builds engines, slowly)
    tensorrt: bool = False
    # viterbi: each sentence's best-scoring valid IOB2 tags; argmax: each word's own best label (EXPERIMENTS.md)
    decode: str = DEFAULT_DECODER

    def __post_init__(self) -> None:
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, not {self.device!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, not {self.precision!r}")
        if self.decode not in DECODERS:
            raise ValueError(f"decode must be one of {DECODERS}, not {self.decode!r}")
        if not 0 <= self.overlap_tokens < self.max_seq_tokens - 2:
            raise ValueError("overlap_tokens must be smaller than max_seq_tokens - 2")
