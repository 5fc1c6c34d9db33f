"""Signal preprocessing shared by training and inference of every encoder model.

The filtered PTB-XL subset (``ptb-xl-filtered-subset/signals100.npz``) was band-passed 0.5-40 Hz
and z-scored per lead at 500 Hz, then decimated to 100 Hz. Measured on its 158 records that also
have raw signals here, a 4th-order Butterworth band-pass applied forward-backward (``sosfiltfilt``)
at 500 Hz, a per-lead z-score and taking every 5th sample reproduce it with a mean per-lead
correlation of 0.9999 from the 500 Hz records (0.970 from the 100 Hz records, whose own
anti-aliasing differs). Every raw record (training and inference) goes through exactly that:
resample to 500 Hz, band-pass, z-score, decimate to 100 Hz, then fit to 10 s.

A record longer than the 10 s window plus ``FILTER_GUARD_S`` on each side is first cut to that
guarded window (``guarded_model_window``), so memory does not grow with the record's length (a 2 h
record took 1.6 GB when filtered whole); records up to that length are processed whole, exactly as
before. See docs/encoders.md, "Long records".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..errors import RecordError
from ..records import ECG, resample, resampled_length, to_standard_leads

MODEL_FS_HZ = 100.0
"""Sampling rate of every model's input."""
MODEL_SAMPLES = 1000
"""Samples per lead of every model's input (10 s at 100 Hz)."""
MIN_MODEL_SECONDS = 9.5
"""A record shorter than this gets a warning: the models read 10 s windows and zero-pad shorter
records (``fit_length``); 9.5 s leaves half a second of tolerance (fixed a priori)."""
FILTER_FS_HZ = 500.0
"""Rate at which the band-pass and z-score are applied (as for the filtered subset)."""
FILTERED_SOURCE = "ptbxl-filtered"
"""``ECG.source`` of records read from the filtered subset (already band-passed and z-scored)."""
BAND_HZ = (0.5, 40.0)
"""Pass band of the 4th-order Butterworth filter."""
FILTER_GUARD_S = 10.0
"""Signal kept on each side of the models' 10 s window when a longer record is cut before
band-passing. The filter's slowest pole pair (from the 0.5 Hz edge, at 500 Hz) decays with a time
constant of 0.85 s, so 10 s is 11.8 time constants (a factor 7.5e-6); its impulse response stays
below 1e-6 of its peak after 8.5 s (forward pass) and 7.2 s (forward-backward). What lies beyond
the guard, and the cut's own edge transient, reach the window only at that order: measured on
MIT-BIH 100-109, at most 3.3e-5 of a lead's standard deviation (docs/encoders.md, "Long records")."""


def bandpass_zscore(signal: np.ndarray, fs_hz: float) -> np.ndarray:
    """Band-pass 0.5-40 Hz (4th-order Butterworth, zero phase) and z-score each lead.

    ``signal`` has shape (leads, samples); a flat lead becomes zeros. Returns float32.
    """
    from scipy.signal import butter, sosfiltfilt

    if signal.ndim != 2:
        raise RecordError(f"signal must be (leads, samples), got shape {signal.shape}")
    if signal.shape[1] < 30:
        raise RecordError(f"signal has {signal.shape[1]} samples; too short to band-pass")
    sos = butter(4, BAND_HZ, btype="band", fs=fs_hz, output="sos")
    filtered = sosfiltfilt(sos, signal.astype(np.float64), axis=1)
    filtered -= filtered.mean(axis=1, keepdims=True)
    std = filtered.std(axis=1, keepdims=True)
    out = np.divide(filtered, std, out=np.zeros_like(filtered), where=std > 1e-8)
    return out.astype(np.float32)


def short_record_warning(name: str, duration_s: float, models: str) -> str | None:
    """The warning for a record shorter than ``MIN_MODEL_SECONDS`` (``models``: who reads it, e.g.
    ``the axis model reads``), else None."""
    if duration_s >= MIN_MODEL_SECONDS:
        return None
    return (f"{name} is {duration_s:.1f} s long: {models} 10 s and zero-pad shorter records, so their "
            "outputs on it may be wrong")


def long_record_warning(name: str, duration_s: float) -> str | None:
    """For a record longer than the models' 10 s window (by more than half a second): which 10 s
    they read (``fit_length`` takes the middle), else None."""
    window_s = MODEL_SAMPLES / MODEL_FS_HZ
    if duration_s <= window_s + 0.5:
        return None
    start = (duration_s - window_s) / 2
    return (f"{name} is {duration_s:.1f} s long: the models read only its middle {window_s:g} s "
            f"({start:.1f}-{start + window_s:.1f} s)")


