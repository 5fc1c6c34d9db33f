"""The MIN_RHYTHM_QRS count (AF call, RR irregularity, P-wave gate) uses only the leads
``lead_quality`` finds usable: flat, saturated or noisy rows carry no beats of their own and diluted
the 12-lead mean below 0.5 (review s8 S9)."""

from __future__ import annotations

import numpy as np

from ecgqa_tools.encoders import _delineation as dl
from ecgqa_tools.records import ECG, STANDARD_LEADS

AFIB_SHARES = np.array([0.1, 0.0, 0.0, 0.9, 0.0, 0.0])  # sinus, avb, paced, afib, bbb, ventricular


def _fused_with_two_usable_leads() -> tuple[np.ndarray, dict[str, str]]:
    """Boundary-model output as ``fuse_leads`` gives it for II and V5 usable (10 QRS complexes at
    0.8, 1 s apart) and the other 10 leads unusable (``lead_probabilities``: 'none' = 1)."""
    usable_names = ("II", "V5")
    probs = np.zeros((12, 500, 4), dtype=np.float32)
    probs[:, :, 0] = 1.0
    beats = [f + k for f in range(10, 500, 50) for k in range(3)]
    for i, name in enumerate(STANDARD_LEADS):
        if name in usable_names:
            probs[i, beats, 0], probs[i, beats, 2] = 0.2, 0.8
    usable = tuple(name in usable_names for name in STANDARD_LEADS)
    fused = dl.fuse_leads(dl.LeadProbabilities(probs, STANDARD_LEADS, 2500, usable), dl.DelineatorConfig().fusion_weight)
    unusable = {name: "flat signal (peak-to-peak 0.0 uV)" for name in STANDARD_LEADS if name not in usable_names}
    return fused, unusable


def test_unusable_leads_do_not_dilute_the_qrs_count(monkeypatch) -> None:
    monkeypatch.setattr(dl, "codec_rhythm_fractions", lambda ecg, leads: AFIB_SHARES)
    ecg = ECG.from_array(np.zeros((12, 1000)), 100.0, STANDARD_LEADS)  # 100 Hz: no pacing-spike check
    fused, unusable = _fused_with_two_usable_leads()
    assert fused[:, :, 2].mean(axis=0).max() < 0.5  # the old 12-row mean found no QRS at all
    call = dl.call_rhythm(ecg, fused, unusable)
    assert call.n_qrs == 10 and not call.too_few_beats
    assert call.atrial_fibrillation and call.no_p_waves
    assert call.rr_irregularity is not None and call.rr_irregularity < 0.01


def test_no_usable_lead_judges_no_rhythm(monkeypatch) -> None:
    monkeypatch.setattr(dl, "codec_rhythm_fractions", lambda ecg, leads: AFIB_SHARES)
    ecg = ECG.from_array(np.zeros((12, 1000)), 100.0, STANDARD_LEADS)
    fused, _ = _fused_with_two_usable_leads()
    call = dl.call_rhythm(ecg, fused, {name: "flat" for name in STANDARD_LEADS})
    assert call.n_qrs == 0 and call.too_few_beats
    assert not call.atrial_fibrillation and not call.no_p_waves and call.codec_rhythm == "unknown"
