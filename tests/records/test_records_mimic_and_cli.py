"""MIMIC-IV-ECG on a small synthetic tree (no MIMIC data exists here), ``ecgqa data check``,
``ecgqa info`` and the bundled examples."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ecgqa_tools.cli import main
from ecgqa_tools.errors import DatasetError, RecordNotFound
from ecgqa_tools.records import (
    STANDARD_LEADS,
    MimicIvEcg,
    example_info,
    example_path,
    list_examples,
    load_example,
)

# MIMIC-IV-ECG's own lead order (aVF before aVL)
MIMIC_LEADS = ("I", "II", "III", "aVR", "aVF", "aVL", "V1", "V2", "V3", "V4", "V5", "V6")
STUDIES = ((10000032, 40689238, True), (10000032, 44458630, True), (10000117, 45090959, False))


@pytest.fixture()
def mimic_root(tmp_path):
    import wfdb

    rows = ["subject_id,study_id,file_name,ecg_time,path"]
    for k, (subject, study, present) in enumerate(STUDIES):
        folder = f"files/p{str(subject)[:4]}/p{subject}/s{study}"
        rows.append(f"{subject},{study},{study},2180-07-23 08:44:00,{folder}/{study}")
        if present:
            (tmp_path / folder).mkdir(parents=True)
            signal = np.tile(np.arange(12, dtype=float)[None, :] * 0.1 + k, (5000, 1))  # lead j holds 0.1*j + k
            signal[::50] += 0.5  # not flat
            wfdb.wrsamp(str(study), fs=500, units=["mV"] * 12, sig_name=list(MIMIC_LEADS), p_signal=signal,
                        fmt=["16"] * 12, adc_gain=[200.0] * 12, baseline=[0] * 12, write_dir=str(tmp_path / folder))
    (tmp_path / "record_list.csv").write_text("\n".join(rows) + "\n")
    return tmp_path


def test_mimic_reads_by_study_id_in_standard_order(mimic_root):
    mimic = MimicIvEcg(mimic_root)
    assert mimic.study_ids == (40689238, 44458630, 45090959)
    assert mimic.present_ids() == {40689238, 44458630}
    assert mimic.missing_ids() == {45090959}
    ecg = mimic.read(44458630)
    assert ecg.lead_names == STANDARD_LEADS and ecg.source == "mimic-iv-ecg" and ecg.record_id == "44458630"
    assert ecg.metadata.patient_id == "10000032" and ecg.metadata.recording_date == "2180-07-23 08:44:00"
    # reordered: aVL (stored 6th, value 0.5 + 1) is now 5th
    assert np.median(ecg.lead("aVL")) == pytest.approx(0.5 + 1, abs=0.01)
    assert np.median(ecg.signal_mv[4]) == pytest.approx(1.5, abs=0.01)
    assert str(mimic.path(40689238)).endswith("files/p1000/p10000032/s40689238/40689238")


def test_mimic_absent_and_unlisted_studies_are_named(mimic_root):
    mimic = MimicIvEcg(mimic_root)
    with pytest.raises(RecordNotFound, match="study_id 45090959 is listed but its files"):
        mimic.read(45090959)
    with pytest.raises(RecordNotFound, match="study_id 123 is not listed"):
        mimic.read(123)
    with pytest.raises(DatasetError, match="record_list.csv not found"):
        MimicIvEcg(mimic_root / "files")


def test_data_check_mimic_text_and_json(mimic_root, capsys):
    assert main(["data", "check", "--mimic", str(mimic_root)]) == 0
    out = capsys.readouterr().out
    assert "listed: 3" in out and "present (signals): 2 of 3 (1 missing)" in out and "45090959" in out
    assert main(["data", "check", "--mimic", str(mimic_root), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)[0]
    assert report["dataset"] == "mimic-iv-ecg" and report["listed"] == 3
    assert report["present"] == {"signals": 2} and report["missing"] == {"signals": 1}


def test_data_check_bad_folder_is_an_error_line(tmp_path, capsys):
    assert main(["data", "check", "--ptbxl", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "ptbxl_database.csv" in err and "Traceback" not in err


def test_data_check_ptbxl_reports_1987_of_21799_and_folds(ptbxl_dir, capsys):
    assert main(["data", "check", "--ptbxl", str(ptbxl_dir)]) == 0
    out = capsys.readouterr().out
    assert "listed: 21,799" in out
    assert "present (100 Hz): 1,987 of 21,799 (19,812 missing)" in out
    assert "present (500 Hz): 488 of 21,799" in out
    assert "strat_fold 10 test" in out
    assert main(["data", "check", "--ptbxl", str(ptbxl_dir), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)[0]
    assert report["present"] == {"100 Hz": 1987, "500 Hz": 488} and report["present_any"] == 1987
    folds = {s["name"]: s for s in report["splits"]}
    assert len(folds) == 10 and sum(s["listed"] for s in folds.values()) == 21_799
    assert sum(s["present"]["100 Hz"] for s in folds.values()) == 1987
    assert folds["strat_fold 9"]["role"] == "validation"


def test_data_check_ludb(ludb_dir, capsys):
    assert main(["data", "check", "--ludb", str(ludb_dir), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)[0]
    assert report["listed"] == 200 and report["present"] == {"signals": 200, "annotations": 200}


# ------------------------------------------------------------------ bundled examples


def test_examples_are_real_test_fold_records_with_an_index():
    names = list_examples()
    assert len(names) >= 5
    for name in names:
        info = example_info(name)
        assert info.strat_fold == 10 and info.ecgqa_split == "test"
        assert example_path(name).with_suffix(".hea").is_file() and example_path(name).with_suffix(".dat").is_file()
        ecg = load_example(name)
        assert ecg.lead_names == STANDARD_LEADS and ecg.fs_hz == info.fs_hz and ecg.duration_s == 10
        assert ecg.record_id == str(info.ecg_id) and ecg.metadata.age_years is not None
        assert ecg.quality().flat_leads == ()
    assert sum(example_info(n).fs_hz == 500 for n in names) >= 5
    with pytest.raises(RecordNotFound, match="no bundled example 'nope'; available: ptbxl-"):
        load_example("nope")


def test_examples_are_unmodified_ptbxl_files(ptbxl_dir):
    for name in list_examples():
        info = example_info(name)
        folder = "records500" if info.fs_hz == 500 else "records100"
        original = ptbxl_dir / folder / f"{info.ecg_id // 1000 * 1000:05d}" / info.file
        for ext in (".hea", ".dat"):
            assert example_path(name).with_suffix(ext).read_bytes() == original.with_suffix(ext).read_bytes()


def test_info_accepts_an_example_name_or_a_path(capsys):
    name = list_examples()[0]
    assert main(["info", name]) == 0
    by_name = capsys.readouterr().out
    assert main(["info", str(example_path(name))]) == 0
    by_path = capsys.readouterr().out
    assert "12 leads: I, II, III, aVR, aVL, aVF, V1, V2, V3, V4, V5, V6" in by_name
    assert "500 Hz, 5000 samples, 10.0 s" in by_name and "500 Hz" in by_path
    assert main(["info", name, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["fs_hz"] == 500 and data["lead_names"] == list(STANDARD_LEADS) and data["amplitude_unit"] == "mV"
    assert main(["info"]) == 0
    listing = capsys.readouterr().out
    assert all(n in listing for n in list_examples())


@pytest.mark.parametrize("command", ["measure", "classify", "tokens"])
def test_record_commands_accept_an_example_name(command, capsys):
    assert main([command, "ptbxl-00473"]) == 0
    out = capsys.readouterr().out
    assert "record example:ptbxl-00473" in out and (("lead II" in out) if command == "tokens" else True)


def test_read_record_or_example_reads_files_and_names_what_is_missing(tmp_path):
    from ecgqa_tools.records import example_path, load_example
    from ecgqa_tools.records._examples import read_record_or_example

    by_name = read_record_or_example("ptbxl-00473")
    by_path = read_record_or_example(str(example_path("ptbxl-00473")))
    assert by_name.record_id == load_example("ptbxl-00473").record_id
    np.testing.assert_array_equal(by_path.signal_mv, by_name.signal_mv)
    with pytest.raises(RecordNotFound, match="missing"):
        read_record_or_example(str(tmp_path / "missing"))


@pytest.mark.parametrize("first_present", [True, False])
def test_mimic_a_study_listed_twice_uses_its_first_row_everywhere(mimic_root, first_present):
    """The walk (mostly absent copy), the per-study check and read agree on a duplicated study id."""
    present, absent = "files/p1000/p10000032/s40689238/40689238", "files/nowhere/40689238"
    first, second = (present, absent) if first_present else (absent, present)
    csv = mimic_root / "record_list.csv"
    lines = csv.read_text().splitlines()
    lines[1] = f"10000032,40689238,40689238,2180-07-23 08:44:00,{first}"
    lines.append(f"10000032,40689238,40689238,2180-07-23 08:44:00,{second}")
    csv.write_text("\n".join(lines) + "\n")
    walked = MimicIvEcg(mimic_root)._walk_present()
    checked = MimicIvEcg(mimic_root).present_among([40689238, 44458630])
    assert walked == checked == ({40689238, 44458630} if first_present else {44458630})
    mimic = MimicIvEcg(mimic_root)
    assert mimic.study_ids.count(40689238) == 1 and str(mimic.path(40689238)).endswith(first)
    if first_present:
        assert mimic.read(40689238).record_id == "40689238"
    else:
        with pytest.raises(RecordNotFound, match="listed but its files"):
            mimic.read(40689238)
