"""Mapping samples to records: present and absent records, exports with the paths."""

from __future__ import annotations

import pytest

from ecgqa_tools.qa import parse_samples
from ecgqa_tools.qa._mapping import export_hf, export_parquet, map_samples

_COLUMNS = "ecg_id,patient_id,scp_codes,strat_fold,filename_lr,filename_hr,recording_date,age,sex,device\n"


def _tree(tmp_path):
    root = tmp_path / "ptb-xl"
    (root / "records500" / "00000").mkdir(parents=True)
    rows = []
    for i in (1, 2, 3):
        rows.append(f'{i},{100 + i},"{{\'NORM\': 100.0}}",1,records100/00000/{i:05d}_lr,'
                    f"records500/00000/{i:05d}_hr,1990-01-01 00:00:00,50,0,CS-12")
    (root / "ptbxl_database.csv").write_text(_COLUMNS + "\n".join(rows) + "\n")
    (root / "scp_statements.csv").write_text(
        ",description,diagnostic,form,rhythm,diagnostic_class,diagnostic_subclass\n"
        "NORM,normal ECG,1.0,,,NORM,NORM\n"
    )
    for i in (1, 2):  # record 3 is listed but absent
        for ext in ("hea", "dat"):
            (root / "records500" / "00000" / f"{i:05d}_hr.{ext}").write_text("x")
    return root


def _samples():
    base = {"question_id": 0, "question_type": "comparison_irrelevant-query", "attribute_type": "scp_code",
            "question": "q", "answer": ["none"], "attribute": None}
    return parse_samples([
        dict(base, template_id=61, sample_id=0, ecg_id=[1, 2]),
        dict(base, template_id=61, sample_id=1, ecg_id=[2, 3]),
        dict(base, template_id=61, sample_id=2, ecg_id=[4, 1]),  # 4 is not even listed
    ], "test")


def test_present_and_absent_records(tmp_path) -> None:
    root = _tree(tmp_path)
    report = map_samples(_samples(), root, "ptbxl", 500)
    assert report.n_samples == 3 and report.n_present == 1 and report.n_absent == 2
    assert report.absent_ids == (3, 4)
    first = report.rows[0]
    assert first.present and first.paths[0].endswith("records500/00000/00001_hr")
    assert report.rows[1].paths[1] is None and report.rows[2].paths == (None, first.paths[0])


def test_exports_keep_every_sample(tmp_path) -> None:
    pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    report = map_samples(_samples(), _tree(tmp_path), "ptbxl", 500)
    table = pq.read_table(export_parquet(report, tmp_path / "out" / "mapped.parquet"))
    assert table.num_rows == 3
    assert table.column("present").to_pylist() == [True, False, False]
    assert table.column("ecg_path").to_pylist()[1][1] is None
    datasets = pytest.importorskip("datasets")
    ds = datasets.load_from_disk(str(export_hf(report, tmp_path / "hf")))
    assert ds.num_rows == 3 and ds[0]["ecg_id"] == [1, 2]


def test_real_ptbxl_mapping(ptbxl_dir, ecgqa_dir) -> None:
    from ecgqa_tools.qa import load_ecgqa

    split = load_ecgqa(ecgqa_dir, "ptbxl", "template", "test")
    report = map_samples(split.samples, ptbxl_dir, "ptbxl", 100)
    assert report.n_samples == len(split)
    assert report.n_present + report.n_absent == report.n_samples
    from ecgqa_tools.records import PtbXl

    present = PtbXl(ptbxl_dir).present_ids(100)
    assert not set(report.absent_ids) & present
    for row in report.rows:
        assert row.present == all(i in present for i in row.sample.ecg_id)


def test_mimic_present_and_absent(tmp_path) -> None:
    root = tmp_path / "mimic-iv-ecg"
    present = root / "files" / "p1000" / "p10000032" / "s40689238"
    present.mkdir(parents=True)
    for ext in ("hea", "dat"):
        (present / f"40689238.{ext}").write_text("x")
    (root / "record_list.csv").write_text(
        "subject_id,study_id,file_name,ecg_time,path\n"
        "10000032,40689238,40689238,2180-07-23 08:44:00,files/p1000/p10000032/s40689238/40689238\n"
        "10000032,44458630,44458630,2180-07-23 09:54:00,files/p1000/p10000032/s44458630/44458630\n"
    )
    samples = parse_samples([
        {"template_id": 68, "question_id": 0, "sample_id": 0, "question_type": "comparison_irrelevant-query",
         "attribute_type": "numeric_feature", "question": "q", "answer": ["none"],
         "ecg_id": [40689238, 44458630], "attribute": None},
    ], "test")
    report = map_samples(samples, root, "mimic-iv-ecg")
    assert report.absent_ids == (44458630,)
    assert report.rows[0].paths[0].endswith("files/p1000/p10000032/s40689238/40689238")
    assert report.rows[0].paths[1] is None and not report.rows[0].present
