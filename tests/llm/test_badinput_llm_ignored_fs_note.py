"""``ecgqa ask`` shows a ``--fs`` ignored because the record states its own rate as a ``Note:``, not a
``Warning:`` (the record was read at its right rate; review s8 S5, session-9 follow-up); tool results
no longer carry it as a warning."""

from __future__ import annotations

import json

import pytest

from ecgqa_tools.cli import main

IGNORED = "fs_hz/--fs 250 Hz ignored: rec.hea gives 500 Hz, which is used"


@pytest.fixture()
def record(example_wfdb_copy):
    """rec.hea: a WFDB header stating 500 Hz (``example_wfdb_copy``)."""
    return example_wfdb_copy


@pytest.mark.parametrize("question", ["What is the heart rate?",
                                      "Does this ECG show symptoms of myocardial infarction?"])
def test_ask_prints_the_ignored_fs_as_a_note(record, question: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", str(record), "--fs", "250", question, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["warnings"] == []
    assert len(out["notes"]) == 1 and IGNORED in out["notes"][0]
    assert main(["ask", str(record), "--fs", "250", question]) == 0
    text = capsys.readouterr().out
    assert any(line.startswith("Note: reading ") and IGNORED in line for line in text.splitlines())
    assert "Warning:" not in text
    assert main(["ask", str(record), question, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["notes"] == []


def test_tool_results_do_not_carry_the_note_as_a_warning(record) -> None:
    from ecgqa_tools.llm import TOOLS, ToolContext

    context = ToolContext(extra_roots=[str(record.parent)], fs_hz=250.0)
    result = TOOLS.run("disease_probabilities", context, record=str(record))
    assert not any("ignored" in w for w in result.warnings)
