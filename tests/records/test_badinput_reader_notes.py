"""Session-8 review (bad input) in ``records``: a WFDB header without a rate (M7), negative and
defaulted gains (M8, S15), ``fs_hz``/``--fs`` against a file's own rate (S2), CSV time gaps (S3),
complex / empty / non-numpy files (S4-S6), microvolt-scale values (S14), NaN windows (M9)."""

from __future__ import annotations

import numpy as np
import pytest

from ecgqa_tools.cli import main
from ecgqa_tools.errors import RecordError
from ecgqa_tools.records import STANDARD_LEADS, load_example, read_record


def _write_wfdb(folder, name: str, record_line: str, gain: str = "1000(0)/mV", scale: float = 1.0):
    ecg = load_example("ptbxl-01386")  # 100 Hz, 10 s, real
    digital = np.round(ecg.signal_mv.T * 1000 * scale).astype("<i2")
    (folder / f"{name}.dat").write_bytes(digital.tobytes())
    lines = [record_line] + [f"{name}.dat 16 {gain} 16 0 0 0 0 {lead}" for lead in ecg.lead_names]
    (folder / f"{name}.hea").write_text("\n".join(lines) + "\n")
    return folder / f"{name}.hea", ecg


def test_header_without_rate_is_refused_unless_given(tmp_path) -> None:
    path, ecg = _write_wfdb(tmp_path, "nofs", "nofs 12")
    with pytest.raises(RecordError, match="gives no sampling frequency.*--fs HZ.*fs_hz=HZ"):
        read_record(path)
    read = read_record(path, fs_hz=100)
    assert read.fs_hz == 100 and np.allclose(read.signal_mv, ecg.signal_mv, atol=1e-3)
    assert any("no sampling frequency: read at 100 Hz" in p for p in read.quality().problems())


