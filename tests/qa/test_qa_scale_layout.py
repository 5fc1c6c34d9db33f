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
