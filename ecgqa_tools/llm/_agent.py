"""The LLM agent: any OpenAI-compatible chat-completions endpoint calling the toolkit's tools.

- ``LLMSettings``: base URL, model, key (options or ``ECGQA_LLM_BASE_URL``, ``ECGQA_LLM_MODEL``,
  ``ECGQA_LLM_API_KEY`` / ``OPENAI_API_KEY``), per-request timeout, retries, step limit. The key is
  never printed: ``repr`` hides it and error messages never include it.
- ``Agent.ask``: a tool-calling loop. Every tool call is validated by the registry; invalid calls
  (bad JSON, unknown tool, wrong arguments, refused paths) go back to the model as error messages.
  The final answer gets the evidence the tools returned injected and cited (``[E1]``...), and
  citations of ids no tool produced are removed.
- ``Agent.chat``: a multi-turn session over one record.
- ``Agent.ask_ecgqa_protocol``: the ECG-QA paper's LLM protocol: the attribute model's classes with
  probability > 0.5 and their scores plus the answer options go in the prompt, the LLM picks options.

Endpoint failures (down, slow, garbage) are retried with exponential backoff on connection errors,
timeouts, 429 and 5xx, then raised as ``LLMError``: at worst after
``(max_retries + 1) * timeout_s`` plus the backoff per request.
"""

from __future__ import annotations

import html
import json
import logging
import math
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import EcgqaError, LLMError, UsageError, require
from ._context import ToolContext
from ._offline import DISCLAIMER, check_question, record_notes, record_warnings, training_notes
from ._registry import EvidenceItem, ToolCallResult, ToolRegistry
from ._tools import TOOLS, flat_head_notes

__all__ = ["Agent", "AgentAnswer", "ChatSession", "LLMSettings", "ToolCallRecord"]

logger = logging.getLogger(__name__)

ENV_BASE_URL = "ECGQA_LLM_BASE_URL"
ENV_MODEL = "ECGQA_LLM_MODEL"
ENV_API_KEY = "ECGQA_LLM_API_KEY"
_CITATION = re.compile(r"\[(E\d+)\]")
ANSWER_FORMATS: tuple[str, ...] = ("json_schema", "json_object", "text")
"""Ways of constraining a reply to the answer options, strictest first (see ``LLMSettings.answer_format``)."""
MAX_ANSWER_EVIDENCE = 40
"""Evidence statements restated in the answering turn (bounded to keep the prompt short)."""
MAX_IDENTICAL_FAILED_CALLS = 2
"""A tool call identical (name and arguments) to one that failed in the same question is not run
again: the model is told so and the next turn must answer without tools; the second such repeat
ends the question (``AgentAnswer.stopped == "repeated_failed_call"``)."""
MAX_REPLY_CHARS = 20_000
"""A model reply longer than this is cut (with a note) before it is shown, kept in the conversation
or matched against answer options: a server ignoring ``max_tokens`` once sent 2 MB."""
MAX_RETRIES = 10
"""Upper bound of ``LLMSettings.max_retries`` (``--retries``): each retry may wait a full timeout."""
MAX_STEPS = 50
"""Upper bound of ``LLMSettings.max_steps`` (``--max-steps``): each step is one model request."""
MAX_TOKENS = 32768
"""Upper bound of ``LLMSettings.max_tokens``."""
RECORD_ARGUMENTS: tuple[str, ...] = ("record", "record_a", "record_b")
"""Tool arguments that name a record: pinned (``pin_records``) and always checked against the
conversation's records."""

SYSTEM_PROMPT = (
    "You answer questions about 12-lead ECG recordings. Use the tools to get facts about the ECG "
    "and never invent values. Every tool result lists evidence items with ids such as E1; cite the "
    "ids in square brackets, like [E1], after each claim. If the tools cannot answer, say so. "
    "Only use record names you were given. This is research software, not a diagnosis."
)


