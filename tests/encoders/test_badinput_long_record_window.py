"""preprocess_ecg cuts a long record to its middle 10 s plus FILTER_GUARD_S on each side before
band-passing (review s8 M1: a 2 h record took 1.6 GB), and leaves records up to that length
bit-identical to the whole-record preprocessing."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from ecgqa_tools.encoders import model_window_start, preprocess_ecg
from ecgqa_tools.encoders._preprocess import (
    FILTER_GUARD_S,
    bandpass_zscore,
    fit_length,
    guarded_model_window,
)
from ecgqa_tools.records import (
    ECG,
    PtbXl,
    list_examples,
    load_example,
    resample,
    to_standard_leads,
)


def whole_record_input(ecg: ECG) -> np.ndarray:
    """The preprocessing before the cut was added: every step on the whole record."""
    at_500 = resample(to_standard_leads(ecg), 500.0)
    return np.ascontiguousarray(fit_length(bandpass_zscore(at_500.signal_mv, 500.0)[:, ::5]))


def tiled(ecg: ECG, times: int, fs_hz: float | None = None) -> ECG:
    """``ecg`` repeated ``times`` times with a slow baseline wander (so the cut's z-score differs
    from the whole record's), optionally resampled first."""
    base = resample(ecg, fs_hz) if fs_hz else ecg
    signal = np.tile(base.signal_mv, (1, times))
    t = np.arange(signal.shape[1]) / base.fs_hz
    signal = signal + (0.3 * np.sin(2 * np.pi * 0.05 * t) * (1 + t / t[-1])).astype(np.float32)
    return ECG.from_array(signal, base.fs_hz, base.lead_names, record_id=f"tiled-{times}")


@pytest.mark.parametrize("name", list_examples())
def test_bundled_10s_examples_are_bit_identical(name: str) -> None:
    ecg = load_example(name)
    assert guarded_model_window(ecg).offset is None
    assert np.array_equal(preprocess_ecg(ecg), whole_record_input(ecg))


def test_ptbxl_records_are_bit_identical(ptbxl_dir) -> None:
    ptbxl = PtbXl(ptbxl_dir)
    for fs in (100, 500):
        for ecg_id in sorted(ptbxl.present_ids(fs_hz=fs))[:5]:
            ecg = ptbxl.read(ecg_id, fs)
            assert np.array_equal(preprocess_ecg(ecg), whole_record_input(ecg)), (ecg_id, fs)


def test_record_just_under_the_guarded_length_is_filtered_whole() -> None:
    ecg = tiled(load_example("ptbxl-00210"), 3)  # 30 s: the guards do not fit on both sides
    assert guarded_model_window(ecg).offset is None
    assert np.array_equal(preprocess_ecg(ecg), whole_record_input(ecg))


@pytest.mark.parametrize("fs_hz", [500.0, 360.0, 1000.0, 257.0, 499.7])
def test_long_record_is_cut_on_the_same_100hz_grid(fs_hz: float) -> None:
    """Exact rate ratios start the cut on the grid (shift 0); 499.7 Hz (FFT resampling) needs the
    sub-sample shift: without it the window was up to 5 ms off and this check failed. (Not 333.333 Hz:
    ``resample`` reads it as 333.3333 Hz, so the whole-record reference itself drifts 0.085 ms by the
    window, which moves steep QRS samples by more than the 1e-3 below.)"""
    ecg = tiled(load_example("ptbxl-00210"), 18, fs_hz)  # 3 min
    window = guarded_model_window(ecg)
    assert window.offset is not None
    assert (window.shift_s == 0.0) == (fs_hz in (500.0, 360.0, 1000.0, 257.0)) and 0 <= window.shift_s < 0.01
    assert window.ecg.n_samples < ecg.n_samples / 4
    assert window.ecg.duration_s >= 10 + 2 * FILTER_GUARD_S
    new, old = preprocess_ecg(ecg), whole_record_input(ecg)
    assert new.shape == old.shape == (12, 1000)
    # the inputs differ only by the z-score (over the cut instead of the whole record): per lead, new is
    # a straight-line function of old; a window shifted by one 100 Hz sample would leave residuals ~0.1-1
    for lead_new, lead_old in zip(new.astype(np.float64), old.astype(np.float64)):
        design = np.stack([lead_old, np.ones_like(lead_old)], axis=1)
        fitted = design @ np.linalg.lstsq(design, lead_new, rcond=None)[0]
        assert np.abs(lead_new - fitted).max() < 1e-3
    assert not np.array_equal(new, old)  # the wander makes the z-scores differ


@pytest.mark.parametrize("fs_hz", [100.0, 250.0, 257.0, 360.0, 499.7, 500.0, 1000.0, 1010.1])
@pytest.mark.parametrize("n_samples", [1013, 3605, 3607, 34145, 36005, 89946])
def test_model_window_start_is_where_fit_length_crops_the_whole_record(fs_hz: float, n_samples: int) -> None:
    """One lead is enough: the length after resampling to 500 Hz and taking every 5th sample."""
    ecg = ECG.from_array(np.zeros((1, n_samples), dtype=np.float32), fs_hz, ("II",))
    n_whole = resample(ecg, 500.0).signal_mv[:, ::5].shape[1]
    marked = fit_length(np.arange(n_whole, dtype=np.float64)[None] + 1)[0]  # 0 = zero padding
    start = int(marked[marked > 0][0]) - 1 - int(np.argmax(marked > 0))
    assert model_window_start(n_samples, fs_hz) == start


def test_cut_starts_on_fit_lengths_sample_when_the_fft_length_rounds_down() -> None:
    """Review s9 S1: at 499.7 Hz (FFT resampling) 34,145 samples give round(34165.499) = 34165 at 500 Hz,
    6,833 at 100 Hz, so fit_length starts at 2916; ``ceil(n * 100 / fs)`` (6,834) put the cut at 2917,
    one 100 Hz sample late. The whole-record reference's own FFT grid runs 1.46e-5 slow here (0.5 ms by
    the window), so the check is on the time lag (least squares on the reference and its derivative),
    not on bit equality: under 0.1 sample, where the old cut gave about one sample."""
    ecg = tiled(load_example("ptbxl-00210"), 7, 499.7)
    ecg = ecg.with_signal(ecg.signal_mv[:, :34145])
    assert guarded_model_window(ecg).offset is not None
    assert model_window_start(ecg.n_samples, ecg.fs_hz) == 2916
    new, old = preprocess_ecg(ecg), whole_record_input(ecg)
    for lead_new, lead_old in zip(new.astype(np.float64), old.astype(np.float64)):
        design = np.stack([lead_old, np.gradient(lead_old), np.ones_like(lead_old)], axis=1)
        scale, lag_scaled, _ = np.linalg.lstsq(design, lead_new, rcond=None)[0]
        assert abs(lag_scaled / scale) < 0.1


def test_long_record_preprocessing_does_not_allocate_the_whole_record() -> None:
    ecg = tiled(load_example("ptbxl-00210"), 120)  # 20 min: 28.8 MB of float32 samples
    tracemalloc.start()
    try:
        preprocess_ecg(ecg)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # the whole-record path copies the record to float64 (57.6 MB) to band-pass it; the cut is 30 s
    assert peak < 10e6, peak
