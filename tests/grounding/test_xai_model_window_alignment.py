"""An attribution map is placed on the window the model read (review s9 S2): ``Attribution.model_offset``
is ``encoders.model_window_start``, the preprocessing's own centre crop, also for lengths where
``n * 100 / fs`` has a fractional part (a ``round`` put the map one model sample, 10 ms, early) and for
rates resampled by FFT (499.7 Hz)."""

from __future__ import annotations

import numpy as np
import pytest

from ecgqa_tools.encoders import model_window_start
from ecgqa_tools.grounding import explain
from ecgqa_tools.records import ECG, load_example, resample, to_standard_leads


@pytest.mark.parametrize(("fs_hz", "n_samples", "start"), [(360.0, 3605, 1), (360.0, 36005, 4501),
                                                           (499.7, 34145, 2916)])
def test_model_offset_is_the_preprocessing_window_start(fs_hz: float, n_samples: int, start: int) -> None:
    base = resample(load_example("ptbxl-00210"), fs_hz)
    ecg = ECG.from_array(np.tile(base.signal_mv, (1, 11))[:, :n_samples], fs_hz, base.lead_names)
    n_whole = resample(to_standard_leads(ecg), 500.0).signal_mv[:, ::5].shape[1]
    assert (n_whole - 1000) // 2 == start == model_window_start(n_samples, fs_hz)
    assert explain(ecg, "MI", "saliency").model_offset == start
