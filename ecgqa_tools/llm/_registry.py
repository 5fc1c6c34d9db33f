"""A registry of typed tools: one definition drives the OpenAI schema, offline dispatch and MCP.

A tool is a plain function with type hints and a Google-style docstring::

    @registry.tool
    def disease_probabilities(ctx: ToolContext, record: str) -> DiseaseProbabilities:
        '''Probabilities of the four PTB-XL superclasses from the disease CNNs.

        Args:
            record: Record id (e.g. ``ptbxl:1``, a bundled example name) or a path inside the data roots.
        '''

The first parameter, when annotated ``ToolContext``, is supplied by the caller and is not part of
the schema. Every other parameter becomes a field of a generated pydantic input model; a
parameter without a description in the docstring's ``Args:`` section is refused at registration
(smolagents does the same), because the model reading the schema would not know what to pass.
The return annotation must be a ``ToolOutput`` subclass (it carries provenance and evidence ids).
"""

from __future__ import annotations

import inspect
import json
import logging
import re
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from ..errors import EcgqaError, RecordNotFound, ToolFailed, ToolRetry, UsageError, json_error_reason

__all__ = [
    "EvidenceItem",
    "Provenance",
    "Tool",
    "ToolCallResult",
    "ToolOutput",
    "ToolRegistry",
]

logger = logging.getLogger(__name__)

TOOL_NAME = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
# Arguments longer than this (JSON text) are refused before parsing: no tool needs more.
MAX_ARGUMENTS_CHARS = 4_000


class Provenance(BaseModel):
    """Where a tool result came from."""

    model_config = ConfigDict(frozen=True)

    source: str = Field(description="model or measurement that produced the value, e.g. 'disease-cnn MI'")
    version: str = Field(description="version of that model or method")
    record: str = Field(description="canonical id of the record the value is about")


class EvidenceItem(BaseModel):
    """One citable fact produced by a tool call, e.g. 'MI probability 0.81 (disease-cnn v1)'."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="citation id, e.g. 'E3'; unique within one session")
    tool: str = Field(description="name of the tool that produced it")
    record: str = Field(description="canonical record id")
    statement: str = Field(description="the fact in one plain sentence, with its number and unit")
    provenance: Provenance = Field(description="model or measurement behind the statement")


class ToolOutput(BaseModel):
    """Base of every tool's result: the values plus where they came from and their evidence ids."""

    provenance: list[Provenance] = Field(description="models or measurements behind this result")
    evidence_ids: list[str] = Field(description="ids of the evidence items this call added")
    notes: list[str] = Field(default_factory=list, description=(
        "how the record was read where that puts nothing in doubt (e.g. a --fs ignored because the record "
        "states its own rate, which is used), and a disease head that is flat at this ECG (its probability is "
        "the head's constant output, not a graded response); not quality problems, not warnings; empty when none"))


@dataclass(frozen=True)
class Tool:
    """One registered tool."""

    name: str
    """Name the model calls it by (snake_case)."""
    description: str
    """First paragraph of the function's docstring."""
    input_model: type[BaseModel]
    """Generated pydantic model of the arguments (extra arguments are refused)."""
    output_model: type[ToolOutput]
    """pydantic model of the result."""
    function: Callable[..., ToolOutput]
    """The implementation."""
    takes_context: bool
    """Whether the function's first parameter is the ``ToolContext``."""

    def parameters_schema(self) -> dict[str, Any]:
        """JSON schema of the arguments (no titles, so small models see less noise)."""
        return _strip_titles(self.input_model.model_json_schema())

    def openai_schema(self) -> dict[str, Any]:
        """The tool in the OpenAI chat-completions ``tools`` format."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters_schema(),
            },
        }


@dataclass(frozen=True)
class ToolCallResult:
    """Outcome of one dispatched call: either ``output`` or an ``error`` message, never both."""

    name: str
    """Tool name as requested."""
    output: ToolOutput | None
    """The result when the call succeeded."""
    error: str | None
    """What went wrong (no traceback) when it failed."""
    retry: bool
    """True when the caller should retry with corrected arguments (bad JSON, validation, unknown tool)."""

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_text(self) -> str:
        """JSON text for a model's ``tool`` message or an MCP text content block."""
        if self.output is not None:
            return self.output.model_dump_json(exclude_none=True)
        kind = "retry with corrected arguments" if self.retry else "cannot succeed; report it"
        return json.dumps({"error": self.error, "action": kind})


