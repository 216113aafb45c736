"""Every error offline_ner raises on purpose, and every exit code the CLI can return.

Hostile or broken input raises an :class:`OfflineNerError`; calling the API wrongly is a bug and raises
``ValueError``/``RuntimeError`` (exit 1). Each class carries its exit code, so the CLI maps errors to codes in one
place and the numbers live only in :class:`ExitCode`, their wording only in :data:`EXIT_CODE_MEANINGS` (docs/exit-codes.md's table
is checked against both, ``docs/bundle-format.md``'s against the numbers, by tests; every command's ``--help`` is built
from them).
An error may carry a ``report`` (:class:`Report`): what the operation found before it failed::

    OfflineNerError
    ├── ConfigError                 bad YAML, unknown or ill-typed key
    │   └── MissingExtraError       an optional part (a pip extra: predict, gpu, train, connected) is not installed
    ├── DataError                   malformed CoNLL / JSONL / text input (file, line, what was expected)
    ├── ModelNotFoundError          a base model or model folder that is not on disk (never downloaded)
    ├── LabelFilesError             a model folder's label files (labels.json, config.json, export.json) disagree
    ├── TrainError
    ├── ExportError
    │   └── ExportValidationError   the ONNX graph disagrees with PyTorch
    ├── InferError
    │   ├── EngineInputError        input or output format the chosen engine does not read or write (exit 2)
    │   └── ShardError              shard outputs that do not cover the input exactly once
    ├── AnnotateError               connected side
    │   ├── LLMAuthError, LLMQuotaError, LLMContextLengthError, LLMTransportError, LLMReplyError
    │   └── BudgetExceededError
    └── BundleError                 the bundle is malformed
        ├── SignatureError, UnknownKeyError, ThresholdError, PolicyError
        ├── ExpiredError, RollbackError
        ├── HashMismatchError, MissingFileError, ExtraFileError
        ├── UnsafePathError, LimitExceededError
        └── KeyFileError, TrustStoreError

Example::

    try:
        verify_bundle(path, trust)
    except OfflineNerError as err:
        sys.exit(err.exit_code)
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from typing import Any, ClassVar, Protocol


class ExitCode(IntEnum):
    """Process exit codes. 1 and 2 follow click (unexpected error, usage error)."""

    OK = 0
    INTERNAL = 1
    USAGE = 2
    CONFIG = 3
    DATA = 4
    MODEL_NOT_FOUND = 5
    TRAIN = 6
    EXPORT = 7
    EXPORT_VALIDATION = 8
    INFER = 9
    ANNOTATE = 10
    LLM_AUTH = 11
    LLM_QUOTA = 12
    LLM_CONTEXT_LENGTH = 13
    LLM_TRANSPORT = 14
    LLM_REPLY = 15
    BUDGET_EXCEEDED = 16
    SHARD = 17
    LABEL_FILES = 18
    BUNDLE_FORMAT = 20
    SIGNATURE = 21
    UNKNOWN_KEY = 22
    THRESHOLD = 23
    POLICY = 24
    EXPIRED = 25
    ROLLBACK = 26
    HASH_MISMATCH = 27
    MISSING_FILE = 28
    EXTRA_FILE = 29
    UNSAFE_PATH = 30
    LIMIT_EXCEEDED = 31
    KEY_FILE = 32
    TRUST_STORE = 33
    TARGET = 34  # install.sh only: this host is not the runtime bundle's target (Python version, glibc, CPU)
    REVOKED_KEY = 35

    @property
    def meaning(self) -> str:
        """What the code means, as docs/exit-codes.md's table and every command's ``--help`` say it."""
        return EXIT_CODE_MEANINGS[self]


# the one wording of each code: docs/exit-codes.md's table is checked against it, each command's --help is built from it
EXIT_CODE_MEANINGS: Mapping[ExitCode, str] = {
    ExitCode.OK: "success",
    ExitCode.INTERNAL: "unexpected error (`--debug` shows a traceback)",
    ExitCode.USAGE: "usage error",
    ExitCode.CONFIG: "config error",
    ExitCode.DATA: "bad input data (file and line named)",
    ExitCode.MODEL_NOT_FOUND: "model not found (never downloaded)",
    ExitCode.TRAIN: "training failed",
    ExitCode.EXPORT: "export failed",
    ExitCode.EXPORT_VALIDATION: "exported graph disagrees with PyTorch",
    ExitCode.INFER: "inference failed",
    ExitCode.ANNOTATE: "annotation failed",
    ExitCode.LLM_AUTH: "LLM endpoint rejected the API key",
    ExitCode.LLM_QUOTA: "LLM quota exhausted",
    ExitCode.LLM_CONTEXT_LENGTH: "request exceeds the model's context",
    ExitCode.LLM_TRANSPORT: "LLM endpoint kept failing after retries",
    ExitCode.LLM_REPLY: "more records than `--max-failed` allows have no usable LLM reply (folder kept)",
    ExitCode.BUDGET_EXCEEDED: "`--budget` reached (results so far kept)",
    ExitCode.SHARD: "shards do not cover the input exactly once (`predict-merge`)",
    ExitCode.LABEL_FILES: "a model folder's labels.json, config.json and export.json disagree",
    ExitCode.BUNDLE_FORMAT: "bundle malformed (magic, envelope, manifest)",
    ExitCode.SIGNATURE: "bad or missing signature",
    ExitCode.UNKNOWN_KEY: "signed only by unknown keys",
    ExitCode.THRESHOLD: "signature threshold not met",
    ExitCode.POLICY: "role not allowed for this kind or path",
    ExitCode.EXPIRED: "bundle expired",
    ExitCode.ROLLBACK: "rollback: sequence not newer than the last accepted",
    ExitCode.HASH_MISMATCH: "file size or sha256 differs from the manifest",
    ExitCode.MISSING_FILE: "listed file missing",
    ExitCode.EXTRA_FILE: "unlisted or out-of-order file, trailing data",
    ExitCode.UNSAFE_PATH: "unsafe path or member type",
    ExitCode.LIMIT_EXCEEDED: "size or count limit exceeded",
    ExitCode.KEY_FILE: "key file unreadable or wrong passphrase",
    ExitCode.TRUST_STORE: "trust store missing, corrupt or invalid change",
    ExitCode.TARGET: "`install.sh`: host is not the runtime bundle's target (Python, glibc, CPU)",
    ExitCode.REVOKED_KEY: "signed only by revoked keys",
}


class Report(Protocol):
    """What a failed operation had found or written when it stopped (a verification report, the checks of every
    exported graph, the partial annotation folder); ``--json`` prints it beside the error."""

    def to_json(self) -> dict[str, Any]: ...


class OfflineNerError(Exception):
    """Root of every error that offline_ner raises for bad input or a failed operation."""

    exit_code: ClassVar[ExitCode] = ExitCode.INTERNAL
    report: Report | None = None

    def __init__(self, *args: object, report: Report | None = None) -> None:
        super().__init__(*args)
        self.report = report


class ConfigError(OfflineNerError):
    """A YAML config file or a config key is invalid."""

    exit_code = ExitCode.CONFIG


class MissingExtraError(ConfigError):
    """The installation lacks the pip extra that a command needs (``offline_ner._extras`` names which)."""


class DataError(OfflineNerError):
    """Input data is malformed; the message names the file and line."""

    exit_code = ExitCode.DATA

    def __init__(
        self, message: str, *, path: object = None, line: int | None = None, report: Report | None = None
    ) -> None:
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(where + message, report=report)
        self.path = path
        self.line = line


class ModelNotFoundError(OfflineNerError):
    """A model folder is missing or incomplete; nothing is ever downloaded instead."""

    exit_code = ExitCode.MODEL_NOT_FOUND


class LabelFilesError(OfflineNerError):
    """A model or export folder names its labels in several files, and they disagree (or one is unreadable)."""

    exit_code = ExitCode.LABEL_FILES


class TrainError(OfflineNerError):
    """Training cannot proceed (e.g. empty data after filtering, label set mismatch)."""

    exit_code = ExitCode.TRAIN


class ExportError(OfflineNerError):
    """ONNX export failed."""

    exit_code = ExitCode.EXPORT


class ExportValidationError(ExportError):
    """The exported graph's outputs disagree with the PyTorch model beyond tolerance."""

    exit_code = ExitCode.EXPORT_VALIDATION


