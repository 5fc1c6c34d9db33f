"""read_record on every format, lead normalisation, resampling and lead selection (synthetic)."""

from __future__ import annotations

import numpy as np
import pytest

from ecgqa_tools.errors import RecordError
from ecgqa_tools.records import (
    ECG,
    STANDARD_LEADS,
    missing_standard_leads,
    normalize_lead_name,
    read_cinc,
    read_record,
    read_wfdb,
    resample,
    standard_index,
    to_standard_leads,
)


def sine_leads(n_leads: int = 12, n_samples: int = 5000, fs_hz: float = 500) -> np.ndarray:
    t = np.arange(n_samples) / fs_hz
    return np.stack([np.sin(2 * np.pi * (1 + k / 10) * t) * (0.2 + 0.1 * k) for k in range(n_leads)]).astype(np.float32)


@pytest.mark.parametrize(
    ("given", "canonical"),
    [("AVR", "aVR"), ("avr", "aVR"), ("aVR", "aVR"), (" avf ", "aVF"), ("MLII", "II"), ("ML II", "II"),
     ("D1", "I"), ("lead_iii", "III"), ("v1", "V1"), ("i", "I"), ("V7", "V7"), ("vx", "vx")],
)
def test_lead_names_from_any_source_are_normalised(given, canonical):
    assert normalize_lead_name(given) == canonical


def test_standard_index_refuses_unknown_leads_listing_the_valid_ones():
    assert standard_index("avl") == 4
    with pytest.raises(RecordError, match="unknown lead 'V7'; expected one of I, II, III, aVR"):
        standard_index("V7")


def write_cinc(folder, name="A0001", dx="59118001,164889003", n=5000):
    """A CinC 2020-style record: MAT v4 'val' int16 (leads, samples) + header with 16+24 offset."""
    import scipy.io

    val = (np.random.default_rng(0).normal(0, 300, (12, n))).astype(np.int16)
    scipy.io.savemat(str(folder / f"{name}.mat"), {"val": val}, format="4")
    lines = [f"{name} 12 500 {n} 05-Feb-2020 11:39:16"]
    lines += [f"{name}.mat 16+24 1000/mV 16 0 {val[i, 0]} 0 0 {lead}" for i, lead in enumerate(STANDARD_LEADS)]
    lines += ["#Age: 74", "#Sex: Male", f"#Dx: {dx}", "#Rx: Unknown", "#Hx: Unknown", "#Sx: Unknown"]
    (folder / f"{name}.hea").write_text("\n".join(lines) + "\n")
    return folder / name, val


def test_cinc_record_with_typed_snomed_codes(tmp_path):
    base, val = write_cinc(tmp_path)
    for path in (base, base.with_suffix(".mat"), base.with_suffix(".hea")):
        ecg = read_record(path)
        assert ecg.source == "cinc" and ecg.lead_names == STANDARD_LEADS
        assert ecg.metadata.snomed_ct_codes == (59118001, 164889003)
        assert (ecg.metadata.age_years, ecg.metadata.sex) == (74.0, "male")
        assert ecg.metadata.recording_date == "05-Feb-2020 11:39:16"
        np.testing.assert_allclose(ecg.signal_mv, val / 1000.0, atol=1e-6)
    # the header's byte offset 24 is the MAT v4 preamble: the plain WFDB reader agrees sample for sample
    np.testing.assert_array_equal(read_wfdb(base).signal_mv, read_cinc(base).signal_mv)


def test_cinc_bad_dx_and_mismatched_mat(tmp_path):
    base, _ = write_cinc(tmp_path, dx="59118001,RBBB")
    with pytest.raises(RecordError, match="A0001.hea.*#Dx entry 'RBBB'"):
        read_cinc(base)
    import scipy.io

    base, _ = write_cinc(tmp_path, name="B", dx="426783006")
    scipy.io.savemat(str(tmp_path / "B.mat"), {"val": np.zeros((12, 4000), np.int16)}, format="4")
    with pytest.raises(RecordError, match="B.mat.*4000 samples but the header declares 5000"):
        read_cinc(base)
    scipy.io.savemat(str(tmp_path / "B.mat"), {"data": np.zeros((12, 5000), np.int16)}, format="4")
    with pytest.raises(RecordError, match="B.mat.*no 'val' matrix"):
        read_cinc(base)


