"""12-lead post-processing of the OpenECG pipeline: the codec rhythm gate pooled over all usable
leads (no P waves in AF/flutter/paced records) and the T-onset consensus across leads."""

from __future__ import annotations

import numpy as np
import pytest

from ecgqa_tools.encoders import _delineation as dl
from ecgqa_tools.records import STANDARD_LEADS, Wave


def test_rhythm_gate_pools_every_usable_lead(monkeypatch):
    from ecgqa_tools.records import ECG

    seen = []

    def fake_fractions(ecg, leads):
        seen.append(leads)
        return np.array([0.4, 0.0, 0.0, 0.6, 0.0, 0.0])  # sinus, avb, paced, afib, bbb, ventricular

    monkeypatch.setattr(dl, "codec_rhythm_fractions", fake_fractions)
    ecg = ECG.from_array(np.zeros((12, 5000)), 500.0, STANDARD_LEADS)
    fused = np.zeros((12, 500, 4))
    fused[:, [f + k for f in range(10, 500, 50) for k in range(3)], 2] = 1.0  # 10 QRS complexes, 1 s apart
    call = dl.call_rhythm(ecg, fused, {"V3": "flat"})
    assert call.n_qrs == 10 and not call.too_few_beats
    assert seen == [tuple(n for n in STANDARD_LEADS if n != "V3")]
    assert call.no_p_waves and call.atrial_fibrillation and call.codec_rhythm == "afib"
    dl.call_rhythm(ecg, fused, {"V3": "flat"}, ("II", "I", "V1"))  # DelineatorConfig.rhythm_leads
    assert seen[-1] == ("II", "I", "V1")


def test_rhythm_not_judged_on_too_few_beats(monkeypatch):
    """Below MIN_RHYTHM_QRS complexes (here 2) the codec's afib share is not turned into an AF call
    or the P-wave gate (session-8 review M3)."""
    from ecgqa_tools.records import ECG

    monkeypatch.setattr(dl, "codec_rhythm_fractions", lambda ecg, leads: np.array([0.0, 0.0, 0.0, 1.0, 0.0, 0.0]))
    ecg = ECG.from_array(np.zeros((12, 5000)), 500.0, STANDARD_LEADS)
    fused = np.zeros((12, 500, 4))
    fused[:, [10, 11, 12, 60, 61, 62], 2] = 1.0
    call = dl.call_rhythm(ecg, fused, {})
    assert call.n_qrs == 2 and call.too_few_beats
    assert not call.atrial_fibrillation and not call.no_p_waves and call.afib_fraction == 1.0


def test_no_p_rule():
    assert dl.no_p_rhythm(0.58, 0.0, 0.11)           # LUDB 101 pooled over 12 leads
    assert not dl.no_p_rhythm(0.39, 0.0, 0.11)       # the same record over II, I, V1 only
    assert dl.no_p_rhythm(0.36, 0.31, 0.29)          # AF and paced shares add up
    assert dl.no_p_rhythm(0.35, 0.0, 0.2) and not dl.no_p_rhythm(0.35, 0.0, 0.1)
    assert not dl.no_p_rhythm(0.17, 0.0, 0.01)


def _t_waves(onsets_ms: dict[str, float], fs=500.0) -> dict[str, tuple[Wave, ...]]:
    out = {}
    for lead, on_ms in onsets_ms.items():
        on = int(on_ms * fs / 1000)
        out[lead] = (Wave("QRS", 100, 150), Wave("T", on, 400, 330))
    return out


def test_t_onset_consensus_clips_only_the_outlier():
    waves = _t_waves({"I": 480.0, "II": 490.0, "V1": 500.0, "V2": 495.0, "V5": 380.0})
    out = dl.t_onset_consensus(waves, 500.0, 60.0)
    ref = np.median([240, 245, 250, 247])  # the others' onsets in samples
    assert out["V5"][1].onset == int(round(ref - 30))   # 60 ms = 30 samples below the others
    for lead in ("I", "II", "V1", "V2"):
        assert out[lead] == waves[lead]                  # within the limit: unchanged
    assert out["V5"][0] == waves["V5"][0] and out["V5"][1].offset == 400


def test_t_onset_consensus_never_passes_the_peak_and_needs_three_leads():
    waves = _t_waves({"I": 600.0, "II": 610.0, "V1": 620.0, "V2": 560.0})
    waves["V2"] = (waves["V2"][0], Wave("T", 280, 400, 285))  # peak close to its onset
    out = dl.t_onset_consensus(waves, 500.0, 20.0)
    assert out["V2"][1].onset == 285
    two = {k: v for k, v in _t_waves({"I": 480.0, "II": 380.0}).items()}
    assert dl.t_onset_consensus(two, 500.0, 20.0) == two


def test_t_onset_consensus_never_pulls_an_onset_into_the_qrs():
    waves = _t_waves({"I": 330.0, "II": 335.0, "V1": 340.0, "V2": 420.0})
    waves["V2"] = (Wave("QRS", 100, 190), Wave("T", 210, 400, 330))  # its own QRS ends late
    out = dl.t_onset_consensus(waves, 500.0, 20.0)
    assert out["V2"][1].onset == 191            # would be 158 (others' median - 10), inside its QRS
    assert out["I"] == waves["I"]


def test_ludb_af_record_has_no_p_and_sinus_keeps_them(ludb_dir):
    from ecgqa_tools.encoders import delineate_detailed
    from ecgqa_tools.records import Ludb

    ludb = Ludb(ludb_dir)
    af = delineate_detailed(ludb.read(101))      # held-out atrial fibrillation, codec II/I/V1 afib 0.39
    assert af.rhythm.no_p_waves
    assert not any(w.kind == "P" for lead in STANDARD_LEADS for w in af.delineation.lead(lead))
    sinus = delineate_detailed(ludb.read(1))
    assert not sinus.rhythm.no_p_waves
    assert sum(w.kind == "P" for w in sinus.delineation.lead("II")) >= 5
