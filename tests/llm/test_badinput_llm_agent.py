"""Session-8 bad-input review of the LLM agent (S10, S12, S17): failed tool calls are listed in the
text answer, an identical failing call is not run again (the model is told, then stopped), `ask
--llm` exits 1 when no tool result backs the answer, and the retry/step/token settings are bounded.
Scripted models and an in-process fake HTTP endpoint; no real LLM."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ecgqa_tools.cli import main
from ecgqa_tools.errors import UsageError
from ecgqa_tools.llm import Agent, LLMSettings
from ecgqa_tools.llm import ScriptedChatModel as ScriptedModel
from ecgqa_tools.llm import chat_completion as completion

from .conftest import synthetic_ecg

BAD_ARGS = '{"record": "syn1", '  # truncated JSON, as the review's "badargs" server sends


def _agent(context, script, **settings):
    model = ScriptedModel(script)
    options = {"model": "scripted", "max_steps": 6, "max_retries": 0, "timeout_s": 5} | settings
    return Agent(LLMSettings(**options), context=context, chat_function=model, sleep=lambda s: None), model


def _bad_call():
    return completion(tool_calls=[("disease_probabilities", BAD_ARGS)])


def test_an_identical_failing_call_is_run_once_then_the_model_is_told_then_stopped(context, backend):
    agent, model = _agent(context, [_bad_call() for _ in range(6)])
    answer = agent.ask("syn1", "Is there a heart attack?")
    assert answer.stopped == "repeated_failed_call" and answer.steps == 3 and len(model.requests) == 3
    assert backend.calls == [] and not answer.grounded
    first, second, third = answer.tool_calls
    assert "not valid JSON" in first.error and second.error.startswith("not run: identical to an earlier call")
    assert third.error.startswith("not run")
    told = [m for m in model.requests[2]["messages"] if m["role"] == "tool"][-1]["content"]
    assert "do not repeat it" in told
    assert "tools" not in model.requests[2]  # the turn after the repeat must answer without tools
    text = answer.to_text()
    assert "Failed tool calls: 3 of 3:" in text and "disease_probabilities: arguments" in text
    assert "No tool result backs this answer" in text


def test_a_model_that_corrects_itself_after_being_told_gets_its_answer(context):
    agent, _ = _agent(context, [_bad_call(), _bad_call(), completion("I could not get the probabilities.")])
    answer = agent.ask("syn1", "Is there a heart attack?")
    assert answer.stopped == "answer" and answer.text == "I could not get the probabilities."
    # a different call after a failed one is run normally
    agent, _ = _agent(context, [_bad_call(), completion(tool_calls=[("disease_probabilities", {"record": "syn1"})]),
                                completion("MI is likely [E1].")])
    answer = agent.ask("syn1", "Is there a heart attack?")
    assert answer.grounded and answer.cited == ("E1",)
    assert "Failed tool calls: 1 of 2:" in answer.to_text()


def test_a_successful_answer_lists_no_failures(context):
    agent, _ = _agent(context, [completion(tool_calls=[("disease_probabilities", {"record": "syn1"})]),
                                completion("MI is likely [E1].")])
    assert "Failed tool calls" not in agent.ask("syn1", "Is there a heart attack?").to_text()


@pytest.mark.parametrize("field,value,words", [
    ("max_retries", 11, "max_retries must be an integer of at most 10"),
    ("max_steps", 51, "max_steps must be an integer of at most 50"),
    ("max_steps", 1_000_000, "at most 50"),
    ("max_tool_rounds", 51, "max_tool_rounds must be an integer of at most 50"),
    ("max_tokens", 0, "max_tokens must be >= 1"),
    ("max_tokens", 10**6, "max_tokens must be an integer of at most 32768"),
    ("temperature", float("nan"), "temperature must be in [0, 2]"),
    ("temperature", -1.0, "temperature must be in [0, 2]"),
])
def test_settings_are_bounded(field, value, words):
    with pytest.raises(UsageError, match=words.replace("[", r"\[").replace("]", r"\]")):
        LLMSettings(model="x", **{field: value})


def test_cli_caps_are_the_settings_caps():
    """One definition (review s8 S4): ask/chat and bench ecgqa parse with the caps LLMSettings checks."""
    from ecgqa_tools import cli
    from ecgqa_tools.llm import MAX_RETRIES, MAX_STEPS, MAX_TOKENS, _agent, _cli_llm

    assert (_cli_llm.MAX_RETRIES, _cli_llm.MAX_STEPS) == (_agent.MAX_RETRIES, _agent.MAX_STEPS)
    assert (MAX_RETRIES, MAX_STEPS, MAX_TOKENS) == (_agent.MAX_RETRIES, _agent.MAX_STEPS, _agent.MAX_TOKENS)
    args = cli.build_parser().parse_args(["bench", "ecgqa", "--llm-max-steps", str(MAX_STEPS),
                                          "--llm-max-tokens", str(MAX_TOKENS)])
    assert (args.llm_max_steps, args.llm_max_tokens) == (MAX_STEPS, MAX_TOKENS)


@pytest.mark.parametrize("option,value,words", [
    ("--retries", "1000000", "argument --retries: must be an integer from 0 to 10, got 1000000"),
    ("--retries", "-1", "argument --retries: must be an integer from 0 to 10"),
    ("--max-steps", "1000000", "argument --max-steps: must be an integer from 1 to 50, got 1000000"),
    ("--max-steps", "0", "argument --max-steps: must be an integer from 1 to 50"),
    ("--tool-rounds", "x", "argument --tool-rounds: must be an integer from 0 to 50, got 'x'"),
])
def test_cli_refuses_unbounded_retries_and_steps_before_any_request(option, value, words, capsys):
    code = main(["ask", "ptbxl-00473", "Is there MI?", "--llm", "--model", "x",
                 "--base-url", "http://127.0.0.1:9/v1", option, value])
    assert code == 2 and words in capsys.readouterr().err


@pytest.fixture
def fake_endpoint(fake_openai_server):
    """``start(post_body) -> (base URL, server)``: an in-process endpoint answering every POST with
    ``post_body`` and GET /models with a one-model list; ``server.posts`` counts the POSTs."""

    def start(post_body: bytes):
        fake = fake_openai_server(post_body)
        return fake.url, fake

    return start


@pytest.fixture
def badargs_server(fake_endpoint):
    """An endpoint that answers every request with the same tool call, whose arguments are
    truncated JSON; counts the requests."""
    return fake_endpoint(json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": "fake", "choices": [{
        "index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "disease_probabilities",
                                                          "arguments": '{"record": "x", '}}]}}]}).encode())


def _npz_record(tmp_path):
    path = tmp_path / "rec.npz"
    ecg = synthetic_ecg()
    np.savez(path, signal=ecg.signal_mv, fs_hz=ecg.fs_hz, lead_names=np.array(ecg.lead_names))
    return path


def test_cli_ask_llm_says_why_every_call_failed_and_exits_1(tmp_path, badargs_server, capsys):
    url, state = badargs_server
    path = _npz_record(tmp_path)
    code = main(["ask", str(path), "Is there a heart attack?", "--llm", "--model", "fake", "--base-url", url,
                 "--timeout", "5", "--retries", "0"])
    out = capsys.readouterr().out
    assert code == 1
    assert "Failed tool calls: 3 of 3:" in out and "not valid JSON" in out and "(x2)" in out, out
    assert "No tool result backs this answer" in out
    assert state.posts == 3  # was 6 (the step limit) before session 8
    code = main(["ask", str(path), "Is there a heart attack?", "--llm", "--model", "fake", "--base-url", url,
                 "--timeout", "5", "--retries", "0", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 1 and data["stopped"] == "repeated_failed_call" and not data["grounded"]


@pytest.mark.parametrize("kwargs,words", [
    ({"fs_hz": -1}, "fs_hz must be a positive sampling rate"),
    ({"fs_hz": float("nan")}, "fs_hz must be a positive sampling rate"),
    ({"max_cached_records": 0}, "max_cached_records must be an integer >= 1"),
    ({"extra_roots": ["/nonexistent/ecg-folder"]}, "extra_roots: /nonexistent/ecg-folder does not exist"),
    ({"extra_roots": "/tmp"}, "wrap it in a list"),
])
def test_tool_context_refuses_settings_that_cannot_work(kwargs, words, backend):
    from ecgqa_tools.llm import ToolContext

    with pytest.raises(UsageError, match=words):
        ToolContext(backend=backend, **kwargs)
    ToolContext(backend=backend, fs_hz=np.float64(250.0), max_cached_records=np.int64(2))  # numpy numbers are fine


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_chat_checks_the_endpoint_once_before_the_first_question(capsys, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("Is this normal?\nWhat is the heart rate?\n"))
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    code = main(["chat", "ptbxl-00473", "--model", "x", "--base-url", url, "--retries", "0"])
    err = capsys.readouterr().err
    assert code == 1 and f"cannot reach the LLM endpoint {url}" in err and "--base-url" in err
    assert err.count("error:") == 1  # one error, not one per question


def test_chat_exits_1_when_a_question_failed_on_the_endpoint(tmp_path, capsys, monkeypatch, fake_endpoint):
    """The endpoint lists its models (GET) but every chat completion is not JSON: each question
    says why, and the chat exits 1."""
    import io

    url, _ = fake_endpoint(b'{"choices": [ not json')
    monkeypatch.setattr("sys.stdin", io.StringIO("Is this normal?\n"))
    code = main(["chat", str(_npz_record(tmp_path)), "--model", "x", "--base-url", url, "--retries", "0",
                 "--timeout", "5"])
    err = capsys.readouterr().err
    assert code == 1 and "did not answer as an OpenAI-compatible chat endpoint" in err
    assert "1 question(s) failed on the LLM endpoint" in err



def test_ecgqa_attributes_reports_null_not_minus_one_for_tuned_thresholds(context):
    from ecgqa_tools.llm import TOOLS

    result = TOOLS.call("ecgqa_attributes", {"record": "syn1", "threshold": None}, context)
    assert result.ok and result.output.threshold is None
    assert TOOLS.call("ecgqa_attributes", {"record": "syn1", "threshold": 0.3}, context).output.threshold == 0.3


def test_a_huge_reply_is_cut_before_it_is_shown_or_kept(context):
    from ecgqa_tools.llm._agent import MAX_REPLY_CHARS

    agent, model = _agent(context, [completion("A" * 2_000_000), completion("ok")])
    session = agent.chat("syn1")
    answer = session.ask("Is this normal?", force_tool=False)
    assert len(answer.text) < MAX_REPLY_CHARS + 200 and "reply cut: 1,980,000 more characters" in answer.text
    session.ask("And now?", force_tool=False)  # the 2 MB are not sent back in the next request
    assert sum(len(str(m.get("content") or "")) for m in model.requests[1]["messages"]) < MAX_REPLY_CHARS + 2000
