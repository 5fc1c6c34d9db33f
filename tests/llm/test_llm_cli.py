"""``ecgqa ask / chat / tools / demo``: results on stdout, clear errors, no tracebacks."""

from __future__ import annotations

import io
import json
import socket

import pytest

from ecgqa_tools.cli import main
from ecgqa_tools.records import list_examples


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_tools_json_is_the_openai_schema(capsys):
    assert main(["tools", "--json"]) == 0
    schemas = json.loads(capsys.readouterr().out)
    assert len(schemas) == 9 and all(s["type"] == "function" for s in schemas)
    assert main(["tools"]) == 0
    assert "record_summary(record)" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "fragment"), [
    (["ask", "no-such-record", "Is this a normal ECG?"], "was not found"),
    (["ask", "/etc/passwd", "Is this a normal ECG?"], "passwd"),
    (["ask", "/etc/passwd", "Is this a normal ECG?"], "not a record file"),  # a file the user names is read
    (["ask", "../../etc/no-such-record", "Is this a normal ECG?"], "'..'"),
    (["ask", "EXAMPLE", "   "], "empty question"),
    (["ask", "EXAMPLE", "why? " * 300], "at most 1000"),
    (["ask", "EXAMPLE", "Is this normal?", "--llm"], "no model name given"),
    (["chat", "no-such-record", "--offline"], "was not found"),
])
def test_bad_input_gives_one_error_line_and_exit_1(capsys, monkeypatch, argv, fragment):
    monkeypatch.delenv("ECGQA_LLM_MODEL", raising=False)
    argv = [list_examples()[0] if a == "EXAMPLE" else a for a in argv]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and fragment in err and "Traceback" not in err


def test_endpoint_down_is_an_error_not_a_hang(capsys):
    url = f"http://127.0.0.1:{_free_port()}/v1"
    code = main(["ask", list_examples()[0], "Is this normal?", "--llm", "--base-url", url, "--model", "m",
                 "--retries", "1", "--timeout", "2"])
    err = capsys.readouterr().err
    assert code == 1 and "failed after 2 attempt(s)" in err and "Traceback" not in err


def test_chat_offline_answers_each_line_and_survives_bad_lines(capsys, monkeypatch, backend):
    from ecgqa_tools.llm import ToolkitBackend

    # the fake template table instead of the sentence-embedding parser (slow to load; tested in qa)
    monkeypatch.setattr(ToolkitBackend, "parse_question", lambda self, text: backend.parse_question(text))
    monkeypatch.delenv("ECGQA_LLM_MODEL", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO("What is the weather like?\n" + "x" * 1200 + "\nquit\n"))
    assert main(["chat", list_examples()[0]]) == 0
    captured = capsys.readouterr()
    assert "I cannot answer this from the ECG" in captured.out
    assert "not for clinical use" in captured.out
    assert "error: question is 1200 characters long" in captured.err
