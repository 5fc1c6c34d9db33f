"""Long records show delineation progress on stderr; records of a minute or less stay quiet, and the
progress bar does not change the delineation."""

from __future__ import annotations

import numpy as np

from ecgqa_tools.encoders import _delineation as dl
from ecgqa_tools.records import ECG, load_example


def _long_lead_ii(seconds: float) -> ECG:
    """Lead II of a bundled 10 s example repeated to ``seconds``, at 100 Hz."""
    ecg = load_example("ptbxl-00473")
    x = ecg.lead("II")[:: int(ecg.fs_hz // 100)]
    reps = int(np.ceil(seconds / 10.0))
    signal = np.tile(x, reps)[: int(seconds * 100)][None]
    return ECG.from_array(signal, 100.0, ("II",), record_id="long")


def test_progress_bar_only_above_a_minute(capsys):
    with dl.long_record_progress(_long_lead_ii(60.0), 3) as step:
        assert step is None
    with dl.long_record_progress(_long_lead_ii(61.0), 3) as step:
        assert step is not None
        step(1.5)
        step(1.5)
    assert "delineating long (1.0 min, 1 leads)" in capsys.readouterr().err


def test_long_record_delineation_reports_progress_and_is_unchanged(capsys, monkeypatch):
    ecg = _long_lead_ii(70.0)
    with_bar = dl.delineate_detailed(ecg)
    assert "delineating long" in capsys.readouterr().err
    monkeypatch.setattr(dl, "PROGRESS_MIN_S", 1e9)  # same record without a bar
    without = dl.delineate_detailed(ecg)
    assert capsys.readouterr().err == ""
    assert with_bar.delineation.waves == without.delineation.waves and with_bar.rhythm == without.rhythm
    assert len(with_bar.delineation.waves["II"]) > 100


def test_ten_second_record_is_quiet(capsys):
    dl.delineate(load_example("ptbxl-00473"))
    assert capsys.readouterr().err == ""
