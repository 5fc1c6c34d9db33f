"""OpenECG codec tokens of one lead: the 13-symbol run-length alphabet (``openecg.vocab``) and
the codec's beat-level and rhythm-level events, in a form an LLM can read.

Symbols come from our delineation of the lead (P, T, QRS split into q/r/s by its deflections,
``w`` for a wide QRS with no separate q/s, ``*`` for pacemaker spikes, ``_`` for the isoelectric
line); beat types and rhythm come from OpenECG's int8 ONNX codec (500 Hz, 10 s windows stitched
with a 2 s edge guard by ``openecg.encode_stream``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import RecordError, require
from ..records import ECG, Delineation, Wave, normalize_lead_name, require_ecg

MS_PER_UNIT = 4
"""Token durations are snapped to a 4 ms grid with cumulative rounding (no drift)."""
WIDE_QRS_MS = 120.0
CODEC_FS_HZ = 500.0


@dataclass(frozen=True)
class Token:
    """One run of a symbol."""

    symbol: str
    """One character of OpenECG's alphabet: ``_ p q r s t w * ?`` ..."""
    name: str
    """The symbol's name in ``openecg.vocab`` (iso, P, Q, R, S, T, wide_QRS, pacer_spike...)."""
    duration_ms: int
    """Length of the run in ms (multiple of 4)."""


@dataclass(frozen=True)
class CodecEvent:
    """A beat or rhythm span from the codec's beat / rhythm layer."""

    start_ms: float
    """Start time from the beginning of the record, in ms."""
    end_ms: float
    """End time (exclusive), in ms."""
    label: str
    """Beat type (sinus, vpc, paced, fusion, unknown) or rhythm (sinus, avb, paced, afib, bbb,
    ventricular)."""


@dataclass(frozen=True)
class CodecTokens:
    """The codec view of one lead."""

    lead: str
    """Canonical lead name."""
    tokens: tuple[Token, ...]
    """Run-length tokens covering the whole lead."""
    beats: tuple[CodecEvent, ...]
    """One event per QRS of the lead's delineation (the QRS tokens of ``text``), typed by the
    codec's beat layer (its most frequent label within ``BEAT_LABEL_TOLERANCE_MS`` of the QRS);
    ``untyped`` where that layer types none, which happens mostly to a record's first and last beat."""
    rhythm: tuple[CodecEvent, ...]
    """Runs of the codec's rhythm layer."""
    vocab_version: str
    """``openecg.vocab.VOCAB_VERSION`` of the alphabet."""

    @property
    def text(self) -> str:
        """Compact string: ``symbol`` + duration in ms, space separated (e.g. ``_212 p96 _60 q8 r36``)."""
        return " ".join(f"{t.symbol}{t.duration_ms}" for t in self.tokens)

    def summary(self) -> str:
        """The string plus beat counts and rhythm runs, for humans and LLMs."""
        counts: dict[str, int] = {}
        for b in self.beats:
            counts[b.label] = counts.get(b.label, 0) + 1
        rhythm = ", ".join(f"{e.label} {e.start_ms / 1000:.1f}-{e.end_ms / 1000:.1f} s" for e in self.rhythm)
        beats = ", ".join(f"{k} x{v}" for k, v in sorted(counts.items())) or "none"
        if UNTYPED_BEAT in counts:
            beats += f" ({UNTYPED_BEAT}: a QRS the codec's beat layer gave no type, usually the first or last beat)"
        return (f"lead {self.lead} (OpenECG alphabet v{self.vocab_version}; symbol+ms; "
                f"_ iso, p P, q/r/s QRS parts, w wide QRS, t T, * pacer spike)\n"
                f"{self.text}\nbeats: {beats}\nrhythm: {rhythm or 'unknown'}")


