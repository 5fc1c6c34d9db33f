"""Reading any WFDB record (header + signal files) into an ``ECG``.

Checks happen on the header before any sample is read, so a bad rate, a too-long record or a
truncated signal file is refused with a message naming the file, without allocating the samples.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from ..errors import RecordError, RecordNotFound
from ._ecg import MAX_DURATION_S, MAX_FS_HZ, MIN_DURATION_S, MIN_FS_HZ, ECG, ECGMetadata, file_rate
from ._wfdb_fast import WfdbHeader, parse_header, read_samples

# Most values one read may return (leads x samples): 50M float32 values = 200 MB. A 24 h Holter
# record at 500 Hz with 2 leads (86M) must be read in windows (``start_s``/``duration_s``).
MAX_VALUES_PER_READ = 50_000_000
# A WFDB header is a few kB; anything past this is not a header.
MAX_HEADER_BYTES = 1_000_000

# Bytes per sample of the WFDB storage formats (wfdb-python supports these).
_BYTES_PER_SAMPLE: dict[str, float] = {
    "8": 1, "16": 2, "24": 3, "32": 4, "61": 2, "80": 1, "160": 2, "212": 1.5, "310": 4 / 3, "311": 4 / 3,
}


def record_base(path: str | Path) -> Path:
    """The record's base path: ``rec``, ``rec.hea``, ``rec.dat``, ``rec.mat`` or ``rec.atr`` -> ``rec``
    (any other suffix is kept: ``rec.v2`` is a record name). Not resolved; see ``companion_file``."""
    base = Path(path)
    if base.suffix.lower() in {".hea", ".dat", ".mat", ".atr"}:
        base = base.with_suffix("")
    return base


def companion_file(base: Path, suffix: str) -> Path:
    """``base`` + ``suffix`` (``rec.v2`` -> ``rec.v2.hea``); ``with_suffix`` would give ``rec.hea``."""
    return base.with_name(base.name + suffix)


def read_wfdb_header(path: str | Path, fs_hz: float | None = None) -> WfdbHeader:
    """Parse and check a WFDB header (rate, signal count, formats). Raises ``RecordError``.

    A header whose record line gives no sampling frequency is refused unless ``fs_hz`` gives it
    (WFDB's default is 250 Hz, but assuming it halved the heart rate of a 500 Hz record and turned
    three disease models positive; ``fs_hz=250`` accepts the default knowingly). A header's own
    rate wins over ``fs_hz`` (``file_rate``; ``header_notes`` says so)."""
    from dataclasses import replace
    header, head = _parse_header_file(path)
    if head.n_seg:
        raise RecordError(f"{header}: multi-segment WFDB records are not supported")
    if not head.fs_given:
        if fs_hz is None:
            raise RecordError(
                f"{header}: the header gives no sampling frequency (record line without one); WFDB's default "
                "would be 250 Hz, which is not assumed silently: pass the rate (--fs HZ on the command line, "
                "read_record(path, fs_hz=HZ) in Python; --fs 250 for the WFDB default)"
            )
        head = replace(head, fs=file_rate(str(header), fs_hz, None, "")[0])
    else:
        file_rate(str(header), fs_hz, None, "")  # a bad fs_hz is an error even when the header has a rate
    if not head.fs or head.fs <= 0:
        raise RecordError(f"{header}: header gives no valid sampling frequency")
    if not (MIN_FS_HZ <= float(head.fs) <= MAX_FS_HZ):
        raise RecordError(
            f"{header}: sampling rate {head.fs:g} Hz is outside the supported {MIN_FS_HZ:g}-{MAX_FS_HZ:g} Hz"
        )
    if not head.n_sig or not head.sig_name:
        raise RecordError(f"{header}: header declares no signals")
    if len(head.sig_name) != head.n_sig or len(head.file_name or []) != head.n_sig:
        raise RecordError(
            f"{header}: header declares {head.n_sig} signals but describes {len(head.sig_name)}"
        )
    for channel, fmt in enumerate(head.fmt or []):
        if str(fmt) not in _BYTES_PER_SAMPLE:
            raise RecordError(f"{header}: signal {channel} has unsupported WFDB format {fmt!r}")
    for channel, file_name in enumerate(head.file_name):
        _check_signal_file_name(header, channel, str(file_name))
    return head


def wfdb_signal_files(path: str | Path) -> tuple[Path, ...]:
    """The signal files a WFDB header names (``header.parent / name``, in order, without repeats),
    read with the plain parser: no rate or format check, so a header without a rate that a
    caller's ``fs_hz`` would make readable still names its files (for checks of what a read would
    open). Raises ``RecordError``/``RecordNotFound`` when the header cannot be parsed or names a
    file outside its own folder."""
    header, head = _parse_header_file(path)
    for channel, file_name in enumerate(head.file_name):
        _check_signal_file_name(header, channel, str(file_name))
    return tuple(header.parent / name for name in dict.fromkeys(head.file_name))


def _parse_header_file(path: str | Path) -> tuple[Path, WfdbHeader]:
    """The header file of the record at ``path`` and its parse (size and text checked first)."""
    header = companion_file(record_base(path), ".hea")
    if not header.is_file():
        raise RecordNotFound(f"{header}: no such WFDB header file")
    size = header.stat().st_size
    if size == 0:
        raise RecordError(f"{header}: header file is empty")
    if size > MAX_HEADER_BYTES:
        raise RecordError(f"{header}: {size:,} bytes is too large for a WFDB header (at most {MAX_HEADER_BYTES:,})")
    try:
        header.read_text(encoding="utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise RecordError(f"{header}: not a text WFDB header (binary content at byte {exc.start})") from exc
    return header, parse_header(header)


def _check_signal_file_name(header: Path, channel: int, file_name: str) -> None:
    """A signal file must be a plain file name in the header's own folder: every reader opens
    ``header.parent / file_name``, so an absolute path, a ``..`` or any folder part would let a
    header read a file elsewhere (a header inside a data root naming ``/etc/passwd``)."""
    separators = {"/", "\\", os.sep} | ({os.altsep} if os.altsep else set())
    if (
        not file_name
        or file_name in {".", ".."}
        or ".." in file_name
        or any(sep in file_name for sep in separators)
        or Path(file_name).is_absolute()
        or Path(file_name).drive
        or "\x00" in file_name
    ):
        raise RecordError(
            f"{header}: signal {channel} names the file {file_name!r}; a WFDB signal file must be a plain "
            "file name in the header's folder (no folder part, '..' or absolute path), refused"
        )


def read_wfdb(
    path: str | Path,
    source: str = "wfdb",
    record_id: str | None = None,
    metadata: ECGMetadata | None = None,
    start_s: float = 0.0,
    duration_s: float | None = None,
    fs_hz: float | None = None,
) -> ECG:
    """Read a WFDB record; ``path`` may name the header, the signal file or the base.

    ``fs_hz``: the rate of a header that gives none (else refused, see ``read_wfdb_header``); a
    header's own rate wins over a different ``fs_hz``, with a note (``ECG.read_notes``).

    ``start_s``/``duration_s`` read a window (for long, e.g. 24 h Holter, records): only that
    window's bytes are read. Raises ``RecordNotFound`` when the header is missing and
    ``RecordError`` naming the file and the problem for anything unreadable.
    """
    base = record_base(path)
    header = companion_file(base, ".hea")
    head = read_wfdb_header(base, fs_hz)
    fs = float(head.fs)
    for name, value in (("start_s", start_s), ("duration_s", duration_s)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not math.isfinite(value)):
            raise RecordError(f"{header}: window {name} must be a finite number of seconds, got {value!r}")
    total = int(head.sig_len or 0) or _samples_from_file_size(head, base)
    _check_signal_files(head, base, total)  # header vs file size first: a header claiming 10^10 samples of a 120 kB file
    if total / fs < MIN_DURATION_S:
        raise RecordError(
            f"{header}: record is {total / fs:.3f} s long ({total} samples at {fs:g} Hz); "
            f"at least {MIN_DURATION_S:g} s is needed"
        )
    if start_s < 0 or (duration_s is not None and duration_s <= 0):
        raise RecordError(f"{header}: window start {start_s} s / duration {duration_s} s must be >= 0 / > 0")
    sampfrom = int(round(start_s * fs))
    if sampfrom >= total:
        raise RecordError(f"{header}: start {start_s} s is past the end of the record ({total / fs:.1f} s)")
    sampto = total if duration_s is None else min(total, sampfrom + int(round(duration_s * fs)))
    n_read = sampto - sampfrom
    hint = "read a window with start_s/duration_s"
    if n_read / fs > MAX_DURATION_S:
        raise RecordError(
            f"{header}: record is {total / fs / 3600:.1f} h long; at most 24 h can be read at once ({hint})"
        )
    if n_read * head.n_sig > MAX_VALUES_PER_READ:
        raise RecordError(
            f"{header}: reading {n_read / fs / 3600:.1f} h x {head.n_sig} leads at {fs:g} Hz "
            f"({n_read * head.n_sig:,} values) exceeds the {MAX_VALUES_PER_READ:,} values one read may "
            f"return ({hint})"
        )
    if head.fast_readable:
        signal = read_samples(head, base, sampfrom, sampto)
    else:
        signal = _read_with_wfdb(base, sampfrom, sampto, whole="8" in head.fmt)
    if signal is None or signal.size == 0:
        raise RecordError(f"{base}: record contains no samples")
    if signal.shape[0] < n_read:
        raise RecordError(f"{base}: signal file is truncated ({signal.shape[0]} of {n_read} samples)")
    if signal.shape[1] != head.n_sig:
        raise RecordError(f"{base}: read {signal.shape[1]} signals but the header declares {head.n_sig}")
    signal = _to_millivolts(signal, list(head.units), base)
    finite = np.isfinite(signal)
    if not finite.all():
        bad = ", ".join(head.sig_name[c] for c in sorted(set(np.nonzero(~finite)[1].tolist())))
        raise RecordError(
            f"{base.parent / head.file_name[0]}: {int((~finite).sum())} NaN/inf (invalid) samples in lead(s) {bad}"
        )
    meta = metadata or metadata_from_header(head)
    return ECG(
        signal_mv=signal.T,
        fs_hz=fs,
        lead_names=tuple(head.sig_name),
        record_id=record_id or base.name,
        source=source,
        metadata=meta,
        path=str(base),
        read_notes=header_notes(head, header, fs_hz),
    )


def header_notes(head: WfdbHeader, header: Path, fs_hz: float | None = None) -> tuple[str, ...]:
    """What reading ``head`` assumed or followed that can change the answers (``ECG.read_notes``):
    a rate given by the caller for a header without one, WFDB's default gain (200 adu/mV) for a
    gain that is absent or 0, and negative gains (followed, so those leads are inverted as the
    header says: physically right for a header that means it, but almost always a writing error)."""
    notes = []
    if head.fs_given:
        notes.append(file_rate(str(header), fs_hz, float(head.fs), f"{header.name} gives")[1])
    else:
        notes.append(f"{header.name} gives no sampling frequency: read at {head.fs:g} Hz as passed (fs_hz/--fs)")
    defaulted = [n for n, d in zip(head.sig_name, head.gain_defaulted) if d]
    if defaulted:
        notes.append(f"{header.name} gives no gain (or 0) for lead(s) {', '.join(defaulted)}: WFDB's default "
                     "200 adu/mV assumed; amplitudes are wrong if the recorder used another gain")
    negative = [(n, g) for n, g in zip(head.sig_name, head.adc_gain) if g < 0]
    if negative:
        gains = {g for _, g in negative}
        which = (f"every lead (gain {negative[0][1]:g})" if len(negative) == len(head.sig_name) and len(gains) == 1
                 else "lead(s) " + ", ".join(f"{n} ({g:g})" for n, g in negative))
        notes.append(f"{header.name} gives a negative ADC gain for {which}: followed, so "
                     "these leads are inverted as the header says; if that is a writing error, every answer "
                     "about them (axis, diseases) is wrong")
    return tuple(n for n in notes if n)


def _read_with_wfdb(base: Path, sampfrom: int, sampto: int, whole: bool = False) -> np.ndarray:
    """Formats the fast reader does not cover (e.g. 8, 310, several samples per frame).

    ``whole`` reads from the start and slices: wfdb-python's windowed reads of the
    difference-encoded format 8 return wrong values (checked against its own full read).
    """
    import wfdb

    try:
        if whole:
            record = wfdb.rdrecord(str(base), sampto=sampto, physical=True, return_res=32)
            return record.p_signal[sampfrom:sampto]
        record = wfdb.rdrecord(str(base), sampfrom=sampfrom, sampto=sampto, physical=True, return_res=32)
    except Exception as exc:
        raise RecordError(
            f"{base}: cannot read signal ({type(exc).__name__}: {exc}); the file may be truncated or corrupt"
        ) from exc
    return record.p_signal


def _samples_from_file_size(head, base: Path) -> int:  # noqa: ANN001 - wfdb header object
    """Samples per signal implied by the signal file size when the header omits the length."""
    file_name = head.file_name[0]
    channels = sum(1 for name in head.file_name if name == file_name)
    signal_file = base.parent / file_name
    if not signal_file.is_file():
        raise RecordError(f"{signal_file}: signal file named by {base.name}.hea is missing")
    offset = int((head.byte_offset or [0])[0] or 0)
    per_frame = _BYTES_PER_SAMPLE[str(head.fmt[0])] * channels
    return int((signal_file.stat().st_size - offset) // per_frame)


def _check_signal_files(head, base: Path, total: int) -> None:  # noqa: ANN001
    """Every signal file exists and is long enough for the samples the header declares."""
    offsets = head.byte_offset or [0] * head.n_sig
    for file_name in dict.fromkeys(head.file_name):
        signal_file = base.parent / file_name
        if not signal_file.is_file():
            raise RecordError(f"{signal_file}: signal file named by {base.name}.hea is missing")
        channels = [c for c, name in enumerate(head.file_name) if name == file_name]
        per_frame = sum(_BYTES_PER_SAMPLE[str(head.fmt[c])] for c in channels)
        needed = int(offsets[channels[0]] or 0) + math.ceil(total * per_frame)
        size = signal_file.stat().st_size
        if size < needed:
            have = max(0, int((size - int(offsets[channels[0]] or 0)) // per_frame))
            raise RecordError(
                f"{signal_file}: signal file is truncated: {size:,} bytes hold {have:,} of the "
                f"{total:,} samples per lead the header declares ({needed:,} bytes needed)"
            )


_UNIT_SCALE_TO_MV = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "v": 1e3}


def _to_millivolts(signal: np.ndarray, units: list[str] | None, base: Path) -> np.ndarray:
    """Scale each channel to mV from the header's units (missing units are taken as mV)."""
    signal = np.asarray(signal, dtype=np.float32)
    if not units:
        return signal
    scale = np.ones(signal.shape[1], dtype=np.float32)
    for channel, unit in enumerate(units):
        key = (unit or "mV").strip().lower()
        if key not in _UNIT_SCALE_TO_MV:
            raise RecordError(f"{base}: channel {channel} has unit {unit!r}; expected mV, uV or V")
        scale[channel] = _UNIT_SCALE_TO_MV[key]
    if np.all(scale == 1.0):
        return signal
    return signal * scale


