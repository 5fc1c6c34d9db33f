"""Bad input to ``grounding.measure`` / ``plot_ecg`` and ``ecgqa plot --explain`` on flat records."""

from __future__ import annotations

import numpy as np
import pytest

from ecgqa_tools import cli
from ecgqa_tools.errors import UsageError
from ecgqa_tools.grounding import measure, plot_ecg
from ecgqa_tools.records import load_example


@pytest.mark.parametrize("call", [measure, plot_ecg])
@pytest.mark.parametrize("value", [None, np.zeros((12, 1000))])
def test_api_takes_an_ecg_not_none_or_an_array(call, value):
    with pytest.raises(UsageError, match=rf"{call.__name__} takes an ECG \(ecgqa_tools.records.ECG\), got"):
        call(value)


def test_measure_names_the_expected_delineation_type():
    with pytest.raises(UsageError, match="records.Delineation.*got str"):
        measure(load_example("ptbxl-00473"), delineation="x")


def test_plot_explain_refuses_an_all_flat_record(tmp_path, capsys):
    record = tmp_path / "all_zero.npz"
    np.savez(record, signal=np.zeros((12, 1000)), fs_hz=100.0)
    out = tmp_path / "x.png"
    assert cli.main(["plot", str(record), "-o", str(out), "--explain", "MI", "--evidence"]) == 1
    captured = capsys.readouterr()
    assert "every lead of" in captured.err and "is flat" in captured.err
    assert "probability" not in captured.out and not out.exists()
    assert cli.main(["plot", str(record), "-o", str(out)]) == 0  # drawing a flat line is still allowed
    assert out.exists()


def test_plot_evidence_carries_quality_warnings(tmp_path, capsys):
    ecg = load_example("ptbxl-00473")
    signal = ecg.signal_mv.copy()
    signal[1] = 0.0
    record = tmp_path / "one_flat.npz"
    np.savez(record, signal=signal, fs_hz=ecg.fs_hz)
    args = ["plot", str(record), "-o", str(tmp_path / "x.svg"), "--explain", "MI", "--method", "saliency", "--evidence"]
    assert cli.main(args) == 0
    captured = capsys.readouterr()
    assert "Warning: signal quality of one_flat: flat lead(s): II" in captured.out
    assert "warning: signal quality" in captured.err
