"""``read_record``: one entry point for every file format, and the readers behind it.

Formats: WFDB (``.hea`` + signal files), CinC 2020/2021 challenge records (``.mat`` + ``.hea``
with ``#Dx`` SNOMED CT codes), numpy (``.npy``, ``.npz``) and CSV (a header row of lead names).
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..errors import RecordError, RecordNotFound, UsageError
from ._ecg import RATE_TOLERANCE, ECG, ECGMetadata, file_rate
from ._leads import STANDARD_LEADS, normalize_lead_name
from ._wfdb import MAX_VALUES_PER_READ, companion_file, read_wfdb, read_wfdb_header, record_base

# Text files past this size are refused (a 24 h 12-lead CSV at 500 Hz is ~5 GB: convert it to WFDB).
MAX_TEXT_BYTES = 512 * 1024 * 1024
# Column names that hold time rather than a lead in CSV files.
_TIME_COLUMNS = {"time", "t", "time_s", "time (s)", "seconds", "sec", "s"}
_SAMPLE_COLUMNS = {"sample", "samples", "index", "sample #", "n"}


def read_record(
    path: str | Path,
    fs_hz: float | None = None,
    lead_names: tuple[str, ...] | list[str] | None = None,
    start_s: float = 0.0,
    duration_s: float | None = None,
) -> ECG:
    """Read one ECG from any supported file, choosing the reader from the file.

    - WFDB: ``rec``, ``rec.hea`` or ``rec.dat`` (``start_s``/``duration_s`` read a window).
    - CinC 2020/2021: ``rec.mat`` or ``rec.hea`` whose header names a ``.mat`` signal file.
    - numpy: ``.npy`` (needs ``fs_hz``) or ``.npz`` with ``signal`` and optionally ``fs_hz``/``fs``
      and ``lead_names``; (leads, samples) or (samples, leads), told apart by the lead count.
    - CSV: a header row of lead names, optionally a time column (then ``fs_hz`` is inferred).

    ``lead_names`` defaults to the standard 12 for arrays without names. ``fs_hz`` is the rate of a
    file that does not state one (``.npy``, CSV without a time column, a WFDB header without a
    rate); a file's own rate wins over a different ``fs_hz``, with a note in ``ECG.read_notes``
    (``file_rate``). Raises
    ``RecordNotFound`` for a missing file and ``RecordError`` naming the file and the problem.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise UsageError(f"read_record takes a file path (str or Path), got {type(path).__name__}")
    if not str(path).strip():
        raise RecordNotFound("empty record path; give a record file (WFDB .hea/.dat, CinC .mat, .npy, .npz or .csv)")
    original = Path(path).expanduser()
    suffix = original.suffix.lower()
    if original.is_dir():
        raise RecordError(f"{original}: is a directory, not a record file")
    if suffix in {".npy", ".npz"}:
        _require_file(original)
        return read_numpy(original, fs_hz=fs_hz, lead_names=lead_names)
    if suffix in {".csv", ".tsv", ".txt"}:
        _require_file(original)
        return read_csv(original, fs_hz=fs_hz)
    base = record_base(original)
    header = companion_file(base, ".hea")
    if not header.is_file():
        if suffix not in {"", ".hea", ".dat", ".mat", ".atr"} and original.is_file():
            raise RecordError(
                f"{original}: unsupported file type {suffix!r}; expected a WFDB record (.hea/.dat), "
                "a CinC .mat/.hea pair, .npy, .npz or .csv"
            )
        if suffix == "" and not original.exists():
            raise RecordNotFound(f"{original}: no such record ({header.name} not found)")
        if suffix == "" and original.is_file():
            raise RecordError(
                f"{original}: not a record file: no extension and no WFDB header {header.name} beside it; "
                "expected a WFDB record (.hea/.dat), a CinC .mat/.hea pair, .npy, .npz or .csv"
            )
        raise RecordNotFound(f"{header}: no such WFDB header file")
    if suffix == ".mat" or _header_names_mat(header):
        return read_cinc(base, fs_hz=fs_hz)
    return read_wfdb(base, start_s=start_s, duration_s=duration_s, fs_hz=fs_hz)


def _require_file(path: Path) -> None:
    if not path.is_file():
        raise RecordNotFound(f"{path}: no such file")


