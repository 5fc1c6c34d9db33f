"""Signal-quality note for a likely left/right arm electrode reversal (review M8/N: lead I with
inverted P and QRS, V6 upright): ``grounding.limb_reversal_note`` in ``measure`` notes."""

from __future__ import annotations

import numpy as np

from ecgqa_tools.grounding import measure
from ecgqa_tools.records import load_example


def _arms_swapped(ecg):
    rows = {n: ecg.lead(n) for n in ecg.lead_names}
    swapped = dict(rows, I=-rows["I"], II=rows["III"], III=rows["II"], aVR=rows["aVL"], aVL=rows["aVR"])
    return ecg.with_signal(np.stack([swapped[n] for n in ecg.lead_names]))


def test_arm_reversal_is_noted_and_the_original_is_not() -> None:
    ecg = load_example("ptbxl-01386")
    assert not any("electrode reversal" in n for n in measure(ecg).notes)
    notes = measure(_arms_swapped(ecg)).notes
    assert any("possible left/right arm electrode reversal" in n for n in notes)