@dataclass(frozen=True)
class LLMSettings:
    """How to reach an OpenAI-compatible endpoint."""

    model: str
    """Model name as the endpoint knows it."""
    base_url: str | None = None
    """API base URL (``None``: the OpenAI default)."""
    api_key: str | None = field(default=None, repr=False)
    """Secret key; never printed (local servers accept any placeholder)."""
    timeout_s: float = 60.0
    """Timeout of one HTTP request, in seconds."""
    max_retries: int = 2
    """Retries after a connection error, timeout, 429 or 5xx (exponential backoff)."""
    backoff_s: float = 0.5
    """First backoff delay; doubles at each retry (capped at 8 s)."""
    max_steps: int = 6
    """Model turns per question before the loop stops."""
    temperature: float = 0.0
    """Sampling temperature."""
    max_tokens: int = 512
    """Limit of tokens per model reply."""
    pin_records: bool = False
    """Offer the conversation's record names as the only values of record arguments (a JSON-schema
    ``enum``; grammar-constrained servers such as llama.cpp then cannot produce anything else).
    Without it a call naming another record is still refused (every call is checked against the
    conversation's records); pinning only stops the model from producing such calls."""
    max_tool_rounds: int | None = None
    """After this many turns with tool calls, the next turn must answer without tools (``None``:
    no limit below ``max_steps``). Small local models answer better (and faster) with 1."""
    answer_format: Literal["auto", "json_schema", "json_object", "text"] = "auto"
    """How a reply is constrained to the answer options when a question has them: ``json_schema``
    (OpenAI structured outputs), ``json_object`` with a ``schema`` (llama-cpp-python's server turns
    it into a grammar), ``text`` (free text, options parsed out of it); ``auto`` tries them in that
    order and remembers what the endpoint refused."""

    def __post_init__(self) -> None:
        if not self.model:
            raise UsageError(f"no model name given; pass --model or set {ENV_MODEL}")
        if self.answer_format not in ANSWER_FORMATS + ("auto",):
            raise UsageError(f"answer_format must be auto or one of {', '.join(ANSWER_FORMATS)}, "
                             f"got {self.answer_format!r}")
        if self.max_tool_rounds is not None and self.max_tool_rounds < 0:
            raise UsageError(f"max_tool_rounds must be >= 0 or None, got {self.max_tool_rounds}")
        if self.base_url is not None and not re.match(r"^https?://[^/\s]+", self.base_url):
            raise UsageError(f"the LLM base URL must be an http(s) URL such as http://127.0.0.1:8765/v1; "
                             f"got {self.base_url!r}")
        if not (math.isfinite(self.timeout_s) and math.isfinite(self.backoff_s) and self.backoff_s >= 0):
            raise UsageError(f"timeout_s and backoff_s must be finite numbers (backoff_s >= 0); got "
                             f"{self.timeout_s}, {self.backoff_s}")
        if self.timeout_s <= 0 or self.max_retries < 0 or self.max_steps < 1:
            raise UsageError(
                f"timeout_s must be > 0, max_retries >= 0 and max_steps >= 1; got "
                f"{self.timeout_s}, {self.max_retries}, {self.max_steps}"
            )
        for name, value, high in (("max_retries", self.max_retries, MAX_RETRIES), ("max_steps", self.max_steps, MAX_STEPS),
                                  ("max_tool_rounds", self.max_tool_rounds or 0, MAX_STEPS),
                                  ("max_tokens", self.max_tokens, MAX_TOKENS)):
            if not isinstance(value, int) or isinstance(value, bool) or value > high:
                raise UsageError(f"{name} must be an integer of at most {high}, got {value!r}")
        if self.max_tokens < 1:
            raise UsageError(f"max_tokens must be >= 1, got {self.max_tokens}")
        if not (math.isfinite(self.temperature) and 0 <= self.temperature <= 2):
            raise UsageError(f"temperature must be in [0, 2], got {self.temperature}")

    @classmethod
    def from_env(cls, **overrides: Any) -> "LLMSettings":
        """Settings from ``ECGQA_LLM_*`` (and ``OPENAI_API_KEY``), with non-None overrides applied."""
        values: dict[str, Any] = {
            "model": os.environ.get(ENV_MODEL, ""),
            "base_url": os.environ.get(ENV_BASE_URL) or None,
            "api_key": os.environ.get(ENV_API_KEY) or os.environ.get("OPENAI_API_KEY") or None,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


@dataclass(frozen=True)
class ToolCallRecord:
    """One tool call the model made, as dispatched."""

    name: str
    """Tool requested."""
    arguments: str
    """Arguments as the model sent them (JSON text)."""
    ok: bool
    """Whether the call succeeded."""
    error: str | None
    """The error returned to the model, when it failed."""


@dataclass(frozen=True)
class AgentAnswer:
    """The agent's final answer to one question."""

    question: str
    """The question as asked."""
    record: str
    """Record the question was about."""
    text: str
    """The model's answer with invalid citations removed."""
    evidence: tuple[EvidenceItem, ...]
    """Evidence the tools returned during this question (what ``[E#]`` refers to)."""
    cited: tuple[str, ...]
    """Evidence ids the answer cites."""
    tool_calls: tuple[ToolCallRecord, ...]
    """Every tool call the model made, valid or not."""
    steps: int
    """Model turns used."""
    stopped: Literal["answer", "step_limit", "repeated_failed_call"]
    """Why the loop ended: a final reply, the step limit, or the model repeating a tool call that
    had failed after it was told (``MAX_IDENTICAL_FAILED_CALLS``) and to answer without tools."""
    answer: tuple[str, ...] = ()
    """Chosen answer options (when the question came with options, or in ECG-QA protocol mode);
    empty when the final reply named none of them."""
    answer_format: str | None = None
    """How the final reply was constrained to the options (``json_schema``, ``json_object`` or
    ``text``); ``None`` when the question had no options."""
    disclaimer: str = DISCLAIMER
    """Always shown with answers."""
    seen_in_training: tuple[str, ...] = ()
    """Notes naming the shipped models behind the evidence that were trained or selected on the
    ECG (as ``Answer.seen_in_training``); empty otherwise."""
    cited_by_model: bool = True
    """False when the model cited no evidence and ``cited`` lists tool results appended to the text
    under "(Tool results, not cited by the model: ...)": they back no particular claim of it."""
    warnings: tuple[str, ...] = ()
    """Signal-quality findings of the conversation's records (as ``Answer.warnings``: flat,
    implausible or missing leads, mostly noise), also put in the answering turn's prompt; empty
    when none was found."""
    notes: tuple[str, ...] = ()
    """How the records were read, where that puts nothing in doubt (as ``Answer.notes``: an
    ignored ``--fs``), and a flat disease head behind the answer's evidence (``flat_head_notes``);
    printed as ``Note:`` lines."""

    @property
    def grounded(self) -> bool:
        """True when at least one tool result backs the answer."""
        return bool(self.evidence)

    def to_text(self) -> str:
        """Answer, then the injected evidence list, then the disclaimer."""
        lines = [self.text.strip() or "(the model gave no text)"]
        if self.answer:
            lines.insert(0, f"A: {', '.join(self.answer)}")
        lines.extend(f"Warning: {w}" for w in self.warnings)
        lines.extend(failed_call_lines(self.tool_calls))
        lines.extend(f"Note: {n}" for n in self.notes)
        lines.extend(f"Note: {n}" for n in self.seen_in_training)
        if self.evidence:
            lines.append("Evidence:")
            lines.extend(f"  [{e.id}] {e.statement} ({e.provenance.source}, v{e.provenance.version})"
                         for e in self.evidence)
        else:
            lines.append("(No tool result backs this answer: treat it as unsupported.)")
        lines.append(DISCLAIMER)
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "record": self.record,
            "answer": list(self.answer),
            "explanation": self.text,
            "evidence": [e.model_dump() for e in self.evidence],
            "cited": list(self.cited),
            "cited_by_model": self.cited_by_model,
            "tool_calls": [c.__dict__ for c in self.tool_calls],
            "steps": self.steps,
            "stopped": self.stopped,
            "answer_format": self.answer_format,
            "grounded": self.grounded,
            "warnings": list(self.warnings),
            "notes": list(self.notes),
            "seen_in_training": list(self.seen_in_training),
            "disclaimer": self.disclaimer,
        }