def test_numpy_files_in_either_layout(tmp_path):
    signal = sine_leads()
    np.save(tmp_path / "leads_first.npy", signal)
    np.save(tmp_path / "samples_first.npy", signal.T)
    a = read_record(tmp_path / "leads_first.npy", fs_hz=500)
    b = read_record(tmp_path / "samples_first.npy", fs_hz=500)
    np.testing.assert_array_equal(a.signal_mv, b.signal_mv)
    assert a.lead_names == STANDARD_LEADS
    with pytest.raises(RecordError, match="leads_first.npy.*sampling rate is unknown; pass fs_hz"):
        read_record(tmp_path / "leads_first.npy")
    np.savez(tmp_path / "rec.npz", signal=signal[:3], fs_hz=250.0, lead_names=np.array(["avr", "MLII", "v2"]))
    c = read_record(tmp_path / "rec.npz")
    assert c.fs_hz == 250 and c.lead_names == ("aVR", "II", "V2") and c.n_samples == 5000
    np.savez(tmp_path / "many.npz", signal=np.zeros((4, 1000, 12), np.float16))
    with pytest.raises(RecordError, match="many.npz.*holds 4 records"):
        read_record(tmp_path / "many.npz", fs_hz=100)
    np.savez(tmp_path / "other.npz", weights=np.zeros(3))
    with pytest.raises(RecordError, match="other.npz.*no 'signal' array"):
        read_record(tmp_path / "other.npz", fs_hz=100)


def test_csv_with_header_row_of_lead_names(tmp_path):
    signal = sine_leads(3, 1000, 250)
    rows = ["time,I,avr,MLII"] + [f"{i / 250:.6f},{a:.6f},{b:.6f},{c:.6f}" for i, (a, b, c) in enumerate(signal.T)]
    (tmp_path / "ecg.csv").write_text("\n".join(rows) + "\n")
    ecg = read_record(tmp_path / "ecg.csv")  # rate inferred from the time column
    assert ecg.fs_hz == 250 and ecg.lead_names == ("I", "aVR", "II") and ecg.source == "csv"
    np.testing.assert_allclose(ecg.signal_mv, signal, atol=1e-6)
    (tmp_path / "bare.csv").write_text("I,II\n" + "0.1,0.2\n" * 500)
    assert read_record(tmp_path / "bare.csv", fs_hz=500).n_samples == 500
    with pytest.raises(RecordError, match="bare.csv.*sampling rate is unknown"):
        read_record(tmp_path / "bare.csv")
    (tmp_path / "noheader.csv").write_text("0.1,0.2\n" * 500)
    with pytest.raises(RecordError, match="noheader.csv.*first row must name the leads"):
        read_record(tmp_path / "noheader.csv", fs_hz=500)


@pytest.mark.parametrize(("fs_in", "fs_out"), [(500, 100), (100, 500), (360, 500), (1000, 250), (500, 257.3)])
def test_resample_keeps_duration_and_a_slow_wave(fs_in, fs_out):
    t = np.arange(int(10 * fs_in)) / fs_in
    ecg = ECG.from_array(np.sin(2 * np.pi * 1.0 * t)[None, :], fs_in, ("II",))
    out = resample(ecg, fs_out)
    assert out.fs_hz == fs_out
    assert out.n_samples == pytest.approx(10 * fs_out, abs=1)
    t_out = np.arange(out.n_samples) / fs_out
    inner = slice(int(fs_out), -int(fs_out))  # away from filter edges
    np.testing.assert_allclose(out.signal_mv[0, inner], np.sin(2 * np.pi * t_out[inner]), atol=0.02)


def test_resample_refuses_rates_outside_the_range():
    ecg = ECG.from_array(sine_leads(), 500)
    with pytest.raises(RecordError, match="cannot resample to 20 Hz"):
        resample(ecg, 20)


