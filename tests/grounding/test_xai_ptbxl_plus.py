"""PTB-XL+ ECGdeli fiducial files -> Delineation -> clinical mask, on small synthetic files."""

from __future__ import annotations

import numpy as np
import pytest

from ecgqa_tools.errors import RecordNotFound
from ecgqa_tools.grounding._ptbxl_plus import classify_note, fiducial_path, read_ptbxl_plus_fiducials
from ecgqa_tools.grounding._segments import clinical_mask


def _write(root, ecg_id: int, lead: str, samples, notes, symbols=None) -> None:
    import wfdb

    path = fiducial_path(root, ecg_id, lead)
    path.parent.mkdir(parents=True, exist_ok=True)
    wfdb.wrann(path.name, "atr", np.asarray(samples, dtype=np.int64),
               symbol=symbols or ["\""] * len(samples), aux_note=notes, fs=500,
               write_dir=str(path.parent))


def test_layout_and_note_spellings():
    assert fiducial_path("/x", 2001, "V1").as_posix() == "/x/fiducial_points/ecgdeli/02000/02001_points_lead_V1"
    assert classify_note("QRS onset") == ("QRS", "onset")
    assert classify_note("p-wave offset") == ("P", "offset")
    assert classify_note("R peak") == ("QRS", "peak")
    assert classify_note("Toff") == ("T", "offset")
    assert classify_note("artifact") is None


def test_reads_waves_and_builds_a_mask(tmp_path):
    notes, samples = [], []
    for r in (400, 900):
        for offset, note in ((-90, "p-wave onset"), (-70, "p-wave peak"), (-50, "p-wave offset"),
                             (-25, "QRS onset"), (0, "R peak"), (25, "QRS offset"),
                             (90, "t-wave onset"), (130, "t-wave peak"), (170, "t-wave offset")):
            samples.append(r + offset)
            notes.append(note)
    _write(tmp_path, 2001, "II", samples, notes)
    d = read_ptbxl_plus_fiducials(tmp_path, 2001)
    assert d.source == "ptbxl-plus" and d.fs_hz == 500.0 and d.n_samples == 5000
    kinds = [(w.kind, w.onset, w.offset, w.peak) for w in d.lead("II")]
    assert kinds[:3] == [("P", 310, 350, 330), ("QRS", 375, 425, 400), ("T", 490, 570, 530)]
    assert len(kinds) == 6 and d.lead("V1") == ()
    mask = clinical_mask(d, "MI", fs_hz=100.0)
    assert mask.shape == (12, 1000) and mask[1, 80] and not mask[1, 106]


def test_wfdb_bracket_convention_is_understood(tmp_path):
    _write(tmp_path, 7, "V2", [100, 120, 140], ["", "", ""], symbols=["(", "N", ")"])
    d = read_ptbxl_plus_fiducials(tmp_path / "fiducial_points" / "ecgdeli", 7)
    assert [(w.kind, w.onset, w.offset) for w in d.lead("V2")] == [("QRS", 100, 140)]


def test_missing_record_names_the_path(tmp_path):
    with pytest.raises(RecordNotFound, match="00042_points_lead_II"):
        read_ptbxl_plus_fiducials(tmp_path, 42)
