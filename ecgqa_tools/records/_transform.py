"""Resampling and lead selection: turning any ``ECG`` into the shape a model expects."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from ..errors import RecordError, UsageError
from ._ecg import ECG
from ._leads import STANDARD_LEADS


def resample(ecg: ECG, fs_hz: float) -> ECG:
    """Resample to ``fs_hz`` (50 Hz-10 kHz).

    A polyphase anti-aliasing filter when the rates have a small exact ratio (500 -> 100,
    360 -> 500...), otherwise FFT resampling to ``round(n_samples * fs_hz / ecg.fs_hz)`` samples.
    """
    from scipy.signal import resample as fft_resample
    from scipy.signal import resample_poly

    from ._ecg import MAX_FS_HZ, MIN_FS_HZ

    if isinstance(fs_hz, bool) or not isinstance(fs_hz, (int, float, np.integer, np.floating)):
        raise UsageError(f"resample takes the target rate as a number of Hz, got {type(fs_hz).__name__} {fs_hz!r}")
    if not (MIN_FS_HZ <= float(fs_hz) <= MAX_FS_HZ):
        raise RecordError(
            f"{ecg.path or ecg.record_id}: cannot resample to {fs_hz} Hz; "
            f"supported rates are {MIN_FS_HZ:g}-{MAX_FS_HZ:g} Hz"
        )
    if abs(fs_hz - ecg.fs_hz) < 1e-9:
        return ecg
    ratio = _poly_ratio(ecg.fs_hz, fs_hz)
    if ratio is not None:
        resampled = resample_poly(ecg.signal_mv, ratio.numerator, ratio.denominator, axis=1)
    else:
        resampled = fft_resample(ecg.signal_mv, resampled_length(ecg.n_samples, ecg.fs_hz, fs_hz), axis=1)
    return ecg.with_signal(resampled.astype(np.float32), fs_hz=float(fs_hz))


def _poly_ratio(fs_from_hz: float, fs_to_hz: float) -> Fraction | None:
    """``fs_to / fs_from`` as a small exact fraction (polyphase resampling), else None (FFT)."""
    ratio = Fraction(float(fs_to_hz) / fs_from_hz).limit_denominator(1000)
    if abs(fs_from_hz * ratio.numerator / ratio.denominator - fs_to_hz) <= 1e-9 * fs_to_hz:
        return ratio
    return None


def resampled_length(n_samples: int, fs_from_hz: float, fs_to_hz: float) -> int:
    """Samples ``resample`` gives a record of ``n_samples`` at ``fs_from_hz`` resampled to
    ``fs_to_hz``: ``ceil(n * up / down)`` on the polyphase path (exact integer arithmetic),
    ``round(n * fs_to / fs_from)`` on the FFT path, ``n`` when the rates are equal."""
    if abs(fs_to_hz - fs_from_hz) < 1e-9:
        return int(n_samples)
    ratio = _poly_ratio(fs_from_hz, fs_to_hz)
    if ratio is not None:
        return -(-int(n_samples) * ratio.numerator // ratio.denominator)
    return round(n_samples * float(fs_to_hz) / fs_from_hz)


def missing_standard_leads(ecg: ECG) -> tuple[str, ...]:
    """Standard leads this record does not carry."""
    return tuple(name for name in STANDARD_LEADS if name not in ecg.lead_names)


def to_standard_leads(ecg: ECG, derive_limb_leads: bool = True) -> ECG:
    """The 12 standard leads in standard order, dropping extra leads (e.g. Frank XYZ).

    With ``derive_limb_leads``, missing limb leads are computed from any two of I, II, III
    (Einthoven and Goldberger). Raises ``RecordError`` naming the leads still missing.
    """
    rows: dict[str, np.ndarray] = {n: ecg.signal_mv[i] for i, n in enumerate(ecg.lead_names)}
    if derive_limb_leads:
        _derive_limb_leads(rows)
    missing = [name for name in STANDARD_LEADS if name not in rows]
    if missing:
        unknown = [name for name in ecg.lead_names if name not in STANDARD_LEADS]
        also = f" (unrecognised lead name(s): {', '.join(unknown)})" if unknown else ""
        raise RecordError(
            f"{ecg.path or ecg.record_id}: missing lead(s) {', '.join(missing)}; "
            f"the record has {', '.join(ecg.lead_names)}{also}"
        )
    if tuple(ecg.lead_names) == STANDARD_LEADS:
        return ecg
    signal = np.stack([rows[name] for name in STANDARD_LEADS])
    return ecg.with_signal(signal, lead_names=STANDARD_LEADS)


def _derive_limb_leads(rows: dict[str, np.ndarray]) -> None:
    if "I" not in rows and {"II", "III"} <= rows.keys():
        rows["I"] = rows["II"] - rows["III"]
    if "II" not in rows and {"I", "III"} <= rows.keys():
        rows["II"] = rows["I"] + rows["III"]
    if "III" not in rows and {"I", "II"} <= rows.keys():
        rows["III"] = rows["II"] - rows["I"]
    if {"I", "II"} <= rows.keys():
        lead_i, lead_ii = rows["I"], rows["II"]
        rows.setdefault("aVR", -(lead_i + lead_ii) / 2)
        rows.setdefault("aVL", lead_i - lead_ii / 2)
        rows.setdefault("aVF", lead_ii - lead_i / 2)
