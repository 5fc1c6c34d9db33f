"""Signal-quality indices per lead, mapped to ECG-QA's noise vocabulary.

A transparent heuristic on the samples, resampled to 100 Hz: for each lead,

- ``baseline drift``: peak-to-peak of the 0.7 Hz low-passed signal above ``DRIFT_MV``;
- ``static noise``: median over 1 s windows of the RMS of the signal minus its 3-sample moving
  average (high-frequency residue) above ``STATIC_MV``;
- ``burst noise``: some 1 s window's residue RMS at least ``BURST_RATIO`` times the median and
  above ``STATIC_MV``;
- ``electrodes problems``: a flat lead (peak-to-peak below ``FLAT_MV``) or saturation (more than
  ``CLIP_FRACTION`` of the lead in plateaus of 200 ms or more at an extreme beyond 1 mV).

Thresholds were chosen by eye, not fitted; treat the flags as indicators.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LeadQuality", "NOISE_KINDS", "QUALITY_METHOD", "lead_quality"]

QUALITY_METHOD = "signal-quality-heuristic"
QUALITY_VERSION = "1"
ANALYSIS_FS_HZ = 100.0
"""Signals are resampled to this rate first (PTB-XL's common rate)."""
NOISE_KINDS = ("baseline drift", "static noise", "burst noise", "electrodes problems")
DRIFT_MV = 0.5
STATIC_MV = 0.05
BURST_RATIO = 4.0
FLAT_MV = 0.02
CLIP_FRACTION = 0.02


@dataclass(frozen=True)
class LeadQuality:
    """Quality indices of one lead."""

    lead: str
    """Canonical lead name."""
    drift_mv: float
    """Peak-to-peak of the baseline (0.7 Hz low-pass), mV."""
    residue_rms_mv: float
    """Median 1 s RMS of the high-frequency residue, mV."""
    burst_ratio: float
    """Largest 1 s residue RMS divided by the median one."""
    ptp_mv: float
    """Peak-to-peak of the raw lead, mV."""
    clipped_fraction: float
    """Fraction of the lead in plateaus of at least 200 ms at its extreme value beyond 1 mV
    (saturation), 0 when there is none."""
    noises: tuple[str, ...]
    """ECG-QA noise kinds flagged for this lead (empty when clean)."""


def lead_quality(signal_mv: np.ndarray, fs_hz: float, lead_names: tuple[str, ...]) -> list[LeadQuality]:
    """Quality indices of each lead of a (leads, samples) signal."""
    from scipy.signal import butter, sosfiltfilt

    from scipy.signal import resample_poly

    signal = np.asarray(signal_mv, dtype=np.float64)
    if abs(fs_hz - ANALYSIS_FS_HZ) > 1e-6:  # one rate, so the thresholds mean the same everywhere
        from fractions import Fraction

        ratio = Fraction(ANALYSIS_FS_HZ / fs_hz).limit_denominator(1000)
        signal = resample_poly(signal, ratio.numerator, ratio.denominator, axis=1)
        fs_hz = ANALYSIS_FS_HZ
    sos = butter(2, 0.7, btype="low", fs=fs_hz, output="sos")
    baseline = sosfiltfilt(sos, signal, axis=1)
    kernel = np.ones(3) / 3.0
    window = max(1, int(round(fs_hz)))
    results = []
    for index, lead in enumerate(lead_names):
        x = signal[index]
        residue = x - np.convolve(x, kernel, mode="same")
        n_windows = max(1, len(x) // window)
        rms = np.array([
            float(np.sqrt(np.mean(residue[i * window:(i + 1) * window] ** 2))) for i in range(n_windows)
        ])
        median_rms = float(np.median(rms))
        ratio = float(rms.max() / median_rms) if median_rms > 1e-9 else 0.0
        ptp = float(np.ptp(x))
        clipped = _plateau_fraction(x) if ptp > 0 else 1.0
        drift = float(np.ptp(baseline[index]))
        noises = []
        if drift > DRIFT_MV:
            noises.append("baseline drift")
        if median_rms > STATIC_MV:
            noises.append("static noise")
        if ratio >= BURST_RATIO and rms.max() > STATIC_MV:
            noises.append("burst noise")
        if ptp < FLAT_MV or clipped > CLIP_FRACTION:
            noises.append("electrodes problems")
        results.append(LeadQuality(
            lead=lead, drift_mv=drift, residue_rms_mv=median_rms, burst_ratio=ratio, ptp_mv=ptp,
            clipped_fraction=clipped, noises=tuple(noises),
        ))
    return results


def _plateau_fraction(x: np.ndarray, min_run: int = 20, min_abs_mv: float = 1.0) -> float:
    """Fraction of samples in runs of >= ``min_run`` samples stuck at the max or min (|value| > 1 mV)."""
    total = 0
    for extreme in (x.max(), x.min()):
        if abs(extreme) <= min_abs_mv:
            continue
        at = np.concatenate(([0], (x == extreme).astype(np.int8), [0]))
        edges = np.flatnonzero(np.diff(at))
        runs = edges[1::2] - edges[::2]
        total += int(runs[runs >= min_run].sum())
    return total / len(x)
