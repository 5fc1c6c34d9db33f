"""`ecgqa ask` answers the question asked, says how it read it and cites what decided the answer:
the REAL backend (shipped models, measurements, question understanding) on bundled examples.

Each test asserts against a second, independent call of the model or measurement that decides
(``predict_diseases`` / ``predict_attributes`` / ``grounding.measure``), never against a fixed
number, so a retrained model changes the expected answer with it."""

from __future__ import annotations

import json

import pytest

from ecgqa_tools.cli import main
from ecgqa_tools.llm import ToolContext, answer_offline
from ecgqa_tools.llm._offline import (
    BRADYCARDIA_BPM,
    CLARIFY_MARGIN,
    FINDINGS_ANY_QUESTION,
    _direct_intent,
    rewrite_everyday,
)
from ecgqa_tools.records import load_example

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ctx() -> ToolContext:
    return ToolContext()


def _disease_call(name: str, code: str) -> tuple[bool, float, float]:
    from ecgqa_tools.encoders import predict_diseases

    pred = predict_diseases(load_example(name))
    p, t = float(pred.probabilities[code]), float(pred.thresholds[code])
    return p >= t, p, t


def _attribute_call(name: str, statement: str) -> tuple[bool, float, float]:
    from ecgqa_tools.encoders import predict_attributes

    pred = predict_attributes(load_example(name))
    p, t = float(pred.probabilities[statement]), float(pred.thresholds[statement])
    return p >= t, p, t


def test_superclass_answer_agrees_with_the_disease_head_and_cites_it(ctx):
    """00400: 'ST/T changes?' is answered by the STTC head vs its threshold (what `classify` calls)."""
    present, p, t = _disease_call("ptbxl-00400", "STTC")
    answer = answer_offline("ptbxl-00400", "Does this ECG show ST/T changes?", context=ctx)
    assert answer.answer == (("yes",) if present else ("no",))
    assert answer.read_as == "Does this ECG show symptoms of st/t change?"
    assert [e.tool for e in answer.evidence] == ["disease_probabilities"]
    assert f"probability {p:.2f}" in answer.evidence[0].statement
    assert f"threshold {t:.2f}" in answer.evidence[0].statement


@pytest.mark.parametrize("question", ["Is there a conduction disturbance?", "Are there ST-T changes?",
                                      "Is there hypertrophy?"])
def test_every_superclass_wording_cites_only_its_head(ctx, question):
    answer = answer_offline("ptbxl-01386", question, context=ctx)
    code = {"conduction": "CD", "ST-T": "STTC", "hypertrophy": "HYP"}[next(
        k for k in ("conduction", "ST-T", "hypertrophy") if k in question)]
    present, p, _t = _disease_call("ptbxl-01386", code)
    assert answer.answer == (("yes",) if present else ("no",))
    assert len(answer.evidence) == 1 and f"({code}, disease CNN) probability {p:.2f}" in answer.evidence[0].statement


def test_no_answer_cites_the_class_that_was_checked(ctx):
    """00478: 'right bundle branch block?' cites that class's probability and threshold, not sinus rhythm."""
    present, _p, t = _attribute_call("ptbxl-00478", "complete right bundle branch block")
    answer = answer_offline("ptbxl-00478", "Does this ECG show a right bundle branch block?", context=ctx)
    assert answer.answer == (("yes",) if present else ("no",))
    assert answer.read_as == "Does this ECG show symptoms of complete right bundle branch block?"
    assert len(answer.evidence) == 1
    statement = answer.evidence[0].statement
    assert "'complete right bundle branch block'" in statement and f"threshold {t:.2f}" in statement


def test_single_ecg_question_with_compare_gets_a_message(ctx):
    answer = answer_offline("ptbxl-00473", "Is this a normal ECG?", second="ptbxl-00210", context=ctx)
    assert not answer.supported and answer.answer == ()
    assert "--compare" in answer.explanation and answer.read_as == "Is this a normal ECG?"


def test_heart_rate_comparison_reports_both_records(ctx):
    answer = answer_offline("ptbxl-00473", "Is the heart rate faster than in the other ECG?", second="ptbxl-00210",
                            context=ctx)
    assert answer.supported and answer.template_id is None
    assert answer.read_as == "Is the measured heart rate of the first ECG higher than that of the second?"
    assert {e.record for e in answer.evidence} == {"example:ptbxl-00473", "example:ptbxl-00210"}
    assert "difference (second - first)" in answer.explanation
    first, second = (float(e.statement.split()[2]) for e in answer.evidence)
    assert answer.answer == (("yes",) if first > second else ("no",))
    plain = answer_offline("ptbxl-00473", "What is the QT interval?", second="ptbxl-00210", context=ctx)
    assert plain.answer == () and plain.read_as == "What is the measured QT interval?"


