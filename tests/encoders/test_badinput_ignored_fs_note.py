"""A ``--fs`` ignored because the record states its own rate is a plain note, not a ``Warning:``
(the record was read at its right rate; review s8 S5 and the session-9 follow-up), in
``predict_diseases`` / ``classify`` and ``predict_axis_ptbxl`` / ``axis-ptbxl``. Reader notes that can
make outputs wrong (a negative gain) stay warnings."""

from __future__ import annotations

import json

import pytest

from ecgqa_tools.cli import main
from ecgqa_tools.encoders import (
    model_input_notes,
    model_input_warnings,
    predict_axis_ptbxl,
    predict_diseases,
)
from ecgqa_tools.records import read_record

IGNORED = "fs_hz/--fs 250 Hz ignored: rec.hea gives 500 Hz, which is used"


@pytest.fixture()
def record(example_wfdb_copy):
    """rec.hea: a WFDB header stating 500 Hz (``example_wfdb_copy``)."""
    return example_wfdb_copy


def test_ignored_fs_is_a_note_of_the_disease_prediction(record) -> None:
    ecg = read_record(record, fs_hz=250)
    assert ecg.fs_hz == 500 and ecg.quality().ignored_rate_notes[0].startswith(IGNORED)
    assert model_input_warnings(ecg) == ()
    assert model_input_notes(ecg)[0].startswith(f"reading rec: {IGNORED}")
    pred = predict_diseases(ecg)
    assert pred.warnings == () and pred.notes == model_input_notes(ecg)
    lines = pred.summary().splitlines()
    assert lines[-1].startswith(f"note: reading rec: {IGNORED}")
    assert not any(line.startswith("Warning:") for line in lines)
    assert predict_diseases(read_record(record)).notes == ()


def test_negative_gain_stays_a_warning_next_to_the_note(record) -> None:
    header = record.read_text()
    record.write_text(header.replace(" 1000.0(0)/mV", " -1000.0(0)/mV").replace(" 1000(0)/mV", " -1000(0)/mV"))
    pred = predict_diseases(read_record(record, fs_hz=250))
    assert len(pred.warnings) == 1 and "negative ADC gain" in pred.warnings[0] and "ignored" not in pred.warnings[0]
    assert len(pred.notes) == 1 and IGNORED in pred.notes[0]


def test_a_reworded_info_note_is_still_a_note_and_an_old_prefix_alone_is_no_note() -> None:
    """Notes and warnings are told apart by ``ReadNote.kind``, not by the text (review s9 N5)."""
    from dataclasses import replace

    from ecgqa_tools.records import ReadNote, load_example

    reworded = ReadNote("the rate you passed (250 Hz) was not used: the record states 500 Hz", "info")
    plain = "fs_hz/--fs 250 Hz ignored: a plain str note is a doubt whatever it says"
    ecg = replace(load_example("ptbxl-00210"), read_notes=(reworded, plain))
    pred = predict_diseases(ecg)
    assert pred.notes == (f"reading {ecg.record_id}: {reworded}",) == model_input_notes(ecg)
    assert pred.warnings == (f"reading {ecg.record_id}: {plain}",) == model_input_warnings(ecg)


def test_classify_prints_a_note_not_a_warning(record, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["classify", str(record), "--fs", "250"]) == 0
    out = capsys.readouterr().out
    assert f"note: reading rec: {IGNORED}" in out
    assert "Warning:" not in out
    assert main(["classify", str(record), "--fs", "250", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["warnings"] == [] and len(out["notes"]) == 1
    assert out["notes"][0].startswith(f"reading rec: {IGNORED}")
    assert main(["classify", str(record), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["notes"] == []


def test_axis_ptbxl_note(record, capsys: pytest.CaptureFixture[str]) -> None:
    pred = predict_axis_ptbxl(read_record(record, fs_hz=250))
    assert pred.warnings == () and pred.notes[0].startswith(f"reading rec: {IGNORED}")  # as classify's
    assert pred.summary().splitlines()[-1].startswith(f"note: reading rec: {IGNORED}")
    assert main(["axis-ptbxl", str(record), "--fs", "250", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["warnings"] == [] and out["notes"][0].startswith(f"reading rec: {IGNORED}")
