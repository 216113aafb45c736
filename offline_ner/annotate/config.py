"""The annotate stage's settings: one frozen dataclass, loaded from YAML by ``offline_ner.config.load_config``.

Example::

    cfg = load_config("annotate.yaml", AnnotateConfig, overrides=["model=gpt-4o-mini", "concurrency=4"])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

# strictest first: the order the client falls back in when an endpoint rejects a format
ResponseFormat = Literal["json_schema", "json_object", "none"]
DemosSelect = Literal["first", "knn"]
RESPONSE_FORMATS: tuple[str, ...] = get_args(ResponseFormat)
DEMOS_SELECTS: tuple[str, ...] = get_args(DemosSelect)


@dataclass(frozen=True)
class AnnotateConfig:
    """What shapes the requests (model, template, parameters) and how they are sent (transport limits)."""

    # the paper labels with GPT-4; gpt-4o is its current, cheaper successor
    model: str = "gpt-4o"
    # None = api.openai.com; set it for Azure OpenAI, vLLM, llama.cpp, Ollama, or the replay server
    base_url: str | None = None
    # the key is read from this environment variable and never written anywhere
    api_key_env: str = "OPENAI_API_KEY"
    # built-in name (fewshot_conll, cot_conll) or a template JSON file
    template: str = "fewshot_conll"
    # labelled train/dev demonstrations shown before each sentence (the paper uses a few shots)
    n_demos: int = 3
    # first: the same n_demos labelled records for every input; knn: per input its n_demos nearest pool sentences
    # (all-MiniLM-L6-v2 embeddings): GPT-NER measured F1 0.825 with kNN demonstrations vs 0.642 with random ones
    demos_select: DemosSelect = "first"
    # 0 makes replies as repeatable as the endpoint allows; raise it for k-of-n agreement sampling
    temperature: float = 0.0
    # a CoNLL sentence's JSON answer is < 300 tokens; CoT answers are longer
    max_tokens: int = 1024
    # sent when set: endpoints that support it make sampling reproducible
    seed: int | None = None
    # strictest format tried first; an endpoint that rejects it falls back to json_object, then none
    response_format: ResponseFormat = "json_schema"
    # parallel requests: 16 keeps a 200 ms endpoint busy without tripping typical rate limits
    concurrency: int = 16
    # client-side limits (None = unlimited); set them just under the account's limits
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    # a reply slower than this is retried: long CoT answers from GPT-4 take tens of seconds
    timeout_s: float = 120.0
    # attempts per request including the first, for 429 / 5xx / timeouts (quota, auth, context: one attempt)
    max_attempts: int = 5
    # exponential backoff base when the server gives no Retry-After
    backoff_s: float = 1.0
    # a Retry-After longer than this is reported as a failure instead of sleeping for it
    max_retry_after_s: float = 300.0
    # n samples per sentence (repeated calls); with agree_k, keep entities that k of n samples agree on
    samples: int = 1
    agree_k: int | None = None
    # self-verification (GPT-NER): one more request per sentence with entities; the model confirms each entity's
    # type and rejected entities are dropped (fewer false positives, about 1.4x the requests on CoNLL)
    verify: bool = False
    # drop records whose reply disagreed with the tokens (not found, overlaps, unknown types)
    drop_alignment_problems: bool = False
    # share of records (0-1) that may end without a usable reply (unparsable, cut off, missing) before the run
    # fails with exit 15; 0: any failed record fails the run, as a run that produced less than asked must (the
    # folder is written either way, the failures listed in provenance.json)
    max_failed: float = 0.0
    # planning only: expected output tokens per request for the cost estimate (the bound is max_tokens)
    expected_output_tokens: int = 120
