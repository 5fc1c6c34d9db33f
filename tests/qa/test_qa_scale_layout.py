"""The complete ECG-QA layout (every official chunk of every split), in miniature: one split is
read from its own chunk files only, and loading leaves the garbage collector as it found it."""

from __future__ import annotations

import gc
import json

import pytest

from ecgqa_tools.errors import DatasetError
from ecgqa_tools.qa import load_ecgqa
from ecgqa_tools.qa._samples import EXPECTED_CHUNKS

_SAMPLE = {
    "template_id": 27, "question_id": 5, "question_type": "single-verify",
    "attribute_type": "noise", "question": "Does this ECG show static noise?", "answer": ["no"],
    "attribute": ["static noise"],
}


@pytest.fixture()
def full_layout(tmp_path):
    """Every official PTB-XL template chunk (2 samples each); train and valid chunks are corrupt, so
    reading any of them while loading test would fail."""
    for split in ("train", "valid", "test"):
        folder = tmp_path / "ptbxl" / "template" / split
        folder.mkdir(parents=True)
        for chunk in range(EXPECTED_CHUNKS[("ptbxl", split)]):
            start = chunk * 10_000
            if split == "test":
                items = [dict(_SAMPLE, sample_id=start + j, ecg_id=[1 + chunk * 2 + j]) for j in range(2)]
                (folder / f"{start:05d}.json").write_text(json.dumps(items, indent=4))
            else:
                (folder / f"{start:05d}.json").write_text("[{corrupt")
    return tmp_path


def test_a_split_reads_only_its_own_chunks(full_layout) -> None:
    split = load_ecgqa(full_layout, "ptbxl", "template", "test", require_complete=True)
    n_chunks = EXPECTED_CHUNKS[("ptbxl", "test")]
    assert split.complete and split.chunks_missing == ()
    assert split.chunks_found == tuple(f"{i * 10_000:05d}.json" for i in range(n_chunks))
    assert len(split) == 2 * n_chunks
    assert {s.source.split("/")[-2] for s in split.samples} == {"test"}
    assert [s.sample_id for s in split.samples] == sorted(s.sample_id for s in split.samples)
    with pytest.raises(DatasetError, match=r"malformed JSON in .*train"):
        load_ecgqa(full_layout, "ptbxl", "template", "train")


@pytest.mark.parametrize("enabled", [True, False])
def test_loading_restores_the_garbage_collector(full_layout, enabled: bool) -> None:
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        load_ecgqa(full_layout, "ptbxl", "template", "test")
        assert gc.isenabled() is enabled
        with pytest.raises(DatasetError):
            load_ecgqa(full_layout, "ptbxl", "template", "valid")
        assert gc.isenabled() is enabled  # also after an error mid-load
    finally:
        (gc.enable if was else gc.disable)()


def test_mimic_mapping_checks_only_referenced_studies(tmp_path, monkeypatch) -> None:
    """Mapping a split onto a large MIMIC-IV-ECG listing stats the studies its samples name, and
    never walks the whole (800k-study, in a complete copy) tree."""
    import os

    from ecgqa_tools.qa import map_samples, parse_samples

    rows = ["subject_id,study_id,file_name,ecg_time,path"]
    for i in range(1_000):
        study, subject = 40_000_000 + i, 10_000_000 + i
        rows.append(f"{subject},{study},{study},2180-07-23 08:44:00,files/p1000/p{subject}/s{study}/{study}")
        if i in (3, 4):
            folder = tmp_path / f"files/p1000/p{subject}/s{study}"
            folder.mkdir(parents=True)
            (folder / f"{study}.hea").write_text("x")
            (folder / f"{study}.dat").write_bytes(b"\0")
    (tmp_path / "record_list.csv").write_text("\n".join(rows) + "\n")
    samples = parse_samples([
        dict(_SAMPLE, sample_id=0, ecg_id=[40_000_003]),
        dict(_SAMPLE, sample_id=1, ecg_id=[40_000_005]),
        dict(_SAMPLE, template_id=68, question_type="comparison_irrelevant-query",
             attribute_type="numeric_feature", attribute=None, sample_id=2, ecg_id=[40_000_004, 99_999_999]),
    ])

    def no_walk(*args, **kwargs):
        raise AssertionError("mapping walked the whole MIMIC tree")

    monkeypatch.setattr(os, "walk", no_walk)
    report = map_samples(samples, tmp_path, "mimic-iv-ecg")
    assert report.rows[0].paths == (str(tmp_path / "files/p1000/p10000003/s40000003/40000003"),)
    assert report.rows[1].paths == (None,)
    assert report.rows[2].paths == (str(tmp_path / "files/p1000/p10000004/s40000004/40000004"), None)
    assert report.absent_ids == (40_000_005, 99_999_999)
    assert (report.n_present, report.n_absent) == (1, 2)


def _valid_layout(root) -> None:
    for split in ("train", "valid", "test"):
        folder = root / "ptbxl" / "template" / split
        folder.mkdir(parents=True)
        items = [dict(_SAMPLE, sample_id=j, ecg_id=[1 + j]) for j in range(3)]
        (folder / "00000.json").write_text(json.dumps(items))


def test_qa_load_holds_one_split_at_a_time(tmp_path, capsys) -> None:
    """``ecgqa qa load`` (all splits) counts each split and lets it go before loading the next."""
    import argparse
    import weakref

    from ecgqa_tools.cli import main
    from ecgqa_tools.qa._cli_qa import _iter_splits

    _valid_layout(tmp_path)
    args = argparse.Namespace(ecgqa=str(tmp_path), dataset="ptbxl", kind="template", split="all")
    splits = _iter_splits(args)
    first = next(splits)
    ref = weakref.ref(first)
    del first
    second = next(splits)
    assert ref() is None and second.split == "valid"

    assert main(["qa", "load", "--ecgqa", str(tmp_path), "--kind", "template"]) == 0
    out = capsys.readouterr().out
    for split in ("train", "valid", "test"):
        assert f"ptbxl/template/{split}: 3 samples from 1 chunk(s); PARTIAL" in out
    assert main(["qa", "load", "--ecgqa", str(tmp_path), "--kind", "paraphrased"]) == 1
    assert "no ptbxl ECG-QA split found" in capsys.readouterr().err