class InferError(OfflineNerError):
    """Batch inference failed (bad model folder, unreadable input)."""

    exit_code = ExitCode.INFER


class EngineInputError(InferError):
    """Input the chosen engine does not read, or an output format it does not write, found before any model
    loads: Parquet without Ray, CoNLL sentences on Ray or mixed with documents, a format ``predict`` cannot read.
    A choice to change (engine, format, convert the input), so it exits as a usage error."""

    exit_code = ExitCode.USAGE


class ShardError(InferError):
    """Shard outputs cannot be merged: a shard is missing, duplicated, unfinished, foreign or altered."""

    exit_code = ExitCode.SHARD


class AnnotateError(OfflineNerError):
    """The connected-side annotation run failed."""

    exit_code = ExitCode.ANNOTATE


class LLMAuthError(AnnotateError):
    """The endpoint rejected the API key (401/403). Retrying cannot help."""

    exit_code = ExitCode.LLM_AUTH


class LLMQuotaError(AnnotateError):
    """The account's quota is exhausted (429 insufficient_quota). Retrying cannot help."""

    exit_code = ExitCode.LLM_QUOTA


class LLMContextLengthError(AnnotateError):
    """A request exceeds the model's context window; shorten the chunk or the prompt."""

    exit_code = ExitCode.LLM_CONTEXT_LENGTH


