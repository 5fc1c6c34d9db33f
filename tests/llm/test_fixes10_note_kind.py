"""``record_summary``'s quality problems keep a doubt note whose text equals an info note's
(review s10 nit 5): reader notes are selected by ``ReadNote.kind``, not by text."""

from __future__ import annotations

import json
from dataclasses import replace

from ecgqa_tools.llm import TOOLS, ToolContext
from ecgqa_tools.records import ReadNote, load_example

TEXT = "the rate you passed was not used: the record states its own"


def test_record_summary_keeps_a_doubt_note_with_an_info_notes_text(backend) -> None:
    context = ToolContext(backend=backend)
    context.add_record("noted", replace(load_example("ptbxl-00210"), read_notes=(ReadNote(TEXT, "info"), TEXT)))
    shown = json.loads(TOOLS.call("record_summary", {"record": "noted"}, context).to_text())
    assert shown["notes"] == [f"reading memory:noted: {TEXT}"]
    assert shown["quality_problems"] == [TEXT]  # before the fix: [] (dropped as "the info note")