ChatFunction = Callable[..., Any]
"""``create(**request) -> ChatCompletion``; the openai client's, or a scripted fake in tests."""


class Agent:
    """A tool-calling agent over ``tools`` (``TOOLS`` by default).

    ``chat_function`` replaces the endpoint (a scripted fake model for tests); otherwise an
    ``openai.OpenAI`` client is built from ``settings``. ``tool_names`` offers only those tools
    (small models do better with fewer); calls to others are still validated and refused.
    """

    def __init__(
        self,
        settings: LLMSettings,
        context: ToolContext | None = None,
        tools: ToolRegistry = TOOLS,
        chat_function: ChatFunction | None = None,
        sleep: Callable[[float], None] = time.sleep,
        tool_names: tuple[str, ...] | None = None,
    ) -> None:
        self.settings = settings
        self.context = context or ToolContext()
        self.tools = tools
        for name in tool_names or ():
            tools.get(name)  # ToolRetry listing the valid names
        self.tool_names = tuple(tool_names) if tool_names else None
        self.required_supported: bool | None = None
        """Whether the endpoint accepts ``tool_choice="required"`` (None until it refuses it)."""
        self.refused_formats: set[str] = set()
        """Answer formats (``json_schema``, ``json_object``) this endpoint refused; not tried again."""
        self._sleep = sleep
        self._create = chat_function or self._openai_create()

    def __repr__(self) -> str:
        return f"Agent(model={self.settings.model!r}, base_url={self.settings.base_url!r})"

    # ---------------------------------------------------------------------------------- endpoint

    def _openai_create(self) -> ChatFunction:
        openai = require("openai", "llm")
        client = openai.OpenAI(  # type: ignore[attr-defined]
            api_key=self.settings.api_key or "not-needed",
            base_url=self.settings.base_url,
            timeout=self.settings.timeout_s,
            max_retries=0,  # retries are ours: backoff, and errors mapped to LLMError
        )
        return client.chat.completions.create

    def _complete(self, request: dict[str, Any], retry_server_errors: bool = True) -> Any:
        """One chat completion with retries; returns the first choice's message.

        ``retry_server_errors=False``: an HTTP error status (5xx included) is raised at once (a
        request the server may refuse by design, e.g. ``tool_choice="required"``); connection
        errors and timeouts are still retried."""
        last: Exception | None = None
        for attempt in range(self.settings.max_retries + 1):
            if attempt:
                self._sleep(min(8.0, self.settings.backoff_s * 2 ** (attempt - 1)))
            try:
                response = self._create(**request)
            except Exception as exc:  # classified below; never leaks the key (not in the message)
                status = getattr(exc, "status_code", None)
                if _retryable(exc) and (retry_server_errors or not isinstance(status, int)):
                    last = exc
                    logger.info("LLM request failed (%s), attempt %d", type(exc).__name__, attempt + 1)
                    continue
                where = self.settings.base_url or "the default OpenAI URL"
                if _unreadable_reply(exc):  # a 2xx body the client could not read as a chat completion
                    raise _protocol_error(where, f"the reply body is not JSON or not a chat completion "
                                                 f"({_describe(exc)})") from None
                error = LLMError(f"LLM endpoint error at {where}: {_describe(exc)}{_status_hint(status)}")
                error.reached_server = True  # type: ignore[attr-defined]
                error.status = status  # type: ignore[attr-defined]
                raise error from None
            return _first_message(response, self.settings.base_url or "the default OpenAI URL")
        error = LLMError(
            f"LLM endpoint at {self.settings.base_url or 'the default OpenAI URL'} failed after "
            f"{self.settings.max_retries + 1} attempt(s): {_describe(last)}"
        )
        error.reached_server = isinstance(getattr(last, "status_code", None), int)  # type: ignore[attr-defined]
        raise error

    def _request(self, messages: list[dict[str, Any]], tool_choice: Any,
                 records: tuple[str, ...] = ()) -> dict[str, Any]:
        request: dict[str, Any] = {
            "model": self.settings.model,
            "messages": messages,
            "temperature": self.settings.temperature,
            "max_tokens": self.settings.max_tokens,
        }
        if tool_choice != "none":
            named = tool_choice.get("function", {}).get("name") if isinstance(tool_choice, dict) else None
            # a forced tool: only its schema (the others cannot be called in this turn; a shorter prompt)
            schemas = self.tools.openai_schemas((named,) if named else self.tool_names)
            request["tools"] = _pin_records(schemas, records) if self.settings.pin_records and records else schemas
            request["tool_choice"] = tool_choice
        return request

    # ---------------------------------------------------------------------------------- the loop

    def ask(self, record: str, question: str, force_tool: str | bool = True,
            others: tuple[str, ...] = (), options: tuple[str, ...] | None = None,
            single: bool = False) -> AgentAnswer:
        """Answer one question about ``record`` (a fresh conversation); ``others`` are further
        records the question may involve (e.g. the second ECG of a comparison); ``options``: the
        answers the question allows (the final reply must choose among them, ``single``: one)."""
        return self.chat(record, *others).ask(question, force_tool=force_tool, options=options, single=single)

    def choose(self, messages: list[dict[str, Any]], options: tuple[str, ...],
               single: bool = False) -> tuple[str, tuple[str, ...], str]:
        """One answering turn (no tools) whose reply must name options: constrained by the
        strictest response format the endpoint accepts, else parsed out of free text.

        Returns ``(reply text, chosen options, format used)``; chosen is empty when the reply named
        none. A format the server refuses (HTTP error) is remembered and not tried again; connection
        errors and timeouts are raised as ``LLMError``.
        """
        wanted = ANSWER_FORMATS if self.settings.answer_format == "auto" else (self.settings.answer_format,)
        formats = [f for f in wanted if f not in self.refused_formats] or ["text"]
        for position, fmt in enumerate(formats):
            request = self._request(messages, "none")
            if fmt != "text":
                request["response_format"] = _response_format(fmt, options, single)
            try:
                message = self._complete(request)
            except LLMError as exc:
                if fmt == "text" or not getattr(exc, "reached_server", False) or position == len(formats) - 1:
                    raise
                logger.info("endpoint refused response_format %s (%s); trying the next format", fmt, exc)
                self.refused_formats.add(fmt)
                continue
            reply = _reply_text(message)
            chosen = tuple(_options_from_reply(reply, options))
            return _option_text(reply, chosen), chosen, fmt
        raise LLMError("no answer format left to try")  # pragma: no cover - the loop returns or raises

    def chat(self, record: str, *others: str) -> "ChatSession":
        """A multi-turn conversation about ``record`` (validated now: unknown records fail early)."""
        ref, _ = self.context.load(record)
        for other in others:
            self.context.load(other)
        return ChatSession(self, record, ref.canonical, tuple(others))

    def ask_ecgqa_protocol(self, record: str, question: str, options: tuple[str, ...] | None = None,
                           second: str | None = None, constrained: bool = False,
                           single: bool = False) -> AgentAnswer:
        """The ECG-QA paper's protocol: predicted attributes (p > 0.5) + answer options -> chosen options.

        ``options`` default to the answer options of the template the question maps to;
        ``second`` is the second (recent) ECG of a comparison question. ``constrained``: the same
        prompt, but the reply goes through ``choose`` (constrained to the options by the strictest
        response format the endpoint accepts; ``single``: one option) instead of the paper's free
        text; ``answer_format`` then says which format was used.
        """
        text = check_question(question)
        ref, _ = self.context.load(record)
        records = [record] + ([second] if second is not None else [])
        results = [self.tools.run("ecgqa_attributes", self.context, record=r, threshold=0.5) for r in records]
        if options is None:
            parsed = self.context.backend.parse_question(text)
            options = tuple(parsed.answer_options)
        if not options:
            raise UsageError("the ECG-QA protocol needs answer options")
        blocks = []
        for label, result in zip(("first ECG", "second ECG"), results):
            lines = "\n".join(f"- {name}: {p:.2f}" for name, p in result.present.items()) or "- (no class above 0.5)"
            blocks.append(lines if len(results) == 1 else f"{label}:\n{lines}")
        prompt = (
            "An ECG classifier predicted these attributes (probability > 0.5):\n"
            + "\n".join(blocks)
            + f"\n\nQuestion: {text}\nOptions: {' | '.join(options)}\n"
            "Answer with the option or options that apply, separated by ' | ', and nothing else."
        )
        messages = [{"role": "system", "content": "You answer ECG questions by choosing options."},
                    {"role": "user", "content": prompt}]
        fmt: str | None = None
        if constrained:
            reply, picked, fmt = self.choose(messages, tuple(options), single=single)
            reply, chosen = reply.strip(), list(picked)
        else:
            message = self._complete(self._request(messages, "none"))
            reply = _reply_text(message, unescape=False).strip()
            chosen = _match_options(reply, options)
        ids = [i for result in results for i in result.evidence_ids]
        evidence = tuple(self.context.evidence[i] for i in ids)
        warnings = tuple(dict.fromkeys(w for result in results for w in result.warnings))
        name = ref.canonical if second is None else f"{ref.canonical} -> {self.context.load(second)[0].canonical}"
        return AgentAnswer(
            question=text, record=name, text=reply, evidence=evidence,
            cited=tuple(ids), tool_calls=(), steps=1, stopped="answer", answer=tuple(chosen),
            answer_format=fmt, seen_in_training=training_notes(self.context, evidence), warnings=warnings,
            notes=record_notes(self.context, tuple(records)),
        )


