"""Long records are measured in a bounded window that the output names (review M1: ``ecgqa measure``
on a 2-hour record ran > 200 s with no output; ``ask`` measured the first 60 s)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ecgqa_tools.cli import main
from ecgqa_tools.errors import UsageError
from ecgqa_tools.grounding import MAX_MEASURED_SECONDS, measure, measured_window
from ecgqa_tools.records import load_example


@pytest.fixture(scope="module")
def long_ecg():
    ecg = load_example("ptbxl-01386")  # 100 Hz, 10 s
    return ecg.with_signal(np.tile(ecg.signal_mv, 7))  # 70 s


def test_window_default_is_the_first_max_seconds(long_ecg) -> None:
    part, note = measured_window(long_ecg)
    assert part.duration_s == pytest.approx(MAX_MEASURED_SECONDS)
    assert "first 60 s of 70.0 s" in note


def test_window_of_a_short_record_is_the_record() -> None:
    ecg = load_example("ptbxl-01386")
    part, note = measured_window(ecg)
    assert part is ecg and note == ""


def test_explicit_window(long_ecg) -> None:
    part, note = measured_window(long_ecg, start_s=30.0, duration_s=20.0)
    assert part.duration_s == pytest.approx(20.0) and "30-50 s of 70.0 s" in note
    assert np.array_equal(part.signal_mv, long_ecg.signal_mv[:, 3000:5000])


@pytest.mark.parametrize("kwargs", [dict(start_s=-1.0), dict(start_s=float("nan")), dict(start_s=70.0),
                                    dict(duration_s=0.0), dict(duration_s=MAX_MEASURED_SECONDS + 1),
                                    dict(duration_s=float("inf")), dict(start_s="1")])
def test_bad_window_is_a_usage_error(long_ecg, kwargs) -> None:
    with pytest.raises(UsageError):
        measured_window(long_ecg, **kwargs)


@pytest.mark.parametrize(("kwargs", "words"), [
    (dict(start_s=69.5), "the window 69.5-70 s of the 70.0 s record is 0.5 s long; at least 1 s is measured "
                         "(use a smaller --start/start_s)"),
    (dict(start_s=10.0, duration_s=0.5), "the window 10-10.5 s of the 70.0 s record is 0.5 s long; at least 1 s "
                                         "is measured (use a longer --duration/duration_s)"),
])
def test_a_window_under_1_s_names_the_window_not_the_record(long_ecg, kwargs, words) -> None:
    """Review s8 S6: 'record is 0.500 s long' was said of a 10 s record."""
    with pytest.raises(UsageError) as info:
        measured_window(long_ecg, **kwargs)
    assert str(info.value) == words


@pytest.fixture()
def small_cap(monkeypatch: pytest.MonkeyPatch) -> float:
    """A 15 s cap (instead of 60 s) so the measuring tests delineate 15 s, not 60 s."""
    import ecgqa_tools.grounding as grounding
    from ecgqa_tools.grounding import _measure

    monkeypatch.setattr(_measure, "MAX_MEASURED_SECONDS", 15.0)
    monkeypatch.setattr(grounding, "MAX_MEASURED_SECONDS", 15.0)
    return 15.0


def test_measure_reads_the_window_and_says_so(long_ecg, small_cap) -> None:
    m = measure(long_ecg)
    assert any("first 15 s of 70.0 s" in n for n in m.notes)
    assert m.heart_rate.value is not None and m.rr_interval.n_beats < 25  # 15 s of beats, not 70 s


def test_cli_window_options(long_ecg, small_cap, tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "long.npz"
    np.savez(path, signal=long_ecg.signal_mv, fs_hz=long_ecg.fs_hz, lead_names=np.array(long_ecg.lead_names))
    assert main(["measure", str(path), "--start", "60", "--json"]) == 0
    captured = capsys.readouterr()
    assert any("60-70 s of 70.0 s" in n for n in json.loads(captured.out)["notes"])
    assert "60-70 s" in captured.err
    assert main(["measure", str(path), "--duration", "16"]) == 1
    assert "--duration must be > 0 and at most 15 s" in capsys.readouterr().err


def test_plot_says_it_draws_the_first_10_s(long_ecg, tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "long.npz"
    np.savez(path, signal=long_ecg.signal_mv, fs_hz=long_ecg.fs_hz, lead_names=np.array(long_ecg.lead_names))
    assert main(["plot", str(path), "-o", str(tmp_path / "x.png")]) == 0
    assert "plotting (and explaining) the first 10 s of 70.0 s" in capsys.readouterr().err
