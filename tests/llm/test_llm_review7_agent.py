"""Session-7 review of the LLM agent: record confinement, forced tools, warnings, citations, errors.

Each test reproduces one finding of notes/s7/review_llm.md with the scripted chat model (real
``openai`` ChatCompletion objects) and the fake backend of conftest.py.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ecgqa_tools.errors import LLMError, UsageError
from ecgqa_tools.llm import Agent, LLMSettings
from ecgqa_tools.llm import ScriptedChatModel as ScriptedModel
from ecgqa_tools.llm import chat_completion as completion

from .conftest import synthetic_ecg


def _agent(context, script, tool_names=None, **settings):
    model = ScriptedModel(script)
    options = {"model": "scripted", "max_steps": 4, "max_retries": 0, "timeout_s": 5} | settings
    agent = Agent(LLMSettings(**options), context=context, chat_function=model, sleep=lambda s: None,
                  tool_names=tool_names)
    return agent, model


@pytest.mark.parametrize("pin", [False, True])
def test_a_call_naming_a_record_outside_the_conversation_is_refused(context, backend, pin):
    agent, model = _agent(context, [
        completion(tool_calls=[("disease_probabilities", {"record": "syn2"})]),
        completion(tool_calls=[("disease_probabilities", {"record": "memory:syn1"})]),
        completion("MI probability 0.81 [E1]."),
    ], pin_records=pin)
    answer = agent.ask("syn1", "Is there a heart attack?")
    refused, accepted = answer.tool_calls
    assert not refused.ok and "'syn2' is not a record of this conversation; use one of: 'syn1'" in refused.error
    assert json.loads(model.requests[1]["messages"][-1]["content"])["action"] == "retry with corrected arguments"
    assert accepted.ok  # the canonical name of the conversation's record is accepted
    assert backend.calls.count("predict_diseases") == 1  # syn2 was never scored
    assert {e.record for e in answer.evidence} == {"memory:syn1"}


def test_a_comparison_may_name_both_of_its_records_but_no_third(context):
    context.add_record("syn3", synthetic_ecg("syn3"))
    agent, _ = _agent(context, [
        completion(tool_calls=[("compare_ecgs", {"record_a": "syn1", "record_b": "syn3"})]),
        completion(tool_calls=[("compare_ecgs", {"record_a": "syn1", "record_b": "syn2"})]),
        completion("Nothing new [E1]."),
    ])
    answer = agent.ask("syn1", "What changed?", others=("syn2",))
    assert not answer.tool_calls[0].ok and "record_b 'syn3'" in answer.tool_calls[0].error
    assert answer.tool_calls[1].ok


def test_forcing_a_tool_outside_the_offered_set_is_a_usage_error_before_any_request(context):
    agent, model = _agent(context, [completion("unused")], tool_names=("record_summary",))
    with pytest.raises(UsageError, match="cannot force tool 'disease_probabilities'.*offered.*record_summary"):
        agent.ask("syn1", "Is there a heart attack?", force_tool="disease_probabilities")
    assert model.requests == []


# --------------------------------------------------------------- endpoint errors over real HTTP


class _Recorder(BaseHTTPRequestHandler):
    """Answers 404 to every POST (mode "404"), or 500 to tool_choice="required" and a scripted
    completion otherwise (mode "500-required"); records each request's tool_choice."""

    mode = "404"
    seen: list = []
    replies: list = []

    def log_message(self, *args):
        pass

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        self.seen.append(body.get("tool_choice"))
        if self.mode == "404" or body.get("tool_choice") == "required":
            status, payload = (404, b'{"detail": "Not Found"}') if self.mode == "404" else (500, b'{"error": "no"}')
        else:
            status, payload = 200, json.dumps(self.replies.pop(0)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def recorder():
    servers = []

    def start(mode, replies=()):
        handler = type("R", (_Recorder,), {"mode": mode, "seen": [], "replies": list(replies)})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}", handler

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_base_url_without_v1_names_the_url_and_the_fix_and_sends_one_request(context, recorder):
    url, handler = recorder("404")
    agent = Agent(LLMSettings(model="m", base_url=url, max_retries=2, backoff_s=0.01, timeout_s=5), context=context)
    with pytest.raises(LLMError) as info:
        agent.ask("syn1", "Is this normal?")
    message = str(info.value)
    assert url in message and "404" in message and "API root (e.g. http://127.0.0.1:8765/v1)?" in message
    assert handler.seen == ["required"]  # no retry, no fallback to "auto" after a 404


def test_a_server_refusing_required_is_asked_once_then_auto(context, recorder):
    replies = [completion(tool_calls=[("record_summary", {"record": "syn1"})]).model_dump(),
               completion("12 leads [E1].").model_dump()]
    url, handler = recorder("500-required", replies)
    agent = Agent(LLMSettings(model="m", base_url=url + "/v1", max_retries=2, backoff_s=0.01, timeout_s=5),
                  context=context)
    answer = agent.ask("syn1", "How many leads?")
    assert answer.cited == ("E1",) and handler.seen == ["required", "auto", "auto"]


def test_results_the_model_did_not_cite_are_appended_under_a_label_not_as_its_citations(context):
    agent, _ = _agent(context, [
        completion(tool_calls=[("intervals_and_axis", {"record": "syn1"})]),
        completion("The heart rate is 200 bpm: severe tachycardia, start treatment."),
    ])
    answer = agent.ask("syn1", "What is the heart rate?")
    first, label = answer.text.split("\n")
    assert first == "The heart rate is 200 bpm: severe tachycardia, start treatment."  # no [E#] glued to the claim
    assert label.startswith("(Tool results, not cited by the model: [E1]")
    assert not answer.cited_by_model and answer.to_json()["cited_by_model"] is False


def test_removed_citations_leave_no_stray_space(context):
    agent, _ = _agent(context, [completion(tool_calls=[("record_summary", {"record": "syn1"})]),
                                completion("The ECG is normal [E99] . Twelve leads [E1].")])
    answer = agent.ask("syn1", "Is it normal?")
    assert answer.text == "The ECG is normal. Twelve leads [E1]." and answer.cited_by_model
