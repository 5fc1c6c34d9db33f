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


def test_n_leads_is_required_so_all_flat_cannot_fail_open():
    import pytest

    from ecgqa_tools.records import SignalQuality

    with pytest.raises(TypeError, match="n_leads"):
        SignalQuality(flat_leads=("I",), implausible_amplitude_leads=(), missing_standard_leads=(),
                      non_standard_leads=())
    built = SignalQuality(flat_leads=("I",), implausible_amplitude_leads=(), missing_standard_leads=(),
                          non_standard_leads=(), n_leads=1)
    assert built.all_flat
