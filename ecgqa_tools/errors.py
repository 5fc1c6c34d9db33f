"""The package's exceptions. Every error ecgqa-tools raises on purpose is an ``EcgqaError``.

Hierarchy::

    EcgqaError                      base: catch this to catch everything we raise
    ├── RecordError                 a bad or unreadable input record (names the file and the problem)
    │   └── RecordNotFound          a record id or path that is not there (absent from a partial dataset)
    ├── DatasetError                a dataset folder or file that is missing or malformed (CSV, JSON)
    ├── UnsupportedQuestion         a question we cannot map to anything we can answer
    ├── ModelError                  a model file missing, corrupt, or refused (e.g. leakage guard)
    │   └── LeakageError            asked to score a model on records it was trained or selected on
    ├── MeasurementError            a measurement that cannot be made on this signal (and why)
    ├── ToolError                   a tool call failed
    │   ├── ToolRetry               the caller (an LLM) should retry with corrected arguments
    │   └── ToolFailed              the call cannot succeed; report it, do not retry
    ├── LLMError                    the LLM endpoint is down, slow, or answered garbage
    ├── MissingDependency           an optional dependency is not installed (message has the pip line)
    ├── OutputError                 a result file that cannot be written (folder not writable, disk full)
    └── UsageError                  a programmer's mistake (wrong argument combination)

Messages say what was wrong, what was received and what is allowed, e.g.
``unknown lead 'V7'; expected one of I, II, III, aVR, aVL, aVF, V1, V2, V3, V4, V5, V6``.
"""

from __future__ import annotations

import json

__all__ = [
    "EcgqaError",
    "RecordError",
    "RecordNotFound",
    "DatasetError",
    "UnsupportedQuestion",
    "ModelError",
    "LeakageError",
    "MeasurementError",
    "ToolError",
    "ToolRetry",
    "ToolFailed",
    "LLMError",
    "MissingDependency",
    "OutputError",
    "UsageError",
    "require",
    "json_error_reason",
]


class EcgqaError(Exception):
    """Base class of every error raised on purpose by ecgqa-tools."""


class RecordError(EcgqaError):
    """A record that cannot be read or used: corrupt file, NaN samples, wrong leads, bad rate."""


class RecordNotFound(RecordError):
    """A record id or path that does not exist (for example absent from a partial dataset)."""


class DatasetError(EcgqaError):
    """A dataset folder, metadata file or JSON chunk that is missing or malformed."""


class UnsupportedQuestion(EcgqaError):
    """A question that maps to no template or tool we can answer."""


class ModelError(EcgqaError):
    """A model file that is missing, corrupt or cannot be used as asked."""


class LeakageError(ModelError):
    """An evaluation would score a model on records it was trained or selected on."""


class MeasurementError(EcgqaError):
    """A measurement that cannot be made on this signal; the message says why."""


class ToolError(EcgqaError):
    """A tool call failed."""


class ToolRetry(ToolError):
    """The tool call had bad arguments: the model should retry with corrected ones."""


class ToolFailed(ToolError):
    """The tool call cannot succeed (e.g. the record is absent): report, do not retry."""


class LLMError(EcgqaError):
    """The LLM endpoint is unreachable, timed out, or returned something unusable."""


class MissingDependency(EcgqaError):
    """An optional dependency is not installed; the message gives the install line."""


class OutputError(EcgqaError):
    """A result file that cannot be written: its folder is missing or read-only, or the disk is full."""


class UsageError(EcgqaError):
    """A programmer's mistake: arguments that cannot go together, a wrong type."""


def require(module: str, extra: str) -> object:
    """Import ``module`` or raise ``MissingDependency`` naming the extra that provides it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependency(
            f"'{module}' is not installed; install it with: pip install 'ecgqa-tools[{extra}]'"
        ) from exc


def json_error_reason(exc: json.JSONDecodeError) -> str:
    """The decoder's reason without its dangling position words: ``Unterminated string starting at``
    -> ``unterminated string``, ``Invalid control character at`` -> ``invalid control character``;
    the caller states the position (line, column) itself."""
    reason = exc.msg.strip()
    for tail in (" starting at", " at"):
        reason = reason.removesuffix(tail)
    return reason[:1].lower() + reason[1:]
