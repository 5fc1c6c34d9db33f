"""Signal-quality indices per lead, mapped to ECG-QA's noise vocabulary.

A transparent heuristic on the samples (no labels): for each lead,

- ``baseline drift``: peak-to-peak of the 0.7 Hz low-passed signal above ``DRIFT_MV``;
- ``static noise``: median over 1 s windows of the RMS of the signal minus its 3-sample moving
  average (high-frequency residue) above ``STATIC_MV``;
- ``burst noise``: some 1 s window's residue RMS at least ``BURST_RATIO`` times the median and
  above ``STATIC_MV``;
- ``electrodes problems``: a flat lead (peak-to-peak below ``FLAT_MV``) or clipping (more than
  ``CLIP_FRACTION`` of the samples at the lead's extreme value).

Thresholds were chosen by eye, not fitted; treat the flags as indicators.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LeadQuality", "NOISE_KINDS", "QUALITY_METHOD", "lead_quality"]

QUALITY_METHOD = "signal-quality-heuristic"
QUALITY_VERSION = "1"
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
    """Fraction of samples equal to the lead's minimum or maximum."""
    noises: tuple[str, ...]
    """ECG-QA noise kinds flagged for this lead (empty when clean)."""


def lead_quality(signal_mv: np.ndarray, fs_hz: float, lead_names: tuple[str, ...]) -> list[LeadQuality]:
    """Quality indices of each lead of a (leads, samples) signal."""
    from scipy.signal import butter, sosfiltfilt

    signal = np.asarray(signal_mv, dtype=np.float64)
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
        clipped = float(np.mean((x == x.max()) | (x == x.min()))) if ptp > 0 else 1.0
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