def _label_samples(x: np.ndarray, fs_hz: float, delineation: Delineation, lead: str,
                   spikes: np.ndarray) -> np.ndarray:
    from openecg import vocab

    n = x.size
    labels = np.full(n, vocab.ID_ISO, dtype=np.uint8)
    thr = 0.05 * max(float(np.ptp(x)), 1e-6)
    for w in delineation.lead(lead):
        on, off = max(0, w.onset), min(n - 1, w.offset)
        if w.kind == "P":
            labels[on:off + 1] = vocab.ID_P
        elif w.kind == "T":
            labels[on:off + 1] = vocab.ID_T
        else:
            seg = x[on:off + 1] - x[on]
            r = int(np.argmax(seg))
            q_part = seg[:r]
            s_part = seg[r:]
            has_q = q_part.size > 0 and q_part.min() < -thr
            has_s = s_part.size > 0 and s_part.min() < -thr
            if (off - on) * 1000.0 / fs_hz > WIDE_QRS_MS and not (has_q or has_s):
                labels[on:off + 1] = vocab.ID_W
                continue
            labels[on:off + 1] = vocab.ID_R
            if has_q:
                q = int(np.argmin(q_part))
                labels[on:on + (q + r) // 2 + 1] = vocab.ID_Q
            if has_s:
                s = r + int(np.argmin(s_part))
                labels[on + (r + s) // 2 + 1:off + 1] = vocab.ID_S
    for idx in spikes:
        if 0 <= int(idx) < n:
            labels[int(idx)] = vocab.ID_PACER
    return labels


def run_length(labels: np.ndarray, fs_hz: float) -> list[tuple[int, int]]:
    """(symbol id, duration ms) runs with durations snapped to a 4 ms grid without drift."""
    if labels.size == 0:
        return []
    change = np.flatnonzero(np.diff(labels)) + 1
    bounds = np.concatenate(([0], change, [labels.size]))
    out: list[tuple[int, int]] = []
    true_ms, emitted = 0.0, 0
    for a, b in zip(bounds[:-1], bounds[1:]):
        true_ms += (b - a) * 1000.0 / fs_hz
        grid_end = int(round(true_ms / MS_PER_UNIT)) * MS_PER_UNIT
        ms = grid_end - emitted
        if ms <= 0:
            ms, grid_end = MS_PER_UNIT, emitted + MS_PER_UNIT
        out.append((int(labels[a]), ms))
        emitted = grid_end
    return out


BEAT_LABEL_TOLERANCE_MS = 40.0
"""How far around a delineated QRS the codec's beat label is looked for (its beat events sit a few
ms off our QRS boundaries)."""
UNTYPED_BEAT = "untyped"
"""Label of a QRS the codec's beat layer leaves without a type."""


def _beats_per_qrs(layer: np.ndarray, names: dict[int, str], none_id: int, fs_hz: float,
                   waves: tuple[Wave, ...]) -> tuple[CodecEvent, ...]:
    """One ``CodecEvent`` per QRS wave, labelled by the beat layer's majority type around it (the
    layer alone drops untyped QRS complexes and can split one beat into two events)."""
    pad = int(round(BEAT_LABEL_TOLERANCE_MS * fs_hz / 1000.0))
    out = []
    for w in waves:
        if w.kind != "QRS":
            continue
        on, off = max(0, w.onset), min(layer.size - 1, w.offset)
        if off < on:
            continue
        around = layer[max(0, on - pad):off + pad + 1]
        typed = around[around != none_id].astype(np.int64)
        label = names.get(int(np.bincount(typed).argmax()), UNTYPED_BEAT) if typed.size else UNTYPED_BEAT
        out.append(CodecEvent(1000.0 * on / fs_hz, 1000.0 * (off + 1) / fs_hz, label))
    return tuple(out)


def _events(layer: np.ndarray, names: dict[int, str], fs_hz: float, drop: int | None) -> tuple[CodecEvent, ...]:
    out = []
    if layer.size == 0:
        return ()
    change = np.flatnonzero(np.diff(layer)) + 1
    bounds = np.concatenate(([0], change, [layer.size]))
    for a, b in zip(bounds[:-1], bounds[1:]):
        c = int(layer[a])
        if drop is not None and c == drop:
            continue
        out.append(CodecEvent(1000.0 * a / fs_hz, 1000.0 * b / fs_hz, names.get(c, str(c))))
    return tuple(out)


def tokenize_lead(ecg: ECG, lead: str = "II", delineation: Delineation | None = None) -> CodecTokens:
    """OpenECG codec tokens of one lead (any rate; resampled to 500 Hz inside)."""
    require_ecg(ecg, "tokenize_lead")
    require("openecg", "all")
    import openecg
    from openecg import vocab
    from openecg.layered import BEAT_NAMES, BEAT_NONE, RHYTHM_NAMES

    from ..records import resample
    from ._delineation import _codec_models, delineate, lead_problem, paced_record

    x_any = ecg.lead(lead)  # raises RecordError naming the leads when absent
    canonical = normalize_lead_name(lead)
    problem = lead_problem(x_any, ecg.fs_hz)
    if problem:
        raise RecordError(f"{ecg.record_id}: lead {canonical} cannot be tokenized: {problem}")
    e500 = resample(ecg, CODEC_FS_HZ)
    if delineation is None:
        delineation = delineate(e500)
    elif abs(delineation.fs_hz - CODEC_FS_HZ) > 1e-9:
        delineation = delineation.rescaled(CODEC_FS_HZ)
    x = e500.lead(lead).astype(np.float64)
    spikes = np.zeros(0, dtype=int)
    if paced_record(ecg):  # spike positions only where the record-level detector is confident
        spikes = np.asarray(openecg.detect_pacings(x, int(CODEC_FS_HZ)), dtype=int)
    labels = _label_samples(x, CODEC_FS_HZ, delineation, canonical, spikes)
    tokens = tuple(Token(vocab.ID_TO_CHAR[s], vocab.ID_TO_NAME[s], ms) for s, ms in run_length(labels, CODEC_FS_HZ))
    sig = x.astype(np.float32)
    if sig.size < 5000:
        sig = np.pad(sig, (0, 5000 - sig.size), mode="symmetric")
    codec = openecg.encode_stream(sig, fs=int(CODEC_FS_HZ), model=_codec_models(1)[0])
    n = x.size
    beats = _beats_per_qrs(np.asarray(codec.beat[:n]), BEAT_NAMES, BEAT_NONE, CODEC_FS_HZ, delineation.lead(canonical))
    rhythm = _events(codec.rhythm[:n], RHYTHM_NAMES, CODEC_FS_HZ, None)
    return CodecTokens(canonical, tokens, beats, rhythm, vocab.VOCAB_VERSION)
