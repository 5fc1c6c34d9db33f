"""Bad input to the LLM layer: unusable signals, undecodable questions, files named on the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ecgqa_tools.cli import main
from ecgqa_tools.errors import RecordNotFound, UnsupportedQuestion
from ecgqa_tools.llm import answer_offline
from ecgqa_tools.llm._offline import check_question
from ecgqa_tools.llm._records import parse_record_ref
from ecgqa_tools.records import ECG, STANDARD_LEADS

from .conftest import synthetic_ecg


def _with_lead(ecg: ECG, lead: str, value_mv: float) -> ECG:
    signal = ecg.signal_mv.copy()
    signal[ecg.lead_names.index(lead)] = value_mv
    return ECG.from_array(signal, ecg.fs_hz, ecg.lead_names, record_id="edited", source="synthetic")


def test_all_flat_record_is_not_analysed(context, backend):
    flat = ECG.from_array(np.zeros((12, 5000)), 500.0, STANDARD_LEADS, record_id="flat", source="synthetic")
    context.add_record("flat", flat)
    answer = answer_offline("flat", "Does this ECG show symptoms of myocardial infarction?", context=context)
    assert not answer.supported and answer.answer == ()
    assert "every lead of memory:flat is flat" in answer.explanation
    assert backend.calls == []  # no model ran on a flat line


def test_flat_or_saturated_lead_is_reported_with_the_answer(context):
    context.add_record("bad_ii", _with_lead(_with_lead(synthetic_ecg(), "II", 0.0), "V1", 32.767))
    answer = answer_offline("bad_ii", "Is this a normal ECG?", context=context)
    assert answer.supported and answer.answer == ("no",)
    (warning,) = answer.warnings
    assert "flat lead(s): II" in warning and "implausible amplitude (>20 mV) in lead(s): V1" in warning
    assert f"Warning: {warning}" in answer.to_text()
    assert answer.to_json()["warnings"] == [warning]


def test_clean_record_has_no_warnings(context):
    answer = answer_offline("syn1", "Is this a normal ECG?", context=context)
    assert answer.warnings == () and "Warning" not in answer.to_text()


def test_comparison_with_a_flat_second_record_is_refused(context):
    context.add_record("flat", ECG.from_array(np.zeros((12, 5000)), 500.0, STANDARD_LEADS, record_id="flat"))
    q = "What symptoms are newly detected in the second ECG as compared to the first ECG?"
    answer = answer_offline("syn1", q, second="flat", context=context)
    assert not answer.supported and "memory:flat" in answer.explanation


@pytest.mark.parametrize("question", [
    "Does this ECG show myocardial infarction?", "Does this ECG show signs of myocardial infarction?",
    "Is there a myocardial infarction?", "does the ecg show any evidence of myocardial infarction",
])
def test_superclass_questions_in_everyday_wording_reach_template_1(context, question):
    answer = answer_offline("syn1", question, context=context)
    assert answer.template_id == 1 and answer.answer == ("yes",)  # the fake predicts an inferior MI


@pytest.mark.parametrize("wording,superclass", [("Does this ECG show ST/T changes?", "STTC"),
                                                ("Is there hypertrophy?", "HYP")])
def test_other_superclasses_in_everyday_wording(context, wording, superclass):
    answer = answer_offline("syn1", wording, context=context)
    assert answer.template_id == 1 and any(superclass in e.statement for e in answer.evidence)


def test_undecodable_and_control_characters_are_cleaned():
    raw = b"Is this a \xff normal ECG?\x1b[31m\x00".decode("utf-8", "surrogateescape")
    text = check_question(raw)
    assert text == "Is this a ? normal ECG?[31m"
    text.encode("utf-8")  # printable, no lone surrogate left
    with pytest.raises(UnsupportedQuestion, match="empty question"):
        check_question("\x00\x01\x1b")


def test_refused_path_says_how_to_allow_it(tmp_path, monkeypatch):
    monkeypatch.delenv("ECGQA_RECORD_ROOTS", raising=False)
    record = tmp_path / "rec.npz"
    np.savez(record, signal=synthetic_ecg().signal_mv, fs_hz=500.0, lead_names=np.array(STANDARD_LEADS))
    with pytest.raises(RecordNotFound, match="--data-root DIR"):
        parse_record_ref(str(record))


def test_cli_ask_reads_a_file_the_user_names(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("ECGQA_RECORD_ROOTS", raising=False)
    flat = tmp_path / "flat.npz"
    np.savez(flat, signal=np.zeros((12, 5000)), fs_hz=500.0, lead_names=np.array(STANDARD_LEADS))
    monkeypatch.chdir(tmp_path)
    assert main(["ask", "flat.npz", "Is this a normal ECG?", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["record"] == f"path:{flat.resolve()}" and not data["supported"]
    assert "is flat" in data["explanation"]


@pytest.mark.parametrize("url", ["not a url", "127.0.0.1:8080/v1", "ftp://host/v1", "http://"])
def test_base_url_must_be_http(url):
    from ecgqa_tools.errors import UsageError
    from ecgqa_tools.llm import LLMSettings

    with pytest.raises(UsageError, match="must be an http\\(s\\) URL"):
        LLMSettings(model="m", base_url=url)
    LLMSettings(model="m", base_url="http://127.0.0.1:8080/v1")  # accepted


def test_closed_port_error_says_connection_refused(capsys):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = main(["ask", "ptbxl-00473", "Is this normal?", "--llm", "--base-url", f"http://127.0.0.1:{port}/v1",
                 "--model", "m", "--retries", "0", "--timeout", "2"])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("error: LLM endpoint at") and "Connection refused" in err


def test_cli_demo_reads_a_file_the_user_names(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("ECGQA_RECORD_ROOTS", raising=False)
    flat = tmp_path / "flat.npz"
    np.savez(flat, signal=np.zeros((12, 5000)), fs_hz=500.0, lead_names=np.array(STANDARD_LEADS))
    assert main(["demo", "--record", str(flat), "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines and all(not a["supported"] and "is flat" in a["explanation"] for a in lines)


def test_html_reply_suggests_checking_the_base_url():
    from ecgqa_tools.errors import LLMError
    from ecgqa_tools.llm._agent import _first_message

    with pytest.raises(LLMError, match=r"no choices .*<html>.*OpenAI-compatible API root"):
        _first_message("<html><body>Welcome to nginx</body></html>")


@pytest.mark.parametrize("tool,extra", [("disease_probabilities", {}), ("ecgqa_attributes", {}),
                                        ("age_sex_estimate", {}), ("attribution_evidence", {"disease": "MI"})])
def test_model_tools_refuse_an_all_flat_record(context, backend, tool, extra):
    from ecgqa_tools.llm import TOOLS

    context.add_record("flat", ECG.from_array(np.zeros((12, 5000)), 500.0, STANDARD_LEADS, record_id="flat"))
    result = TOOLS.call(tool, {"record": "flat", **extra}, context)
    assert not result.ok and not result.retry and "every lead of memory:flat is flat" in result.error
    assert backend.calls == []
    assert TOOLS.call("record_summary", {"record": "flat"}, context).ok  # describing it still works