def comment_fields(comments: tuple[str, ...] | list[str] | None) -> dict[str, str]:
    """``key: value`` header comments as a dict with lower-case keys (``#<age>: 51`` -> ``age``)."""
    fields: dict[str, str] = {}
    for comment in comments or []:
        key, sep, value = comment.partition(":")
        if sep:
            fields.setdefault(key.strip().lstrip("#").strip().strip("<>").strip().lower(), value.strip())
    return fields


def metadata_from_header(head) -> ECGMetadata:  # noqa: ANN001 - wfdb header object
    """Facts a generic WFDB header gives: ``age:``/``sex:`` comments (any case, ``<age>`` too),
    the base date/time, and every comment line in ``extra``."""
    fields = comment_fields(head.comments)
    age: float | None = None
    try:
        age = float(fields.get("age", ""))
        if not np.isfinite(age) or age < 0:
            age = None
    except ValueError:
        age = None
    sex = {"male": "male", "m": "male", "female": "female", "f": "female"}.get(fields.get("sex", "").lower())
    # as written on the record line (WFDB: "hh:mm:ss dd/mm/yyyy"; CinC: "05-Feb-2020 11:39:16")
    date = " ".join(str(v) for v in (head.base_time, head.base_date) if v) or fields.get("ecg date") or None
    return ECGMetadata(
        age_years=age,
        sex=sex,  # type: ignore[arg-type]
        recording_date=date,
        extra=tuple(("comment", c) for c in (head.comments or [])),
    )
