"""The agent's answer protocol for questions with answer options (ECG-QA verify/choose/query).

After its tool calls the agent must end with options: a JSON schema of the options as the
response format where the endpoint accepts one (OpenAI ``json_schema``, then llama-cpp-python's
``json_object`` + ``schema``), free text parsed for option names otherwise. Scripted models stand in
for the endpoint (no server needed).
"""

from __future__ import annotations

import json

import pytest

from ecgqa_tools.errors import LLMError, UnsupportedQuestion, UsageError
from ecgqa_tools.llm import Agent, LLMSettings
from ecgqa_tools.llm import ScriptedChatModel as ScriptedModel
from ecgqa_tools.llm import chat_completion as completion

OPTIONS = ("no", "not sure", "yes")


class HTTPStatusError(Exception):
    """What the openai client raises for an HTTP error status (the agent reads ``status_code``)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status


class RefusesFormats(ScriptedModel):
    """Answers requests whose ``response_format`` type is refused with an HTTP error, like
    llama-cpp-python's server (500 for ``json_schema``) or a server without structured output."""

    def __init__(self, script, refused=("json_schema",), status=500):
        super().__init__(script)
        self.refused, self.status = set(refused), status

    def __call__(self, **request):
        fmt = (request.get("response_format") or {}).get("type")
        if fmt in self.refused:
            self.requests.append(json.loads(json.dumps(request, default=str)))
            raise HTTPStatusError(self.status, f"Input should be 'text' or 'json_object', got {fmt}")
        return super().__call__(**request)


def _agent(context, model, **settings):
    options = {"model": "scripted", "max_steps": 4, "max_retries": 1, "timeout_s": 5,
               "max_tool_rounds": 1, "pin_records": True} | settings
    return Agent(LLMSettings(**options), context=context, chat_function=model, sleep=lambda s: None)


def test_answer_turn_is_constrained_by_a_json_schema_of_the_options(context):
    model = ScriptedModel([completion(tool_calls=[("ecgqa_attributes", {"record": "syn1"})]),
                           completion('{"answer": ["yes"]}')])
    answer = _agent(context, model).ask("syn1", "Does this ECG show symptoms of myocardial infarction?",
                                        force_tool="ecgqa_attributes", options=OPTIONS, single=True)
    assert answer.answer == ("yes",) and answer.answer_format == "json_schema" and answer.steps == 2
    first, final = model.requests
    assert [t["function"]["name"] for t in first["tools"]] == ["ecgqa_attributes"]  # only the forced tool
    assert first["tools"][0]["function"]["parameters"]["properties"]["record"]["enum"] == ["syn1"]
    assert "tools" not in final and "response_format" in final
    schema = final["response_format"]["json_schema"]["schema"]["properties"]["answer"]
    assert schema["items"]["enum"] == list(OPTIONS) and schema["maxItems"] == 1 and schema["minItems"] == 1
    # self-contained answering turn: system prompt + one message restating results, question, options
    assert [m["role"] for m in final["messages"]] == ["system", "user"]
    prompt = final["messages"][1]["content"]
    assert "Tool results:" in prompt and "'sinus rhythm' predicted" in prompt
    assert "Options: no | not sure | yes" in prompt and "myocardial infarction?" in prompt
    assert answer.to_json()["answer"] == ["yes"] and answer.to_json()["answer_format"] == "json_schema"


def test_llama_cpp_style_server_falls_back_to_json_object_schema_and_remembers(context):
    model = RefusesFormats([completion(tool_calls=[("record_summary", {"record": "syn1"})]),
                            completion('{"answer": ["baseline drift", "static noise", "bogus"]}'),
                            completion(tool_calls=[("record_summary", {"record": "syn1"})]),
                            completion('{"answer": ["none"]}')])
    agent = _agent(context, model)
    options = ("baseline drift", "burst noise", "none", "static noise")
    answer = agent.ask("syn1", "What kind of noises does this ECG show?", force_tool="record_summary", options=options)
    assert answer.answer == ("baseline drift", "static noise")  # values outside the options are ignored
    assert answer.answer_format == "json_object" and agent.refused_formats == {"json_schema"}
    formats = [(r.get("response_format") or {}).get("type") for r in model.requests]
    assert formats == [None, "json_schema", "json_schema", "json_object"]  # refused twice (one retry)
    assert model.requests[-1]["response_format"]["schema"]["properties"]["answer"]["items"]["enum"] == list(options)
    assert "maxItems" not in model.requests[-1]["response_format"]["schema"]["properties"]["answer"]
    again = agent.ask("syn1", "What kind of noises does this ECG show?", force_tool="record_summary", options=options)
    assert again.answer == ("none",)
    assert [(r.get("response_format") or {}).get("type") for r in model.requests[4:]] == [None, "json_object"]


