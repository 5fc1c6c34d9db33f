"""CLI of the LLM layer: ``ecgqa ask``, ``ecgqa chat``, ``ecgqa demo``, ``ecgqa mcp``, ``ecgqa tools``."""

from __future__ import annotations

import argparse
import json
import sys

from ..cli import RECORD_HELP, CommandRegistry, int_between
from ._agent import MAX_RETRIES, MAX_STEPS  # the caps of LLMSettings (this package is imported anyway)

DEMO_QUESTIONS = (
    "Is this a normal ECG?",
    "Did this patient have a heart attack?",
    "Is the heartbeat irregular?",
    "What range does the qt interval of this ECG fall in?",
    "What is the heart rate?",
    "What will the weather be tomorrow?",
)


def register(cli: CommandRegistry) -> None:
    ask = cli.command("ask", "answer a question about an ECG (offline by default; --llm for an LLM agent)", _ask)
    ask.add_argument("record", help=RECORD_HELP)
    ask.add_argument("question", help="the question, in ECG-QA phrasing or everyday words")
    ask.add_argument("--compare", metavar="RECORD2", help="second (recent) ECG for comparison questions")
    ask.add_argument("--json", action="store_true", help="print a JSON object: answer, explanation, evidence")
    ask.add_argument("--llm", action="store_true", help="use the tool-calling LLM agent instead of the offline answerer")
    ask.add_argument("--protocol", action="store_true",
                     help="ECG-QA paper protocol: attribute predictions + answer options to the LLM, which picks options")
    ask.add_argument("--fs", type=float, default=None, help="sampling rate in Hz for .npy/.csv files that do not store it")
    ask.add_argument("--numeric-convention", choices=("clinical", "ecgqa"), default="clinical",
                     help="ranges of the numeric features (RR, P, PR, QRS, QT, QTc) in answers: clinical (default: "
                          "12-lead measurements, clinical ranges) or ecgqa (how ECG-QA's dataset measured them, "
                          "ECG-QA's ranges; the evidence cites both conventions' values)")
    _add_llm_options(ask)
    _add_root_option(ask)

    chat = cli.command(
        "chat",
        "multi-turn questions about one ECG: the LLM agent with --model (or ECGQA_LLM_MODEL), else the offline "
        "answerer; LLM endpoint options (--base-url...) without a model are refused",
        _chat)
    chat.add_argument("record", help=RECORD_HELP)
    chat.add_argument("--offline", action="store_true",
                      help="answer each line with the offline answerer (even when a model is configured)")
    chat.add_argument("--fs", type=float, default=None, help="sampling rate in Hz for .npy/.csv files that do not store it")
    _add_llm_options(chat)
    _add_root_option(chat)

    demo = cli.command("demo", "ask a few questions about a bundled example record (offline answerer)", _demo)
    demo.add_argument("--record", help="record to use (default: the first bundled example)")
    demo.add_argument("--json", action="store_true", help="print JSON lines")
    demo.add_argument("--fs", type=float, default=None, help="sampling rate in Hz for .npy/.csv files that do not store it")

    mcp = cli.command("mcp", "serve the ECG tools over the Model Context Protocol on stdio", _mcp)
    mcp.add_argument("--fs", type=float, default=None,
                     help="sampling rate in Hz of the .npy/.csv record files (that do not store one) tools read")
    _add_root_option(mcp)

    tools = cli.command("tools", "list the tools the agent and the MCP server offer", _tools)
    tools.add_argument("--json", action="store_true", help="print the OpenAI tools JSON schema")


def _add_llm_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("LLM endpoint (any OpenAI-compatible server)")
    group.add_argument("--base-url", help="API base URL (env ECGQA_LLM_BASE_URL), e.g. http://127.0.0.1:8080/v1")
    group.add_argument("--model", help="model name (env ECGQA_LLM_MODEL)")
    group.add_argument("--api-key-env", default=None, metavar="VAR",
                       help="name of the environment variable holding the key (default ECGQA_LLM_API_KEY, then OPENAI_API_KEY)")
    group.add_argument("--timeout", type=float, default=None, help="seconds per request (default 60)")
    group.add_argument("--retries", type=int_between(0, MAX_RETRIES), default=None,
                       help=f"retries with backoff (default 2, at most {MAX_RETRIES})")
    group.add_argument("--max-steps", type=int_between(1, MAX_STEPS), default=None,
                       help=f"model turns per question (default 6, at most {MAX_STEPS})")
    group.add_argument("--pin-record", action="store_true",
                       help="the record given is the only value tools accept (helps small local models)")
    group.add_argument("--tools", default=None, metavar="NAMES",
                       help="comma-separated subset of tools to offer (default: all)")
    group.add_argument("--tool-rounds", type=int_between(0, MAX_STEPS), default=None,
                       help="after N turns with tool calls the model must answer (small local models: 1)")
    group.add_argument("--force-tool", default="auto",
                       help="'auto': first turn must call a tool; 'none': model decides; or a tool name to force")


