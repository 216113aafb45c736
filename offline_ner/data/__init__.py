"""Records and the formats they are read from and written to (CoNLL, JSONL, plain text, Label Studio, spaCy);
IOB2 rules.

Every stage imports this package; it imports no other stage and nothing heavy.
"""

from offline_ner.data.char_spans import CharSpan, SpanText, record_from_spans, spans_of_record
from offline_ner.data.conll import format_conll, format_conll_with_gold, iter_conll, read_conll, write_conll
from offline_ner.data.formats import (
    INPUT_FORMATS,
    RECORD_FORMATS,
    detect_format,
    iter_records,
    read_records,
    write_records,
)
from offline_ner.data.iob2 import (
    CONLL_TYPES,
    DECODERS,
    DEFAULT_DECODER,
    Span,
    agree_spans,
    iob2_violations,
    is_valid_tag,
    label_list,
    repair_iob2,
    spans_from_tags,
    tags_from_spans,
)
from offline_ner.data.jsonl import dumps_record, iter_json_lines, iter_jsonl, parse_record, read_jsonl, write_jsonl
from offline_ner.data.records import SAMPLE_TAGS_KEY, Document, Record, require_tags, unique_ids
from offline_ner.data.text import (
    decode_text,
    iter_sentences,
    iter_text_folder,
    iter_text_lines,
    iter_tokenized_sentences,
    read_text_file,
    sentence_records,
    split_sentences,
    text_tokenizer,
    tokenize,
    tokenized_sentences,
    tokenizer_mismatch,
)

__all__ = [
    "CONLL_TYPES",
    "DECODERS",
    "DEFAULT_DECODER",
    "INPUT_FORMATS",
    "RECORD_FORMATS",
    "SAMPLE_TAGS_KEY",
    "CharSpan",
    "Document",
    "Record",
    "Span",
    "SpanText",
    "agree_spans",
    "decode_text",
    "detect_format",
    "dumps_record",
    "format_conll",
    "format_conll_with_gold",
    "iob2_violations",
    "is_valid_tag",
    "iter_conll",
    "iter_json_lines",
    "iter_jsonl",
    "iter_records",
    "iter_sentences",
    "iter_text_folder",
    "iter_text_lines",
    "iter_tokenized_sentences",
    "label_list",
    "parse_record",
    "read_conll",
    "read_jsonl",
    "read_records",
    "read_text_file",
    "record_from_spans",
    "repair_iob2",
    "require_tags",
    "sentence_records",
    "spans_from_tags",
    "spans_of_record",
    "split_sentences",
    "tags_from_spans",
    "text_tokenizer",
    "tokenize",
    "tokenized_sentences",
    "tokenizer_mismatch",
    "unique_ids",
    "write_conll",
    "write_jsonl",
    "write_records",
]
