"""Reading any WFDB record (header + signal files) into an ``ECG``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import RecordError, RecordNotFound
from ._ecg import ECG, ECGMetadata


def _record_base(path: str | Path) -> Path:
    """Accept ``rec``, ``rec.hea`` or ``rec.dat`` and return the base path without extension."""
    base = Path(path)
    if base.suffix.lower() in {".hea", ".dat", ".mat", ".atr"}:
        base = base.with_suffix("")
    return base


def read_wfdb(
    path: str | Path,
    source: str = "wfdb",
    record_id: str | None = None,
    metadata: ECGMetadata | None = None,
    start_s: float = 0.0,
    duration_s: float | None = None,
) -> ECG:
    """Read a WFDB record; ``path`` may name the header, the signal file or the base.

    ``start_s``/``duration_s`` read a window, for long (e.g. 24 h Holter) records.
    Raises ``RecordNotFound`` when the header is missing and ``RecordError`` naming the file
    and the problem for anything unreadable.
    """
    import wfdb

    base = _record_base(path)
    header = base.with_suffix(".hea")
    if not header.is_file():
        raise RecordNotFound(f"{header}: no such WFDB header file")
    try:
        head = wfdb.rdheader(str(base))
    except Exception as exc:  # wfdb raises bare ValueError/IndexError on malformed headers
        raise RecordError(f"{header}: malformed WFDB header ({type(exc).__name__}: {exc})") from exc
    if not head.fs or head.fs <= 0:
        raise RecordError(f"{header}: header gives no valid sampling frequency")
    if head.sig_name is None or head.n_sig == 0:
        raise RecordError(f"{header}: header declares no signals")
    sampfrom = int(round(start_s * head.fs))
    total = head.sig_len or 0
    sampto = total if duration_s is None else min(total, sampfrom + int(round(duration_s * head.fs)))
    if total and sampfrom >= total:
        raise RecordError(f"{header}: start {start_s} s is past the end of the record ({total / head.fs:.1f} s)")
    for file_name in set(head.file_name or []):
        signal_file = base.parent / file_name
        if not signal_file.is_file():
            raise RecordError(f"{signal_file}: signal file named by {header.name} is missing")
    try:
        record = wfdb.rdrecord(str(base), sampfrom=sampfrom, sampto=sampto or None, physical=True)
    except Exception as exc:
        raise RecordError(
            f"{base}: cannot read signal ({type(exc).__name__}: {exc}); the file may be truncated or corrupt"
        ) from exc
    signal = record.p_signal
    if signal is None or signal.size == 0:
        raise RecordError(f"{base}: record contains no samples")
    expected = sampto - sampfrom if total else signal.shape[0]
    if signal.shape[0] < expected:
        raise RecordError(
            f"{base}: signal file is truncated ({signal.shape[0]} of {expected} samples)"
        )
    signal = _to_millivolts(signal, record.units, base)
    meta = metadata or ECGMetadata(extra=tuple(("comment", c) for c in (record.comments or [])))
    return ECG(
        signal_mv=signal.T.astype(np.float32),
        fs_hz=float(record.fs),
        lead_names=tuple(record.sig_name),
        record_id=record_id or base.name,
        source=source,
        metadata=meta,
        path=str(base),
    )


_UNIT_SCALE_TO_MV = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "v": 1e3}


def _to_millivolts(signal: np.ndarray, units: list[str] | None, base: Path) -> np.ndarray:
    """Scale each channel to mV from the header's units (missing units are taken as mV)."""
    if not units:
        return signal
    scaled = signal.astype(np.float64, copy=True)
    for channel, unit in enumerate(units):
        key = (unit or "mV").strip().lower()
        if key not in _UNIT_SCALE_TO_MV:
            raise RecordError(f"{base}: channel {channel} has unit {unit!r}; expected mV, uV or V")
        scaled[:, channel] *= _UNIT_SCALE_TO_MV[key]
    return scaled