def test_comparison_template_without_second_ecg_gets_a_message(ctx):
    answer = answer_offline(
        "ptbxl-00473", "What symptoms are newly detected in the second ECG as compared to the first ECG?", context=ctx)
    assert not answer.supported and "--compare" in answer.explanation and answer.template_id is not None


def test_what_is_wrong_lists_findings_from_the_signal(ctx):
    from ecgqa_tools.encoders import predict_attributes

    answer = answer_offline("ptbxl-01386", "What is wrong with this ECG?", context=ctx)
    assert answer.supported and answer.template_id is None and answer.answer
    pred = predict_attributes(load_example("ptbxl-01386"))
    for finding in answer.answer:
        if finding in pred.probabilities:  # a statement: over its threshold
            assert pred.probabilities[finding] >= pred.thresholds[finding]
    assert sum(e.tool == "disease_probabilities" for e in answer.evidence) == 4  # every head, present or not


def test_bradycardia_is_decided_by_the_measured_rate(ctx):
    answer = answer_offline("ptbxl-00473", "Is there bradycardia?", context=ctx)
    rate_items = [e for e in answer.evidence if e.statement.startswith("heart rate")]
    rate = float(rate_items[0].statement.split()[2])
    assert answer.answer == (("yes",) if rate < BRADYCARDIA_BPM else ("no",))


def test_any_bundle_branch_block_checks_every_bbb_statement(ctx):
    answer = answer_offline("ptbxl-00478", "Is there a bundle branch block?", context=ctx)
    assert answer.supported and answer.answer in (("yes",), ("no",))
    checked = [e.statement for e in answer.evidence]
    assert len(checked) >= 4 and all("bundle branch block" in s and "threshold" in s for s in checked)


@pytest.mark.parametrize(("question", "read_as"), [
    ("Is the QRS wide?", "Does the qrs duration of this ECG fall above the normal range?"),
    ("Is the QT prolonged?", "Does the qt interval of this ECG fall above the normal range?"),
    ("What is the QTc?", "What is the measured QTc (Bazett; Fridericia shown too)?"),
    ("What is the QT/PR interval?", "What is the measured QT interval and PR interval?"),
])
def test_interval_wordings(ctx, question, read_as):
    answer = answer_offline("ptbxl-00473", question, context=ctx)
    assert answer.supported and answer.read_as == read_as
    assert answer.evidence and all(e.tool == "intervals_and_axis" for e in answer.evidence)
    assert all("normal range" in e.statement for e in answer.evidence if "fridericia" not in e.statement)