def _add_root_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-root", action="append", default=[], metavar="DIR",
                        help="also accept record paths inside DIR (repeatable; env ECGQA_RECORD_ROOTS)")


def _context(args: argparse.Namespace):
    from pathlib import Path

    from ..errors import UsageError
    from . import ToolContext

    for root in getattr(args, "data_root", []) or ():
        if not Path(root).expanduser().is_dir():
            what = "does not exist" if not Path(root).expanduser().exists() else "is not a folder"
            raise UsageError(f"--data-root {root}: {what}; give an existing folder whose records may be read")
    return ToolContext(extra_roots=tuple(getattr(args, "data_root", []) or ()),
                       extra_files=tuple(getattr(args, "typed_files", []) or ()), fs_hz=getattr(args, "fs", None))


def _typed_path(record: str | None, files: list[str]) -> str | None:
    """A record file the user named on the command line: made absolute and allowed, alone.

    The data roots guard what a model may name through the tools; a file the user types is
    theirs to read (``ecgqa measure`` reads it too), so that exact record (with its companion
    ``.hea``/``.dat``/``.mat`` files) is appended to ``files`` -- never its folder, whose other
    files stay out of the model's reach. Names that are not existing files are returned unchanged
    (example names, ``ptbxl:<id>``...).
    """
    from pathlib import Path

    if not record:
        return record
    from ..records import companion_file, list_examples, record_base

    path = Path(record).expanduser()
    if not (path.is_file() or companion_file(record_base(path), ".hea").is_file()):
        return record
    if record in list_examples():
        return record
    resolved = path.resolve()
    files.append(str(resolved))
    return str(resolved)


def _user_paths(args: argparse.Namespace) -> None:
    """Allow the record files named on the command line, each alone (see ``_typed_path``)."""
    files: list[str] = []
    args.record = _typed_path(args.record, files)
    if getattr(args, "compare", None):
        args.compare = _typed_path(args.compare, files)
    args.typed_files = files


def _settings(args: argparse.Namespace):
    import os

    from . import LLMSettings

    from ..errors import UsageError

    api_key = os.environ.get(args.api_key_env) if args.api_key_env else None
    if args.api_key_env and not api_key:  # never fall back silently to another variable's key
        raise UsageError(f"--api-key-env {args.api_key_env}: the environment variable {args.api_key_env} "
                         "is not set (or empty); set it, or drop --api-key-env to use ECGQA_LLM_API_KEY / "
                         "OPENAI_API_KEY")
    return LLMSettings.from_env(
        base_url=args.base_url, model=args.model, api_key=api_key, timeout_s=args.timeout,
        max_retries=args.retries, max_steps=args.max_steps, max_tool_rounds=args.tool_rounds,
        pin_records=args.pin_record or None,
    )


def _tool_names(args: argparse.Namespace) -> tuple[str, ...] | None:
    if not args.tools:
        return None
    return tuple(name.strip() for name in args.tools.split(",") if name.strip())


def _force(args: argparse.Namespace) -> str | bool:
    return {"auto": True, "none": False}.get(args.force_tool, args.force_tool)


def _ask(args: argparse.Namespace) -> int:
    from ..errors import UsageError
    from . import Agent, answer_offline, use_numeric_convention

    _user_paths(args)
    context = _context(args)
    use_numeric_convention(context, args.numeric_convention)
    if args.llm or args.protocol:
        if args.compare:
            raise UsageError("--compare works with the offline answerer only")
        agent = Agent(_settings(args), context=context, tool_names=_tool_names(args))
        if args.protocol:
            result = agent.ask_ecgqa_protocol(args.record, args.question)
        else:
            result = agent.ask(args.record, args.question, force_tool=_force(args))
    else:
        result = answer_offline(args.record, args.question, second=args.compare, context=context)
    print(json.dumps(result.to_json(), indent=2) if args.json else result.to_text())
    return 1 if _tool_failed(result) else 0


