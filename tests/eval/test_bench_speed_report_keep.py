"""``ecgqa bench speed --report`` rewrites the generated part of the report and keeps the
hand-written part (from the first ``<!-- hand-written ... -->`` line on), atomically."""

from __future__ import annotations

import os

import pytest

from ecgqa_tools.errors import OutputError
from ecgqa_tools.eval._speed import HAND_WRITTEN_MARKER, merge_speed_report, write_speed_report

GENERATED_V1 = "# Toolkit speed and memory\n\n| measure | value |\n|---|---|\n| full suite | 0.50 s |\n"
GENERATED_V2 = "# Toolkit speed and memory\n\n| measure | value |\n|---|---|\n| full suite | 0.45 s |\n"
NOTES = "Session 9 (lead): three runs, 0.522 / 0.436 / 0.453 s.\n\n## Session 5 (hand-written)\n\nA/B.\n"


def test_a_new_report_ends_with_the_marker_so_later_notes_survive(tmp_path):
    md = tmp_path / "speed.md"
    write_speed_report(md, GENERATED_V1)
    assert md.read_text() == GENERATED_V1 + "\n" + HAND_WRITTEN_MARKER + "\n"
    md.write_text(md.read_text() + NOTES)  # someone adds notes under the marker
    write_speed_report(md, GENERATED_V2)
    text = md.read_text()
    assert text == GENERATED_V2 + "\n" + HAND_WRITTEN_MARKER + "\n" + NOTES
    assert "0.50 s" not in text and text.count("hand-written:") == 1


def test_everything_from_the_first_marker_on_is_kept_verbatim(tmp_path):
    md = tmp_path / "speed.md"
    kept = "<!-- hand-written: a custom wording of the marker -->\n" + NOTES + "<!-- hand-written -->\nmore\n"
    md.write_text(GENERATED_V1 + "\nold generated text above the marker\n\n" + kept)
    write_speed_report(md, GENERATED_V2)
    text = md.read_text()
    assert text == GENERATED_V2 + "\n" + kept
    assert "old generated text" not in text
    assert not [p for p in os.listdir(tmp_path) if p != "speed.md"]  # no temp file left behind


def test_a_file_without_marker_is_replaced_whole():
    assert merge_speed_report(GENERATED_V2, GENERATED_V1 + NOTES) == GENERATED_V2 + "\n" + HAND_WRITTEN_MARKER + "\n"
    # a marker-like text inside a line is not a marker
    inline = GENERATED_V1 + "see <!-- hand-written --> here\n"
    assert merge_speed_report(GENERATED_V2, inline).endswith("\n\n" + HAND_WRITTEN_MARKER + "\n")


def test_the_shipped_speed_reports_carry_the_marker_before_their_notes():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "docs" / "benchmarks"
    speed = (root / "speed.md").read_text()
    start = speed.index(HAND_WRITTEN_MARKER)
    assert "## Headline" in speed[:start] and "## Session 6" in speed[start:]
    assert HAND_WRITTEN_MARKER in (root / "speed_cli.md").read_text()


def test_an_unreadable_existing_report_is_an_output_error(tmp_path):
    md = tmp_path / "speed.md"
    md.write_bytes(b"\xff\xfe not utf-8 \xff")
    with pytest.raises(OutputError, match="hand-written part"):
        write_speed_report(md, GENERATED_V2)
    assert md.read_bytes() == b"\xff\xfe not utf-8 \xff"  # left as it was