class ChatSession:
    """Conversation state: the messages so far, over one record."""

    def __init__(self, agent: Agent, record: str, canonical: str, others: tuple[str, ...] = ()) -> None:
        self.agent = agent
        self.record = record
        self.records = (record, *others)
        self.canonical = canonical
        self.canonicals = frozenset(agent.context.load(r)[0].canonical for r in self.records)
        """Canonical names of the conversation's records: the only records tool calls may name."""
        self.messages: list[dict[str, Any]] = [
            {"role": "system", "content": f"{SYSTEM_PROMPT} The ECG is record '{record}'."
             + (f" Other records: {', '.join(repr(o) for o in others)}." if others else "")}
        ]

    def ask(self, question: str, force_tool: str | bool = True, options: tuple[str, ...] | None = None,
            single: bool = False) -> AgentAnswer:
        """One user turn: loop model <-> tools until a final answer or the step limit.

        ``force_tool``: True makes the first model turn call some tool (``tool_choice="required"``;
        the tool's name when only one is offered; ``"auto"`` on endpoints that reject "required",
        such as llama-cpp-python), a tool name forces that tool (once per record of the session,
        each turn's record argument pinned to that record when ``pin_records``), False lets the
        model decide.

        ``options``: the answers the question allows. The turn then always ends with a reply
        choosing among them (``Agent.choose``: a JSON schema of the options where the endpoint
        supports one), after the tool rounds, the step limit, or a free-text answer naming none.
        """
        text = check_question(question)
        agent, settings = self.agent, self.agent.settings
        warnings = record_warnings(agent.context, self.records)
        offered = agent.tool_names or agent.tools.names
        if isinstance(force_tool, str) and force_tool not in offered:
            which = "valid tools are" if agent.tool_names is None else "the tools offered (--tools) are"
            raise UsageError(f"cannot force tool {force_tool!r}: {which}: {', '.join(offered)}")
        options = tuple(options) if options else None
        forced_rounds = len(self.records) if isinstance(force_tool, str) else 1
        round_limit = settings.max_tool_rounds
        if round_limit is not None and force_tool:
            round_limit = max(round_limit, forced_rounds)
        chosen: tuple[str, ...] = ()
        answer_format: str | None = None
        chose = False  # whether a constrained answering turn ran
        self.messages.append({"role": "user", "content": f"{text}\n(Record: '{self.record}')"})
        before = set(agent.context.evidence)
        calls: list[ToolCallRecord] = []
        turn_evidence: list[str] = []
        final_text = ""
        stopped: Literal["answer", "step_limit", "repeated_failed_call"] = "step_limit"
        steps = 0
        tool_rounds = 0
        failed: dict[tuple[str, str], str] = {}  # (tool, arguments) -> error, of this question's failed calls
        repeats = 0  # calls not run because identical to a failed one
        for step in range(settings.max_steps):
            steps = step + 1
            choice: Any = "auto"
            pinned = self.records
            if round_limit is not None and tool_rounds >= round_limit:
                choice = "none"
            elif isinstance(force_tool, str) and step < forced_rounds and tool_rounds == step:
                choice = {"type": "function", "function": {"name": force_tool}}
                if len(self.records) > 1:
                    pinned = (self.records[step],)
            elif step == 0 and force_tool is True:
                if len(offered) == 1:
                    choice = {"type": "function", "function": {"name": offered[0]}}
                else:
                    choice = "required" if agent.required_supported is not False else "auto"
            messages = self.messages
            if choice == "none" and (tool_rounds or options):
                # answering turn: restate the results (some chat templates, e.g. llama-cpp-python's
                # chatml-function-calling, drop tool messages from the prompt) and the task
                messages = self._answer_messages(text, turn_evidence, before, options, single, warnings)
                if options:
                    final_text, chosen, answer_format = agent.choose(messages, options, single)
                    chose = True
                    self.messages.append({"role": "assistant", "content": final_text})
                    stopped = "answer"
                    break
            try:
                message = agent._complete(agent._request(messages, choice, pinned),
                                          retry_server_errors=choice != "required")
            except LLMError as exc:
                if (choice != "required" or not getattr(exc, "reached_server", False)
                        or getattr(exc, "status", None) in _NOT_A_REFUSAL):
                    raise
                # some servers (llama-cpp-python) reject tool_choice="required": let the model choose
                logger.info("endpoint rejected tool_choice='required'; falling back to 'auto'")
                agent.required_supported = False
                message = agent._complete(agent._request(messages, "auto", pinned))
            tool_calls = list(getattr(message, "tool_calls", None) or [])
            if not tool_calls:
                final_text = _reply_text(message)
                self.messages.append({"role": "assistant", "content": final_text})
                stopped = "answer"
                if options:
                    chosen, answer_format = tuple(_match_options(final_text, options)), "text"
                break
            if repeats >= MAX_IDENTICAL_FAILED_CALLS - 1 and _repeats_failed(tool_calls, failed):
                # told to stop repeating a failed call and to answer without tools, it repeated it again
                stopped = "repeated_failed_call"
                calls.extend(ToolCallRecord(name=n, arguments=str(a)[:2000], ok=False, error=_REPEATED_CALL)
                             for n, a, _ in map(_call_parts, tool_calls))
                break
            tool_rounds += 1
            self.messages.append(_assistant_with_calls(message, tool_calls))
            for call in tool_calls:
                name, arguments, call_id = _call_parts(call)
                if (name, arguments) in failed:  # the same call failed before: not run again
                    repeats += 1
                    round_limit = tool_rounds  # the next turn answers without tools
                    result = ToolCallResult(
                        name=name, output=None, retry=False,
                        error=(f"{_REPEATED_CALL} ({failed[(name, arguments)]}); do not repeat it: answer "
                               "from the results you have, or say the tools could not answer"))
                    calls.append(ToolCallRecord(name=name, arguments=str(arguments)[:2000], ok=False,
                                                error=_REPEATED_CALL))
                    self.messages.append({"role": "tool", "tool_call_id": call_id,
                                          "content": _tool_message(result, agent.context)})
                    continue
                refusal = self._refusal(name, arguments)
                if refusal is not None:
                    result = ToolCallResult(name=name, output=None, retry=True, error=refusal)
                else:
                    result = agent.tools.call(name, arguments, agent.context)
                if not result.ok:
                    failed[(name, arguments)] = result.error or "failed"
                calls.append(ToolCallRecord(name=name, arguments=str(arguments)[:2000], ok=result.ok, error=result.error))
                if result.output is not None:
                    turn_evidence.extend(result.output.evidence_ids)
                self.messages.append({"role": "tool", "tool_call_id": call_id,
                                      "content": _tool_message(result, agent.context)})
        if stopped == "step_limit":
            final_text = (
                f"The step limit ({settings.max_steps} model turns) was reached before the model gave a "
                "final answer; the tool results gathered so far are listed below."
            )
            self.messages.append({"role": "assistant", "content": final_text})
        elif stopped == "repeated_failed_call":
            final_text = ("The model kept repeating a tool call that had failed instead of answering; stopped "
                          "after it was told twice. The tool results gathered so far are listed below.")
            self.messages.append({"role": "assistant", "content": final_text})
        if options and not chosen and not chose:
            # the turn must end with options: one more answering turn (beyond max_steps), constrained
            steps += 1
            messages = self._answer_messages(text, turn_evidence, before, options, single, warnings)
            final_text, chosen, answer_format = agent.choose(messages, options, single)
            self.messages.append({"role": "assistant", "content": final_text})
        ids = list(dict.fromkeys(turn_evidence + [i for i in agent.context.evidence if i not in before]))
        valid = set(agent.context.evidence)
        cleaned = _remove_citations(final_text, valid)
        cited = tuple(dict.fromkeys(i for i in _CITATION.findall(cleaned)))
        cited_by_model = bool(cited) or not ids
        if not cited and ids:  # labelled: the model did not tie these results to its claims
            cleaned = cleaned.rstrip() + "\n(Tool results, not cited by the model: [" + "] [".join(ids[:8]) + "])"
            cited = tuple(ids[:8])
        cited_items = [i for i in cited if i not in ids]
        evidence = tuple(agent.context.evidence[i] for i in ids + cited_items)
        return AgentAnswer(
            question=text, record=self.canonical, text=cleaned.strip(), evidence=evidence, cited=cited,
            tool_calls=tuple(calls), steps=steps, stopped=stopped, answer=chosen, answer_format=answer_format,
            seen_in_training=training_notes(agent.context, evidence), warnings=warnings,
            notes=record_notes(agent.context, self.records) + flat_head_notes(agent.context, self.records, evidence),
            cited_by_model=cited_by_model,
        )

    def _refusal(self, name: str, arguments: str) -> str | None:
        """Why a tool call is refused before dispatch (a tool not offered, or a record outside this
        conversation: an answer must not rest on another ECG's results), or None."""
        agent = self.agent
        if agent.tool_names and name not in agent.tool_names:
            return f"unknown tool {name!r}; valid tools are: {', '.join(agent.tool_names)}"
        try:
            values = json.loads(arguments) if arguments else {}
        except ValueError:
            return None  # the registry reports the bad JSON
        if not isinstance(values, dict):
            return None
        for key in RECORD_ARGUMENTS:
            value = values.get(key)
            if isinstance(value, str) and not self._in_conversation(value):
                return (f"{key} {value[:80]!r} is not a record of this conversation; use one of: "
                        f"{', '.join(repr(r) for r in self.records)}")
        return None

    def _in_conversation(self, record: str) -> bool:
        """True when ``record`` names one of the conversation's records (as given or canonical)."""
        if record in self.records or record in self.canonicals:
            return True
        try:
            return self.agent.context.ref(record).canonical in self.canonicals
        except EcgqaError:
            return False

    def _answer_messages(self, question: str, turn_evidence: list[str], before: set[str],
                         options: tuple[str, ...] | None, single: bool,
                         warnings: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """Messages of an answering turn. With options the turn is self-contained (the system
        prompt, then the results, question and options in one message: a short prompt, and the
        choice rests only on what it restates); without, the conversation so far plus that message."""
        evidence = self.agent.context.evidence
        ids = dict.fromkeys(turn_evidence + [i for i in evidence if i not in before])
        items = [evidence[i] for i in ids if i in evidence]
        if options:  # the reply is a choice, not cited text: one line of facts per record, no ids
            grouped: dict[str, list[str]] = {}
            for item in items:
                grouped.setdefault(item.record, []).append(item.statement.removesuffix(f" on {item.record}"))
            lines = [(record, "; ".join(facts)) for record, facts in grouped.items()]
        else:
            lines = [(item.id, item.statement) for item in items]
        prompt = {"role": "user", "content": _answer_prompt(question, lines, options, single, warnings)}
        return [self.messages[0], prompt] if options else self.messages + [prompt]


# ------------------------------------------------------------------------------------ helpers


_REPEATED_CALL = "not run: identical to an earlier call that failed"


def _reply_text(message: Any, unescape: bool = True) -> str:
    """A reply's text (HTML entities decoded: some chat templates escape quotes), cut to
    ``MAX_REPLY_CHARS`` with a note saying how much was dropped."""
    text = message.content or ""
    if not isinstance(text, str):
        text = str(text)
    if unescape:
        text = html.unescape(text)
    if len(text) > MAX_REPLY_CHARS:
        text = (text[:MAX_REPLY_CHARS] + f"\n[... reply cut: {len(text) - MAX_REPLY_CHARS:,} more characters "
                f"(at most {MAX_REPLY_CHARS:,} are kept)]")
    return text


def _repeats_failed(tool_calls: list[Any], failed: dict[tuple[str, str], str]) -> bool:
    """Whether every call of a model turn is identical to a call that failed earlier."""
    return bool(tool_calls) and all((n, a) in failed for n, a, _ in map(_call_parts, tool_calls))


def failed_call_lines(calls: tuple[ToolCallRecord, ...] | list[ToolCallRecord], limit: int = 5) -> list[str]:
    """Text lines saying which tool calls failed and why (identical failures counted once), for the
    printed answer; empty when none failed."""
    failures: dict[tuple[str, str], int] = {}
    for call in calls:
        if not call.ok:
            key = (call.name or "(no name)", (call.error or "failed").splitlines()[0][:300])
            failures[key] = failures.get(key, 0) + 1
    if not failures:
        return []
    n_failed = sum(failures.values())
    lines = [f"Failed tool calls: {n_failed} of {len(calls)}:"]
    for (name, error), count in list(failures.items())[:limit]:
        lines.append(f"  {name}: {error}" + (f" (x{count})" if count > 1 else ""))
    if len(failures) > limit:
        lines.append(f"  ... and {len(failures) - limit} other failure(s) (see --json tool_calls)")
    return lines


def _remove_citations(text: str, valid: set[str]) -> str:
    """``text`` without the citations of ids not in ``valid``, and without the space each left
    before punctuation or next to another space ("normal [E99]." -> "normal.")."""
    cleaned = _CITATION.sub(lambda m: m.group(0) if m.group(1) in valid else "\0", text)
    if "\0" not in cleaned:
        return cleaned
    cleaned = re.sub(r"[ \t]*\0[ \t]*(?=[.,;:!?)])", "", cleaned)
    return re.sub(r"([ \t]*)\0([ \t]*)", lambda m: " " if m.group(1) or m.group(2) else "", cleaned)


def _answer_prompt(question: str, evidence: list[tuple[str, str]], options: tuple[str, ...] | None,
                   single: bool, warnings: tuple[str, ...] = ()) -> str:
    """The answering turn's message: the tool results as ``(label, text)`` lines (evidence id and
    statement; with options, record and its facts), the records' signal-quality warnings, the
    question, and either the options to choose from (as JSON) or a request to cite."""
    shown = evidence[:MAX_ANSWER_EVIDENCE]
    lines = [f"{i}: {statement}" for i, statement in shown]
    if len(evidence) > len(shown):
        lines.append(f"({len(evidence) - len(shown)} more evidence items not shown)")
    results = "Tool results:\n" + ("\n".join(lines) if lines else "(none)")
    if warnings:
        results += "\nSignal-quality warnings (say them in the answer):\n" + "\n".join(f"- {w}" for w in warnings)
    if not options:
        return f"{results}\n\nUsing only the tool results above, answer: {question} Cite the evidence ids like [E1]."
    how = "the one option" if single else "the option or options"
    return (f"{results}\n\nQuestion: {question}\nOptions: {' | '.join(options)}\n"
            f"Using only the tool results above, reply with {how} that apply, as JSON: "
            '{"answer": ["<option>"]}')


def _response_format(fmt: str, options: tuple[str, ...], single: bool) -> dict[str, Any]:
    """The ``response_format`` constraining a reply to ``{"answer": [options...]}``."""
    items: dict[str, Any] = {"type": "array", "items": {"type": "string", "enum": list(options)}, "minItems": 1}
    if single:
        items["maxItems"] = 1
    schema = {"type": "object", "properties": {"answer": items}, "required": ["answer"],
              "additionalProperties": False}
    if fmt == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": True}}
    return {"type": "json_object", "schema": schema}


def _option_text(reply: str, chosen: tuple[str, ...]) -> str:
    """A constrained reply (``{"answer": [...]}``) as a sentence for people; other replies as they are."""
    try:
        data = json.loads(reply)
    except ValueError:
        return reply
    if not (isinstance(data, dict) and "answer" in data):
        return reply
    return f"The model chose: {', '.join(chosen)}." if chosen else "The model's reply named none of the options."


def _options_from_reply(reply: str, options: tuple[str, ...]) -> list[str]:
    """Options in a reply: the ``answer`` of a JSON object when the reply is one (values matched
    case- and space-insensitively, others ignored), else the options named in the text."""
    canon = {" ".join(o.lower().split()): o for o in options}
    chosen: list[str] = []
    try:
        data = json.loads(reply)
    except ValueError:
        data = None
    if isinstance(data, dict) and "answer" in data:
        values = data["answer"] if isinstance(data["answer"], list) else [data["answer"]]
        for value in values:
            option = canon.get(" ".join(str(value).lower().split()))
            if option is not None and option not in chosen:
                chosen.append(option)
    if not chosen:
        chosen = _match_options(reply, options)
    return [o for o in options if o in chosen]  # several for a single-answer question: scored as given


def _pin_records(schemas: list[dict[str, Any]], records: tuple[str, ...]) -> list[dict[str, Any]]:
    """Copies of ``schemas`` whose record arguments only accept ``records``."""
    import copy

    pinned = copy.deepcopy(schemas)
    for schema in pinned:
        for name, prop in schema["function"]["parameters"].get("properties", {}).items():
            if name in RECORD_ARGUMENTS and prop.get("type") == "string":
                prop["enum"] = list(records)
                prop["description"] = "A record of this conversation."  # the enum says which: fewer tokens
    return pinned


_NOT_A_REFUSAL = (401, 403, 404)
"""HTTP statuses that say the request never reached a chat endpoint that could refuse
``tool_choice="required"`` (wrong URL or key): raised, not retried with ``"auto"``."""


_API_ROOT_HINT = "; is the base URL the server's OpenAI-compatible API root (e.g. http://127.0.0.1:8765/v1)?"


def _status_hint(status: int | None) -> str:
    """What to check for an HTTP error status that usually means a configuration mistake."""
    if status == 404:
        return _API_ROOT_HINT
    if status in (401, 403):
        return "; check the API key (--api-key-env VAR, ECGQA_LLM_API_KEY or OPENAI_API_KEY)"
    return ""


def _retryable(exc: Exception) -> bool:
    try:
        import openai
    except ImportError:  # pragma: no cover - only fakes without openai
        return isinstance(exc, (TimeoutError, ConnectionError))
    if isinstance(exc, (openai.APIConnectionError, openai.APITimeoutError, openai.RateLimitError,
                        openai.InternalServerError, TimeoutError, ConnectionError)):
        return True
    status = getattr(exc, "status_code", None)
    return isinstance(status, int) and status >= 500


def _describe(exc: Exception | None) -> str:
    if exc is None:
        return "no response"
    text = str(exc).splitlines()[0] if str(exc) else ""
    cause = exc.__cause__
    if cause is not None and str(cause) and str(cause) not in text:  # e.g. "Connection error." <- "Connection refused"
        text = f"{text} ({str(cause).splitlines()[0]})" if text else str(cause).splitlines()[0]
    text = re.sub(r"(sk|key)-[A-Za-z0-9_\-]{6,}", "[redacted]", text)[:300]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


PROTOCOL_ERROR = "did not answer as an OpenAI-compatible chat endpoint"
"""Words of every ``LLMError`` for a reply that is not a chat completion (a body that is not JSON,
an HTML page, no choices, a choice without a message): ``LLM endpoint at <url> {PROTOCOL_ERROR}:
<what>``. The ECG-QA bench treats these like a server error (not scored, the sample asked again)."""


def _protocol_error(where: str, what: str) -> LLMError:
    """``LLMError`` for a reply from ``where`` that is not an OpenAI chat completion (``what``)."""
    error = LLMError(f"LLM endpoint at {where} {PROTOCOL_ERROR}: {what}{_API_ROOT_HINT}")
    error.reached_server = False  # type: ignore[attr-defined]  # not a refusal of the request's form
    error.status = None  # type: ignore[attr-defined]
    return error


def _unreadable_reply(exc: Exception) -> bool:
    """Whether the client failed on the reply's body (not JSON, not the API's schema), not on an
    HTTP status or the connection."""
    if isinstance(exc, json.JSONDecodeError):
        return True
    try:
        import openai
    except ImportError:  # pragma: no cover - only fakes without openai
        return False
    return isinstance(exc, openai.APIResponseValidationError)


def _first_message(response: Any, where: str = "the default OpenAI URL") -> Any:
    """The first choice's message, or ``LLMError`` when the response is not a chat completion."""
    choices = getattr(response, "choices", None)
    if not choices:
        raise _protocol_error(where, f"no choices in the reply (got {type(response).__name__}: "
                                     f"{str(response)[:200]!r})")
    message = getattr(choices[0], "message", None)
    if message is None or not hasattr(message, "content"):
        raise _protocol_error(where, "a choice without a message")
    return message


def _call_parts(call: Any) -> tuple[str, str, str]:
    function = getattr(call, "function", None)
    name = str(getattr(function, "name", "") or "")
    arguments = getattr(function, "arguments", "") or ""
    call_id = str(getattr(call, "id", "") or f"call_{name}")
    return name, arguments if isinstance(arguments, str) else json.dumps(arguments), call_id


def _assistant_with_calls(message: Any, tool_calls: list[Any]) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": message.content or "",
        "tool_calls": [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
            for name, arguments, call_id in map(_call_parts, tool_calls)
        ],
    }


def _tool_message(result: Any, context: ToolContext) -> str:
    """Tool result for the model: the output plus the statements its evidence ids stand for."""
    if result.output is None:
        return result.to_text()
    payload = json.loads(result.output.model_dump_json(exclude_none=True))
    payload["evidence"] = [
        {"id": i, "statement": context.evidence[i].statement} for i in result.output.evidence_ids
    ]
    return json.dumps(payload)


def _match_options(reply: str, options: tuple[str, ...]) -> list[str]:
    """Options named in the reply, longest first so 'st/t change' is not read as part of another."""
    lowered = reply.lower()
    found: list[str] = []
    for option in sorted(options, key=len, reverse=True):
        pattern = r"(?<![\w-])" + re.escape(option.lower()) + r"(?![\w-])"
        if re.search(pattern, lowered):
            found.append(option)
            lowered = re.sub(pattern, " ", lowered)
    return [o for o in options if o in found]