def test_header_without_rate_cli_error(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = _write_wfdb(tmp_path, "nofs", "nofs 12")
    assert main(["info", str(path)]) == 1
    assert "gives no sampling frequency" in capsys.readouterr().err
    assert main(["info", str(path), "--fs", "100"]) == 0


def test_negative_gain_is_followed_and_reported(tmp_path) -> None:
    path, ecg = _write_wfdb(tmp_path, "neg", "neg 12 100 1000", gain="-1000(0)/mV")
    read = read_record(path)
    assert np.allclose(read.signal_mv, -ecg.signal_mv, atol=1e-3)
    assert any("negative ADC gain for every lead (gain -1000)" in p for p in read.quality().problems())


def test_gain_zero_uses_the_wfdb_default_and_says_so(tmp_path) -> None:
    path, ecg = _write_wfdb(tmp_path, "g0", "g0 12 100 1000", gain="0(0)/mV")
    read = read_record(path)
    assert np.allclose(read.signal_mv, ecg.signal_mv * 5, atol=1e-2)  # 1000 adu/mV read as 200
    assert any("default 200 adu/mV assumed" in n for n in read.read_notes)


def test_plain_header_has_no_notes(tmp_path) -> None:
    path, _ = _write_wfdb(tmp_path, "ok", "ok 12 100 1000")
    assert read_record(path).read_notes == () and read_record(path, fs_hz=100).read_notes == ()


def test_conflicting_fs_is_ignored_with_a_note_for_every_format(tmp_path) -> None:
    """One rule (S2): a rate the record states wins; a different fs_hz is named in a note."""
    path, ecg = _write_wfdb(tmp_path, "ok", "ok 12 100 1000")
    npz = tmp_path / "x.npz"
    np.savez(npz, signal=ecg.signal_mv, fs_hz=100.0, lead_names=np.array(STANDARD_LEADS))
    csv = tmp_path / "x.csv"
    times = np.arange(ecg.n_samples) / 100.0
    np.savetxt(csv, np.column_stack([times, ecg.signal_mv.T]), delimiter=",",
               header="time," + ",".join(STANDARD_LEADS), comments="", fmt="%.5f")
    for record in (path, npz, csv):
        read = read_record(record, fs_hz=250)
        assert read.fs_hz == 100
        assert any("250 Hz ignored" in n and "100 Hz" in n for n in read.read_notes), record


def test_csv_time_gap_is_refused_but_rounded_times_are_fine(tmp_path) -> None:
    values = np.tile(np.sin(np.arange(3600) / 20.0)[:, None], 12)
    times = np.arange(3600) / 360.0
    ok = tmp_path / "rounded.csv"  # 360 Hz written to the millisecond: uneven steps, no gap
    np.savetxt(ok, np.column_stack([np.round(times, 3), values]), delimiter=",",
               header="time," + ",".join(STANDARD_LEADS), comments="", fmt="%.3f")
    assert read_record(ok).fs_hz == 360  # the line fit; the median rounded step gave 333.333 (review s8 S7)
    gap = tmp_path / "gap.csv"
    times[2000:] += 0.5
    np.savetxt(gap, np.column_stack([times, values]), delimiter=",",
               header="time," + ",".join(STANDARD_LEADS), comments="", fmt="%.6f")
    with pytest.raises(RecordError, match="not evenly spaced.*data row 2001"):
        read_record(gap)


def test_complex_empty_and_garbage_numpy_files(tmp_path) -> None:
    np.save(tmp_path / "c.npy", np.ones((12, 1000), dtype=complex))
    with pytest.raises(RecordError, match="complex samples"):
        read_record(tmp_path / "c.npy", fs_hz=100)
    np.save(tmp_path / "e.npy", np.zeros((12, 0)))
    with pytest.raises(RecordError, match="is empty"):
        read_record(tmp_path / "e.npy", fs_hz=100)
    for name in ("g.npy", "g.npz"):
        (tmp_path / name).write_bytes(np.random.default_rng(0).bytes(4000))
        with pytest.raises(RecordError, match="not a numpy file") as info:
            read_record(tmp_path / name, fs_hz=100)
        assert "allow_pickle" not in str(info.value)
    np.save(tmp_path / "o.npy", np.array([object()] * 12), allow_pickle=True)
    with pytest.raises(RecordError, match="never loaded") as info:
        read_record(tmp_path / "o.npy", fs_hz=100)
    assert "allow_pickle" not in str(info.value)


def test_microvolt_values_are_reported(tmp_path) -> None:
    path, _ = _write_wfdb(tmp_path, "uv", "uv 12 100 1000", gain="1(0)/mV")  # mV x1000 stored as mV
    quality = read_record(path).quality()
    assert quality.microvolt_like
    assert any("values look like microvolts" in p for p in quality.problems())
    assert not load_example("ptbxl-00473").quality().microvolt_like


@pytest.mark.parametrize("window", [dict(start_s=float("nan")), dict(duration_s=float("nan")),
                                    dict(start_s=float("inf"))])
def test_nan_window_is_a_record_error(tmp_path, window) -> None:
    path, _ = _write_wfdb(tmp_path, "ok", "ok 12 100 1000")
    with pytest.raises(RecordError, match="finite number of seconds"):
        read_record(path, **window)


def test_header_length_against_file_size_comes_first(tmp_path) -> None:
    """S16: a header claiming 10^10 samples over a small file names the mismatch, not '5555.6 h long'."""
    path, _ = _write_wfdb(tmp_path, "huge", "huge 12 100 10000000000")
    with pytest.raises(RecordError, match="truncated.*1,000 of the 10,000,000,000 samples"):
        read_record(path)


@pytest.mark.parametrize("name", ["ptbxl:-1", "ludb:abc", "mimic:1.5"])
def test_invalid_dataset_id_is_named(name: str) -> None:
    """S18: ``ptbxl:-1`` was looked up as a file 'ptbxl:-1.hea'."""
    from ecgqa_tools.records import read_record_or_example

    with pytest.raises(RecordError, match="is not a valid .* record id"):
        read_record_or_example(name)