class ToolRegistry:
    """Ordered set of tools; iterate it, look tools up by name, dispatch calls."""

    def __init__(self) -> None:
        self._tools: dict[str, Tool] = {}

    def tool(self, function: Callable[..., ToolOutput]) -> Callable[..., ToolOutput]:
        """Decorator: register ``function`` as a tool (see the module docstring)."""
        self.add(function)
        return function

    def add(self, function: Callable[..., ToolOutput], name: str | None = None) -> Tool:
        """Register ``function``; raises ``UsageError`` when its docstring or types are incomplete."""
        tool = _build_tool(function, name or function.__name__)
        if tool.name in self._tools:
            raise UsageError(f"tool {tool.name!r} is registered twice")
        self._tools[tool.name] = tool
        return tool

    def __iter__(self) -> Iterator[Tool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._tools)

    def get(self, name: str) -> Tool:
        """The tool called ``name``; ``ToolRetry`` listing the valid names otherwise."""
        try:
            return self._tools[name]
        except KeyError:
            raise ToolRetry(
                f"unknown tool {name!r}; valid tools are: {', '.join(self._tools)}"
            ) from None

    def openai_schemas(self, names: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
        """The ``tools`` list for a chat-completions request (all tools, or only ``names``)."""
        return [self.get(n).openai_schema() for n in (names or self.names)]

    def run(self, name: str, context: Any, **arguments: Any) -> ToolOutput:
        """Call a tool from Python with keyword arguments; raises ``ToolRetry``/``ToolFailed``."""
        tool = self.get(name)
        try:
            parsed = tool.input_model.model_validate(arguments)
        except ValidationError as exc:
            raise ToolRetry(f"invalid arguments for {name}: {_validation_message(exc)}") from None
        kwargs = parsed.model_dump()
        try:
            return tool.function(context, **kwargs) if tool.takes_context else tool.function(**kwargs)
        except (ToolRetry, ToolFailed):
            raise
        except RecordNotFound as exc:
            raise ToolFailed(str(exc)) from exc
        except EcgqaError as exc:
            raise ToolFailed(f"{type(exc).__name__}: {exc}") from exc

    def call(self, name: str, arguments: str | Mapping[str, Any] | None, context: Any) -> ToolCallResult:
        """Dispatch a call as a model sends it (JSON text or a mapping); never raises.

        Bad JSON, unknown tools and invalid arguments come back with ``retry=True`` and a message
        naming the problem and the allowed values; failures of the tool itself with ``retry=False``.
        """
        try:
            parsed = _parse_arguments(name, arguments)
            output = self.run(name, context, **parsed)
        except ToolRetry as exc:
            return ToolCallResult(name=name, output=None, error=str(exc), retry=True)
        except ToolFailed as exc:
            return ToolCallResult(name=name, output=None, error=str(exc), retry=False)
        except Exception as exc:  # a bug or a library error: report it to the model, log the traceback
            logger.debug("tool %s crashed", name, exc_info=True)
            message = f"internal error in tool {name}: {type(exc).__name__}: {exc}"
            return ToolCallResult(name=name, output=None, error=message[:500], retry=False)
        return ToolCallResult(name=name, output=output, error=None, retry=False)


def _parse_arguments(name: str, arguments: str | Mapping[str, Any] | None) -> dict[str, Any]:
    if arguments is None or arguments == "":
        return {}
    if isinstance(arguments, Mapping):
        return dict(arguments)
    if not isinstance(arguments, str):
        raise ToolRetry(f"arguments for {name} must be a JSON object, got {type(arguments).__name__}")
    if len(arguments) > MAX_ARGUMENTS_CHARS:
        raise ToolRetry(
            f"arguments for {name} are {len(arguments)} characters; at most {MAX_ARGUMENTS_CHARS} allowed"
        )
    try:
        value = json.loads(arguments)
    except json.JSONDecodeError as exc:
        raise ToolRetry(f"arguments for {name} are not valid JSON ({json_error_reason(exc)} at character {exc.pos}): "
                        f"{arguments[:200]!r}") from None
    if not isinstance(value, dict):
        raise ToolRetry(f"arguments for {name} must be a JSON object, got {type(value).__name__}")
    return value


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error.get("loc", ())) or "(arguments)"
        message = error.get("msg", "invalid")
        if error.get("type") == "extra_forbidden":
            message = "unexpected argument"
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def _strip_titles(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _strip_titles(v) for k, v in schema.items() if k != "title" or not isinstance(v, str)}
    if isinstance(schema, list):
        return [_strip_titles(v) for v in schema]
    return schema


def parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """Split a Google-style docstring into (description, {argument: description})."""
    lines = inspect.cleandoc(doc or "").splitlines()
    description_lines: list[str] = []
    arguments: dict[str, str] = {}
    section: str | None = None
    arg_indent: int | None = None
    current: str | None = None
    for line in lines:
        stripped = line.strip()
        if re.match(r"^[A-Z][A-Za-z ]*:$", stripped) and not line.startswith((" ", "\t")):
            section = stripped[:-1]
            current, arg_indent = None, None
            continue
        if section is None:
            description_lines.append(line)
            continue
        if section not in ("Args", "Arguments", "Parameters") or not stripped:
            continue
        indent = len(line) - len(line.lstrip())
        match = re.match(r"^(\w+)(?:\s*\([^)]*\))?:\s*(.*)$", stripped)
        if match and (arg_indent is None or indent <= arg_indent):
            arg_indent = indent
            current = match.group(1)
            arguments[current] = match.group(2).strip()
        elif current is not None:
            arguments[current] = f"{arguments[current]} {stripped}".strip()
    description = " ".join(" ".join(description_lines).split())
    return description, arguments


def _build_tool(function: Callable[..., ToolOutput], name: str) -> Tool:
    if not TOOL_NAME.match(name):
        raise UsageError(f"tool name {name!r} must be snake_case letters/digits (2-64 characters)")
    description, documented = parse_docstring(function.__doc__ or "")
    if not description:
        raise UsageError(f"tool {name!r} has no docstring description")
    hints = typing.get_type_hints(function, include_extras=True)  # Annotated bounds reach the schema
    signature = inspect.signature(function)
    params = list(signature.parameters.values())
    takes_context = bool(params) and params[0].name == "ctx"
    if takes_context:
        params = params[1:]
    fields: dict[str, Any] = {}
    missing = []
    for param in params:
        if param.kind not in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
            raise UsageError(f"tool {name!r}: parameter {param.name!r} must be a named parameter")
        if param.name not in hints:
            raise UsageError(f"tool {name!r}: parameter {param.name!r} has no type annotation")
        text = documented.get(param.name, "").strip()
        if not text:
            missing.append(param.name)
            continue
        default = ... if param.default is param.empty else param.default
        fields[param.name] = (hints[param.name], Field(default, description=text))
    if missing:
        raise UsageError(
            f"tool {name!r}: the docstring's Args section does not describe {', '.join(missing)}; "
            "every argument needs a description"
        )
    output = typing.get_type_hints(function).get("return")
    if not (isinstance(output, type) and issubclass(output, ToolOutput)):
        raise UsageError(f"tool {name!r} must be annotated to return a ToolOutput subclass, got {output!r}")
    model_name = "".join(part.capitalize() for part in name.split("_")) + "Input"
    # strict: no coercion of what a model sends ("7" or true for an integer, "0.9" for a number)
    input_model = create_model(model_name, __config__=ConfigDict(extra="forbid", strict=True), **fields)
    return Tool(
        name=name,
        description=description,
        input_model=input_model,
        output_model=output,
        function=function,
        takes_context=takes_context,
    )
