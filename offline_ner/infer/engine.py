"""The batch NER engine: raw documents (or pre-tokenised sentences) in, entities with character offsets out.

Pipeline per chunk of input (a chunk is ~1 MB of text, so memory stays flat however long the input):
documents are split into sentences and words (``offline_ner.data``: CoNLL-style words with offsets, by the text
tokenizer that the export records; an export recording another one is refused), the fast tokenizer turns all
words of the chunk into subwords in one ``encode_batch`` call (pre-tokenised, so subword to word mapping comes
from ``word_ids`` and never from re-reading lowercased or accent-stripped text), sentences
longer than the model window become overlapping windows (``windows.py``), sequences are sorted into batches under
a token budget (``batching.py``), and each word takes the label of its first subword, the position the trainer
put the label on. Each sentence's word labels are the best-scoring valid IOB2 sequence (constrained Viterbi,
``offline_ner.data.viterbi``; ``decode="argmax"`` keeps each word's own best label). Decoding words to entities is
vectorised over the whole chunk (``entities.py``). Offsets come
from the word offsets into the original text, so ``text[start:end]`` is always the entity's surface. A document
longer than a chunk is a stream of its own: its sentences are read from the text tokenizer's stream and tagged a
chunk at a time as its entities are read (:meth:`NerEngine.predict_stream`), so its memory is a chunk's.

Needs only ``tokenizers``, ``onnxruntime``, ``numpy`` and spaCy's rule-based tokenizer: no torch, no transformers.

Example::

    engine = NerEngine("runs/onnx", device="auto")
    for entities in engine.predict(["Angela Merkel visited Paris."]):
        print([(e.type, e.start, e.end, e.text) for e in entities])
    print(engine.stats.line())
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from tokenizers import Tokenizer

from offline_ner.contracts import Variant
from offline_ner.data import iter_sentences, iter_tokenized_sentences, tokenizer_mismatch
from offline_ner.data.text import Token
from offline_ner.data.viterbi import IOB2Constraints, decode_labels, log_softmax
from offline_ner.data.windows import plan_windows
from offline_ner.errors import InferError
from offline_ner.infer.batching import plan_batches
from offline_ner.infer.config import InferConfig
from offline_ner.infer.entities import Entity, LabelScheme, decode_spans, span_scores
from offline_ner.infer.model_dir import ModelFolder, read_model_folder
from offline_ner.infer.session import Runner, cuda_unavailable_reason, open_runner, physical_cores

T = TypeVar("T")


@dataclass
class Throughput:
    """Running totals of one engine: documents, sentences, real and padded tokens, seconds spent inferring."""

    documents: int = 0
    sentences: int = 0
    tokens: int = 0
    padded_tokens: int = 0
    seconds: float = 0.0
    tokenize_seconds: float = 0.0  # of ``seconds``: raw text split into sentences and words (not subwords)
    max_chunk_chars: int = 0  # the most characters of text tagged at once: what bounds memory (a long text is cut)

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0

    @property
    def documents_per_s(self) -> float:
        return self.documents / self.seconds if self.seconds else 0.0

    @property
    def tokenize_share(self) -> float:
        """The fraction of inference time spent splitting raw text into sentences and words."""
        return self.tokenize_seconds / self.seconds if self.seconds else 0.0

    @property
    def padding_efficiency(self) -> float:
        """Real tokens over tokens computed (padding included); 1.0 means no padding."""
        return self.tokens / self.padded_tokens if self.padded_tokens else 1.0

    def line(self) -> str:
        return (
            f"{self.documents} documents, {self.tokens} tokens in {self.seconds:.2f} s: "
            f"{self.documents_per_s:.1f} documents/s, {self.tokens_per_s:.0f} tokens/s, "
            f"padding efficiency {self.padding_efficiency:.3f}, text tokenisation {self.tokenize_share:.1%} of the time"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            **dataclasses.asdict(self),
            "tokens_per_s": round(self.tokens_per_s, 1),
            "documents_per_s": round(self.documents_per_s, 2),
            "padding_efficiency": round(self.padding_efficiency, 4),
            "tokenize_share": round(self.tokenize_share, 4),
        }


@dataclass
class _Sequence:
    """One model input row and where its first-subword positions send their labels."""

    body: np.ndarray  # subword ids without the special tokens the batch adds around them
    positions: np.ndarray  # positions in body of the first subword of each word this row labels
    words: np.ndarray  # flat word indices (over the chunk) those positions label


def _chunks(items: Iterable[T], budget: int, size: Any) -> Iterator[list[T]]:
    """Consecutive lists of items whose ``size`` adds up to about ``budget`` (at least one item each)."""
    chunk: list[T] = []
    total = 0
    for item in items:
        chunk.append(item)
        total += size(item)
        if total >= budget:
            yield chunk
            chunk, total = [], 0
    if chunk:
        yield chunk


class NerEngine:
    """Batch NER over an ONNX export folder, on CUDA when available, else CPU.

    Args:
        onnx_dir: a folder written by ``offline-ner export``, or a stock optimum token-classification export.
        config: engine settings; ``overrides`` replace single fields (``NerEngine(d, device="cpu")``).

    Raises:
        ModelNotFoundError: ``onnx_dir`` is not an export folder.
        InferError: unusable labels or graph, or ``device="cuda"`` without a working CUDA provider.
    """

    def __init__(self, onnx_dir: str | Path, config: InferConfig | None = None, **overrides: Any) -> None:
        self.config = dataclasses.replace(config or InferConfig(), **overrides)
        self.folder: ModelFolder = read_model_folder(onnx_dir)
        try:
            self.scheme = LabelScheme.from_labels(self.folder.labels)
        except ValueError as err:
            raise InferError(f"{self.folder.path}: {err}; the engine decodes IOB2 labels") from err
        self._constraints = IOB2Constraints.from_labels(self.scheme.labels)
        self._tokenizer = Tokenizer.from_file(str(self.folder.tokenizer_path))
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        template = self._tokenizer.encode(["x"], is_pretokenized=True, add_special_tokens=True)
        word_at = template.word_ids.index(0)
        self._prefix = np.array(template.ids[:word_at], dtype=np.int64)
        self._suffix = np.array(template.ids[template.word_ids.index(0, word_at) + 1 :], dtype=np.int64)
        self._pad_id = next(
            (i for i in map(self._tokenizer.token_to_id, ("[PAD]", "<pad>")) if i is not None), 0
        )
        self.max_seq_tokens = min(self.config.max_seq_tokens, self.folder.max_positions)
        self.threads = self.config.threads or physical_cores()
        self.runner, self.variant, self.device_reason = self._open()
        self.stats = Throughput()

    @property
    def device(self) -> str:
        return self.runner.device

    @property
    def precision(self) -> str:
        return str(self.variant.precision)

    def describe(self) -> dict[str, Any]:
        """Which device, provider, graph and thread count the engine chose, and why."""
        return {
            "device": self.device,
            "providers": self.runner.providers,
            "model_file": self.variant.file,
            "precision": self.precision,
            "batch_independent": self.variant.batch_independent,
            "threads": self.threads,
            "decode": self.config.decode,
            "reason": self.device_reason,
            "origin": self.folder.origin,
        }

    def _open(self) -> tuple[Runner, Variant, str]:
        cfg = self.config
        options: dict[str, Any] = {
            "threads": self.threads, "graph_level": cfg.graph_optimization, "spin_wait": cfg.spin_wait,
            "tensorrt": cfg.tensorrt,
        }
        reason = cuda_unavailable_reason() if cfg.device != "cpu" else None
        if cfg.device == "auto" and cfg.precision == "int8":
            reason = "int8 graphs are for the CPU"
        if cfg.device != "cpu" and reason is None:
            try:
                variant = self.folder.variant_for("cuda", cfg.precision)
                runner = open_runner(self.folder.path / variant.file, device="cuda", **options)
                return runner, variant, "CUDA provider available"
            except InferError as err:
                if cfg.device == "cuda":
                    raise
                reason = str(err)
        if cfg.device == "cuda":
            raise InferError(f"--device cuda: {reason}; use --device cpu or --device auto to run on the CPU")
        variant = self.folder.variant_for("cpu", cfg.precision)
        why = "CPU requested" if cfg.device == "cpu" else f"not using CUDA: {reason}; running on the CPU"
        return open_runner(self.folder.path / variant.file, device="cpu", **options), variant, why

    # -- public API ------------------------------------------------------------------------------------------

    def predict(self, texts: Iterable[str]) -> Iterator[list[Entity]]:
        """Entities of each text, in input order, as each chunk of input finishes (streaming).

        Raises:
            InferError: the export records another text tokenizer than this installation's (the model would
                see words cut differently from its training data), or none.
        """
        for entities in self.predict_stream(texts):
            yield list(entities)

    def predict_stream(self, texts: Iterable[str]) -> Iterator[Iterator[Entity]]:
        """Like :meth:`predict`, but each text's entities come as an iterator, so one document of any size is
        tagged in memory bounded by a chunk, not by the document.

        A text longer than ``config.chunk_chars`` is tagged on its own, a chunk of its sentences at a time, as its
        iterator is read (:meth:`_stream_document`): neither its words nor all its entities are ever held at once.
        Its entities are the ones :meth:`predict` gives. Read each iterator before asking for the next: what is
        left unread of one is tagged and dropped then. (With ``split_sentences=False`` a document is one
        sentence, decoded whole, so a long one is tagged in one piece, as before.)

        Raises:
            InferError: as :meth:`predict`.
        """
        problem = tokenizer_mismatch(self.folder.text_tokenizer) if self.folder.origin == "offline-ner" else None
        if problem:
            raise InferError(f"{self.folder.path}: {problem}; re-export the model with this installation")
        limit = self.config.chunk_chars
        chunk: list[str] = []
        total = 0
        for text in texts:
            if len(text) > limit and self.config.split_sentences:
                yield from self._predict_chunk(chunk)
                chunk, total = [], 0
                entities = self._stream_document(text)
                yield entities
                for _ in entities:  # the consumer moved on without reading it all
                    pass
                continue
            chunk.append(text)
            total += len(text) + 1
            if total >= limit:  # as :func:`_chunks` cuts
                yield from self._predict_chunk(chunk)
                chunk, total = [], 0
        yield from self._predict_chunk(chunk)

    def predict_tokens(self, sentences: Iterable[Sequence[str]]) -> Iterator[list[str]]:
        """IOB2 tags for pre-tokenised sentences (e.g. CoNLL input), one tag per given word; a generator, streaming
        like :meth:`predict` (``list(...)`` it for a list)."""
        size = lambda words: sum(len(word) + 1 for word in words)
        for chunk in _chunks(sentences, self.config.chunk_chars, size):
            started = time.perf_counter()
            word_lists = [list(words) for words in chunk]
            label_ids, _ = self._tag_words(word_lists)
            labels = np.array(self.scheme.labels, dtype=object)[label_ids]
            bounds = np.cumsum([0] + [len(words) for words in word_lists])
            self.stats.seconds += time.perf_counter() - started
            self.stats.documents += len(chunk)
            for k in range(len(word_lists)):
                yield list(labels[bounds[k] : bounds[k + 1]])

    # -- internals -------------------------------------------------------------------------------------------

    def _predict_chunk(self, texts: list[str]) -> Iterator[Iterator[Entity]]:
        """The entities of a chunk of texts (each ~1 MB or less in all), one iterator per text."""
        if not texts:
            return
        started = time.perf_counter()
        documents = list(iter_tokenized_sentences(texts))
        if not self.config.split_sentences:
            documents = [[[token for sentence in sentences for token in sentence]] if sentences else []
                         for sentences in documents]
        self.stats.tokenize_seconds += time.perf_counter() - started
        results = self._entities(documents, texts)
        self.stats.seconds += time.perf_counter() - started
        self.stats.documents += len(texts)
        self.stats.max_chunk_chars = max(self.stats.max_chunk_chars, sum(map(len, texts)))
        for entities in results:
            yield iter(entities)

    def _stream_document(self, text: str) -> Iterator[Entity]:
        """The entities of one long text, tagged a chunk of its sentences (``config.chunk_chars``) at a time.

        Sentences come from the text tokenizer's stream (:func:`offline_ner.data.iter_sentences`), so only one
        chunk's words, subwords and scores exist at a time; sentences are tagged independently, so the entities
        are those of tagging the whole text at once. A text with no sentence end is cut into lines and pieces
        of at most ``MAX_PIECE_CHARS`` characters, each a sentence windowed like any long sentence.
        """
        sentences = iter_sentences((text,))
        self.stats.documents += 1
        while True:
            started = time.perf_counter()
            chunk: list[list[Token]] = []
            chars = 0
            for sentence in sentences:
                chunk.append(sentence)
                chars += sentence[-1][2] - sentence[0][1] + 1
                if chars >= self.config.chunk_chars:
                    break
            self.stats.tokenize_seconds += time.perf_counter() - started
            if not chunk:
                return
            (entities,) = self._entities([chunk], [text])
            self.stats.seconds += time.perf_counter() - started
            self.stats.max_chunk_chars = max(self.stats.max_chunk_chars, chunk[-1][-1][2] - chunk[0][0][1])
            yield from entities

    def _entities(self, documents: list[list[list[Token]]], texts: Sequence[str]) -> list[list[Entity]]:
        """Entities of texts from their sentences (``documents[k]``: the sentences, as tokens, of ``texts[k]``)."""
        word_lists: list[list[str]] = []
        starts: list[int] = []
        ends: list[int] = []
        doc_of_word: list[int] = []
        sentence_start: list[bool] = []
        for doc, sentences in enumerate(documents):
            for tokens in sentences:
                word_lists.append([token for token, _, _ in tokens])
                starts.extend(start for _, start, _ in tokens)
                ends.extend(stop for _, _, stop in tokens)
                doc_of_word.extend([doc] * len(tokens))
                sentence_start.extend([True] + [False] * (len(tokens) - 1))
        results: list[list[Entity]] = [[] for _ in texts]
        if not word_lists:
            return results
        label_ids, word_scores = self._tag_words(word_lists)
        first, last, types = decode_spans(self.scheme, label_ids, np.array(sentence_start))
        scores = span_scores(first, last, word_scores)
        char_start, char_end = np.array(starts)[first], np.array(ends)[last]
        docs = np.array(doc_of_word)[first]
        for k in range(first.size):
            doc, start, end = int(docs[k]), int(char_start[k]), int(char_end[k])
            entity = Entity(self.scheme.types[types[k]], start, end, texts[doc][start:end], round(float(scores[k]), 4))
            results[doc].append(entity)
        return results

    def _sequences(self, word_lists: list[list[str]]) -> tuple[list[_Sequence], int]:
        """Model rows for every sentence (windows for long ones) and the chunk's total word count.

        The chunk's subwords are flattened into one array and every per-word quantity (subword count, first
        position) is computed once for the whole chunk; a sentence that fits the window is then just slices.
        """
        encodings = self._tokenizer.encode_batch(word_lists, is_pretokenized=True, add_special_tokens=False)
        sizes = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings))
        n_subwords = int(sizes.sum())
        ids = np.fromiter(itertools.chain.from_iterable(e.ids for e in encodings), np.int64, n_subwords)
        local = np.fromiter(itertools.chain.from_iterable(e.word_ids for e in encodings), np.int64, n_subwords)
        n_words = np.fromiter(map(len, word_lists), dtype=np.int64, count=len(word_lists))
        word_base = np.cumsum(n_words) - n_words
        subword_base = np.cumsum(sizes) - sizes
        total_words = int(n_words.sum())
        counts = np.bincount(local + np.repeat(word_base, sizes), minlength=total_words)
        # words with no subword (e.g. a zero-width space) get no position and stay O
        labelled = np.flatnonzero(counts)
        first = (np.cumsum(counts) - counts)[labelled]  # flat subword index of each labelled word's first piece
        bounds = np.searchsorted(labelled, np.append(word_base, total_words))
        sentence_of = np.repeat(np.arange(len(word_lists)), np.diff(bounds))
        positions = first - subword_base[sentence_of]  # relative to the sentence's first subword
        budget = self.max_seq_tokens - len(self._prefix) - len(self._suffix)
        rows: list[_Sequence] = []
        for k in range(len(word_lists)):
            start, size = int(subword_base[k]), int(sizes[k])
            if size == 0:
                continue
            if size <= budget:
                span = slice(bounds[k], bounds[k + 1])
                rows.append(_Sequence(ids[start : start + size], positions[span], labelled[span]))
            else:
                words = slice(int(word_base[k]), int(word_base[k] + n_words[k]))
                rows.extend(self._windows(ids[start : start + size], counts[words], budget, int(word_base[k])))
        self.stats.sentences += len(word_lists)
        return rows, total_words

    def _windows(self, ids: np.ndarray, counts: np.ndarray, budget: int, base: int) -> list[_Sequence]:
        """Overlapping windows over one long sentence; a word longer than a window keeps its first subwords."""
        clipped = np.minimum(counts, budget)
        cum = np.concatenate(([0], np.cumsum(counts)))
        cum_clipped = np.concatenate(([0], np.cumsum(clipped)))
        rows = []
        for window in plan_windows(clipped, budget, self.config.overlap_tokens):
            a, b = window.start, window.end
            # subword index of each kept token: clipped position + how much earlier words were clipped
            index = np.repeat(cum[a:b] - cum_clipped[a:b], clipped[a:b]) + np.arange(cum_clipped[a], cum_clipped[b])
            owned = np.arange(window.own_start, window.own_end)
            owned = owned[counts[owned] > 0]
            rows.append(_Sequence(ids[index], cum_clipped[owned] - cum_clipped[a], owned + base))
        return rows

    def _tag_words(self, word_lists: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
        """Label id and its probability for every word of ``word_lists`` (flattened), by batched inference and
        decoding each word list (a sentence) under the configured decoder."""
        rows, n_words = self._sequences(word_lists)
        # a word with no subword (e.g. a zero-width space) gets no logits: it is O, with probability 1
        scores = np.full((n_words, len(self.scheme.labels)), -np.inf, dtype=np.float32)
        scores[:, self.scheme.outside] = 0.0
        if rows:
            self._score_rows(rows, scores)
        lengths = np.fromiter(map(len, word_lists), dtype=np.int64, count=len(word_lists))
        label_ids = decode_labels(scores, lengths, self._constraints, self.config.decode)
        return label_ids, np.exp(scores[np.arange(n_words), label_ids])

    def _score_rows(self, rows: list[_Sequence], scores: np.ndarray) -> None:
        """Fill ``scores`` (words x labels) with the label log-probabilities of every word the rows label."""
        lead, tail = len(self._prefix), len(self._suffix)
        lengths = np.fromiter((row.body.size + lead + tail for row in rows), dtype=np.int64, count=len(rows))
        for batch in plan_batches(lengths, self.config.max_batch_tokens, self.config.max_batch_size):
            width = int(lengths[batch].max())
            input_ids = np.full((batch.size, width), self._pad_id, dtype=np.int64)
            mask = np.zeros((batch.size, width), dtype=np.int64)
            input_ids[:, :lead] = self._prefix
            flat, words = [], []
            for r, index in enumerate(batch):
                row = rows[index]
                end = lead + row.body.size
                input_ids[r, lead:end] = row.body
                input_ids[r, end : end + tail] = self._suffix
                mask[r, : end + tail] = 1
                flat.append(row.positions + (r * width + lead))
                words.append(row.words)
            feed = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)}
            logits = self.runner.run(feed)
            scores[np.concatenate(words)] = log_softmax(logits.reshape(-1, logits.shape[-1])[np.concatenate(flat)])
            self.stats.tokens += int(lengths[batch].sum())
            self.stats.padded_tokens += batch.size * width
