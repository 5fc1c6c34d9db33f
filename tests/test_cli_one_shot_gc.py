"""The one-shot GC settings apply to short commands only, never to mcp/chat/train/bench."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ecgqa_tools.cli import _is_one_shot, build_parser


@pytest.mark.parametrize(("argv", "one_shot"), [
    (["info", "x"], True), (["ask", "x", "q"], True), (["qa", "parse", "what"], True), (["tools"], True),
    (["mcp"], False), (["chat", "x"], False), (["qa", "load"], False), (["bench", "ecgqa"], False),
    (["train", "disease"], False), (["data", "check"], False),
])
def test_which_commands_get_the_one_shot_collector(argv, one_shot):
    assert _is_one_shot(build_parser().parse_args(argv)) is one_shot


def _thresholds_after(command: str) -> str:
    code = (
        "import gc, sys; from ecgqa_tools.cli import main; sys.argv = ['ecgqa', *sys.argv[1:]]; "
        "main(); print(gc.get_threshold(), file=sys.stderr)"
    )
    result = subprocess.run([sys.executable, "-c", code, *command.split()], capture_output=True, text=True,
                            timeout=120)
    return result.stderr.strip().splitlines()[-1]


def test_the_process_thresholds_follow_the_command():
    import gc

    assert _thresholds_after("tools") == "(20000, 50, 50)"
    assert _thresholds_after("data check --ptbxl /nonexistent") == str(gc.get_threshold())