def test_server_without_structured_output_gets_free_text_parsed_for_options(context):
    model = RefusesFormats([completion(tool_calls=[("record_summary", {"record": "syn1"})]),
                            completion("I think the answer is not sure [E1].")],
                           refused=("json_schema", "json_object"), status=400)
    answer = _agent(context, model, max_retries=0).ask("syn1", "Is there MI?", force_tool="record_summary",
                                                       options=OPTIONS, single=True)
    assert answer.answer == ("not sure",) and answer.answer_format == "text"
    assert "response_format" not in model.requests[-1]


def test_a_reply_naming_no_option_gives_an_empty_answer_not_a_guess(context):
    model = RefusesFormats([completion(tool_calls=[("record_summary", {"record": "syn1"})]),
                            completion("The ECG has 12 leads.")], refused=("json_schema", "json_object"), status=400)
    answer = _agent(context, model, max_retries=0).ask("syn1", "Is there MI?", force_tool="record_summary",
                                                       options=OPTIONS, single=True)
    assert answer.answer == () and answer.answer_format == "text" and answer.stopped == "answer"


def test_free_text_answer_without_options_gets_one_constrained_answering_turn(context):
    model = ScriptedModel([completion(tool_calls=[("record_summary", {"record": "syn1"})]),
                           completion("Twelve leads, nothing else to say."),
                           completion('{"answer": ["no"]}')])
    answer = _agent(context, model, max_tool_rounds=None).ask("syn1", "Is this a normal ECG?",
                                                             force_tool="record_summary", options=("no", "yes"))
    assert answer.answer == ("no",) and answer.steps == 3 and answer.answer_format == "json_schema"
    assert model.requests[1]["tool_choice"] == "auto" and "response_format" in model.requests[2]


def test_step_limit_still_ends_with_an_answer_among_the_options(context):
    model = ScriptedModel([completion(tool_calls=[("record_summary", {"record": "syn1"})], call_prefix=str(i))
                           for i in range(2)] + [completion('{"answer": ["yes"]}')])
    answer = _agent(context, model, max_steps=2, max_tool_rounds=None).ask(
        "syn1", "Is this a normal ECG?", force_tool="record_summary", options=("no", "yes"))
    assert answer.stopped == "step_limit" and answer.answer == ("yes",) and answer.steps == 3


def test_a_forced_tool_is_called_once_per_record_each_turn_pinned_to_its_record(context):
    model = ScriptedModel([completion(tool_calls=[("ecgqa_attributes", {"record": "syn1"})]),
                           completion(tool_calls=[("ecgqa_attributes", {"record": "syn2"})]),
                           completion('{"answer": ["none"]}')])
    answer = _agent(context, model).ask(
        "syn1", "What symptoms are newly detected in the second ECG as compared to the first ECG?",
        force_tool="ecgqa_attributes", others=("syn2",), options=("none", "sinus rhythm"))
    enums = [r["tools"][0]["function"]["parameters"]["properties"]["record"]["enum"] for r in model.requests[:2]]
    assert enums == [["syn1"], ["syn2"]]
    assert all(r["tool_choice"]["function"]["name"] == "ecgqa_attributes" for r in model.requests[:2])
    assert [c.ok for c in answer.tool_calls] == [True, True] and answer.answer == ("none",)
    prompt = model.requests[2]["messages"][-1]["content"]
    assert "syn1: " in prompt and "syn2: " in prompt and "E1" not in prompt  # both ECGs, one line each


def test_connection_errors_in_the_answering_turn_are_not_taken_for_a_refused_format(context):
    model = ScriptedModel([completion(tool_calls=[("record_summary", {"record": "syn1"})]),
                           ConnectionError("refused"), ConnectionError("refused")])
    agent = _agent(context, model)
    with pytest.raises(LLMError, match="failed after 2 attempt"):
        agent.ask("syn1", "Is this a normal ECG?", force_tool="record_summary", options=("no", "yes"))
    assert agent.refused_formats == set()


def test_answer_format_setting_is_validated_and_can_force_free_text(context):
    with pytest.raises(UsageError, match="answer_format"):
        LLMSettings(model="m", answer_format="xml")
    model = ScriptedModel([completion(tool_calls=[("record_summary", {"record": "syn1"})]), completion("yes")])
    answer = _agent(context, model, answer_format="text").ask("syn1", "Normal?", force_tool="record_summary",
                                                              options=("no", "yes"))
    assert answer.answer == ("yes",) and "response_format" not in model.requests[-1]