def _tool_failed(result) -> bool:  # noqa: ANN001 - Answer / AgentAnswer
    """Exit 1 or 0. Offline: True when no answer could be produced because a tool failed
    (``Answer.failed``); an out-of-scope question or an all-flat record is a valid 'cannot answer'
    (``supported=False``, exit 0). LLM agent (``--llm``, ``--protocol``): True when no tool result
    backs the answer (``AgentAnswer.grounded`` false: every tool call failed, none was made, or the
    loop stopped before any result), whatever the model wrote."""
    if hasattr(result, "grounded"):
        return not result.grounded
    return bool(getattr(result, "failed", False))


def _llm_options_given(args: argparse.Namespace) -> list[str]:
    """The LLM endpoint options given on the command line (they mean nothing without a model)."""
    given = [flag for flag, value in (
        ("--base-url", args.base_url), ("--api-key-env", args.api_key_env), ("--timeout", args.timeout),
        ("--retries", args.retries), ("--max-steps", args.max_steps), ("--pin-record", args.pin_record or None),
        ("--tools", args.tools), ("--tool-rounds", args.tool_rounds)) if value is not None]
    if args.force_tool != "auto":
        given.append("--force-tool")
    return given


def _chat(args: argparse.Namespace) -> int:
    import os

    from ..errors import EcgqaError, LLMError, UsageError
    from . import DISCLAIMER, Agent, answer_offline, check_endpoint

    offline = args.offline or not (args.model or _env_model())
    if offline and not args.offline:
        given = _llm_options_given(args)
        if given:
            raise UsageError(
                f"{', '.join(given)} given but no model name, so there is no LLM to talk to: pass --model NAME "
                "(or set ECGQA_LLM_MODEL) to chat with the LLM agent, or drop the LLM options (or add "
                "--offline) for the offline answerer")
    _user_paths(args)
    context = _context(args)
    session = None
    if offline:
        context.load(args.record)  # fail now on an unknown record
    else:
        settings = _settings(args)
        session = Agent(settings, context=context, tool_names=_tool_names(args)).chat(args.record)
        # once, before the first question: an endpoint that is down or not OpenAI-compatible ends the
        # chat now (exit 1) instead of failing every question
        check_endpoint(settings.base_url or "https://api.openai.com/v1", settings.api_key,
                       timeout_s=min(10.0, settings.timeout_s))
    mode = "offline answerer" if offline else f"LLM agent ({args.model or _env_model()})"
    if offline and not args.offline:
        mode += " (no --model and no ECGQA_LLM_MODEL"
        mode += ("; ECGQA_LLM_BASE_URL is not used)" if os.environ.get("ECGQA_LLM_BASE_URL") else ")")
    print(f"Chatting about {args.record} with the {mode}. {DISCLAIMER}\nEmpty line or Ctrl-D ends.",
          file=sys.stderr)
    endpoint_failures = 0
    for line in sys.stdin:
        question = line.strip()
        if not question or question.lower() in ("exit", "quit"):
            break
        try:
            if session is None:
                result = answer_offline(args.record, question, context=context)
            else:
                result = session.ask(question, force_tool=_force(args))
        except EcgqaError as exc:  # one bad turn does not end the conversation
            endpoint_failures += isinstance(exc, LLMError)
            print(f"error: {exc}", file=sys.stderr)
            continue
        print(result.to_text(), flush=True)
        print(flush=True)
    if endpoint_failures:
        print(f"error: {endpoint_failures} question(s) failed on the LLM endpoint", file=sys.stderr)
    return 1 if endpoint_failures else 0


def _env_model() -> str:
    import os

    return os.environ.get("ECGQA_LLM_MODEL", "")


def _demo(args: argparse.Namespace) -> int:
    from ..errors import DatasetError
    from ..records import list_examples
    from . import answer_offline

    record = args.record
    if record is None:
        examples = list_examples()
        if not examples:
            raise DatasetError("no bundled example records found")
        record = examples[0]
    from . import ToolContext

    files: list[str] = []
    record = _typed_path(record, files)
    context = ToolContext(extra_files=tuple(files), fs_hz=args.fs)
    for question in DEMO_QUESTIONS:
        result = answer_offline(record, question, context=context)
        if args.json:
            print(json.dumps(result.to_json()))
        else:
            print(result.to_text())
            print()
    return 0


def _mcp(args: argparse.Namespace) -> int:
    from . import serve_mcp_stdio

    serve_mcp_stdio(_context(args))
    return 0


def _tools(args: argparse.Namespace) -> int:
    from . import TOOLS

    if args.json:
        print(json.dumps(TOOLS.openai_schemas(), indent=2))
        return 0
    for tool in TOOLS:
        arguments = ", ".join(tool.input_model.model_fields)
        print(f"{tool.name}({arguments})\n    {tool.description}")
    return 0
