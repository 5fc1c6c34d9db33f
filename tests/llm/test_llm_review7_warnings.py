"""Session-7 review: quality warnings reach the agent's answer and its prompt; mostly-noise records
are warned about (rule of docs/llm.md "Mostly-noise records": static noise in >= 10 leads)."""

from __future__ import annotations

import numpy as np
import pytest

from ecgqa_tools.llm import TOOLS, Agent, LLMSettings, answer_offline
from ecgqa_tools.llm import ScriptedChatModel as ScriptedModel
from ecgqa_tools.llm import chat_completion as completion
from ecgqa_tools.llm._quality import lead_quality
from ecgqa_tools.llm._tools import MIN_NOISY_LEADS, noise_warning
from ecgqa_tools.records import ECG, STANDARD_LEADS

from .conftest import synthetic_ecg


def _noise(sd_mv: float = 0.3) -> ECG:
    signal = np.random.default_rng(1).normal(0, sd_mv, (12, 5000))
    return ECG.from_array(signal, 500.0, STANDARD_LEADS, record_id="noise", source="synthetic")


def _partly_flat() -> ECG:
    ecg = synthetic_ecg("pf")
    signal = ecg.signal_mv.copy()
    signal[3:] = 0.0  # 9 of 12 leads disconnected
    return ECG.from_array(signal, 500.0, STANDARD_LEADS, record_id="pf", source="synthetic")


def _agent(context, script, **settings):
    model = ScriptedModel(script)
    options = {"model": "scripted", "max_steps": 4, "max_retries": 0, "timeout_s": 5} | settings
    return Agent(LLMSettings(**options), context=context, chat_function=model, sleep=lambda s: None), model


def test_gaussian_noise_is_warned_about_offline_and_in_the_tools(context):
    context.add_record("noise", _noise())
    answer = answer_offline("noise", "Is there a heart attack?", context=context)
    assert any("static noise flagged in 12 of 12 leads" in w for w in answer.warnings)
    assert "Warning: memory:noise: static noise flagged in 12 of 12 leads" in answer.to_text()
    assert any("12 of 12" in w for w in TOOLS.run("disease_probabilities", context, record="noise").warnings)
    clean = answer_offline("syn1", "Is there a heart attack?", context=context)
    assert not any("static noise" in w for w in clean.warnings)


def test_the_noise_rule_counts_static_noise_leads():
    quality = lead_quality(_noise().signal_mv, 500.0, STANDARD_LEADS)
    assert sum("static noise" in q.noises for q in quality) == 12
    assert MIN_NOISY_LEADS == 10  # the rule committed in docs/llm.md before it was measured
    assert "9 of 9 leads" in noise_warning(list(quality[:9]), "r")  # every lead of a shorter record
    clean = lead_quality(synthetic_ecg().signal_mv, 500.0, STANDARD_LEADS)
    mixed = list(quality[:MIN_NOISY_LEADS - 1]) + list(clean[MIN_NOISY_LEADS - 1:])
    assert noise_warning(mixed, "r") is None  # 9 of 12 noisy: below the rule
    assert "10 of 12" in noise_warning(list(quality[:10]) + list(clean[10:]), "r")


@pytest.mark.parametrize("options", [None, ("yes", "no")])
def test_the_agents_answer_and_its_answering_prompt_carry_the_warnings(context, options):
    context.add_record("pf", _partly_flat())
    agent, model = _agent(context, [
        completion(tool_calls=[("disease_probabilities", {"record": "pf"})]),
        completion('{"answer": ["yes"]}' if options else "Probably infarction [E1]."),
    ], max_tool_rounds=1)
    answer = agent.ask("pf", "Is there a heart attack?", force_tool="disease_probabilities", options=options)
    assert answer.warnings and any("flat" in w for w in answer.warnings)
    assert all(f"Warning: {w}" in answer.to_text() for w in answer.warnings)
    assert answer.to_json()["warnings"] == list(answer.warnings)
    prompt = model.requests[-1]["messages"][-1]["content"]
    assert "Signal-quality warnings" in prompt and answer.warnings[0] in prompt


def test_a_record_shorter_than_the_models_window_is_warned_about(context):
    context.add_record("short", synthetic_ecg("short", seconds=1.0))
    out = TOOLS.run("disease_probabilities", context, record="short")
    assert any("is 1.0 s long" in w and "zero-pad" in w for w in out.warnings)
    assert not any("s long" in w for w in TOOLS.run("disease_probabilities", context, record="syn1").warnings)


def test_a_record_longer_than_the_models_window_says_which_10_s_they_read(context):
    """Review s8 S2: ``classify`` said so, the tools (``ask``) did not."""
    context.add_record("long", synthetic_ecg("long", seconds=90.0))
    for tool in ("disease_probabilities", "ecgqa_attributes", "age_sex_estimate"):
        out = TOOLS.run(tool, context, record="long")
        assert "memory:long is 90.0 s long: the models read only its middle 10 s (40.0-50.0 s)" in out.warnings, tool


def test_a_constrained_option_reply_is_shown_as_a_sentence(context):
    agent, _ = _agent(context, [completion(tool_calls=[("record_summary", {"record": "syn1"})]),
                                completion('{ "answer": [ "yes"]}')], max_tool_rounds=1)
    answer = agent.ask("syn1", "Is it normal?", force_tool="record_summary", options=("yes", "no"))
    assert answer.answer == ("yes",) and answer.text.startswith("The model chose: yes.")
