"""The tool-calling agent against a scripted chat model and against fake HTTP endpoints.

The scripted model returns real ``openai`` ChatCompletion objects; the HTTP tests run the real
``openai`` client against servers on 127.0.0.1 that refuse, stall, or answer garbage.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ecgqa_tools.errors import LLMError, RecordNotFound, UnsupportedQuestion, UsageError
from ecgqa_tools.llm import DISCLAIMER, Agent, LLMSettings
from ecgqa_tools.llm import ScriptedChatModel as ScriptedModel
from ecgqa_tools.llm import chat_completion as completion


def _agent(context, script, **settings):
    model = ScriptedModel(script)
    options = {"model": "scripted", "max_steps": 4, "max_retries": 2, "timeout_s": 5} | settings
    agent = Agent(LLMSettings(**options), context=context, chat_function=model, sleep=lambda s: None)
    return agent, model


def test_tool_call_then_answer_cites_evidence(context):
    agent, model = _agent(context, [
        completion(tool_calls=[("disease_probabilities", {"record": "syn1"})]),
        completion("The MI probability is high [E1]; the other classes are low [E2] [E99]."),
    ])
    answer = agent.ask("syn1", "Is there a heart attack?")
    assert answer.stopped == "answer" and answer.steps == 2
    assert answer.cited == ("E1", "E2")  # E99 was produced by no tool: removed
    assert "[E99]" not in answer.text
    assert [e.id for e in answer.evidence] == ["E1", "E2", "E3", "E4"]
    assert model.requests[0]["tool_choice"] == "required"
    assert len(model.requests[0]["tools"]) == 9
    tool_message = model.requests[1]["messages"][-1]
    assert tool_message["role"] == "tool" and tool_message["tool_call_id"] == "c0"
    assert json.loads(tool_message["content"])["evidence"][0]["id"] == "E1"
    text = answer.to_text()
    assert "Evidence:" in text and "[E1] myocardial infarction (MI) probability 0.81" in text
    assert DISCLAIMER in text


def test_uncited_answer_gets_the_evidence_injected(context):
    agent, _ = _agent(context, [
        completion(tool_calls=[("intervals_and_axis", {"record": "syn1"})]),
        completion("The heart rate is 75 bpm."),
    ])
    answer = agent.ask("syn1", "What is the heart rate?")
    assert answer.cited and all(f"[{i}]" in answer.text for i in answer.cited)
    assert answer.grounded


def test_invalid_calls_are_returned_to_the_model_and_the_loop_continues(context):
    agent, model = _agent(context, [
        completion(tool_calls=[("read_file", {"path": "/etc/passwd"}), ("record_summary", "{oops")]),
        completion(tool_calls=[("record_summary", {"record": "/etc/passwd"})]),
        completion(tool_calls=[("record_summary", {"record": "syn1"})]),
        completion("Twelve leads at 500 Hz [E1]."),
    ])
    answer = agent.ask("syn1", "Read /etc/passwd and tell me what is in it, then summarise the ECG")
    assert [c.ok for c in answer.tool_calls] == [False, False, False, True]
    errors = [json.loads(m["content"])["error"] for m in model.requests[1]["messages"] if m["role"] == "tool"]
    assert "unknown tool 'read_file'; valid tools are:" in errors[0]
    assert "not valid JSON" in errors[1]
    refusal = json.loads(model.requests[2]["messages"][-1]["content"])["error"]
    assert "'/etc/passwd' is not a record of this conversation" in refusal  # refused before any path lookup
    assert "root:x:0:0" not in json.dumps(model.requests)
    assert answer.stopped == "answer" and answer.cited == ("E1",)


def test_step_limit_ends_the_loop_with_the_evidence_so_far(context):
    agent, _ = _agent(context, [completion(tool_calls=[("record_summary", {"record": "syn1"})], call_prefix=str(i))
                                for i in range(4)], max_steps=4)
    answer = agent.ask("syn1", "Summarise")
    assert answer.stopped == "step_limit" and answer.steps == 4
    assert "step limit" in answer.text and answer.evidence


def test_named_forced_tool_and_unknown_forced_tool(context):
    agent, model = _agent(context, [completion(tool_calls=[("noise_per_lead", {"record": "syn1"})]), completion("Clean [E1].")])
    agent.ask("syn1", "Any noise?", force_tool="noise_per_lead")
    assert model.requests[0]["tool_choice"] == {"type": "function", "function": {"name": "noise_per_lead"}}
    with pytest.raises(UsageError, match="valid tools are"):
        agent.ask("syn1", "Any noise?", force_tool="nope")


def test_multi_turn_chat_keeps_history(context):
    agent, model = _agent(context, [
        completion(tool_calls=[("disease_probabilities", {"record": "syn1"})]),
        completion("MI is likely [E1]."),
        completion(tool_calls=[("attribution_evidence", {"record": "syn1", "disease": "MI"})]),
        completion("The model looked at the QRS of II, III, aVF [E5]."),
    ])
    session = agent.chat("syn1")
    first = session.ask("Heart attack?")
    second = session.ask("Where did the model look?")
    assert first.cited == ("E1",) and second.cited == ("E5",)
    roles = [m["role"] for m in model.requests[-1]["messages"]]
    assert roles.count("user") == 2 and roles.count("tool") == 2


def test_bad_questions_and_records_fail_before_calling_the_model(context):
    agent, model = _agent(context, [])
    with pytest.raises(UnsupportedQuestion):
        agent.ask("syn1", "   ")
    with pytest.raises(UnsupportedQuestion):
        agent.ask("syn1", "why " * 400)
    with pytest.raises(RecordNotFound):
        agent.ask("nope-record", "Is this normal?")
    assert model.requests == []


def test_transient_errors_are_retried_with_backoff_then_reported(context):
    import openai

    down = openai.APIConnectionError(request=None)  # what the client raises when the server is down
    delays: list[float] = []
    model = ScriptedModel([down, down, completion("ok, no tools needed")])
    agent = Agent(LLMSettings(model="m", max_retries=2, backoff_s=0.5), context=context,
                  chat_function=model, sleep=delays.append)
    answer = agent.ask("syn1", "hello", force_tool=False)
    assert answer.text.startswith("ok") and delays == [0.5, 1.0]
    assert not answer.grounded and "unsupported" in answer.to_text()
    failing = Agent(LLMSettings(model="m", max_retries=1), context=context,
                    chat_function=ScriptedModel([down, down]), sleep=delays.append)
    with pytest.raises(LLMError, match="failed after 2 attempt"):
        failing.ask("syn1", "hello", force_tool=False)


def test_non_retryable_and_garbage_responses_become_llm_errors(context):
    agent, _ = _agent(context, [ValueError("bad payload")])
    with pytest.raises(LLMError, match="ValueError"):
        agent.ask("syn1", "hi", force_tool=False)
    agent, _ = _agent(context, [{"choices": []}])
    with pytest.raises(LLMError, match="no choices"):
        agent.ask("syn1", "hi", force_tool=False)


def test_key_is_never_shown():
    settings = LLMSettings(model="m", api_key="sk-verysecretkey123456")
    assert "verysecret" not in repr(settings)
    agent = Agent(settings, chat_function=ScriptedModel([]))
    assert "verysecret" not in repr(agent)


def test_settings_from_environment(monkeypatch):
    monkeypatch.setenv("ECGQA_LLM_MODEL", "env-model")
    monkeypatch.setenv("ECGQA_LLM_BASE_URL", "http://127.0.0.1:1/v1")
    monkeypatch.setenv("ECGQA_LLM_API_KEY", "k")
    settings = LLMSettings.from_env(timeout_s=3.0, model=None)
    assert (settings.model, settings.base_url, settings.api_key, settings.timeout_s) == (
        "env-model", "http://127.0.0.1:1/v1", "k", 3.0)
    monkeypatch.delenv("ECGQA_LLM_MODEL")
    with pytest.raises(UsageError, match="no model"):
        LLMSettings.from_env()


def test_ecgqa_protocol_sends_predictions_and_options_and_parses_the_choice(context):
    agent, model = _agent(context, [completion("sinus rhythm | none")])
    answer = agent.ask_ecgqa_protocol("syn1", "What rhythm-related symptoms does this ECG show?")
    prompt = model.requests[0]["messages"][-1]["content"]
    assert "- sinus rhythm: 0.93" in prompt and "left axis deviation" not in prompt  # only p > 0.5
    assert "Options: atrial fibrillation | none | sinus rhythm" in prompt
    assert "tools" not in model.requests[0]
    assert answer.answer == ("none", "sinus rhythm") and answer.evidence


# --------------------------------------------------------------------- real openai client over HTTP


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Handler(BaseHTTPRequestHandler):
    mode = "ok"
    replies: list[dict] = []

    def log_message(self, *args):  # keep test output clean
        pass

    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("Content-Length", 0))
        self.rfile.read(length)
        if self.mode == "slow":
            time.sleep(3)
        if self.mode == "garbage":
            body = b"<html>definitely not json"
        else:
            body = json.dumps(self.replies.pop(0) if self.replies else {"nothing": True}).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture
def fake_server():
    servers = []

    def start(mode: str, replies: list[dict] | None = None) -> str:
        handler = type("H", (_Handler,), {"mode": mode, "replies": list(replies or [])})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/v1"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _http_agent(context, base_url, **kw):
    settings = LLMSettings(model="fake", base_url=base_url, api_key="sk-secret-never-printed-0000",
                           timeout_s=kw.pop("timeout_s", 1.0), max_retries=kw.pop("max_retries", 1), backoff_s=0.01)
    return Agent(settings, context=context)


def test_real_client_full_loop_over_http(context, fake_server):
    replies = [completion(tool_calls=[("disease_probabilities", {"record": "syn1"})]).model_dump(),
               completion("MI probability is 0.81 [E1].").model_dump()]
    answer = _http_agent(context, fake_server("ok", replies)).ask("syn1", "heart attack?")
    assert answer.cited == ("E1",) and answer.tool_calls[0].ok


def test_endpoint_down_is_a_clear_error(context):
    agent = _http_agent(context, f"http://127.0.0.1:{_free_port()}/v1")
    with pytest.raises(LLMError, match="failed after 2 attempt") as info:
        agent.ask("syn1", "Is this normal?")
    assert "sk-secret" not in str(info.value)


def test_slow_endpoint_times_out_with_an_error(context, fake_server):
    agent = _http_agent(context, fake_server("slow"), timeout_s=0.5, max_retries=0)
    with pytest.raises(LLMError, match="Timeout"):
        agent.ask("syn1", "Is this normal?")


@pytest.mark.parametrize("mode", ["garbage", "ok"])
def test_garbage_endpoint_is_an_error(context, fake_server, mode):
    agent = _http_agent(context, fake_server(mode, [{"unexpected": "shape"}]))
    with pytest.raises(LLMError):
        agent.ask("syn1", "Is this normal?")


def test_restricted_tool_set_is_offered_and_enforced(context):
    agent, model = _agent(context, [completion(tool_calls=[("disease_probabilities", {"record": "syn1"})]),
                                    completion("done")])
    agent = type(agent)(agent.settings, context=context, chat_function=model, sleep=lambda s: None,
                        tool_names=("record_summary",))
    answer = agent.ask("syn1", "Summarise")
    assert [t["function"]["name"] for t in model.requests[0]["tools"]] == ["record_summary"]
    assert not answer.tool_calls[0].ok and "valid tools are: record_summary" in answer.tool_calls[0].error


def test_ecgqa_protocol_with_two_ecgs(context):
    agent, model = _agent(context, [completion("none")])
    answer = agent.ask_ecgqa_protocol(
        "syn1", "What symptoms are newly detected in the second ECG as compared to the first ECG?", second="syn2")
    prompt = model.requests[0]["messages"][-1]["content"]
    assert "first ECG:" in prompt and "second ECG:" in prompt
    assert answer.answer == ("none",) and answer.record == "memory:syn1 -> memory:syn2"


def test_a_different_ecg_under_a_known_name_does_not_reuse_cached_results(context, backend):
    from ecgqa_tools.llm import TOOLS

    TOOLS.run("disease_probabilities", context, record="syn1")
    context.add_record("syn1", context.load("syn2")[1])
    TOOLS.run("disease_probabilities", context, record="syn1")
    assert backend.calls.count("predict_diseases") == 2


def test_tool_round_limit_makes_the_next_turn_answer_without_tools(context):
    agent, model = _agent(context, [completion(tool_calls=[("record_summary", {"record": "syn1"})]),
                                    completion("Twelve leads [E1].")], max_tool_rounds=1)
    answer = agent.ask("syn1", "How many leads?")
    assert "tools" not in model.requests[1] and answer.cited == ("E1",)


def test_pinned_records_become_an_enum_of_the_session_records(context):
    agent, model = _agent(context, [completion(tool_calls=[("compare_ecgs", {"record_a": "syn1", "record_b": "syn2"})]),
                                    completion("Nothing new [E1].")], pin_records=True)
    agent.ask("syn1", "What changed?", others=("syn2",))
    props = {t["function"]["name"]: t["function"]["parameters"]["properties"] for t in model.requests[0]["tools"]}
    assert props["record_summary"]["record"]["enum"] == ["syn1", "syn2"]
    assert props["compare_ecgs"]["record_b"]["enum"] == ["syn1", "syn2"]
    assert "Other records: 'syn2'" in model.requests[0]["messages"][0]["content"]


def test_endpoints_rejecting_required_fall_back_to_auto(context):
    import openai

    class Refuses(ScriptedModel):
        def __call__(self, **request):
            if request.get("tool_choice") == "required":
                self.requests.append(request)
                raise ValueError("500: tool_choice 'required' is not supported")
            return super().__call__(**request)

    model = Refuses([completion(tool_calls=[("record_summary", {"record": "syn1"})]), completion("12 leads [E1]."),
                     completion(tool_calls=[("record_summary", {"record": "syn1"})]), completion("again [E1].")])
    agent = Agent(LLMSettings(model="m", max_retries=0), context=context, chat_function=model, sleep=lambda s: None)
    first = agent.ask("syn1", "How many leads?")
    assert first.cited == ("E1",) and agent.required_supported is False
    assert [r.get("tool_choice") for r in model.requests[:2]] == ["required", "auto"]
    agent.ask("syn1", "How many leads?")  # remembered: no second refusal
    assert [r.get("tool_choice") for r in model.requests].count("required") == 1
    assert openai  # the real client raises InternalServerError here; any LLMError triggers the fallback


def test_a_single_offered_tool_is_forced_by_name(context):
    agent, model = _agent(context, [completion(tool_calls=[("record_summary", {"record": "syn1"})]), completion("ok [E1]")])
    agent = type(agent)(agent.settings, context=context, chat_function=model, sleep=lambda s: None,
                        tool_names=("record_summary",))
    agent.ask("syn1", "How many leads?")
    assert model.requests[0]["tool_choice"] == {"type": "function", "function": {"name": "record_summary"}}
