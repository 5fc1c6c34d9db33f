"""``resampled_length`` is the length ``resample`` gives, on both paths (polyphase: ceil, FFT: round),
so callers can place a window on the resampled grid without resampling (review s9 S1)."""

from __future__ import annotations

import numpy as np
import pytest

from ecgqa_tools.records import ECG, resample, resampled_length


@pytest.mark.parametrize("fs_from", [100.0, 250.0, 257.0, 360.0, 499.7, 500.0, 1000.0, 333.333])
@pytest.mark.parametrize("n", [1001, 1003, 3605, 3607, 4999, 34145])
def test_matches_resample(fs_from: float, n: int) -> None:
    ecg = ECG.from_array(np.zeros((1, n), dtype=np.float32), fs_from, ("II",))
    for fs_to in (100.0, 500.0):
        assert resampled_length(n, fs_from, fs_to) == resample(ecg, fs_to).n_samples, (fs_from, n, fs_to)


def test_polyphase_rounds_up_and_fft_to_nearest() -> None:
    assert resampled_length(3605, 360.0, 100.0) == 1002  # 1001.39 -> ceil (polyphase 5/18)
    assert resampled_length(34145, 499.7, 500.0) == 34165  # 34165.499 -> round (FFT)
    assert resampled_length(34147, 499.7, 500.0) == 34168  # 34167.501
    assert resampled_length(12, 500.0, 500.0) == 12
