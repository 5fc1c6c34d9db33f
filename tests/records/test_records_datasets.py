"""Dataset readers on the real partial data in ECGQA_DATA_DIR (skipped when unset)."""

from __future__ import annotations

import numpy as np
import pytest

from ecgqa_tools.errors import RecordNotFound, UsageError
from ecgqa_tools.records import (
    STANDARD_LEADS,
    Delineation,
    Ludb,
    PtbXl,
    PtbXlFiltered,
    split_of_fold,
)


@pytest.fixture(scope="module")
def ptbxl(ptbxl_dir):
    return PtbXl(ptbxl_dir)


def test_ptbxl_metadata_has_every_row_and_parsed_codes(ptbxl):
    meta = ptbxl.metadata
    assert len(meta) == 21_799
    assert meta.index.name == "ecg_id"
    assert meta.loc[1, "scp_codes"] == {"NORM": 100.0, "LVOLT": 0.0, "SR": 0.0}
    assert set(meta["strat_fold"].unique()) == set(range(1, 11))
    assert int(meta.loc[1, "patient_id"]) == 15709
    assert {"heart_axis", "infarction_stadium1", "baseline_drift", "pacemaker", "report"} <= set(meta.columns)
    assert "NORM" in ptbxl.statements.index and ptbxl.statements.loc["IMI", "diagnostic_class"] == "MI"


def test_ptbxl_present_and_missing_ids_partition_the_listing(ptbxl):
    for rate in (100, 500):
        present, missing = ptbxl.present_ids(rate), ptbxl.missing_ids(rate)
        assert present.isdisjoint(missing)
        assert len(present) + len(missing) == 21_799
    assert len(ptbxl.present_ids(100)) == 1_987
    assert len(ptbxl.present_ids(500)) == 488
    assert ptbxl.present_ids(500) <= ptbxl.present_ids(100)


def test_ptbxl_read_fills_metadata_but_no_labels(ptbxl):
    ecg = ptbxl.read(1, fs_hz=500)
    assert ecg.lead_names == STANDARD_LEADS
    assert ecg.signal_mv.shape == (12, 5000) and ecg.signal_mv.dtype == np.float32
    assert ecg.fs_hz == 500 and ecg.record_id == "1" and ecg.source == "ptbxl"
    meta = ecg.metadata
    assert (meta.age_years, meta.sex, meta.patient_id) == (56.0, "female", "15709")
    assert meta.device == "CS-12   E" and meta.recording_date.startswith("1984-11-09")
    assert "NORM" not in str(meta)  # labels stay in PtbXl.metadata, never in the ECG
    low = ptbxl.read(1, fs_hz=100)
    assert low.signal_mv.shape == (12, 1000)


def test_ptbxl_absent_record_names_the_id(ptbxl):
    with pytest.raises(RecordNotFound, match="ecg_id 5000 .*absent"):
        ptbxl.read(5000)
    with pytest.raises(RecordNotFound, match="ecg_id 600 .*present at 100 Hz"):
        ptbxl.read(600, fs_hz=500)
    with pytest.raises(RecordNotFound, match="ecg_id 99999 is not listed"):
        ptbxl.read(99999)
    with pytest.raises(UsageError, match="100 or 500"):
        ptbxl.read(1, fs_hz=250)


def test_split_of_fold():
    assert [split_of_fold(f) for f in (1, 8, 9, 10)] == ["train", "train", "validation", "test"]


def test_ptbxl_filtered_is_marked_z_scored(data_dir, ptbxl):
    subset = PtbXlFiltered(data_dir / "ptb-xl-filtered-subset" / "signals100.npz", ptbxl=ptbxl)
    assert len(subset.ecg_ids) == 1_819
    ecg = subset.read(subset.ecg_ids[0])
    assert ecg.amplitude_unit == "z-score" and ecg.source == "ptbxl-filtered"
    assert ecg.signal_mv.shape == (12, 1000) and ecg.fs_hz == 100
    assert "not mV" in ecg.metadata.get("amplitude") and "not mV" in ecg.summary()
    assert ecg.metadata.age_years is not None  # patient facts from ptbxl_database.csv
    with pytest.raises(RecordNotFound, match="not in the filtered subset"):
        subset.read(10**7)


def test_ludb_read_delineation_and_diagnoses(ludb_dir):
    ludb = Ludb(ludb_dir)
    assert len(ludb.record_ids) == 200 and ludb.missing_ids() == frozenset()
    ecg = ludb.read(1)
    assert ecg.lead_names == STANDARD_LEADS and ecg.signal_mv.shape == (12, 5000)
    # uniform gain: Einthoven holds on the rebuilt limb leads; the published headers break it
    np.testing.assert_allclose(ecg.lead("III"), ecg.lead("II") - ecg.lead("I"), atol=1e-5)
    header = ludb.read(1, gain="header")
    assert np.abs(header.lead("III") - (header.lead("II") - header.lead("I"))).max() > 0.05
    gold = ludb.delineation(1)
    assert isinstance(gold, Delineation) and gold.source == "ludb-gold" and gold.fs_hz == 500
    assert set(gold.waves) == set(STANDARD_LEADS)
    for lead, waves in gold.waves.items():
        first, last = gold.scored_span[lead]
        assert all(first <= w.onset <= w.offset <= last for w in waves)
        assert all(w.onset <= w.peak <= w.offset for w in waves)
        kinds = {w.kind for w in waves}
        assert kinds <= {"P", "QRS", "T"} and "QRS" in kinds
    diag = ludb.diagnoses(1)
    assert diag.rhythms == ("Sinus bradycardia",) and diag.electric_axis == "left axis deviation"
    assert diag.sex == "female" and diag.age_years == 51
    assert "Left ventricular hypertrophy" in diag.hypertrophies
    assert len(ludb.openecg_heldout_ids()) == 41
    with pytest.raises(RecordNotFound, match="LUDB record 201"):
        ludb.read(201)
