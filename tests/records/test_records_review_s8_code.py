"""Session-8 code review in ``records``: a CSV time column that gives no rate is not used when the
caller states the rate (C2), a time column rounded to the millisecond keeps its rate (S7),
``read_numpy`` on another suffix (S1)."""

from __future__ import annotations

import numpy as np
import pytest

from ecgqa_tools.errors import RecordError
from ecgqa_tools.records import STANDARD_LEADS, load_example, read_numpy, read_record


def _write_csv(path, times, values, fmt="%.6f") -> None:
    header = "time," + ",".join(STANDARD_LEADS)
    if times.dtype.kind in "US":  # text times: write the rows by hand
        rows = [",".join([t] + [f"{v:.5f}" for v in row]) for t, row in zip(times, values)]
        path.write_text(header + "\n" + "\n".join(rows) + "\n")
    else:
        np.savetxt(path, np.column_stack([times, values]), delimiter=",", header=header, comments="", fmt=fmt)


def test_clock_string_time_column_reads_at_the_stated_rate(tmp_path) -> None:
    ecg = load_example("ptbxl-01386")  # 100 Hz, 10 s
    clock = np.array([f"12:00:{k // 100:02d}.{k % 100:02d}0000" for k in range(ecg.n_samples)])
    path = tmp_path / "clock.csv"
    _write_csv(path, clock, ecg.signal_mv.T)
    with pytest.raises(RecordError, match="time column 'time' is not increasing numbers of seconds; pass fs_hz"):
        read_record(path)
    read = read_record(path, fs_hz=100)
    assert read.fs_hz == 100 and read.n_samples == ecg.n_samples
    assert np.allclose(read.signal_mv, ecg.signal_mv, atol=1e-4)
    assert read.read_notes == ("time column 'time' not used (it is not increasing numbers of seconds): "
                               "read at fs_hz/--fs 100 Hz",)


def test_uneven_time_column_reads_at_the_stated_rate_with_a_note(tmp_path) -> None:
    values = np.tile(np.sin(np.arange(3000) / 20.0)[:, None], 12)
    times = np.arange(3000) / 300.0
    times[2000:] += 0.5
    path = tmp_path / "gap.csv"
    _write_csv(path, times, values)
    with pytest.raises(RecordError, match="not evenly spaced.*data row 2001"):
        read_record(path)
    read = read_record(path, fs_hz=300)
    assert read.fs_hz == 300
    assert len(read.read_notes) == 1 and "not evenly spaced" in read.read_notes[0]


def test_a_usable_time_column_still_wins_over_a_contradicting_fs(tmp_path) -> None:
    values = np.tile(np.sin(np.arange(1000) / 20.0)[:, None], 12)
    path = tmp_path / "t.csv"
    _write_csv(path, np.arange(1000) / 100.0, values)
    read = read_record(path, fs_hz=250)
    assert read.fs_hz == 100 and "250 Hz ignored" in read.read_notes[0]


@pytest.mark.parametrize(("fs_hz", "decimals"), [(360, 3), (250, 3), (500, 3), (128, 4)])
def test_rounded_time_column_gives_the_true_rate(tmp_path, fs_hz, decimals) -> None:
    n = 10 * fs_hz
    values = np.tile(np.sin(np.arange(n) / 20.0)[:, None], 12)
    path = tmp_path / f"r{fs_hz}.csv"
    _write_csv(path, np.round(np.arange(n) / fs_hz, decimals), values, fmt=f"%.{decimals}f")
    read = read_record(path)
    assert read.fs_hz == fs_hz and read.read_notes == ()



def test_read_numpy_on_another_suffix_is_a_record_error(tmp_path) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(b"\x00" * 64)
    with pytest.raises(RecordError, match="read_numpy reads .npy or .npz files, got '.bin'"):
        read_numpy(path, fs_hz=500)
