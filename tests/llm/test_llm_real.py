"""The offline answerer and the CLI with the REAL backend (shipped models, measurements, question
understanding) on a bundled PTB-XL example: no dataset folder, no network.

The bundled examples are PTB-XL test-fold (fold 10) records; the shipped models' cards list their
training records and none of these is among them (checked below)."""

from __future__ import annotations

import json

import pytest

from ecgqa_tools.cli import main
from ecgqa_tools.llm import DISCLAIMER, TOOLS, ToolContext, answer_offline
from ecgqa_tools.records import list_examples, load_example

pytestmark = pytest.mark.slow
EXAMPLE = list_examples()[0]


@pytest.fixture(scope="module")
def real_context() -> ToolContext:
    return ToolContext()


def test_bundled_example_is_not_a_training_record_of_any_shipped_model():
    from ecgqa_tools.encoders import model_cards

    ecg_ids = {int(load_example(name).record_id) for name in list_examples()[:2]}
    cards = model_cards()
    assert cards
    for name, card in cards.items():
        assert not ecg_ids & card.seen_ids, name


def test_heart_rate_is_measured_on_the_signal(real_context):
    answer = answer_offline(EXAMPLE, "What is the heart rate?", context=real_context)
    assert answer.supported and "beats per minute" in answer.explanation
    rate = [e for e in answer.evidence if e.statement.startswith("heart rate")]
    assert rate and rate[0].provenance.source.startswith("measurements")
    value = float(rate[0].statement.split()[2])
    assert 30 <= value <= 200


def test_everyday_normal_question_gets_an_ecgqa_answer_with_model_evidence(real_context):
    answer = answer_offline(EXAMPLE, "Is my ECG normal?", context=real_context)
    assert answer.interpreted_as == "Is this a normal ECG?" and answer.template_id == 2
    assert answer.supported, answer.explanation
    assert answer.answer in (("yes",), ("no",))
    assert "ecgqa_attributes" in answer.tools_used
    assert all(e.provenance.version for e in answer.evidence)


def test_every_tool_runs_on_the_bundled_example(real_context):
    for name, extra in (("record_summary", {}), ("intervals_and_axis", {}), ("noise_per_lead", {}),
                        ("codec_tokens", {"lead": "II"}), ("disease_probabilities", {}),
                        ("ecgqa_attributes", {}), ("age_sex_estimate", {}),
                        ("attribution_evidence", {"disease": "MI"}),
                        ("compare_ecgs", {"record_b": list_examples()[1]})):
        key = "record_a" if name == "compare_ecgs" else "record"
        result = TOOLS.call(name, {key: EXAMPLE, **extra}, real_context)
        assert result.ok, (name, result.error)
        assert result.output.evidence_ids and result.output.provenance


def test_cli_ask_json_and_demo(capsys):
    assert main(["ask", EXAMPLE, "What range does the qrs duration of this ECG fall in?", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["template_id"] == 41 and data["disclaimer"] == DISCLAIMER
    assert data["answer"][0] in ("below the normal range", "within the normal range", "above the normal range")
    assert any("qrs duration" in e["statement"] for e in data["evidence"])
    assert main(["demo", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 6 and all(line["disclaimer"] == DISCLAIMER for line in lines)
    assert not lines[-1]["supported"]  # the weather question is out of scope


def test_disease_tool_calls_agree_with_classify_thresholds(real_context):
    """The LLM/MCP tool marks a superclass positive exactly when `ecgqa classify` does, on every
    bundled example, with the same thresholds in its output and its evidence."""
    from ecgqa_tools.encoders import predict_diseases

    for name in list_examples():
        expected = predict_diseases(load_example(name))
        out = TOOLS.run("disease_probabilities", real_context, record=name)
        assert out.positive == list(expected.positive), name
        for code, threshold in expected.thresholds.items():
            assert out.thresholds[code] == pytest.approx(threshold, abs=1e-4)
        statements = [real_context.evidence[i].statement for i in out.evidence_ids]
        for code in expected.probabilities:
            call = "positive" if code in expected.positive else "negative"
            assert any(f"({code})" in s and call in s for s in statements), (name, code, statements)
