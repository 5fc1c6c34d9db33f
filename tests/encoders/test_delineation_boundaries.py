"""Boundary placement of the OpenECG decoding: own-lead refinement of onsets vs offsets (session 3:
T offsets stay on the 12-lead fused crossing, T onsets move to the lead's own) and the optional
12-lead T-offset consensus."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ecgqa_tools.encoders import _delineation as dl
from ecgqa_tools.records import Wave


def _probs(t_frames: tuple[int, int], n_frames: int = 60) -> np.ndarray:
    """(frames, 4) probabilities: one T wave over [first, last) frames, 'none' elsewhere."""
    p = np.zeros((n_frames, 4))
    p[:, 0] = 1.0
    a, b = t_frames
    p[a:b, 0], p[a:b, 3] = 0.0, 1.0
    return p


def test_t_onset_follows_own_lead_and_t_offset_stays_on_fused_crossing():
    fused, own = _probs((20, 40)), _probs((21, 41))   # the lead's own T wave one frame later
    cfg = replace(dl.DEFAULT_CONFIG, bias_ms=(0.0,) * 6)
    (t,) = dl.decode_waves(fused, 300, cfg, 250.0, 300, own=own)
    assert (t.kind, t.onset, t.offset) == ("T", 21 * 5, 40 * 5 - 1)  # onset own, offset fused
    old = replace(cfg, refine_offset_frames=None)                  # sessions 1-2: both moved
    (t_old,) = dl.decode_waves(fused, 300, old, 250.0, 300, own=own)
    assert (t_old.onset, t_old.offset) == (21 * 5, 41 * 5 - 1)
    off = replace(cfg, refine_frames=(0, 0, 0))                      # no refinement at all
    (t_off,) = dl.decode_waves(fused, 300, off, 250.0, 300, own=own)
    assert (t_off.onset, t_off.offset) == (20 * 5, 40 * 5 - 1)


def _beats(offsets: dict[str, int]) -> dict[str, tuple[Wave, ...]]:
    return {lead: (Wave("QRS", 100, 150), Wave("T", 200, off, 300), Wave("QRS", 600, 650))
            for lead, off in offsets.items()}


def test_t_offset_consensus_clips_outliers_within_the_beat():
    waves = _beats({"I": 400, "II": 405, "V1": 410, "V2": 470, "V5": 320})
    out = dl.t_offset_consensus(waves, 500.0, 40.0)          # 40 ms = 20 samples
    assert out["V2"][1].offset == int(round(np.median([400, 405, 410, 320]))) + 20
    assert out["V5"][1].offset == int(round(np.median([400, 405, 410, 470]))) - 20
    for lead in ("I", "II", "V1"):
        assert out[lead] == waves[lead]
    assert dl.t_offset_consensus({k: waves[k] for k in ("I", "V5")}, 500.0, 40.0) == \
        {k: waves[k] for k in ("I", "V5")}                    # fewer than 3 leads: unchanged


def test_t_offset_consensus_stays_between_peak_and_next_qrs():
    waves = _beats({"I": 590, "II": 595, "V1": 598, "V2": 305})
    waves["V2"] = (Wave("QRS", 100, 150), Wave("T", 200, 305, 300), Wave("QRS", 560, 600))
    out = dl.t_offset_consensus(waves, 500.0, 20.0)
    assert out["V2"][1].offset == 559                          # not into its next QRS (starts 560)
    waves = _beats({"I": 330, "II": 335, "V1": 340, "V2": 500})
    waves["V2"] = (Wave("QRS", 100, 150), Wave("T", 200, 500, 390), Wave("QRS", 600, 650))
    assert dl.t_offset_consensus(waves, 500.0, 20.0)["V2"][1].offset == 390  # never before its peak