def test_bench_llm_agent_counts_a_reply_with_no_option_as_an_error(tmp_path, monkeypatch):
    import numpy as np

    from ecgqa_tools.eval._ecgqa_bench_systems import BenchContext, LLMAgentSystem, LLMEndpoint
    from ecgqa_tools.qa import QASample
    from ecgqa_tools.records import ECG

    def ecg(ecg_id):
        t = np.arange(1000) / 100.0
        return ECG.from_array(np.stack([np.sin(2 * np.pi * 1.2 * t)] * 12), 100.0, record_id=str(ecg_id), source="ptbxl")

    script = ScriptedModel([completion(tool_calls=[("noise_per_lead", {"record": "ptbxl:7"})]),
                            completion("I cannot tell.")])
    ctx = BenchContext(ptbxl_dir=tmp_path, ecgqa_dir=tmp_path, chat_function=script,
                       llm=LLMEndpoint(model="scripted", answer_format="text"))
    system = LLMAgentSystem(ctx)
    monkeypatch.setattr(system, "seen_ecg_ids", lambda: frozenset())
    monkeypatch.setattr(ctx, "load_ecg", ecg)
    sample = QASample(template_id=32, question_id=0, sample_id=1, question_type="single-query",
                      attribute_type="noise", question="What kind of noises does this ECG show?",
                      answer=("none",), ecg_id=(7,), attribute=())
    with pytest.raises(UnsupportedQuestion, match="named none of the answer options \\(text\\): 'I cannot tell\\."):
        system.answer(sample, [ecg(7)])  # the harness scores it wrong and counts it (no tool used a model)
    assert script.requests[0]["tool_choice"] == {"type": "function", "function": {"name": "noise_per_lead"}}
    assert "static noise" in script.requests[1]["messages"][-1]["content"]  # the template's options listed


# ------------------------------------------------- the paper's protocol with a constrained reply


def test_ecgqa_protocol_constrained_keeps_the_prompt_and_chooses_through_the_schema(context):
    question = "Does this ECG show symptoms of sinus rhythm?"
    free = ScriptedModel([completion("yes")])
    _agent(context, free).ask_ecgqa_protocol("syn1", question, options=OPTIONS)
    model = RefusesFormats([completion('{"answer": ["yes"]}'), completion('{"answer": ["not sure"]}')])
    agent = _agent(context, model)
    answer = agent.ask_ecgqa_protocol("syn1", question, options=OPTIONS, constrained=True, single=True)
    *refused, final = model.requests  # the HTTP 500 is retried, then json_schema is given up
    assert {r["response_format"]["type"] for r in refused} == {"json_schema"}
    assert final["response_format"]["type"] == "json_object"
    assert final["messages"] == free.requests[0]["messages"]  # the paper's prompt, word for word
    items = final["response_format"]["schema"]["properties"]["answer"]
    assert items["items"]["enum"] == list(OPTIONS) and items["maxItems"] == 1
    assert "tools" not in final and "response_format" not in free.requests[0]
    assert answer.answer == ("yes",) and answer.answer_format == "json_object" and answer.evidence
    again = agent.ask_ecgqa_protocol("syn1", question, options=OPTIONS, constrained=True, single=True)
    assert again.answer == ("not sure",) and len(model.requests) == len(refused) + 2  # json_schema not tried again


def test_ecgqa_protocol_free_text_is_unchanged_and_constrained_comparison_takes_several(context):
    free = ScriptedModel([completion("The answer is none")])
    answer = _agent(context, free).ask_ecgqa_protocol("syn1", "What rhythm-related symptoms does this ECG show?")
    assert answer.answer == ("none",) and answer.answer_format is None
    options = ("atrial fibrillation", "none", "sinus rhythm")
    model = ScriptedModel([completion('{"answer": ["sinus rhythm", "atrial fibrillation", "bogus"]}')])
    answer = _agent(context, model).ask_ecgqa_protocol(
        "syn1", "What symptoms are newly detected in the second ECG as compared to the first ECG?",
        options=options, second="syn2", constrained=True)
    prompt = model.requests[0]["messages"][-1]["content"]
    assert "first ECG:" in prompt and "second ECG:" in prompt
    assert "maxItems" not in model.requests[0]["response_format"]["json_schema"]["schema"]["properties"]["answer"]
    assert answer.answer == ("atrial fibrillation", "sinus rhythm") and answer.answer_format == "json_schema"