class LLMTransportError(AnnotateError):
    """The endpoint kept failing (timeouts, 5xx, rate limits) after the retry policy gave up."""

    exit_code = ExitCode.LLM_TRANSPORT


class LLMReplyError(AnnotateError):
    """A reply could not be parsed into entities by any parse mode, or was cut off; a run raises it when more
    records failed than ``--max-failed`` allows."""

    exit_code = ExitCode.LLM_REPLY


class BudgetExceededError(AnnotateError):
    """The run stopped cleanly because the next request would exceed ``--budget``."""

    exit_code = ExitCode.BUDGET_EXCEEDED


class BundleError(OfflineNerError):
    """The bundle is malformed (bad magic, unparsable envelope or manifest)."""

    exit_code = ExitCode.BUNDLE_FORMAT


class SignatureError(BundleError):
    """A signature is missing or does not verify over the envelope's payload."""

    exit_code = ExitCode.SIGNATURE


class UnknownKeyError(BundleError):
    """The bundle is signed only by keys this trust store does not know."""

    exit_code = ExitCode.UNKNOWN_KEY


class RevokedKeyError(BundleError):
    """The bundle (or rotation record) is signed only by keys the trust store has revoked."""

    exit_code = ExitCode.REVOKED_KEY


class ThresholdError(BundleError):
    """Fewer distinct trusted keys signed than the role's threshold requires."""

    exit_code = ExitCode.THRESHOLD


class PolicyError(BundleError):
    """A signing role is not allowed to sign this bundle kind or payload path."""

    exit_code = ExitCode.POLICY


class ExpiredError(BundleError):
    """The bundle's expiry time has passed."""

    exit_code = ExitCode.EXPIRED


class RollbackError(BundleError):
    """The bundle's sequence is not newer than the last one this trust store accepted for its stream."""

    exit_code = ExitCode.ROLLBACK


class HashMismatchError(BundleError):
    """A payload file's bytes differ from the size or sha256 in the signed manifest."""

    exit_code = ExitCode.HASH_MISMATCH


class MissingFileError(BundleError):
    """A file listed in the manifest is absent from the bundle."""

    exit_code = ExitCode.MISSING_FILE


class ExtraFileError(BundleError):
    """The bundle holds a member the manifest does not list, a member out of manifest order, or trailing data."""

    exit_code = ExitCode.EXTRA_FILE


class UnsafePathError(BundleError):
    """A member path or type could escape staging (absolute, '..', link, device, collision)."""

    exit_code = ExitCode.UNSAFE_PATH


class LimitExceededError(BundleError):
    """A size or count limit was exceeded (file count, total bytes, per-file bytes, envelope bytes)."""

    exit_code = ExitCode.LIMIT_EXCEEDED


class KeyFileError(BundleError):
    """A key file cannot be read or decrypted (wrong passphrase, wrong format)."""

    exit_code = ExitCode.KEY_FILE


class TrustStoreError(BundleError):
    """The trust store is missing, corrupt, or the requested change is invalid."""

    exit_code = ExitCode.TRUST_STORE
