"""Session-8 bad-input review, S1: the offline answerer refuses a question about a lead that does
not exist ("unknown lead V7") instead of answering it for the whole ECG."""

from __future__ import annotations

import pytest

from ecgqa_tools.llm import answer_offline


@pytest.mark.parametrize("question,names", [
    ("Does this ECG show baseline drift in lead V7?", "unknown lead V7"),
    ("What is the QRS duration in lead V9?", "unknown lead V9"),  # a direct (measured) question too
    ("Is there noise in leads V7 and V8?", "unknown leads V7, V8"),
])
def test_offline_answer_names_the_unknown_lead(context, backend, question, names):
    answer = answer_offline("syn1", question, context=context)
    assert not answer.supported and answer.answer == ()
    assert f"{names} in the question; ECG-QA asks about the 12 standard leads: I, II, III, aVR" in answer.explanation
    assert backend.calls == []  # nothing was computed for a question that cannot be answered


def test_offline_answer_refuses_a_question_that_is_not_english(context, backend):
    answer = answer_offline("syn1", "¿Hay un infarto de miocardio en este ECG?", context=context)
    assert not answer.supported and answer.answer == () and answer.template_id is None
    assert "does not read as English (hay, un, este); questions are understood in English" in answer.explanation
    assert backend.calls == []


def test_a_voltage_question_on_amplitudes_that_are_not_mv_is_refused(context, monkeypatch):
    from ecgqa_tools.records import ECG

    from .conftest import FAKE_TEMPLATES, synthetic_ecg

    question = "Does this ECG show high QRS voltage?"
    monkeypatch.setitem(FAKE_TEMPLATES, question.lower(), FAKE_TEMPLATES["is this a normal ecg?"])
    clean = synthetic_ecg()
    context.add_record("microvolt", ECG.from_array(clean.signal_mv * 1000, clean.fs_hz, clean.lead_names,
                                                   record_id="microvolt"))
    refused = answer_offline("microvolt", question, context=context)
    assert not refused.supported and refused.answer == ()
    assert "may not be millivolts (values look like microvolts" in refused.explanation
    assert "voltage question cannot be judged" in refused.explanation
    assert answer_offline("syn1", question, context=context).supported  # the same question, mV record
    assert answer_offline("microvolt", "Is this a normal ECG?", context=context).supported  # not about voltage
