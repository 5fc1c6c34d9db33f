"""A small, fast WFDB header parser and sample reader (WFDB ``header(5)`` / ``signal(5)``).

wfdb-python parses a 12-lead header in ~15 ms (pandas indexing per field), which makes reading
PTB-XL's 21,799 records take minutes; this reads one in about a millisecond. It covers the
single-segment records ECG datasets use (formats 16, 61, 80, 160, 212, 24, 32, one sample per
frame, no skew); anything else is read by wfdb-python (``WfdbHeader.fast_readable``). Tests check
it sample for sample against wfdb-python on every real record in the shared data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import RecordError

DEFAULT_FS_HZ = 250.0
DEFAULT_GAIN = 200.0
FAST_FORMATS = frozenset({"16", "61", "80", "160", "212", "24", "32"})
# Digital value marking an invalid sample, per format (read back as NaN).
_INVALID: dict[str, int] = {"16": -32768, "61": -32768, "80": -128, "160": -32768, "212": -2048,
                            "24": -8388608, "32": -2147483648}
_FMT_RE = re.compile(r"^(\d+)(?:x(\d+))?(?::(\d+))?(?:\+(\d+))?$")
_GAIN_RE = re.compile(r"^([-+]?[\d.]+(?:[eE][-+]?\d+)?)(?:\(([-+]?\d+)\))?(?:/(.+))?$")
_NUMBER_RE = re.compile(r"^([-+]?[\d.]+(?:[eE][-+]?\d+)?)")


@dataclass(frozen=True)
class WfdbHeader:
    """The fields of a single-segment WFDB header (names follow wfdb-python's ``Record``)."""

    record_name: str
    """Record name from the record line."""
    n_sig: int
    """Number of signals the record line declares."""
    fs: float
    """Sampling frequency in Hz (default 250 when absent)."""
    sig_len: int | None
    """Samples per signal, when the header says."""
    base_time: str | None
    """Start time as written (``hh:mm:ss``), when given."""
    base_date: str | None
    """Start date as written (``dd/mm/yyyy``), when given."""
    file_name: tuple[str, ...]
    """Signal file of each signal."""
    fmt: tuple[str, ...]
    """Storage format of each signal (``16``, ``212``...)."""
    samps_per_frame: tuple[int, ...]
    """Samples per frame of each signal (1 for ECG datasets)."""
    skew: tuple[int, ...]
    """Skew of each signal in frames (0 for ECG datasets)."""
    byte_offset: tuple[int, ...]
    """Bytes to skip at the start of each signal's file (24 for CinC ``.mat`` files)."""
    adc_gain: tuple[float, ...]
    """ADC units per physical unit of each signal (200 when absent or 0)."""
    baseline: tuple[int, ...]
    """Digital value of 0 physical units of each signal."""
    units: tuple[str, ...]
    """Physical unit of each signal (``mV`` when absent)."""
    sig_name: tuple[str, ...]
    """Description (lead name) of each signal, as written."""
    comments: tuple[str, ...]
    """Comment lines without their ``#``."""
    n_seg: int | None = None
    """Segments of a multi-segment record (``None`` for single-segment ones)."""
    fs_given: bool = True
    """False when the record line gives no sampling frequency (``fs`` is then WFDB's default 250 Hz,
    which ``read_wfdb_header`` does not accept silently)."""
    gain_defaulted: tuple[bool, ...] = ()
    """Per signal: True when the header gives no gain or a gain of 0 (WFDB's default 200 adu/mV used)."""

    @property
    def fast_readable(self) -> bool:
        """True when ``read_samples`` can read this record (else use wfdb-python)."""
        return (
            all(f in FAST_FORMATS for f in self.fmt)
            and all(s == 1 for s in self.samps_per_frame)
            and not any(self.skew)
        )


def parse_header(path: Path) -> WfdbHeader:
    """Parse a header file; ``RecordError`` naming the file and the line for malformed content."""
    text = path.read_text(encoding="utf-8")
    comments: list[str] = []
    lines: list[str] = []
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            comments.append(stripped[1:].strip())
            continue
        lines.append(stripped)
    if not lines:
        raise RecordError(f"{path}: malformed WFDB header (no record line)")
    fields = lines[0].split()
    try:
        name, _, segments = fields[0].partition("/")
        n_sig = int(fields[1]) if len(fields) > 1 else 0
        fs, fs_given = DEFAULT_FS_HZ, len(fields) > 2
        if len(fields) > 2:
            match = _NUMBER_RE.match(fields[2])
            if not match:
                raise ValueError(f"sampling frequency {fields[2]!r}")
            fs = float(match.group(1))
        sig_len = int(fields[3]) if len(fields) > 3 else None
    except (ValueError, IndexError) as exc:
        raise RecordError(f"{path}: malformed WFDB header: record line {lines[0]!r} ({exc})") from None
    base_time = fields[4] if len(fields) > 4 else None
    base_date = fields[5] if len(fields) > 5 else None
    if segments:
        return WfdbHeader(name, n_sig, fs, sig_len, base_time, base_date, (), (), (), (), (), (), (), (), (),
                          tuple(comments), n_seg=int(segments) if segments.isdigit() else 1, fs_given=fs_given)
    columns: dict[str, list] = {k: [] for k in ("file", "fmt", "spf", "skew", "offset", "gain", "base", "units", "name",
                                                "gain_defaulted")}
    for number, line in enumerate(lines[1:], start=1):
        parts = line.split(maxsplit=8)
        try:
            _parse_signal_line(parts, columns)
        except (ValueError, IndexError) as exc:
            raise RecordError(f"{path}: malformed WFDB header: signal line {number}: {line!r} ({exc})") from None
        if not columns["name"][-1]:
            columns["name"][-1] = f"signal {number - 1}"
    return WfdbHeader(
        record_name=name, n_sig=n_sig, fs=fs, sig_len=sig_len, base_time=base_time, base_date=base_date,
        file_name=tuple(columns["file"]), fmt=tuple(columns["fmt"]), samps_per_frame=tuple(columns["spf"]),
        skew=tuple(columns["skew"]), byte_offset=tuple(columns["offset"]), adc_gain=tuple(columns["gain"]),
        baseline=tuple(columns["base"]), units=tuple(columns["units"]), sig_name=tuple(columns["name"]),
        comments=tuple(comments), fs_given=fs_given, gain_defaulted=tuple(columns["gain_defaulted"]),
    )


def _parse_signal_line(parts: list[str], columns: dict[str, list]) -> None:
    if len(parts) < 2:
        raise ValueError("a signal line needs at least a file name and a format")
    fmt_match = _FMT_RE.match(parts[1])
    if not fmt_match:
        raise ValueError(f"format {parts[1]!r}")
    fmt, spf, skew, offset = fmt_match.groups()
    adc_zero = int(parts[4]) if len(parts) > 4 else 0
    gain, baseline, units = DEFAULT_GAIN, adc_zero, "mV"
    defaulted = True
    if len(parts) > 2:
        gain_match = _GAIN_RE.match(parts[2])
        if not gain_match:
            raise ValueError(f"gain {parts[2]!r}")
        defaulted = float(gain_match.group(1)) == 0
        gain = float(gain_match.group(1)) or DEFAULT_GAIN
        if gain_match.group(2) is not None:
            baseline = int(gain_match.group(2))
        if gain_match.group(3):
            units = gain_match.group(3)
    if len(parts) > 3:
        int(parts[3])  # adc resolution: validated, unused
    columns["file"].append(parts[0])
    columns["fmt"].append(fmt)
    columns["spf"].append(int(spf) if spf else 1)
    columns["skew"].append(int(skew) if skew else 0)
    columns["offset"].append(int(offset) if offset else 0)
    columns["gain"].append(gain)
    columns["gain_defaulted"].append(defaulted)
    columns["base"].append(baseline)
    columns["units"].append(units)
    columns["name"].append(parts[8].strip() if len(parts) > 8 else "")


def bytes_per_sample(fmt: str) -> float:
    return {"16": 2, "61": 2, "80": 1, "160": 2, "212": 1.5, "24": 3, "32": 4}[fmt]


def read_samples(head: WfdbHeader, base: Path, sampfrom: int, sampto: int) -> np.ndarray:
    """Physical samples (samples, signals) float32 of frames ``[sampfrom, sampto)``; NaN for invalid."""
    n = sampto - sampfrom
    out = np.empty((n, head.n_sig), dtype=np.float32)
    for file_name in dict.fromkeys(head.file_name):
        channels = [c for c, f in enumerate(head.file_name) if f == file_name]
        fmt = head.fmt[channels[0]]
        if any(head.fmt[c] != fmt for c in channels):
            raise RecordError(f"{base.parent / file_name}: mixed formats in one signal file are not supported")
        digital = _read_file(base.parent / file_name, fmt, len(channels), head.byte_offset[channels[0]], sampfrom, n)
        for column, channel in enumerate(channels):
            values = digital[:, column]
            physical = (values.astype(np.float32) - np.float32(head.baseline[channel])) / np.float32(head.adc_gain[channel])
            invalid = values == _INVALID[fmt]
            if invalid.any():
                physical[invalid] = np.nan
            out[:, channel] = physical
    return out


def _read_file(path: Path, fmt: str, n_channels: int, offset: int, sampfrom: int, n: int) -> np.ndarray:
    """Digital samples (n, channels) int32 of one signal file."""
    count = n * n_channels
    if fmt == "212":
        first = sampfrom * n_channels
        aligned = first - first % 2
        n_pairs = (first + count - aligned + 1) // 2
        raw = np.fromfile(path, dtype=np.uint8, count=n_pairs * 3, offset=offset + (aligned // 2) * 3)
        raw = raw[: (len(raw) // 3) * 3].reshape(-1, 3).astype(np.int32)
        values = np.empty(raw.shape[0] * 2, dtype=np.int32)
        values[0::2] = raw[:, 0] | ((raw[:, 1] & 0x0F) << 8)
        values[1::2] = raw[:, 2] | ((raw[:, 1] & 0xF0) << 4)
        values[values > 2047] -= 4096
        flat = values[first - aligned: first - aligned + count]
    elif fmt == "24":
        raw = np.fromfile(path, dtype=np.uint8, count=count * 3, offset=offset + sampfrom * n_channels * 3)
        raw = raw.reshape(-1, 3).astype(np.int32)
        flat = raw[:, 0] | (raw[:, 1] << 8) | (raw[:, 2] << 16)
        flat[flat > 8388607] -= 16777216
    else:
        dtype, shift = {"16": ("<i2", 0), "61": (">i2", 0), "80": ("u1", 128), "160": ("<u2", 32768), "32": ("<i4", 0)}[fmt]
        size = np.dtype(dtype).itemsize
        flat = np.fromfile(path, dtype=dtype, count=count, offset=offset + sampfrom * n_channels * size).astype(np.int64)
        if shift:
            flat -= shift
    if flat.size < count:
        raise RecordError(f"{path}: signal file is truncated ({flat.size // n_channels} of {n} samples per lead)")
    return flat.reshape(n, n_channels)
