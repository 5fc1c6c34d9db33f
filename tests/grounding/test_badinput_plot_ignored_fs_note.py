"""``ecgqa plot`` shows a ``--fs`` ignored because the record states its own rate as a plain
``note:`` (like ``classify``, commit b95a0c2: ``encoders.model_input_notes``), with and without
``--explain``; it is not a warning."""

from __future__ import annotations

import pytest

from ecgqa_tools.cli import main

IGNORED = "note: reading rec: fs_hz/--fs 250 Hz ignored: rec.hea gives 500 Hz, which is used"


@pytest.mark.parametrize("explain", [[], ["--explain", "MI", "--evidence"]])
def test_plot_prints_the_ignored_fs_note(example_wfdb_copy, tmp_path, explain, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rec.png"
    assert main(["plot", str(example_wfdb_copy), "--fs", "250", *explain, "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert IGNORED in captured.err and "warning" not in captured.err.lower()
    if explain:  # the evidence block on stdout carries it too, after the text
        assert IGNORED in captured.out and "Warning:" not in captured.out
    assert out.exists()


def test_plot_without_fs_has_no_note(example_wfdb_copy, tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plot", str(example_wfdb_copy), "-o", str(tmp_path / "rec.png")]) == 0
    assert "note:" not in capsys.readouterr().err
