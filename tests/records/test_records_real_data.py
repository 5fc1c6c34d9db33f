"""Every present record of ECGQA_DATA_DIR is readable, and the fast WFDB reader agrees with
wfdb-python sample for sample (on a sample of PTB-XL, on all of MIT-BIH, PTB-D and LUDB headers)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ecgqa_tools.records import (
    STANDARD_LEADS,
    Ludb,
    PtbXl,
    PtbXlFiltered,
    read_record,
    read_wfdb,
    to_standard_leads,
)
from ecgqa_tools.records._ludb import LUDB_ANNOTATION_EXTENSIONS, read_wave_annotations


def assert_same_as_wfdb(base: Path, ecg) -> None:  # noqa: ANN001
    import wfdb

    reference = wfdb.rdrecord(str(base), physical=True).p_signal.T
    np.testing.assert_allclose(ecg.signal_mv, reference, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("fs_hz", [100, 500])
def test_every_present_ptbxl_record_reads(ptbxl_dir, fs_hz):
    ptbxl = PtbXl(ptbxl_dir)
    ids = sorted(ptbxl.present_ids(fs_hz))
    assert ids, "no PTB-XL records present"
    for ecg_id in ids:
        ecg = ptbxl.read(ecg_id, fs_hz=fs_hz)
        assert ecg.lead_names == STANDARD_LEADS
        assert ecg.signal_mv.shape == (12, 10 * fs_hz)
    for ecg_id in ids[::40]:  # every 40th record against wfdb-python
        assert_same_as_wfdb(ptbxl.path(ecg_id, fs_hz), ptbxl.read(ecg_id, fs_hz=fs_hz))


def test_every_filtered_subset_record_reads(data_dir):
    subset = PtbXlFiltered(data_dir / "ptb-xl-filtered-subset")
    ids = subset.ecg_ids
    assert len(ids) == 1_819
    for ecg_id in ids:
        ecg = subset.read(ecg_id)
        assert ecg.signal_mv.shape == (12, 1000) and ecg.amplitude_unit == "z-score"


def test_every_ludb_record_reads_with_gold_annotations(ludb_dir):
    ludb = Ludb(ludb_dir)
    for n in ludb.record_ids:
        header_scaled = ludb.read(n, gain="header")
        uniform = ludb.read(n)
        assert uniform.signal_mv.shape == header_scaled.signal_mv.shape == (12, 5000)
        np.testing.assert_allclose(uniform.lead("III"), uniform.lead("II") - uniform.lead("I"), atol=1e-5)
        gold = ludb.delineation(n)
        assert sum(len(w) for w in gold.waves.values()) > 0
        if n % 20 == 1:
            assert_same_as_wfdb(ludb.data / str(n), header_scaled)


def test_ludb_annotation_decoder_matches_wfdb_rdann(ludb_dir):
    import wfdb

    for n in range(1, 201, 10):
        for ext in LUDB_ANNOTATION_EXTENSIONS:
            reference = wfdb.rdann(str(ludb_dir / "data" / str(n)), ext)
            symbols, samples = read_wave_annotations(ludb_dir / "data" / f"{n}.{ext}")
            assert symbols == list(reference.symbol)
            assert samples == [int(s) for s in reference.sample]


def test_every_mitdb_record_reads(mitdb_dir):
    headers = sorted(mitdb_dir.glob("*.hea"))
    assert headers
    for header in headers:
        ecg = read_record(header)
        assert ecg.fs_hz == 360 and ecg.n_samples == 650_000 and len(ecg.lead_names) == 2
        assert_same_as_wfdb(header.with_suffix(""), ecg)  # format 212
    window = read_wfdb(headers[0], start_s=600.5, duration_s=10)
    full = read_record(headers[0])
    start = int(round(600.5 * 360))
    np.testing.assert_array_equal(window.signal_mv, full.signal_mv[:, start: start + 3600])


def test_ptbdb_15_leads_to_12(ptbdb_dir):
    for header in sorted(ptbdb_dir.glob("*.hea")):
        ecg = read_record(header)
        assert len(ecg.lead_names) == 15 and ecg.quality().non_standard_leads == ("vx", "vy", "vz")
        assert ecg.metadata.age_years == 81 and ecg.metadata.sex == "female"
        assert_same_as_wfdb(header.with_suffix(""), ecg)  # two signal files (.dat, .xyz)
        standard = to_standard_leads(ecg)
        assert standard.lead_names == STANDARD_LEADS
        np.testing.assert_array_equal(standard.lead("V6"), ecg.lead("V6"))