def _header_names_mat(header: Path) -> bool:
    """True when the first signal line of a header names a ``.mat`` file (CinC layout)."""
    try:
        lines = [ln for ln in header.read_text(errors="replace").splitlines() if ln.strip() and not ln.startswith("#")]
    except OSError:
        return False
    return len(lines) > 1 and lines[1].split()[0].lower().endswith(".mat")


# ---------------------------------------------------------------------------------------- CinC


def read_cinc(path: str | Path, fs_hz: float | None = None) -> ECG:
    """Read a PhysioNet/CinC 2020/2021 challenge record (``rec.mat`` + ``rec.hea``).

    Samples come from the ``val`` matrix (digital units, (leads, samples)) scaled by each lead's
    header gain and baseline. The header comments ``#Age``, ``#Sex`` and ``#Dx`` fill
    ``ECGMetadata`` (``snomed_ct_codes`` holds the ``#Dx`` codes as ints); ``#Rx``/``#Hx``/``#Sx``
    go to ``metadata.extra``. ``fs_hz``: as in ``read_wfdb``.
    """
    from scipy.io import loadmat

    base = record_base(path)
    header = companion_file(base, ".hea")
    head = read_wfdb_header(base, fs_hz)
    mat = base.parent / head.file_name[0]
    if not mat.is_file():
        raise RecordError(f"{mat}: signal file named by {header.name} is missing")
    try:
        contents = loadmat(str(mat))
    except Exception as exc:
        raise RecordError(f"{mat}: not a readable MATLAB file ({type(exc).__name__}: {exc})") from exc
    if "val" not in contents:
        keys = ", ".join(k for k in contents if not k.startswith("__")) or "none"
        raise RecordError(f"{mat}: no 'val' matrix (CinC layout); variables found: {keys}")
    digital = np.asarray(contents["val"], dtype=np.float64)
    if digital.ndim != 2 or digital.shape[0] != head.n_sig:
        raise RecordError(
            f"{mat}: 'val' has shape {digital.shape}; the header declares {head.n_sig} leads x "
            f"{head.sig_len} samples"
        )
    if head.sig_len and digital.shape[1] != head.sig_len:
        raise RecordError(
            f"{mat}: 'val' has {digital.shape[1]} samples but the header declares {head.sig_len} "
            "(truncated or mismatched files)"
        )
    gains = np.asarray([g if g else 200.0 for g in head.adc_gain], dtype=np.float64)[:, None]
    baselines = np.asarray(head.baseline or [0] * head.n_sig, dtype=np.float64)[:, None]
    signal = (digital - baselines) / gains
    from ._wfdb import _to_millivolts, header_notes

    signal = _to_millivolts(signal.T, head.units, base).T
    return ECG(
        signal_mv=signal,
        fs_hz=float(head.fs),
        lead_names=tuple(head.sig_name),
        record_id=base.name,
        source="cinc",
        metadata=_cinc_metadata(head, header),
        path=str(base),
        read_notes=header_notes(head, header, fs_hz),
    )


def _cinc_metadata(head, header: Path) -> ECGMetadata:  # noqa: ANN001 - parsed WFDB header
    from dataclasses import replace

    from ._wfdb import comment_fields, metadata_from_header

    fields = comment_fields(head.comments)
    codes: list[int] = []
    for item in re.split(r"[,\s]+", fields.get("dx", "")):
        if not item:
            continue
        if not item.isdigit():
            raise RecordError(f"{header}: #Dx entry {item!r} is not a SNOMED CT code (digits expected)")
        codes.append(int(item))
    extra = tuple((k, v) for k, v in fields.items() if k not in {"age", "sex", "dx"})
    return replace(metadata_from_header(head), snomed_ct_codes=tuple(codes), extra=extra)


# --------------------------------------------------------------------------------------- arrays


