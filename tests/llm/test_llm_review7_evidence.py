"""Session-7 review: a tool result without a value still gives the model (and the answer) a citable
reason: 'not measurable: why' from intervals_and_axis, 'no class at or above the threshold' from
ecgqa_attributes."""

from __future__ import annotations

import numpy as np

from ecgqa_tools.llm import TOOLS, Agent, LLMSettings, ToolContext
from ecgqa_tools.llm import ScriptedChatModel as ScriptedModel
from ecgqa_tools.llm import chat_completion as completion
from ecgqa_tools.records import ECG, STANDARD_LEADS


def test_unmeasurable_values_become_one_evidence_item_with_their_reasons(context):
    out = TOOLS.run("intervals_and_axis", context, record="syn1")
    statements = [context.evidence[i].statement for i in out.evidence_ids]
    assert statements[-1] == "not measurable on memory:syn1: p duration (no P wave found)"


def test_an_all_flat_record_gets_the_reason_as_evidence_and_in_the_answering_prompt():
    ctx = ToolContext()  # the real measurements
    ctx.add_record("flat", ECG.from_array(np.zeros((12, 5000)), 500.0, STANDARD_LEADS, record_id="flat", source="synthetic"))
    out = TOOLS.run("intervals_and_axis", ctx, record="flat")
    assert all(v is None for v in out.values.values()) and len(out.evidence_ids) == 1
    statement = ctx.evidence[out.evidence_ids[0]].statement
    assert statement.startswith("not measurable on memory:flat: heart rate (") and "QRS" in statement
    model = ScriptedModel([completion(tool_calls=[("intervals_and_axis", {"record": "flat"})]),
                           completion("Nothing can be measured [E1].")])
    agent = Agent(LLMSettings(model="m", max_tool_rounds=1), context=ctx, chat_function=model, sleep=lambda s: None)
    answer = agent.ask("flat", "What is the heart rate?", force_tool="intervals_and_axis")
    assert answer.grounded and "not measurable" in model.requests[-1]["messages"][-1]["content"]
    assert "Tool results:\n(none)" not in model.requests[-1]["messages"][-1]["content"]


def test_no_class_above_the_threshold_is_itself_evidence(context):
    out = TOOLS.run("ecgqa_attributes", context, record="syn1", threshold=0.95)
    assert out.present == {} and len(out.evidence_ids) == 1
    assert context.evidence[out.evidence_ids[0]].statement == (
        "no attribute class at or above threshold 0.95; highest 'sinus rhythm' 0.93 on memory:syn1")


def test_a_long_record_is_measured_on_its_first_minute_and_says_so(context, backend):
    seen = []
    measure = backend.measure

    def spy(ecg, method):
        seen.append(ecg.duration_s)
        return measure(ecg, method)

    backend.measure = spy
    from .conftest import synthetic_ecg

    context.add_record("long", synthetic_ecg("long", fs_hz=100.0, seconds=600.0))
    out = TOOLS.run("intervals_and_axis", context, record="long")
    assert seen == [60.0] and "measured the first 60 s of 600.0 s" in out.provenance[0].source
    TOOLS.run("intervals_and_axis", context, record="syn1")
    assert seen == [60.0, 10.0]  # a 10 s record is measured whole


def test_a_measured_value_question_has_the_value_as_its_answer(context):
    from ecgqa_tools.llm import answer_offline

    assert answer_offline("syn1", "What is the heart rate?", context=context).answer == ("heart rate 75 bpm",)
    assert answer_offline("syn1", "How old is the patient?", context=context).answer == ("61.4 years",)
