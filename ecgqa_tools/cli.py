"""The ``ecgqa`` command: one entry point, subcommands contributed by each subpackage.

Each subpackage has a ``_cli.py`` with ``register(cli: CommandRegistry) -> None`` that adds its
commands. Handlers take the parsed ``argparse.Namespace`` and return an exit code; they import
heavy dependencies (torch, onnxruntime...) inside the handler so ``ecgqa --help`` stays fast.

Conventions: results go to stdout, diagnostics and progress to stderr; package errors print
``error: ...`` and exit 1; usage errors exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from .errors import EcgqaError

Handler = Callable[[argparse.Namespace], int]

RECORD_HELP = (
    "a record file (WFDB .hea/base, CinC .mat, .npy/.npz, .csv) or a record name: a bundled example "
    "('ecgqa info' lists them), ptbxl:<ecg_id> (500 Hz when present, else 100 Hz; ptbxl:<ecg_id>@100 "
    "or @500 chooses), ludb:<n>, mimic:<study_id> (dataset folders from ECGQA_DATA_DIR)"
)
"""Help of every RECORD argument: what ``records.read_record_or_example`` accepts."""


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse ``type=`` for integer options that must be >= ``minimum`` (``--n-boot``,
    ``--epochs``, ``--n-ecgs``...): checked while parsing, before any data is read, so a bad value
    is a usage error (exit 2) naming the option, e.g. ``argument --n-boot: must be an integer >= 1,
    got -5``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {value}")
        return value

    parse.__name__ = f"int_at_least_{minimum}"
    return parse


def int_between(low: int, high: int) -> Callable[[str], int]:
    """An argparse ``type=`` for integer options in [low, high] (``--retries``, ``--max-steps``...):
    a usage error (exit 2) naming the option and both bounds, before anything is read or sent."""
    at_least = int_at_least(low)

    def parse(text: str) -> int:
        try:
            value = at_least(text)
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(f"must be an integer from {low} to {high}, got {text!r}") from None
        if value > high:
            raise argparse.ArgumentTypeError(f"must be an integer from {low} to {high}, got {value}")
        return value

    parse.__name__ = f"int_between_{low}_{high}"
    return parse

# Groups of subcommands; any subpackage may add a subcommand to any group.
GROUPS: dict[str, str] = {
    "data": "inspect local datasets (PTB-XL, LUDB, MIMIC-IV-ECG): what is listed, present, missing",
    "qa": "ECG-QA dataset tooling: load, map to records, verify the answer engine, export",
    "train": "train the shipped models on CPU (seeded, resumable)",
    "eval": "evaluate models: classifier AUCs, attribute model, XAI pointing game / CAS",
    "bench": "benchmarks: ECG-QA systems side by side, delineation, axis, speed and memory",
}

# Subpackages whose ``_cli*.py`` modules contribute commands, in --help order. Every module
# named ``_cli`` or ``_cli_<something>`` in them is registered (found without importing the rest).
COMMAND_PACKAGES: tuple[str, ...] = ("records", "qa", "encoders", "grounding", "llm", "eval")


def command_modules() -> list[str]:
    """Dotted names of every CLI module, in registration order."""
    import pkgutil
    from pathlib import Path

    root = Path(__file__).parent
    names: list[str] = []
    for package in COMMAND_PACKAGES:
        found = sorted(
            info.name for info in pkgutil.iter_modules([str(root / package)])
            if info.name == "_cli" or info.name.startswith("_cli_")
        )
        names.extend(f"ecgqa_tools.{package}.{name}" for name in found)
    return names


class CommandRegistry:
    """What a subpackage's ``register`` receives: adds top-level commands and group subcommands."""

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self._top = parser.add_subparsers(dest="command", metavar="COMMAND")
        self._groups: dict[str, argparse._SubParsersAction] = {}

    def command(self, name: str, help: str, handler: Handler) -> argparse.ArgumentParser:
        """Add ``ecgqa NAME``; ``help`` is the one-line description shown by ``ecgqa --help``."""
        parser = self._top.add_parser(name, help=_listing(help), description=help)
        parser.set_defaults(handler=handler)
        return parser

    def subcommand(self, group: str, name: str, help: str, handler: Handler) -> argparse.ArgumentParser:
        """Add ``ecgqa GROUP NAME`` (group must be one of ``GROUPS``)."""
        if group not in GROUPS:
            raise ValueError(f"unknown command group {group!r}; expected one of {', '.join(GROUPS)}")
        if group not in self._groups:
            group_parser = self._top.add_parser(group, help=GROUPS[group], description=GROUPS[group])
            group_parser.set_defaults(handler=_group_help(group_parser))
            self._groups[group] = group_parser.add_subparsers(dest=f"{group}_command", metavar="SUBCOMMAND")
        parser = self._groups[group].add_parser(name, help=_listing(help), description=help)
        parser.set_defaults(handler=handler)
        return parser


def _listing(help: str) -> str:
    """``help`` as argparse's command listing needs it: it %-formats that text (the description is
    printed as is), so a plain '%' is doubled there; write descriptions with a plain '%'."""
    return help.replace("%", "%%")


def _group_help(parser: argparse.ArgumentParser) -> Handler:
    def show_help(_: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return 2

    return show_help


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="ecgqa",
        description=(
            "Answer questions about 12-lead ECGs with grounded evidence. "
            "Research software: not for clinical use."
        ),
    )
    parser.add_argument("--version", action="version", version=f"ecgqa-tools {__version__}")
    registry = CommandRegistry(parser)
    for module_name in command_modules():
        importlib.import_module(module_name).register(registry)
    return parser


# Commands that read one record (or list something), print and exit: ``_one_shot_gc`` applies to
# these only. Long-running ones (``mcp``, ``chat``, ``train``, ``bench``, ``eval``, ``data``, other
# ``qa`` subcommands) keep Python's default collector settings.
ONE_SHOT_COMMANDS = frozenset({"info", "classify", "models", "measure", "tokens", "plot", "ask", "demo",
                               "tools", "qa parse"})


def _is_one_shot(args: argparse.Namespace) -> bool:
    command = getattr(args, "command", None)
    sub = getattr(args, f"{command}_command", None) if command else None
    return command in ONE_SHOT_COMMANDS or f"{command} {sub}" in ONE_SHOT_COMMANDS


def _one_shot_gc() -> None:
    """Garbage-collector settings for a process that runs one short command and exits (only
    ``ONE_SHOT_COMMANDS``): torch, scipy and matplotlib create ~1M objects on import that live until
    exit, and the default thresholds scan them over and over (and once more at exit). Thresholds
    (gen0, gen1, gen2) = (20,000, 50, 50) instead of the default (700, 10, 10): a gen-0 collection
    every 20,000 net allocations, gen-1 every 50 gen-0 and gen-2 every 50 gen-1 collections; and the
    heap frozen at exit (``atexit``: no collections over it while the interpreter shuts down).
    ``ecgqa plot --explain MI`` 6.4 -> 5.1 s CPU (docs/benchmarks/speed.md); collection still runs."""
    import atexit
    import gc

    gc.set_threshold(20_000, 50, 50)
    atexit.register(gc.freeze)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``ecgqa`` with ``argv`` (default ``sys.argv[1:]``) and return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help/--version exit 0, usage errors exit 2
        return int(exc.code or 0)
    if argv is None and _is_one_shot(args):  # the ecgqa process (in-process callers pass argv)
        _one_shot_gc()
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(handler(args) or 0)
    except EcgqaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:  # the environment, not the input: unreadable file, full disk, no permission
        where = f": {exc.filename}" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
