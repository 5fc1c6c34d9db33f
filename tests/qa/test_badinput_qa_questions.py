"""Session-8 bad-input review, S1: a question naming a lead that is not one of the 12 is refused
with "unknown lead V7" instead of being answered for the whole ECG with the lead dropped."""

from __future__ import annotations

import pytest

from ecgqa_tools.errors import UnsupportedQuestion
from ecgqa_tools.qa import extract_slots, parse_question


@pytest.mark.parametrize("question,names", [
    ("Does this ECG show baseline drift in lead V7?", "lead V7"),
    ("Does this ECG show baseline drift in lead V12?", "lead V12"),
    ("Does this ECG show non-diagnostic t abnormalities in lead V7?", "lead V7"),
    ("Does this ECG show static noise in lead aVX?", "lead aVX"),
    ("Does this ECG show baseline drift in lead iv?", "lead IV"),
    ("Is there ST elevation in V4R?", "lead V4R"),
    ("Does this ECG show baseline drift in v7 and v8?", "leads V7, V8"),
])
def test_a_lead_that_does_not_exist_is_named_not_dropped(question, names):
    with pytest.raises(UnsupportedQuestion, match=f"unknown {names} in the question; .*I, II, III, aVR.*V6"):
        parse_question(question)


@pytest.mark.parametrize("question,template_id,lead", [
    ("Does this ECG show baseline drift in lead V2?", 26, "V2"),
    ("Does this ECG show static noise in lead aVF?", None, "aVF"),
    ("is there noise in leads I?", None, "I"),
])
def test_real_leads_still_parse(question, template_id, lead):
    parsed = parse_question(question)
    assert parsed.slots.get("lead") == lead and (template_id is None or parsed.template_id == template_id)


def test_lead_words_in_statement_names_are_not_leads():
    for text in ("Does this ECG show myocardial infarction in inferior leads?",
                 "Does this ECG show symptoms of myocardial infarction in anterolateral leads?",
                 "Which leads show baseline drift?", "What is the heart rate?"):
        assert extract_slots(text).unknown_leads == ()


def test_qa_parse_and_ask_accept_the_same_question_length():
    from ecgqa_tools.llm._offline import check_question
    from ecgqa_tools.qa import MAX_QUESTION_CHARS

    assert MAX_QUESTION_CHARS == 1000  # one definition, used by parse_question and ask (review s8 S3)
    assert check_question("x" * 1000) == "x" * 1000
    with pytest.raises(UnsupportedQuestion, match="1001 characters long; at most 1000 are accepted"):
        check_question("x" * 1001)
    with pytest.raises(UnsupportedQuestion, match="question too long \\(1001 characters; at most 1000\\)"):
        parse_question("x" * 1001)


@pytest.mark.parametrize("question,words", [
    ("¿Hay un infarto de miocardio en este ECG?", "hay, un, este"),
    ("Hay un infarto de miocardio en este ECG?", "hay, un, este"),
    ("Cet ECG montre-t-il un infarctus?", "cet, montre, il, un"),
    ("Zeigt dieses EKG einen Infarkt?", "zeigt, dieses, einen"),
])
def test_a_question_that_is_not_english_is_refused_not_mapped(question, words):
    # the Spanish one was read as template 25 "What stage of infarction ...?" and answered
    with pytest.raises(UnsupportedQuestion, match=f"does not read as English \\({words}\\)"):
        parse_question(question)


def test_english_questions_with_look_alike_words_are_not_refused():
    for text in ("Does this ECG show LA enlargement?", "Is there a del wave?", "What is the heart rate?",
                 "Does this ECG show sinus rhythm with un-specific changes?", "Is the ECG normal?"):
        assert extract_slots(text).foreign_words == (), text
