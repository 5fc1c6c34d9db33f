"""A disease head that is flat at the ECG (``encoders.DiseasePrediction.flat_heads``: its probability is
the head's constant output) is said so wherever the llm layer shows that probability: the
``disease_probabilities`` tool (``flat_heads``, ``notes``, the evidence statement), the offline
answer (``ask`` text and ``--json``: the cited statement and a ``Note:``) and the agent's answer; a
live head gets no such note (review s9 S4, docs/encoders.md "Flat heads"). Fake backend (no data) and
PTB Diagnostic s0010_re, whose MI v4 head is flat (real models)."""

from __future__ import annotations

import json

import pytest

from ecgqa_tools.cli import main
from ecgqa_tools.encoders import flat_head_note
from ecgqa_tools.llm import TOOLS, Agent, LLMSettings, ToolContext, answer_offline
from ecgqa_tools.llm import ScriptedChatModel as ScriptedModel
from ecgqa_tools.llm import chat_completion as completion
from ecgqa_tools.llm._adapters import DiseaseScores

from .conftest import FakeBackend, synthetic_ecg

MI_QUESTION = "Does this ECG show symptoms of myocardial infarction?"
FLAT_WORDS = "the head's output is flat at this ECG"


class FlatMiBackend(FakeBackend):
    """The fake backend, with the MI head flat at every ECG (as the real adapter reports it)."""

    def predict_diseases(self, ecg):
        self.calls.append("predict_diseases")
        probabilities = {"MI": 0.4996, "STTC": 0.22, "CD": 0.10, "HYP": 0.05}
        return DiseaseScores(probabilities, "fake-disease-cnn", "0-test", thresholds={"MI": 0.22},
                             flat_notes={"MI": flat_head_note("MI", probabilities["MI"])})


def _context(backend) -> ToolContext:
    ctx = ToolContext(backend=backend)
    ctx.add_record("syn1", synthetic_ecg("syn1"))
    return ctx


def test_tool_result_lists_the_flat_head_in_flat_heads_notes_and_evidence() -> None:
    ctx = _context(FlatMiBackend())
    shown = json.loads(TOOLS.call("disease_probabilities", {"record": "syn1"}, ctx).to_text())
    assert shown["flat_heads"] == ["MI"] and shown["positive"] == ["MI"]
    assert shown["notes"] == [flat_head_note("MI", 0.4996)] and not shown["warnings"]
    statements = {code: e.statement for e in ctx.evidence.values() for code in shown["probabilities"]
                  if f"({code})" in e.statement}
    assert FLAT_WORDS in statements["MI"] and "0.50 is its constant output" in statements["MI"]
    assert not any(FLAT_WORDS in s for code, s in statements.items() if code != "MI")


def test_live_heads_give_no_flat_note(context) -> None:
    shown = json.loads(TOOLS.call("disease_probabilities", {"record": "syn1"}, context).to_text())
    assert shown["flat_heads"] == [] and shown["notes"] == []
    answer = answer_offline("syn1", MI_QUESTION, context=context)
    assert answer.answer == ("yes",) and answer.notes == ()
    assert "flat" not in answer.to_text()


def test_offline_yes_on_a_flat_head_says_so() -> None:
    answer = answer_offline("syn1", MI_QUESTION, context=_context(FlatMiBackend()))
    assert answer.answer == ("yes",)
    assert answer.notes == (flat_head_note("MI", 0.4996),)
    assert "0.50 is its constant output, not a graded response" in answer.explanation
    text = answer.to_text()
    assert f"Note: MI: {FLAT_WORDS}" in text and "Warning: MI" not in text
    assert answer.to_json()["notes"] == [flat_head_note("MI", 0.4996)]


def test_an_answer_not_resting_on_the_disease_heads_has_no_flat_note() -> None:
    answer = answer_offline("syn1", "What rhythm-related symptoms does this ECG show?", context=_context(FlatMiBackend()))
    assert answer.supported and "disease_probabilities" not in answer.tools_used
    assert answer.notes == ()


def test_agent_answer_lists_the_flat_note() -> None:
    ctx = _context(FlatMiBackend())
    model = ScriptedModel([completion(tool_calls=[("disease_probabilities", {"record": "syn1"})]),
                           completion("MI probability 0.50 [E1].")])
    agent = Agent(LLMSettings(model="scripted", max_steps=4, max_retries=0, timeout_s=5), context=ctx,
                  chat_function=model, sleep=lambda s: None)
    answer = agent.ask("syn1", "Is there a heart attack?")
    assert answer.notes == (flat_head_note("MI", 0.4996),) and answer.warnings == ()
    tool_message = json.loads(model.requests[1]["messages"][-1]["content"])  # the model saw it too
    assert tool_message["flat_heads"] == ["MI"] and tool_message["notes"] == [flat_head_note("MI", 0.4996)]


def test_ask_on_s0010_re_says_the_mi_head_is_flat(ptbdb_dir, capsys) -> None:
    record = str(ptbdb_dir / "s0010_re")
    assert main(["ask", record, MI_QUESTION]) == 0
    text = capsys.readouterr().out
    assert "A: yes" in text
    assert f"Note: MI: {FLAT_WORDS}" in text and "so the probability 0.50 is that constant" in text
    assert main(["ask", record, "Does this ECG show conduction disturbance?", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)  # CD is live there; the flat MI head is not its business
    assert not any("flat" in n for n in out["notes"])
    assert main(["ask", record, MI_QUESTION, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["answer"] == ["yes"] and any(n.startswith(f"MI: {FLAT_WORDS}") for n in out["notes"])
    assert not any("flat" in w for w in out["warnings"])


def test_a_normal_record_has_no_flat_note(capsys) -> None:
    assert main(["ask", "ptbxl-00210", MI_QUESTION, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert not any("flat" in n for n in out["notes"])


@pytest.mark.parametrize("record_name", ["s0010_re"])
def test_real_tool_result_on_s0010_re(ptbdb_dir, record_name) -> None:
    ctx = ToolContext(extra_roots=[str(ptbdb_dir)])
    shown = json.loads(TOOLS.call("disease_probabilities", {"record": str(ptbdb_dir / record_name)}, ctx).to_text())
    assert shown["flat_heads"] == ["MI"]
    assert any(n.startswith(f"MI: {FLAT_WORDS}") for n in shown["notes"])


def test_comparison_names_the_record_of_each_flat_note() -> None:
    ctx = _context(FlatMiBackend())
    ctx.add_record("syn2", synthetic_ecg("syn2", noise_mv=0.2))
    result = TOOLS.run("compare_ecgs", ctx, record_a="syn1", record_b="syn2")
    flat = [n for n in result.notes if FLAT_WORDS in n]
    assert len(flat) == 2 and flat[0].endswith(flat_head_note("MI", 0.4996)) and flat[0] != flat[1]
    assert not any("flat" in w for w in result.warnings)
