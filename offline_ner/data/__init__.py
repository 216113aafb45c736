"""Records and the formats they are read from and written to (CoNLL, JSONL, plain text); IOB2 rules.

Every stage imports this package; it imports no other stage and nothing heavy.
"""

from offline_ner.data.conll import format_conll, iter_conll, read_conll, write_conll
from offline_ner.data.formats import read_records
from offline_ner.data.iob2 import (
    CONLL_TYPES,
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
from offline_ner.data.records import SAMPLE_TAGS_KEY, Document, Record
from offline_ner.data.text import (
    decode_text,
    iter_text_folder,
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
    "SAMPLE_TAGS_KEY",
    "Document",
    "Record",
    "Span",
    "agree_spans",
    "decode_text",
    "dumps_record",
    "format_conll",
    "iob2_violations",
    "is_valid_tag",
    "iter_conll",
    "iter_json_lines",
    "iter_jsonl",
    "iter_text_folder",
    "iter_tokenized_sentences",
    "label_list",
    "parse_record",
    "read_conll",
    "read_jsonl",
    "read_records",
    "read_text_file",
    "repair_iob2",
    "sentence_records",
    "spans_from_tags",
    "split_sentences",
    "tags_from_spans",
    "text_tokenizer",
    "tokenize",
    "tokenized_sentences",
    "tokenizer_mismatch",
    "write_conll",
    "write_jsonl",
]
