"""Sleuth's exception tree.

Every error Sleuth raises on purpose derives from :class:`SleuthError`, carries a
machine-readable ``code``, structured ``details`` and a ``hint`` that says how to fix it::

    SleuthError
    ├── UserError                    bad input from the person or program calling Sleuth
    │   ├── ConfigError              invalid settings, unknown names
    │   ├── CorpusFormatError        a corpus line is not JSON or lacks fields (file:line)
    │   ├── DatasetError             a dataset line is malformed, or the dataset is unknown
    │   ├── IndexNotFoundError       no index at the given path
    │   ├── IndexCorruptError        an index directory is incomplete or fails its manifest
    │   ├── IndexMismatchError       an index was built with another encoder or corpus
    │   └── MissingExtraError        an optional dependency is not installed
    ├── EngineError                  the LLM backend failed
    │   ├── ModelFileError           model weights missing or with a wrong checksum
    │   ├── EngineUnavailableError   server down, connection refused, retries exhausted
    │   └── EngineTimeoutError       the server did not answer in time
    ├── RetrievalError               an index or retrieval server failed at query time
    ├── SandboxError                 a sandbox tool failed (unknown page, bad pattern)
    └── EvalError                    an eval run cannot start or resume
        └── ResumeMismatchError      resuming a run with a different config

User errors are printed by the CLI as one clear message, without a traceback.
"""

from __future__ import annotations

from typing import Any


class SleuthError(Exception):
    """Base class of every error Sleuth raises on purpose."""

    code: str = "sleuth_error"

    def __init__(self, message: str, *, hint: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details: dict[str, Any] = details

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly form, used by servers and eval result files."""
        return {
            "error": type(self).__name__,
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
            "details": {k: _jsonable(v) for k, v in self.details.items()},
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


class UserError(SleuthError):
    code = "user_error"


class ConfigError(UserError):
    code = "config_error"


class CorpusFormatError(UserError):
    code = "corpus_format"


class DatasetError(UserError):
    code = "dataset_error"


class IndexNotFoundError(UserError):
    code = "index_not_found"


class IndexCorruptError(UserError):
    code = "index_corrupt"


class IndexMismatchError(UserError):
    code = "index_mismatch"


class MissingExtraError(UserError):
    code = "missing_extra"


class EngineError(SleuthError):
    code = "engine_error"


class ModelFileError(EngineError):
    code = "model_file"


class EngineUnavailableError(EngineError):
    code = "engine_unavailable"


class EngineTimeoutError(EngineError):
    code = "engine_timeout"


class RetrievalError(SleuthError):
    code = "retrieval_error"


class SandboxError(SleuthError):
    code = "sandbox_error"


class EvalError(SleuthError):
    code = "eval_error"


class ResumeMismatchError(EvalError):
    code = "resume_mismatch"


__all__ = [
    "ConfigError",
    "CorpusFormatError",
    "DatasetError",
    "EngineError",
    "EngineTimeoutError",
    "EngineUnavailableError",
    "EvalError",
    "IndexCorruptError",
    "IndexMismatchError",
    "IndexNotFoundError",
    "MissingExtraError",
    "ModelFileError",
    "ResumeMismatchError",
    "RetrievalError",
    "SandboxError",
    "SleuthError",
    "UserError",
]