def test_to_standard_leads_reorders_drops_and_derives():
    signal = sine_leads(15)
    names = ("V1", "V2", "V3", "V4", "V5", "V6", "I", "II", "III", "aVR", "aVL", "aVF", "vx", "vy", "vz")
    ecg = ECG.from_array(signal, 1000, names)
    std = to_standard_leads(ecg)
    assert std.lead_names == STANDARD_LEADS and std.signal_mv.shape == (12, 5000)
    np.testing.assert_array_equal(std.lead("V1"), signal[0])
    np.testing.assert_array_equal(std.lead("aVF"), signal[11])
    # only I and II present with the precordials: III and the augmented leads are derived
    eight = ECG.from_array(sine_leads(8), 500, ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6"))
    derived = to_standard_leads(eight)
    np.testing.assert_allclose(derived.lead("III"), derived.lead("II") - derived.lead("I"), atol=1e-6)
    np.testing.assert_allclose(derived.lead("aVR"), -(derived.lead("I") + derived.lead("II")) / 2, atol=1e-6)
    with pytest.raises(RecordError, match="missing lead\\(s\\) III, aVR, aVL, aVF"):
        to_standard_leads(eight, derive_limb_leads=False)
    assert missing_standard_leads(eight) == ("III", "aVR", "aVL", "aVF")


def test_ecg_is_immutable_float32():
    ecg = ECG.from_array(sine_leads().astype(np.float64), 500)
    assert ecg.signal_mv.dtype == np.float32
    with pytest.raises(ValueError):
        ecg.signal_mv[0, 0] = 1.0


def write_digital(folder, name: str, fmt: str, digital: np.ndarray, gains=(100.0, 50.0, 80.0), baselines=(3, -2, 0)):
    """Write (samples, 3) digital values in a format wfdb.wrsamp cannot write (61, 160, 8)."""
    n_sig = digital.shape[1]
    init = [0] * n_sig
    if fmt == "61":
        payload = digital.astype(">i2").tobytes()
    elif fmt == "160":
        payload = (digital + 32768).astype("<u2").tobytes()
    elif fmt == "8":  # first differences, 8-bit
        init = [int(v) for v in digital[0]]
        diffs = np.diff(np.vstack([digital[:1], digital]), axis=0)
        payload = diffs.astype(np.int8).tobytes()
    else:
        raise ValueError(fmt)
    (folder / f"{name}.dat").write_bytes(payload)
    lines = [f"{name} {n_sig} 500 {len(digital)}"]
    lines += [f"{name}.dat {fmt} {gains[c]:g}({baselines[c]})/mV 16 0 {init[c]} 0 0 {lead}"
              for c, lead in enumerate(("I", "II", "V1"))]
    (folder / f"{name}.hea").write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("fmt", ["16", "61", "80", "160", "212", "24", "32", "8"])
def test_wfdb_storage_formats_match_wfdb_python(tmp_path, fmt):
    """The fast reader (and the wfdb-python fallback for format 8) against wfdb.rdrecord, full and windowed."""
    import wfdb

    signal = sine_leads(3, 1500, 500).T.astype(np.float64)
    signal[:, 2] += np.linspace(-0.4, 0.4, 1500)
    if fmt in {"61", "160", "8"}:
        digital = np.round(signal * [100.0, 50.0, 80.0]).astype(np.int64) + [3, -2, 0]
        write_digital(tmp_path, f"f{fmt}", fmt, digital)
    else:
        wfdb.wrsamp(f"f{fmt}", fs=500, units=["mV"] * 3, sig_name=["I", "II", "V1"], p_signal=signal,
                    fmt=[fmt] * 3, adc_gain=[100.0, 50.0, 80.0], baseline=[3, -2, 0], write_dir=str(tmp_path))
    base = tmp_path / f"f{fmt}"
    expected = wfdb.rdrecord(str(base)).p_signal.T
    np.testing.assert_allclose(expected, signal.T, atol=0.02)  # the file holds the signal
    np.testing.assert_allclose(read_wfdb(base).signal_mv, expected, atol=1e-6)
    window = read_wfdb(base, start_s=0.503, duration_s=1.5)
    start = int(round(0.503 * 500))
    np.testing.assert_allclose(window.signal_mv, expected[:, start:start + 750], atol=1e-6)