def array_to_ecg(
    array: np.ndarray,
    fs_hz: float,
    lead_names: tuple[str, ...] | list[str] | None,
    where: str,
    source: str,
    record_id: str,
) -> ECG:
    """An ECG from a 2-D array in either layout, told apart by the number of lead names."""
    array = np.asarray(array)
    if array.ndim != 2:
        raise RecordError(f"{where}: expected a 2-D (leads, samples) array, got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.number):
        raise RecordError(f"{where}: array dtype {array.dtype} is not numeric")
    if np.iscomplexobj(array):
        raise RecordError(f"{where}: array holds complex samples (dtype {array.dtype}); an ECG is real-valued mV")
    if array.size == 0:
        raise RecordError(f"{where}: array of shape {array.shape} is empty (no samples)")
    if array.size > MAX_VALUES_PER_READ:
        raise RecordError(f"{where}: {array.size:,} values exceed the {MAX_VALUES_PER_READ:,} one record may hold")
    names = tuple(lead_names) if lead_names is not None else None
    n_leads = len(names) if names else None
    if n_leads is None:
        leads_axis_len = min(array.shape)
        if leads_axis_len != len(STANDARD_LEADS):
            raise RecordError(
                f"{where}: array of shape {array.shape} has no lead names; pass lead_names "
                f"(without them exactly 12 leads in standard order are expected)"
            )
        names = STANDARD_LEADS
        n_leads = 12
    if array.shape[0] == n_leads:
        signal = array
    elif array.shape[1] == n_leads:
        signal = array.T
    else:
        raise RecordError(
            f"{where}: array of shape {array.shape} does not match {n_leads} lead names ({', '.join(names)})"
        )
    return ECG(
        signal_mv=np.asarray(signal, dtype=np.float32),
        fs_hz=fs_hz,
        lead_names=names,
        record_id=record_id,
        source=source,
        path=where,
    )


def read_numpy(
    path: str | Path,
    fs_hz: float | None = None,
    lead_names: tuple[str, ...] | list[str] | None = None,
) -> ECG:
    """Read a ``.npy`` array (``fs_hz`` required) or a ``.npz`` with ``signal`` [+ ``fs_hz``, ``lead_names``]."""
    path = Path(path)
    _check_numpy_magic(path)
    try:
        if path.suffix.lower() == ".npy":
            array = np.load(path, mmap_mode="r", allow_pickle=False)
            stored_fs, stored_names = None, None
        else:
            with np.load(path, allow_pickle=False) as archive:
                keys = list(archive.keys())
                key = next((k for k in ("signal", "signal_mv", "ecg", "x") if k in keys), None)
                if key is None:
                    raise RecordError(f"{path}: no 'signal' array in the archive; arrays found: {', '.join(keys) or 'none'}")
                array = archive[key]
                stored_fs = next((float(archive[k]) for k in ("fs_hz", "fs") if k in keys), None)
                stored_names = tuple(str(n) for n in archive["lead_names"]) if "lead_names" in keys else None
    except RecordError:
        raise
    except ValueError as exc:
        if any(k in str(exc) for k in ("allow_pickle", "pickled", "Python objects")):  # never suggest an unsafe load
            raise RecordError(f"{path}: holds Python objects (pickled data), which are never loaded (unsafe); "
                              "save the samples as a numeric array (np.save / np.savez with 'signal')") from None
        raise RecordError(f"{path}: not a readable numpy file ({type(exc).__name__}: {exc})") from exc
    except Exception as exc:
        raise RecordError(f"{path}: not a readable numpy file ({type(exc).__name__}: {exc})") from exc
    if array.ndim == 3:
        raise RecordError(
            f"{path}: holds {array.shape[0]} records (shape {array.shape}); read_record takes one record "
            "(use PtbXlFiltered for the PTB-XL filtered subset)"
        )
    rate, note = file_rate(str(path), fs_hz, stored_fs, "the file stores")
    if rate is None:
        raise RecordError(
            f"{path}: the sampling rate is unknown; pass fs_hz (the file does not store it; on the command "
            f"line: --fs HZ), or save it as .npz with 'signal' and 'fs_hz'"
        )
    ecg = array_to_ecg(array, rate, lead_names or stored_names, str(path), "array", path.stem)
    return replace(ecg, read_notes=(note,)) if note else ecg


def read_csv(path: str | Path, fs_hz: float | None = None) -> ECG:
    """Read a CSV whose header row names the leads (``I,II,...`` or ``time,I,II,...``), values in mV."""
    import pandas as pd

    path = Path(path)
    size = path.stat().st_size
    if size > MAX_TEXT_BYTES:
        raise RecordError(f"{path}: {size:,} bytes is too large for a CSV record (at most {MAX_TEXT_BYTES:,}); convert it to WFDB")
    try:
        frame = pd.read_csv(path, sep=None, engine="python") if path.suffix.lower() != ".csv" else pd.read_csv(path)
    except Exception as exc:
        raise RecordError(f"{path}: not a readable CSV file ({type(exc).__name__}: {exc})") from exc
    if frame.empty:
        raise RecordError(f"{path}: CSV has no rows")
    columns = [str(c).strip() for c in frame.columns]
    frame.columns = columns
    time_col = next((c for c in columns if c.lower() in _TIME_COLUMNS), None)
    sample_col = next((c for c in columns if c.lower() in _SAMPLE_COLUMNS), None)
    leads = [c for c in columns if c not in {time_col, sample_col}]
    numeric_names = [c for c in leads if _looks_numeric(c)]
    if numeric_names:
        raise RecordError(
            f"{path}: the first row must name the leads (e.g. I,II,III,aVR,...); got {', '.join(columns[:6])}"
        )
    time_rate, problem = None, ""
    if time_col is not None:
        times = pd.to_numeric(frame[time_col], errors="coerce").to_numpy(dtype=float)
        time_rate, problem = _time_column_rate(times)
        if time_rate is None and fs_hz is None:
            raise RecordError(f"{path}: time column {time_col!r} is {problem}; pass fs_hz/--fs if the samples are "
                              "regular (the time column is then not used)")
    rate, note = file_rate(str(path), fs_hz, time_rate, f"its time column {time_col!r} gives")
    if problem:  # the caller stated the rate: read at it, as before the time check (review s8 C2)
        note = f"time column {time_col!r} not used (it is {problem}): read at fs_hz/--fs {rate:g} Hz"
    if rate is None:
        raise RecordError(
            f"{path}: the sampling rate is unknown; pass fs_hz (on the command line: --fs HZ) or add a "
            f"'time' column in seconds"
        )
    values = frame[leads].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        rows, cols = np.nonzero(bad)
        raise RecordError(
            f"{path}: {int(bad.sum())} empty, non-numeric, NaN or inf values (first at data row {int(rows[0]) + 1}, "
            f"column {leads[int(cols[0])]!r})"
        )
    names = tuple(normalize_lead_name(c) for c in leads)
    return ECG(
        signal_mv=values.T.astype(np.float32), fs_hz=rate, lead_names=names,
        record_id=path.stem, source="csv", path=str(path), read_notes=(note,) if note else (),
    )


_NUMPY_MAGIC = {".npy": (b"\x93NUMPY",), ".npz": (b"PK\x03\x04", b"PK\x05\x06")}


def _check_numpy_magic(path: Path) -> None:
    """``RecordError`` when a ``.npy``/``.npz`` file does not start like one (random bytes got
    numpy's 'pickled data ... allow_pickle' message, an invitation to an unsafe load)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(6)
    except OSError as exc:
        raise RecordError(f"{path}: cannot open ({exc.strerror or exc})") from None
    suffix = path.suffix.lower()
    expected = _NUMPY_MAGIC.get(suffix)
    if expected is None:
        raise RecordError(f"{path}: read_numpy reads .npy or .npz files, got {suffix or 'no suffix'!r}")
    if not any(head.startswith(magic) for magic in expected):
        kind = "an .npy array (no NPY header)" if path.suffix.lower() == ".npy" else "an .npz archive (not a zip file)"
        raise RecordError(f"{path}: not a numpy file: does not start like {kind}")


def _time_column_rate(times: np.ndarray) -> tuple[float | None, str]:
    """(rate in Hz, "") from a CSV time column in seconds, or (None, what is wrong) when it gives no
    usable rate: not increasing numbers, or not evenly spaced (a sample more than two steps away from
    the straight line through the first and last times; rounded times, e.g. 360 Hz written to the
    millisecond, stay within one step; a 0.5 s gap in 10 s at 500 Hz is 100 steps). The rate is that
    line's, ``(n - 1) / (t[-1] - t[0])`` (the median step of times rounded to the millisecond made
    360 Hz 333.3 Hz), rounded to a whole Hz within ``RATE_TOLERANCE`` of one."""
    steps = np.diff(times)
    if len(steps) == 0 or not np.all(np.isfinite(steps)) or np.median(steps) <= 0 or times[-1] <= times[0]:
        return None, "not increasing numbers of seconds"
    n = len(times)
    step = (times[-1] - times[0]) / (n - 1)
    residual = times - (times[0] + step * np.arange(n))
    if np.max(np.abs(residual)) > 2 * step:
        k = int(np.argmax(np.abs(steps - np.median(steps))))
        return None, (f"not evenly spaced (a step of {steps[k]:g} s at data row {k + 2}, median step "
                      f"{np.median(steps):g} s: resample it to a regular rate)")
    rate = 1.0 / step
    whole = round(rate)
    if whole > 0 and abs(rate - whole) <= RATE_TOLERANCE * whole:
        return float(whole), ""
    return float(round(rate, 6)), ""


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
