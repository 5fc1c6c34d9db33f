"""Boundary placement of the OpenECG decoding: own-lead refinement of onsets vs offsets (session 3:
T offsets stay on the 12-lead fused crossing, T onsets move to the lead's own) and the optional
12-lead T-offset consensus."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ecgqa_tools.encoders import _delineation as dl
from ecgqa_tools.errors import UsageError
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


# --------------------------------------------------------------------------- T-onset correction

def _model(intercept: float, coef: float = 0.0, clip_ms: float = 40.0, feature: str = "peak",
           low: float = -1e9, high: float = 1e9) -> dl.TOnsetCorrection:
    return dl.TOnsetCorrection((feature,), (low,), (high,), (0.0,), (1.0,), (coef,), intercept, clip_ms)


def test_t_onset_correction_is_linear_clipped_and_validated():
    m = _model(2.0, coef=0.5, clip_ms=10.0, low=-4.0, high=30.0)
    x = np.array([[0.0], [4.0], [-100.0], [100.0]])
    # 2 + 0.5 x with x clipped to [-4, 30], the result clipped to +-10 ms
    assert np.allclose(m.correction_ms(x), [2.0, 4.0, 0.0, 10.0])
    with pytest.raises(UsageError):
        dl.TOnsetCorrection(("peak",), (0.0,), (1.0,), (0.0,), (1.0,), (1.0, 2.0), 0.0)
    with pytest.raises(UsageError):
        dl.TOnsetCorrection(("st_slope",), (0.0,), (1.0,), (0.0,), (1.0,), (1.0,), 0.0)
    assert dl.DEFAULT_CONFIG.t_onset_correction is dl.T_ONSET_CORRECTION
    assert dl.T_ONSET_CORRECTION.features == dl.T_ONSET_FEATURES


def _t_record() -> tuple[dict[str, tuple[Wave, ...]], np.ndarray, dl.LeadProbabilities]:
    """Three leads, 500 Hz, one beat: QRS 100-150, T 200-400 (peak 300); T probability ramps
    linearly from 0 at frame 10 (200 ms) to 1 at frame 20 (400 ms), 'none' is the rest."""
    p = np.zeros((3, 60, 4))
    ramp = np.clip((np.arange(60) - 10) / 10.0, 0.0, 1.0)
    ramp[40:] = 0.0
    p[:, :, 3] = ramp
    p[:, :, 0] = 1.0 - ramp
    leads = ("I", "II", "V1")
    probs = dl.LeadProbabilities(p.astype(np.float32), leads, 1500, (True,) * 3)
    waves = {lead: (Wave("QRS", 100, 150, 125), Wave("T", on, 400, 300))
             for lead, on in zip(leads, (200, 210, 230))}
    return waves, p, probs


def test_t_onset_features_on_a_known_record():
    waves, fused, probs = _t_record()
    f = dl.t_onset_features(waves, fused, probs, 500.0)
    x = dict(zip(dl.T_ONSET_FEATURES, f[("II", 1)]))
    assert x["qrs_off"] == pytest.approx((150 - 210) * 2)      # ms, relative to the onset
    assert (x["peak"], x["offset"]) == (pytest.approx(180.0), pytest.approx(380.0))
    assert x["others"] == pytest.approx((np.median([200, 230]) - 210) * 2)
    # the ramp is p = (k - 10) / 10 at frame centre (k + 0.5) * 20 ms: 0.5 at 310 ms
    assert x["fused_50"] == pytest.approx(310.0 - 420.0)
    assert x["own_30"] == pytest.approx(270.0 - 420.0)
    assert np.isnan(x["rr"])                                   # one beat: RR unknown


def test_correct_t_onsets_moves_onsets_and_respects_qrs_and_peak():
    waves, fused, probs = _t_record()
    out = dl.correct_t_onsets(waves, fused, probs, 500.0, _model(10.0))   # +10 ms = 5 samples
    assert [out[lead][1].onset for lead in ("I", "II", "V1")] == [205, 215, 235]
    assert all(out[lead][0] == waves[lead][0] for lead in out)            # QRS untouched
    assert all(out[lead][1].offset == 400 for lead in out)
    late = dl.correct_t_onsets(waves, fused, probs, 500.0, _model(1000.0, clip_ms=1000.0))
    assert {late[lead][1].onset for lead in late} == {300}                # never after the peak
    early = dl.correct_t_onsets(waves, fused, probs, 500.0, _model(-1000.0, clip_ms=1000.0))
    assert {early[lead][1].onset for lead in early} == {151}              # never into the QRS
    no_qrs = {lead: ws[1:] for lead, ws in waves.items()}                 # no QRS before the T wave
    assert dl.correct_t_onsets(no_qrs, fused, probs, 500.0, _model(10.0)) == no_qrs


def test_delineate_applies_the_correction_to_t_onsets_only():
    from ecgqa_tools.records import list_examples, load_example

    ecg = load_example(list_examples()[0])
    fast = replace(dl.DEFAULT_CONFIG, rhythm_gate=False)   # the gate (codec) does not touch T waves
    with_corr = dl.delineate(ecg, config=fast)
    without = dl.delineate(ecg, config=replace(fast, t_onset_correction=None))
    moved = 0
    for lead in ecg.lead_names:
        a, b = with_corr.waves[lead], without.waves[lead]
        assert [(w.kind, w.offset, w.peak) for w in a] == [(w.kind, w.offset, w.peak) for w in b]
        for wa, wb in zip(a, b):
            if wa.kind != "T":
                assert wa.onset == wb.onset
            else:
                assert abs(wa.onset - wb.onset) <= round(40 * ecg.fs_hz / 1000) + 1
                moved += wa.onset != wb.onset
    assert moved > 0


def test_rr_irregularity_of_a_qrs_probability():
    from ecgqa_tools.encoders._delineation import rr_irregularity

    def frames(starts, n=200):
        q = np.zeros(n)
        for s in starts:
            q[s:s + 3] = 0.9  # a QRS run of 3 frames (60 ms)
        return q

    assert rr_irregularity(frames([10, 50, 90, 130])) is None  # fewer than 5 complexes
    assert rr_irregularity(frames(range(5, 195, 30))) == 0.0  # regular
    irregular = rr_irregularity(frames([5, 30, 70, 90, 140, 160]))
    assert irregular is not None and irregular > 0.5
