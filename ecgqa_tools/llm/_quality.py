"""Signal-quality indices per lead, mapped to ECG-QA's noise vocabulary.

A transparent heuristic on the samples, resampled to 100 Hz: for each lead,

- ``baseline drift``: peak-to-peak of the 0.7 Hz low-passed signal above ``DRIFT_MV``;
- ``static noise``: median over 1 s windows of the RMS of the signal minus its 3-sample moving
  average (high-frequency residue), measured only on the samples more than 80 ms from every QRS
  detected by ``grounding.detect_beats`` (tall, sharp QRS complexes are not noise), above
  ``STATIC_MV``;
- ``burst noise``: some 1 s window's outside-QRS residue RMS at least ``BURST_RATIO`` times the
  median one and above ``BURST_FLOOR_MV``;
- ``electrodes problems``: a flat lead (peak-to-peak below ``FLAT_MV``) or saturation (more than
  ``CLIP_FRACTION`` of the lead in plateaus of 200 ms or more at an extreme beyond 1 mV).

``STATIC_MV``, ``BURST_RATIO`` and ``BURST_FLOOR_MV`` were fitted on ``QUALITY_FIT_RULE``'s records
(PTB-XL strat_fold 1-8 records in ECG-QA's PTB-XL train split; lead-level F1 against the
``static_noise`` / ``burst_noise`` columns) by the session-6 protocol in docs/llm.md ("QRS-aware
static and burst noise" and "Refit on ECG-QA train ECGs only"; ``scripts/llm_noise_eval.py
--lead-level --dev-split train``), reported on folds 9-10 there; they never saw an ECG-QA valid or
test ECG (``quality_fitted_ecg_ids`` lists the ids they saw). Drift and electrode thresholds were
chosen by eye. Treat the flags as indicators.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "NOISE_KINDS",
    "QUALITY_FIT_RULE",
    "QUALITY_METHOD",
    "LeadQuality",
    "lead_quality",
    "quality_development_ids",
    "quality_fitted_ecg_ids",
]

QUALITY_METHOD = "signal-quality-heuristic"
QUALITY_VERSION = "3"
"""3: as 2, thresholds refitted on folds 1-8 ECG-QA-train records only (session 6); 2: static and
burst noise measured outside the QRS, thresholds fitted on all folds 1-8; 1: whole lead."""
ANALYSIS_FS_HZ = 100.0
"""Signals are resampled to this rate first (PTB-XL's common rate)."""
NOISE_KINDS = ("baseline drift", "static noise", "burst noise", "electrodes problems")
DRIFT_MV = 0.5
STATIC_MV = 0.008001
"""Outside-QRS residue RMS (mV) above which a lead has static noise: the S1 threshold with maximum
lead-level F1 on the 1,082 ``QUALITY_FIT_RULE`` records (grid value 0.0080010; run of 02:05 UTC,
docs/llm.md "Refit on ECG-QA train ECGs only"; 0.007614 when fitted on all folds 1-8 in version 2;
0.05 mV on the whole-lead residue, by eye, in version 1)."""
BURST_RATIO = 1.5
"""Largest over median outside-QRS 1 s residue RMS for burst noise (B1, same run; the grid's
lowest value; the same in version 2; was 4 on the whole lead)."""
BURST_FLOOR_MV = 0.09199
"""The largest outside-QRS 1 s residue RMS must also exceed this (mV; B1, same run; the same in
version 2)."""
FLAT_MV = 0.02
CLIP_FRACTION = 0.02

QUALITY_FIT_RULE = ("PTB-XL strat_fold 1-8 records with 100 Hz signals here whose ecg_id is in ECG-QA's "
                    "PTB-XL train split (ecg-qa/ptbxl/train_ecgs.tsv)")
"""The development data ``STATIC_MV``, ``BURST_RATIO`` and ``BURST_FLOOR_MV`` were fitted on (docs/llm.md,
"Refit on ECG-QA train ECGs only"): no PTB-XL fold 9-10 record, no ECG-QA valid or test ECG."""
QUALITY_FIT_IDS_FILE = "quality_fit_ids.txt"
"""Shipped next to this module: the ecg_ids of ``QUALITY_FIT_RULE`` on the data the fit ran on."""

QRS_HALF_WIDTH_S = 0.08
"""Samples within this distance of a detected QRS fiducial count as QRS (fixed a priori, not tuned)."""
MIN_OUTSIDE_SAMPLES = 30
"""A 1 s window (100 samples) is used by the outside-QRS measures when at least this many of its
samples are outside QRS."""


@dataclass(frozen=True)
class LeadQuality:
    """Quality indices of one lead."""

    lead: str
    """Canonical lead name."""
    drift_mv: float
    """Peak-to-peak of the baseline (0.7 Hz low-pass), mV."""
    residue_rms_mv: float
    """Median 1 s RMS of the high-frequency residue over the whole lead, QRS included, mV."""
    burst_ratio: float
    """Largest 1 s residue RMS divided by the median one (whole lead)."""
    ptp_mv: float
    """Peak-to-peak of the raw lead, mV."""
    clipped_fraction: float
    """Fraction of the lead in plateaus of at least 200 ms at its extreme value beyond 1 mV
    (saturation), 0 when there is none."""
    noises: tuple[str, ...]
    """ECG-QA noise kinds flagged for this lead (empty when clean)."""
    residue_outside_qrs_mv: float = float("nan")
    """Median 1 s RMS of the high-frequency residue on the samples more than ``QRS_HALF_WIDTH_S``
    from every detected QRS, mV (the whole lead's when no window has enough such samples)."""
    burst_ratio_outside_qrs: float = float("nan")
    """Largest 1 s outside-QRS residue RMS divided by the median one."""
    qrs_amplitude_mv: float = float("nan")
    """Median over detected beats of the lead's peak-to-peak within ``QRS_HALF_WIDTH_S`` of the
    fiducial, mV (the lead's peak-to-peak when no beat is found)."""


def lead_quality(signal_mv: np.ndarray, fs_hz: float, lead_names: tuple[str, ...]) -> list[LeadQuality]:
    """Quality indices of each lead of a (leads, samples) signal."""
    from scipy.signal import butter, resample_poly, sosfiltfilt

    from ..grounding import detect_beats

    signal = np.asarray(signal_mv, dtype=np.float64)
    if abs(fs_hz - ANALYSIS_FS_HZ) > 1e-6:  # one rate, so the thresholds mean the same everywhere
        from fractions import Fraction

        ratio = Fraction(ANALYSIS_FS_HZ / fs_hz).limit_denominator(1000)
        signal = resample_poly(signal, ratio.numerator, ratio.denominator, axis=1)
        fs_hz = ANALYSIS_FS_HZ
    sos = butter(2, 0.7, btype="low", fs=fs_hz, output="sos")
    baseline = sosfiltfilt(sos, signal, axis=1)
    kernel = np.ones(3) / 3.0
    window = max(1, round(fs_hz))
    n_samples = signal.shape[1]
    beats = detect_beats(signal, fs_hz) if n_samples >= 3 else np.zeros(0, dtype=np.int64)
    half = round(QRS_HALF_WIDTH_S * fs_hz)
    outside = _outside_qrs(n_samples, beats, half)
    everywhere = np.ones(n_samples, dtype=bool)
    amplitudes = _qrs_amplitudes(signal, beats, half)
    results = []
    for index, lead in enumerate(lead_names):
        x = signal[index]
        residue = x - np.convolve(x, kernel, mode="same")
        rms = _window_rms(residue, everywhere, window, 1)
        median_rms = float(np.median(rms))
        ratio = float(rms.max() / median_rms) if median_rms > 1e-9 else 0.0
        rms_out = _window_rms(residue, outside, window, MIN_OUTSIDE_SAMPLES * window // 100)
        if rms_out.size == 0:
            rms_out = rms
        median_out = float(np.median(rms_out))
        ratio_out = float(rms_out.max() / median_out) if median_out > 1e-9 else 0.0
        ptp = float(np.ptp(x))
        clipped = _plateau_fraction(x) if ptp > 0 else 1.0
        drift = float(np.ptp(baseline[index]))
        noises = []
        if drift > DRIFT_MV:
            noises.append("baseline drift")
        if median_out > STATIC_MV:
            noises.append("static noise")
        if ratio_out >= BURST_RATIO and rms_out.max() > BURST_FLOOR_MV:
            noises.append("burst noise")
        if ptp < FLAT_MV or clipped > CLIP_FRACTION:
            noises.append("electrodes problems")
        results.append(LeadQuality(
            lead=lead, drift_mv=drift, residue_rms_mv=median_rms, burst_ratio=ratio, ptp_mv=ptp,
            clipped_fraction=clipped, noises=tuple(noises), residue_outside_qrs_mv=median_out,
            burst_ratio_outside_qrs=ratio_out,
            qrs_amplitude_mv=float(amplitudes[index]) if amplitudes is not None else ptp,
        ))
    return results


def quality_development_ids(ptbxl: Any, train_ids: Collection[int]) -> tuple[int, ...]:
    """The ecg_ids ``QUALITY_FIT_RULE`` selects: records of ``ptbxl`` (``records.PtbXl``) with a
    100 Hz signal, ``strat_fold`` 1-8, in ``train_ids`` (ECG-QA's PTB-XL train split), sorted."""
    train = {int(i) for i in train_ids}
    present = sorted(int(i) for i in ptbxl.present_ids(fs_hz=100) if int(i) in train)
    if not present:
        return ()
    folds = ptbxl.metadata.loc[present, "strat_fold"].to_numpy()
    return tuple(i for i, fold in zip(present, folds) if 1 <= int(fold) <= 8)


def quality_fitted_ecg_ids() -> frozenset[int]:
    """The ecg_ids the shipped noise thresholds were fitted on (``QUALITY_FIT_IDS_FILE``: the
    ``QUALITY_FIT_RULE`` development set of the fitting run). A guard refuses to score
    ``noise_per_lead`` on them."""
    from importlib.resources import files

    from ..errors import ModelError

    try:
        text = files(__package__).joinpath(QUALITY_FIT_IDS_FILE).read_text()
    except OSError as exc:
        raise ModelError(f"{QUALITY_FIT_IDS_FILE} is missing from ecgqa_tools.llm ({exc}): cannot tell "
                         "which ECGs the noise thresholds were fitted on") from None
    ids = frozenset(int(line) for line in text.splitlines() if line.strip() and not line.startswith("#"))
    if not ids:
        raise ModelError(f"{QUALITY_FIT_IDS_FILE} lists no ecg_id")
    return ids


def _outside_qrs(n_samples: int, beats_index: np.ndarray, half_samples: int) -> np.ndarray:
    """Boolean (n_samples,): True more than ``half_samples`` from every fiducial; the first and last
    sample (edge of the moving average) are never outside."""
    inside = np.zeros(n_samples + 1, dtype=np.int64)
    for p in beats_index:
        inside[max(0, p - half_samples)] += 1
        inside[min(n_samples, p + half_samples + 1)] -= 1
    outside = np.cumsum(inside[:n_samples]) == 0
    outside[:1] = outside[-1:] = False
    return outside


def _qrs_amplitudes(signal: np.ndarray, beats_index: np.ndarray, half_samples: int) -> np.ndarray | None:
    """(leads,) median over beats of the peak-to-peak within ``half_samples`` of each fiducial, or
    None when no beat was found."""
    if beats_index.size == 0:
        return None
    offsets = np.arange(-half_samples, half_samples + 1)
    index = np.clip(beats_index[:, None] + offsets[None, :], 0, signal.shape[1] - 1)
    return np.median(np.ptp(signal[:, index], axis=2), axis=1)


def _window_rms(residue: np.ndarray, use: np.ndarray, window: int, min_count: int) -> np.ndarray:
    """RMS of ``residue[use]`` in each whole ``window`` (the whole lead when shorter than one window),
    for the windows with at least ``min_count`` used samples."""
    n_windows = len(residue) // window
    if n_windows == 0:
        r, u = residue[None, :], use[None, :]
    else:
        r = residue[:n_windows * window].reshape(n_windows, window)
        u = use[:n_windows * window].reshape(n_windows, window)
    count = u.sum(axis=1)
    keep = count >= max(1, min_count)
    return np.sqrt((np.where(u, r, 0.0) ** 2).sum(axis=1)[keep] / count[keep])


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