def fit_length(signal: np.ndarray, n_samples: int = MODEL_SAMPLES) -> np.ndarray:
    """Centre-crop or zero-pad (symmetrically) the samples axis to ``n_samples``."""
    length = signal.shape[1]
    if length == n_samples:
        return signal
    if length > n_samples:
        start = (length - n_samples) // 2
        return signal[:, start:start + n_samples]
    pad = n_samples - length
    return np.pad(signal, ((0, 0), (pad // 2, pad - pad // 2)))


def model_window_start(n_samples: int, fs_hz: float, n_model: int = MODEL_SAMPLES) -> int:
    """Where the models' window starts in a whole record of ``n_samples`` at ``fs_hz``, in samples of
    the record at 100 Hz: ``fit_length``'s centre crop of the record resampled to 500 Hz
    (``records.resample``, whose length ``records.resampled_length`` gives on both its polyphase and
    FFT paths) and decimated to every 5th sample; negative when the record is shorter than
    ``n_model`` and zero-padded (minus the zeros put before it). The one computation shared by the
    long-record cut (``guarded_model_window``) and grounding's attribution maps."""
    n_at_model = -(-resampled_length(n_samples, fs_hz, FILTER_FS_HZ) // 5)  # ceil: every 5th sample
    if n_model <= n_at_model:
        return (n_at_model - n_model) // 2
    return -((n_model - n_at_model) // 2)


@dataclass(frozen=True)
class GuardedWindow:
    """What ``preprocess_ecg`` filters of a record (``guarded_model_window``)."""

    ecg: ECG
    """The record cut to the models' window plus the guards; the whole record when they do not fit."""
    offset: int | None
    """Start of the models' window in the cut's 100 Hz samples; None: the whole record is filtered
    and centre-cropped (``fit_length``), as before the cut existed."""
    shift_s: float = 0.0
    """Seconds (0 to 0.01) from the cut's first sample to the first instant of the whole record's
    100 Hz grid inside it: 0 for rates with a small exact ratio to 100 Hz (every common ECG rate);
    otherwise the 500 Hz signal is advanced by it (``advance``) before every 5th sample is taken."""


def guarded_model_window(ecg: ECG, guard_s: float = FILTER_GUARD_S) -> GuardedWindow:
    """The part of ``ecg`` that ``preprocess_ecg`` filters, and where the models' window starts in it.

    The window is the one ``fit_length`` takes from the whole record at 100 Hz (the middle 10 s).
    When ``guard_s`` seconds fit on both sides of it, the record is cut to the window plus the
    guards, starting where possible on a sample whose time is a whole number of 100 Hz samples (so
    the cut lands on the whole record's 100 Hz grid; ``shift_s`` covers the other rates).
    Otherwise the whole record is returned with ``offset`` None.
    """
    fs = ecg.fs_hz
    window_start = model_window_start(ecg.n_samples, fs)  # fit_length's centre crop, in 100 Hz samples
    if window_start <= 0:
        return GuardedWindow(ecg, None)
    step = Fraction(MODEL_FS_HZ / fs).limit_denominator(1000).denominator  # input samples per grid point
    step = step if step <= fs else 1
    first = math.floor((window_start / MODEL_FS_HZ - guard_s) * fs / step) * step
    stop = math.ceil(((window_start + MODEL_SAMPLES) / MODEL_FS_HZ + guard_s) * fs) + 1
    if first <= 0 or stop >= ecg.n_samples:
        return GuardedWindow(ecg, None)
    at_model = first * MODEL_FS_HZ / fs  # the cut's first sample, in 100 Hz samples of the whole record
    exact = abs(at_model - round(at_model)) < 1e-6
    grid = round(at_model) if exact else math.ceil(at_model)  # first grid instant inside the cut
    shift_s = 0.0 if exact else (grid - at_model) / MODEL_FS_HZ
    return GuardedWindow(ecg.with_signal(ecg.signal_mv[:, first:stop]), window_start - grid, shift_s)


def advance(signal: np.ndarray, fs_hz: float, shift_s: float) -> np.ndarray:
    """``signal`` (leads, samples) read ``shift_s`` seconds later: sample ``k`` of the result is the
    band-limited signal at ``k / fs_hz + shift_s`` (a phase ramp on its spectrum; the record's ends
    wrap around, which the guard keeps away from the window)."""
    n = signal.shape[1]
    spectrum = np.fft.rfft(signal.astype(np.float64), axis=1)
    spectrum *= np.exp(2j * np.pi * np.fft.rfftfreq(n, d=1.0 / fs_hz) * shift_s)
    return np.fft.irfft(spectrum, n=n, axis=1).astype(np.float32)


def preprocess_ecg(ecg: ECG) -> np.ndarray:
    """Model input for one ECG: the 12 standard leads at 100 Hz, 10 s, shape (12, 1000) float32.

    Resamples to 500 Hz, band-passes, z-scores each lead, takes every 5th sample and
    centre-crops / zero-pads to 10 s. A record longer than 10 s plus ``FILTER_GUARD_S`` on each
    side is first cut to its middle 10 s plus the guards (``guarded_model_window``): memory stays
    bounded, and the z-score comes from the cut rather than the whole record. Raises
    ``RecordError`` when standard leads are missing. Records of the filtered PTB-XL subset (source
    ``ptbxl-filtered``, 100 Hz) are already preprocessed this way and are only fitted to 10 s,
    exactly as in training.
    """
    if ecg.source == FILTERED_SOURCE and abs(ecg.fs_hz - MODEL_FS_HZ) < 1e-9:
        return np.ascontiguousarray(fit_length(to_standard_leads(ecg).signal_mv.astype(np.float32)))
    window = guarded_model_window(ecg)
    at_500 = resample(to_standard_leads(window.ecg), FILTER_FS_HZ).signal_mv
    if window.shift_s:
        at_500 = advance(at_500, FILTER_FS_HZ, window.shift_s)
    clean = bandpass_zscore(at_500, FILTER_FS_HZ)[:, ::5]
    if window.offset is None:
        return np.ascontiguousarray(fit_length(clean))
    return np.ascontiguousarray(clean[:, window.offset:window.offset + MODEL_SAMPLES])
