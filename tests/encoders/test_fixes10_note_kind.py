"""A doubt note whose text equals an info note's stays a warning (review s10 nit 5): the model
warnings and the axis model's warnings select reader notes by ``ReadNote.kind``
(``records.read_note_kind``), not by comparing texts with the info notes."""

from __future__ import annotations

from dataclasses import replace

from ecgqa_tools.encoders import model_input_notes, model_input_warnings, predict_axis_ptbxl
from ecgqa_tools.records import ReadNote, load_example, read_note_kind

TEXT = "the rate you passed was not used: the record states its own"


def test_a_doubt_note_with_an_info_notes_text_is_still_a_warning() -> None:
    ecg = replace(load_example("ptbxl-00210"), read_notes=(ReadNote(TEXT, "info"), TEXT))
    assert [read_note_kind(n) for n in ecg.read_notes] == ["info", "doubt"]
    line = f"reading {ecg.record_id}: {TEXT}"
    assert model_input_notes(ecg) == (line,)
    assert model_input_warnings(ecg) == (line,)  # before the fix: () (dropped as "the info note")
    axis = predict_axis_ptbxl(ecg)
    assert axis.notes == (line,) and TEXT in axis.warnings
