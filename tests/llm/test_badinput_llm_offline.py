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
    assert f"{names}; the leads are I, II, III, aVR, aVL, aVF, V1" in answer.explanation
    assert backend.calls == []  # nothing was computed for a question that cannot be answered


def test_offline_answer_refuses_a_question_that_is_not_english(context, backend):
    answer = answer_offline("syn1", "¿Hay un infarto de miocardio en este ECG?", context=context)
    assert not answer.supported and answer.answer == () and answer.template_id is None
    assert "does not read as English (hay, un, este); ask in English" in answer.explanation
    assert backend.calls == []