def test_template_reading_is_always_shown_in_text_and_json(capsys):
    assert main(["ask", "ptbxl-00473", "What is the heart axis of this ECG?", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["template_id"] == 22 and out["read_as"] == "What direction is this ECG deviated to?"
    assert main(["ask", "ptbxl-00473", "Does this ECG show symptoms of sinus rhythm?"]) == 0
    text = capsys.readouterr().out
    assert "(read as: Does this ECG show symptoms of sinus rhythm? [ECG-QA template 1])" in text


def test_wordings_route_without_models():
    assert _direct_intent(rewrite_everyday("What is wrong with this ECG?")) == "findings"
    assert _direct_intent(rewrite_everyday("Is there a bundle branch block?")) == "bbb_any"
    assert _direct_intent(rewrite_everyday("Is there a left bundle branch block?")) is None
    assert _direct_intent(rewrite_everyday("Is there tachycardia?")) == "rate_limit"
    assert _direct_intent(rewrite_everyday("What range does the qt interval of this ECG fall in?")) != "quantity"
    assert 0 < CLARIFY_MARGIN < 0.1


def test_any_kind_answer_cites_the_statements_it_counts(ctx):
    """'Any form-related symptoms?' cites form statements against their thresholds (present ones
    when the answer is yes, the closest ones below threshold when it is no), not the model's
    aggregate 'any form-related symptoms' class, which the answer engine does not use."""
    from ecgqa_tools.qa import SCP_FORM

    answer = answer_offline("ptbxl-00400", "Does this ECG show any form-related symptoms?", context=ctx)
    assert answer.answer in (("yes",), ("no",)) and answer.evidence
    cited = [e.statement.split("'")[1] for e in answer.evidence]
    assert all(name in SCP_FORM for name in cited)
    word = "present" if answer.answer == ("yes",) else "absent"
    assert all(e.statement.endswith(f"{word} on example:ptbxl-00400") for e in answer.evidence)


def test_close_readings_are_listed_instead_of_answered(ctx):
    """'Are there any symptoms?' is nearly as close to 'any diagnostic symptoms' as to 'any kind of
    abnormal symptoms' (margin about 0.011 < CLARIFY_MARGIN): both readings come back, no answer."""
    answer = answer_offline("ptbxl-00473", "Are there any symptoms?", context=ctx)
    assert not answer.supported and answer.answer == () and len(answer.readings) == 2
    assert "Does this ECG show any kind of abnormal symptoms?" in answer.readings
    clear = answer_offline("ptbxl-00473", "Does this ECG show any kind of abnormal symptoms?", context=ctx)
    assert clear.supported and clear.template_id == 12


def _rates(answer) -> tuple[float, float]:
    """(first, second) measured heart rates cited by a two-ECG answer, in record order."""
    by_record = {e.record: float(e.statement.split()[2]) for e in answer.evidence}
    return by_record["example:ptbxl-00473"], by_record["example:ptbxl-00210"]


@pytest.mark.parametrize(("question", "subject", "direction"), [
    ("Is the heart rate of the second ECG faster?", "second", "higher"),
    ("Is the second ECG faster than the first?", "second", "higher"),
    ("Has the heart rate increased?", "second", "higher"),
    ("Has the heart rate dropped?", "second", "lower"),
    ("Is the heart rate slower than in the other ECG?", "first", "lower"),
    ("Is the heart rate faster than in the previous ECG?", "second", "higher"),
])
def test_two_ecg_rate_questions_answer_what_was_asked(ctx, question, subject, direction):
    """The yes/no follows the wording's subject (first / second = --compare, the more recent ECG)
    and direction ("increased" = the second is higher), checked against the measured rates."""
    answer = answer_offline("ptbxl-00473", question, second="ptbxl-00210", context=ctx)
    assert answer.supported and answer.read_as is not None
    other = "first" if subject == "second" else "second"
    assert answer.read_as == f"Is the measured heart rate of the {subject} ECG {direction} than that of the {other}?"
    first, second = _rates(answer)
    mine, theirs = (first, second) if subject == "first" else (second, first)
    assert answer.answer == (("yes",) if (mine > theirs if direction == "higher" else mine < theirs) else ("no",))


def test_two_ecg_question_without_a_subject_is_asked_back(ctx):
    answer = answer_offline("ptbxl-00473", "Is the heart rate faster?", second="ptbxl-00210", context=ctx)
    assert not answer.supported and answer.answer == () and not answer.failed
    assert len(answer.readings) == 2 and "first ECG higher" in answer.readings[0]
    assert "second ECG higher" in answer.readings[1] and len(answer.evidence) == 2


def test_two_ecg_interval_question_compares_the_measured_values(ctx):
    from ecgqa_tools.grounding import measure

    answer = answer_offline("ptbxl-00473", "Is the QT interval longer than in the other ECG?", second="ptbxl-00210",
                            context=ctx)
    assert answer.supported and answer.template_id is None
    assert answer.read_as == "Is the measured QT interval of the first ECG higher than that of the second?"
    first, second = (measure(load_example(n)).qt_interval.value for n in ("ptbxl-00473", "ptbxl-00210"))
    assert answer.answer == (("yes",) if round(first, 1) > round(second, 1) else ("no",))


@pytest.mark.parametrize("question", ["Is the heart rate faster than in the other ECG?",
                                      "Is the QT interval longer than in the other ECG?",
                                      "Has the heart rate increased?",
                                      "Is the heart rate higher compared to the previous ECG?"])
def test_two_ecg_wording_without_compare_asks_for_the_second_ecg(ctx, question):
    answer = answer_offline("ptbxl-00473", question, context=ctx)
    assert not answer.supported and answer.answer == () and answer.evidence == ()
    assert "--compare RECORD2" in answer.explanation


@pytest.mark.parametrize("question", ["Is the ECG abnormal?", "Is there anything wrong?", "Is something wrong?",
                                      "Is the ECG unusual?"])
def test_everyday_abnormal_questions_agree_with_the_findings(ctx, question):
    """00400: 'Is the ECG abnormal?' is yes exactly when 'What is wrong with this ECG?' lists a
    finding (the STTC head calls ST/T change there), and cites the same calls."""
    findings = answer_offline("ptbxl-00400", "What is wrong with this ECG?", context=ctx)
    answer = answer_offline("ptbxl-00400", question, context=ctx)
    assert answer.supported and answer.interpreted_as == FINDINGS_ANY_QUESTION and answer.template_id is None
    has_finding = findings.answer != ("no abnormal finding",)
    assert answer.answer == (("yes",) if has_finding else ("no",))
    assert [e.statement for e in answer.evidence] == [e.statement for e in findings.evidence]
    sttc = answer_offline("ptbxl-00400", "Does this ECG show ST/T changes?", context=ctx)
    if sttc.answer == ("yes",):
        assert answer.answer == ("yes",) and "st/t change" in findings.answer
