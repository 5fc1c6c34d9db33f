"""Bad input: every case gets a package error naming the file and the problem (synthetic files).

Rule (README "Records"): what makes samples unusable or untrustworthy raises ``RecordError``
(unreadable/truncated files, NaN/inf, rate outside 50 Hz-10 kHz, shorter than 1 s, more than 24 h
or 50M values in one read, wrong lead count, duplicate leads); properties of a readable signal are
reported by ``ECG.quality()`` (flat lead, implausible amplitude, missing or non-standard leads) and
only raise when a caller requires the leads (``to_standard_leads``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from ecgqa_tools.cli import main
from ecgqa_tools.errors import EcgqaError, RecordError, RecordNotFound
from ecgqa_tools.records import STANDARD_LEADS, read_record, read_wfdb, to_standard_leads
from ecgqa_tools.records import _formats


def write_record(
    folder: Path,
    name: str = "rec",
    n_samples: int = 1000,
    fs_hz: float = 500,
    leads: tuple[str, ...] = ("I", "II", "III"),
    signal: np.ndarray | None = None,
) -> Path:
    """A real WFDB record (format 16, 1000 adu/mV) written by wfdb.wrsamp; returns its base path."""
    import wfdb

    if signal is None:
        t = np.arange(n_samples) / fs_hz
        signal = np.stack([np.sin(2 * np.pi * 1.2 * t) * (k + 1) * 0.3 for k in range(len(leads))], axis=1)
    wfdb.wrsamp(
        name, fs=fs_hz, units=["mV"] * len(leads), sig_name=list(leads), p_signal=signal,
        fmt=["16"] * len(leads), adc_gain=[1000.0] * len(leads), baseline=[0] * len(leads),
        write_dir=str(folder),
    )
    return folder / name


def write_header_only(folder: Path, name: str, fs_hz: float, n_samples: int, leads: tuple[str, ...]) -> Path:
    """A header declaring ``n_samples`` plus a sparse signal file of the right size (no disk used)."""
    lines = [f"{name} {len(leads)} {fs_hz:g} {n_samples}"]
    lines += [f"{name}.dat 16 1000(0)/mV 16 0 0 0 0 {lead}" for lead in leads]
    (folder / f"{name}.hea").write_text("\n".join(lines) + "\n")
    with open(folder / f"{name}.dat", "wb") as handle:
        handle.truncate(n_samples * len(leads) * 2)
    return folder / name


def raises_naming(exc_type: type[Exception], file_part: str, *problem: str):
    """pytest.raises whose message must name the file and each problem phrase."""
    return pytest.raises(exc_type, match="(?s)" + ".*".join([f".*{file_part}"] + [f"{p}" for p in problem]))


# ------------------------------------------------------------------ readable inputs


def test_valid_record_reads_in_mv(tmp_path):
    ecg = read_record(write_record(tmp_path))
    assert ecg.lead_names == ("I", "II", "III") and ecg.fs_hz == 500 and ecg.n_samples == 1000
    assert ecg.signal_mv.dtype == np.float32
    assert np.abs(ecg.signal_mv).max() == pytest.approx(0.9, abs=0.01)


@pytest.mark.parametrize("fs_hz", [50, 250, 1000, 10_000])
def test_sampling_rates_across_50hz_to_10khz_are_accepted(tmp_path, fs_hz):
    ecg = read_record(write_record(tmp_path, n_samples=int(fs_hz), fs_hz=fs_hz))  # 1 s each
    assert ecg.fs_hz == fs_hz and ecg.duration_s == pytest.approx(1.0)


@pytest.mark.parametrize("fs_hz", [25, 49, 10_001, 20_000])
def test_sampling_rates_outside_the_range_are_refused(tmp_path, fs_hz):
    base = write_record(tmp_path, n_samples=int(fs_hz * 2), fs_hz=fs_hz)
    with raises_naming(RecordError, "rec.hea", f"{fs_hz:g} Hz is outside the supported 50-10000 Hz"):
        read_record(base)


def test_one_second_is_accepted_and_shorter_refused(tmp_path):
    assert read_record(write_record(tmp_path, "one", n_samples=500)).duration_s == 1.0
    with raises_naming(RecordError, "half.hea", "0.500 s long", "at least 1 s"):
        read_record(write_record(tmp_path, "half", n_samples=250))


def test_24_hour_record_is_read_in_windows(tmp_path):
    # 24 h x 12 leads at 500 Hz: the header declares 43.2M samples per lead; the .dat is sparse.
    n = 24 * 3600 * 500
    base = write_header_only(tmp_path, "holter", 500, n, STANDARD_LEADS)
    with raises_naming(RecordError, "holter.hea", "24.0 h x 12 leads", "read a window"):
        read_wfdb(base)  # 518M values: refused before allocating anything
    window = read_wfdb(base, start_s=12 * 3600, duration_s=10)
    assert window.n_samples == 5000 and window.lead_names == STANDARD_LEADS
    assert window.quality().flat_leads == STANDARD_LEADS  # zeros: readable, reported as flat
    last = read_record(base, start_s=24 * 3600 - 5)
    assert last.n_samples == 2500  # the window is clipped at the declared end
    with raises_naming(RecordError, "holter.hea", "past the end"):
        read_wfdb(base, start_s=24 * 3600 + 1)


def test_24_hours_small_enough_reads_whole_and_longer_needs_a_window(tmp_path):
    day = write_header_only(tmp_path, "day", 50, 24 * 3600 * 50, ("II",))  # 4.3M samples, 1 lead
    assert read_wfdb(day).duration_s == pytest.approx(24 * 3600)
    longer = write_header_only(tmp_path, "longer", 50, 25 * 3600 * 50, ("II",))
    with raises_naming(RecordError, "longer.hea", "25.0 h long", "at most 24 h"):
        read_wfdb(longer)
    assert read_wfdb(longer, start_s=24.5 * 3600, duration_s=60).n_samples == 3000


def test_flat_lead_is_readable_but_reported(tmp_path):
    signal = np.random.default_rng(0).normal(0, 0.3, (1000, 3))
    signal[:, 1] = 0.25  # electrode off: constant
    ecg = read_record(write_record(tmp_path, signal=signal))
    assert ecg.quality().flat_leads == ("II",)
    assert "flat lead(s): II" in ecg.summary()


def test_unknown_lead_names_are_kept_but_refused_when_standard_leads_are_required(tmp_path):
    ecg = read_record(write_record(tmp_path, leads=("foo", "bar", "V7")))
    assert ecg.lead_names == ("foo", "bar", "V7")
    assert ecg.quality().non_standard_leads == ("foo", "bar", "V7")
    with raises_naming(RecordError, "rec", "missing lead", "unrecognised lead name.*foo, bar, V7"):
        to_standard_leads(ecg)


def test_missing_lead_is_named(tmp_path):
    leads = tuple(n for n in STANDARD_LEADS if n != "V4")
    ecg = read_record(write_record(tmp_path, leads=leads))
    assert ecg.quality().missing_standard_leads == ("V4",)
    with raises_naming(RecordError, "rec", "missing lead.*V4"):
        to_standard_leads(ecg)


def test_lead_spellings_are_normalised(tmp_path):
    ecg = read_record(write_record(tmp_path, leads=("MLII", "AVR", "avl", "v1")))
    assert ecg.lead_names == ("II", "aVR", "aVL", "V1")


# ------------------------------------------------------------------ refused inputs


def test_nonexistent_path(tmp_path):
    with raises_naming(RecordNotFound, "nothing", "no such record"):
        read_record(tmp_path / "nothing")
    with raises_naming(RecordNotFound, "nothing.hea", "no such WFDB header"):
        read_record(tmp_path / "nothing.hea")
    with raises_naming(RecordNotFound, "nothing.npy", "no such file"):
        read_record(tmp_path / "nothing.npy")
    with pytest.raises(RecordError, match="is a directory"):
        read_record(tmp_path)


def test_corrupt_header(tmp_path):
    base = write_record(tmp_path)
    (tmp_path / "rec.hea").write_text("this is not a header\n\x00\x01 nonsense\n")
    with raises_naming(RecordError, "rec.hea", "malformed WFDB header"):
        read_record(base)
    (tmp_path / "rec.hea").write_bytes(bytes(range(256)))
    with raises_naming(RecordError, "rec.hea", "not a text WFDB header"):
        read_record(base)
    (tmp_path / "rec.hea").write_text("")
    with raises_naming(RecordError, "rec.hea", "empty"):
        read_record(base)


def test_truncated_header(tmp_path):
    base = write_record(tmp_path)
    text = (tmp_path / "rec.hea").read_text()
    (tmp_path / "rec.hea").write_text(text[: text.index("\n") + 20])  # cut inside the 1st signal line
    with raises_naming(RecordError, "rec.hea", "header"):
        read_record(base)
    (tmp_path / "rec.hea").write_text(text.split("\n")[0] + "\n")  # record line only
    with raises_naming(RecordError, "rec.hea", "declares 3 signals but describes 0|no signals"):
        read_record(base)


def test_truncated_signal_file(tmp_path):
    base = write_record(tmp_path)
    os.truncate(tmp_path / "rec.dat", 1000)
    with raises_naming(RecordError, "rec.dat", "truncated", "166 of the 1,000 samples"):
        read_record(base)


def test_missing_signal_file(tmp_path):
    base = write_record(tmp_path)
    (tmp_path / "rec.dat").unlink()
    with raises_naming(RecordError, "rec.dat", "missing"):
        read_record(base)


def test_wrong_lead_count(tmp_path):
    base = write_record(tmp_path)
    lines = (tmp_path / "rec.hea").read_text().splitlines()
    lines[0] = lines[0].replace(" 3 ", " 4 ", 1)  # header says 4 signals, describes 3
    (tmp_path / "rec.hea").write_text("\n".join(lines) + "\n")
    with raises_naming(RecordError, "rec.hea", "declares 4 signals but describes 3"):
        read_record(base)
    # An array whose rows do not match its lead names
    np.save(tmp_path / "eleven.npy", np.zeros((11, 1000), dtype=np.float32))
    with raises_naming(RecordError, "eleven.npy", "shape \\(11, 1000\\)", "lead names"):
        read_record(tmp_path / "eleven.npy", fs_hz=500)


def test_nan_and_inf_samples(tmp_path):
    signal = np.random.default_rng(1).normal(0, 0.3, (1000, 3))
    signal[10, 2] = np.nan  # wfdb stores NaN as the invalid-sample value and reads it back as NaN
    base = write_record(tmp_path, signal=signal)
    with raises_naming(RecordError, "rec.dat", "1 NaN/inf", "lead\\(s\\) III"):
        read_record(base)
    array = np.zeros((12, 1000), dtype=np.float32)
    array[3, 5] = np.inf
    np.save(tmp_path / "inf.npy", array)
    with raises_naming(RecordError, "inf.npy", "NaN/inf samples in lead\\(s\\) aVR"):
        read_record(tmp_path / "inf.npy", fs_hz=100)
    (tmp_path / "nan.csv").write_text("I,II\n0.1,0.2\nnan,0.3\n" + "0,0\n" * 200)
    with raises_naming(RecordError, "nan.csv", "NaN or inf values", "column 'I'"):
        read_record(tmp_path / "nan.csv", fs_hz=100)


def test_duplicate_leads_are_refused(tmp_path):
    with raises_naming(RecordError, "rec", "duplicate lead names"):
        read_record(write_record(tmp_path, leads=("II", "MLII", "V1")))


def test_huge_files_are_refused_without_loading(tmp_path, monkeypatch):
    from numpy.lib.format import open_memmap

    big = open_memmap(tmp_path / "big.npy", mode="w+", dtype=np.float32, shape=(12, 10_000_000))
    del big  # 480 MB sparse file: refused from its shape, never read
    with raises_naming(RecordError, "big.npy", "120,000,000 values exceed"):
        read_record(tmp_path / "big.npy", fs_hz=500)
    (tmp_path / "big.csv").write_text("I,II\n" + "0.1,0.2\n" * 300)
    monkeypatch.setattr(_formats, "MAX_TEXT_BYTES", 1000)
    with raises_naming(RecordError, "big.csv", "too large for a CSV record"):
        read_record(tmp_path / "big.csv", fs_hz=100)
    (tmp_path / "huge.hea").write_text("huge 1 500 5000\n" + "#" * 1_100_000)
    with raises_naming(RecordError, "huge.hea", "too large for a WFDB header"):
        read_record(tmp_path / "huge")


def test_unsupported_file_type(tmp_path):
    (tmp_path / "scan.pdf").write_bytes(b"%PDF-1.4")
    with raises_naming(RecordError, "scan.pdf", "unsupported file type"):
        read_record(tmp_path / "scan.pdf")


# ------------------------------------------------------------------ the CLI never shows a traceback


@pytest.mark.parametrize(
    "make",
    [
        lambda d: d / "absent",
        lambda d: (write_record(d), os.truncate(d / "rec.dat", 10), d / "rec")[-1],
        lambda d: (write_record(d), (d / "rec.hea").write_text("garbage\n"), d / "rec")[-1],
        lambda d: write_record(d, fs_hz=20, n_samples=100),
    ],
    ids=["nonexistent", "truncated-signal", "corrupt-header", "bad-rate"],
)
def test_cli_info_prints_error_and_exits_1(tmp_path, capsys, make):
    path = make(tmp_path)
    assert main(["info", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    assert "rec" in err or "absent" in err


def test_every_error_is_a_package_error():
    assert issubclass(RecordNotFound, RecordError) and issubclass(RecordError, EcgqaError)


def test_existing_file_without_extension_is_not_a_record(tmp_path):
    text = tmp_path / "notes"
    text.write_text("root:x:0:0:root:/root:/bin/bash\n")
    with raises_naming(RecordError, "notes", "not a record file: no extension and no WFDB header notes.hea"):
        read_record(text)


@pytest.mark.parametrize("path", [None, 123, 4.5])
def test_read_record_wrong_argument_type_is_a_usage_error(path):
    from ecgqa_tools.errors import UsageError

    with pytest.raises(UsageError, match="read_record takes a file path"):
        read_record(path)


def test_read_record_empty_path():
    with pytest.raises(RecordNotFound, match="empty record path"):
        read_record("  ")


def test_resample_to_a_non_number_is_a_usage_error(tmp_path):
    from ecgqa_tools.errors import UsageError
    from ecgqa_tools.records import resample

    ecg = read_record(write_record(tmp_path))
    with pytest.raises(UsageError, match="number of Hz, got str '100'"):
        resample(ecg, "100")
    assert resample(ecg, np.int64(250)).fs_hz == 250


def test_non_numeric_array_is_a_record_error():
    from ecgqa_tools.records import ECG

    with pytest.raises(RecordError, match="signal is not a numeric array"):
        ECG.from_array(np.full((12, 1000), "a"), 100, STANDARD_LEADS)


def test_npy_without_rate_says_how_every_command_can_read_it(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((12, 1000), np.float32))
    with raises_naming(RecordError, "x.npy", "sampling rate is unknown; pass fs_hz", "save it as .npz"):
        read_record(tmp_path / "x.npy")
