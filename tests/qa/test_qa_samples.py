"""Loading official JSON: typed samples, partial chunk sets reported, malformed input refused."""

from __future__ import annotations

import json

import pytest

from ecgqa_tools.errors import DatasetError
from ecgqa_tools.qa import load_ecgqa, parse_samples

_SAMPLE = {
    "template_id": 27, "question_id": 5, "sample_id": 120000, "question_type": "single-verify",
    "attribute_type": "noise", "question": "Does this ECG show static noise?", "answer": ["no"],
    "ecg_id": [3637], "attribute": ["static noise"],
}


def _write(tmp_path, name: str, data) -> None:
    folder = tmp_path / "ptbxl" / "template" / "train"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(data if isinstance(data, str) else json.dumps(data))


def test_partial_split_lists_missing_chunks(tmp_path) -> None:
    _write(tmp_path, "120000.json", [_SAMPLE])
    split = load_ecgqa(tmp_path, "ptbxl", "template", "train")
    assert len(split) == 1 and split.samples[0].ecg_id == (3637,)
    assert split.samples[0].answer == ("no",)
    assert not split.complete
    assert "00000.json" in split.chunks_missing and "120000.json" not in split.chunks_missing
    assert len(split.chunks_missing) == 26
    with pytest.raises(DatasetError, match="partial"):
        load_ecgqa(tmp_path, "ptbxl", "template", "train", require_complete=True)


def test_malformed_json_is_a_dataset_error(tmp_path) -> None:
    _write(tmp_path, "00000.json", "[{not json")
    with pytest.raises(DatasetError, match="malformed JSON"):
        load_ecgqa(tmp_path, "ptbxl", "template", "train")


def test_missing_field_and_wrong_shape(tmp_path) -> None:
    broken = dict(_SAMPLE)
    del broken["answer"]
    with pytest.raises(DatasetError, match="lacks field 'answer'"):
        parse_samples([broken])
    with pytest.raises(DatasetError, match="JSON list"):
        parse_samples({"samples": []})
    with pytest.raises(DatasetError, match="template_id 99"):
        parse_samples([dict(_SAMPLE, template_id=99)])


def test_absent_split(tmp_path) -> None:
    with pytest.raises(DatasetError, match="no ptbxl/template/valid"):
        load_ecgqa(tmp_path, "ptbxl", "template", "valid")


def test_real_chunks(ecgqa_dir) -> None:
    split = load_ecgqa(ecgqa_dir, "ptbxl", "paraphrased", "test")
    assert len(split) == 2146 and split.chunks_found == ("80000.json",)
    assert all(s.template_id in (69, 70) and len(s.ecg_id) == 2 for s in split)
    mimic = load_ecgqa(ecgqa_dir, "mimic-iv-ecg", "template", "test")
    assert "270000.json" in mimic.chunks_found and len(mimic.chunks_missing) == 27
