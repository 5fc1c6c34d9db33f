"""``SignalQuality.all_flat``: the one test of "no ECG signal at all" the models and tools share."""

from __future__ import annotations

import numpy as np

from ecgqa_tools.records import ECG, STANDARD_LEADS


def test_all_flat_only_when_every_lead_is_flat():
    signal = np.zeros((12, 1000))
    assert ECG.from_array(signal, 500.0, STANDARD_LEADS).quality().all_flat
    signal[3] = np.sin(np.arange(1000) / 20.0)
    quality = ECG.from_array(signal, 500.0, STANDARD_LEADS).quality()
    assert not quality.all_flat and len(quality.flat_leads) == 11 and quality.n_leads == 12
