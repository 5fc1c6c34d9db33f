"""Wave segments per lead (P, PR, QRS, ST, T, other) from a delineation, and clinical masks.

Segments of one lead, from its delineated waves (sample indices at the delineation's rate):

- ``P``, ``QRS``, ``T``: the waves themselves, onset to offset inclusive.
- ``PR``: the PR *segment*, after a P offset up to the next QRS onset when that QRS starts within
  300 ms of the P offset (the P wave itself is ``P``).
- ``ST``: after a QRS offset (the J point) up to the next T onset when that T starts within 400 ms;
  when no T wave follows, the 80 ms after the J point (the ST-J80 convention), stopping at any
  following wave.
- ``other``: everything else (TP segment, unannotated signal).

Clinical masks (the region a cardiologist expects a disease to show in), per lead:
MI: QRS (Q waves, R loss) + ST; STTC: ST + T; CD: QRS, plus P + PR for an AV block;
HYP: QRS.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ..errors import UsageError
from ..records import STANDARD_LEADS, Delineation

Segment = Literal["other", "P", "PR", "QRS", "ST", "T"]
SEGMENTS: tuple[Segment, ...] = ("other", "P", "PR", "QRS", "ST", "T")
"""Segment names; a label array holds the index into this tuple."""
SEGMENT_INDEX: dict[str, int] = {name: i for i, name in enumerate(SEGMENTS)}

PR_MAX_GAP_MS = 300.0
ST_MAX_GAP_MS = 400.0
ST_J80_MS = 80.0

CLINICAL_SEGMENTS: dict[str, tuple[Segment, ...]] = {
    "MI": ("QRS", "ST"),
    "STTC": ("ST", "T"),
    "CD": ("QRS",),
    "HYP": ("QRS",),
}
"""Expected segments per disease (CD with an AV block adds P and PR: see ``clinical_segments``)."""

CLINICAL_DESCRIPTION: dict[str, str] = {
    "MI": "Q wave / QRS and ST segment",
    "STTC": "ST segment and T wave",
    "CD": "QRS complex",
    "HYP": "QRS complex",
}


def clinical_segments(disease: str, av_block: bool = False) -> tuple[Segment, ...]:
    """Segments where ``disease`` is expected to show (``av_block`` adds P and PR to CD)."""
    if disease not in CLINICAL_SEGMENTS:
        raise UsageError(
            f"no clinical region defined for {disease!r}; expected one of {', '.join(CLINICAL_SEGMENTS)}"
        )
    segments = CLINICAL_SEGMENTS[disease]
    if disease == "CD" and av_block:
        segments = ("P", "PR") + segments
    return segments


def clinical_description(disease: str, av_block: bool = False) -> str:
    """Words for the expected region of ``disease``."""
    text = CLINICAL_DESCRIPTION.get(disease, disease)
    return text + (" and the PR interval (AV block)" if disease == "CD" and av_block else "")


def segment_labels(delineation: Delineation, lead: str, n_samples: int | None = None,
                   fs_hz: float | None = None) -> np.ndarray:
    """Segment index (into ``SEGMENTS``) of every sample of one lead, shape (samples,) int8.

    With ``fs_hz`` different from the delineation's, boundaries are rescaled first;
    ``n_samples`` defaults to the delineation's length.
    """
    if fs_hz is not None and abs(fs_hz - delineation.fs_hz) > 1e-9:
        delineation = delineation.rescaled(fs_hz)
    n = delineation.n_samples if n_samples is None else int(n_samples)
    fs = delineation.fs_hz
    labels = np.zeros(n, dtype=np.int8)
    waves = sorted(delineation.lead(lead), key=lambda w: w.onset)

    def paint(start: int, stop: int, name: str) -> None:
        lo, hi = max(0, start), min(n, stop)
        if hi > lo:
            labels[lo:hi] = SEGMENT_INDEX[name]

    for i, wave in enumerate(waves):
        following = waves[i + 1:]
        if wave.kind == "P":
            nxt = next((w for w in following if w.kind == "QRS"), None)
            if nxt is not None and (nxt.onset - wave.offset) * 1000.0 / fs <= PR_MAX_GAP_MS:
                paint(wave.offset + 1, nxt.onset, "PR")
        elif wave.kind == "QRS":
            nxt_t = next((w for w in following if w.kind in ("T", "QRS")), None)
            if nxt_t is not None and nxt_t.kind == "T" and (nxt_t.onset - wave.offset) * 1000.0 / fs <= ST_MAX_GAP_MS:
                paint(wave.offset + 1, nxt_t.onset, "ST")
            else:
                stop = wave.offset + 1 + int(round(ST_J80_MS * fs / 1000.0))
                nxt_any = next((w for w in following), None)
                if nxt_any is not None:
                    stop = min(stop, nxt_any.onset)
                paint(wave.offset + 1, stop, "ST")
    for wave in waves:  # waves last, so they win over segments drawn between them
        paint(wave.onset, wave.offset + 1, wave.kind)
    return labels


def segment_label_map(delineation: Delineation, n_samples: int, fs_hz: float,
                      lead_names: tuple[str, ...] = STANDARD_LEADS) -> np.ndarray:
    """Segment labels of every lead, shape (leads, samples) int8, at ``fs_hz``."""
    return np.stack([segment_labels(delineation, lead, n_samples, fs_hz) for lead in lead_names])


def clinical_mask(delineation: Delineation, disease: str, *, n_samples: int | None = None,
                  fs_hz: float | None = None, av_block: bool = False,
                  lead_names: tuple[str, ...] = STANDARD_LEADS) -> np.ndarray:
    """Boolean (leads, samples) mask of where ``disease`` is expected to show, from fiducials.

    The delineation may be gold (LUDB ``Ludb.delineation``, PTB-XL+ ``read_ptbxl_plus_fiducials``)
    or from the delineator (``ecgqa_tools.encoders.delineate``). ``fs_hz``/``n_samples`` give the
    grid of the mask (default: the delineation's own).
    """
    fs = delineation.fs_hz if fs_hz is None else float(fs_hz)
    n = int(round(delineation.n_samples * fs / delineation.fs_hz)) if n_samples is None else int(n_samples)
    labels = segment_label_map(delineation, n, fs, lead_names)
    wanted = [SEGMENT_INDEX[s] for s in clinical_segments(disease, av_block)]
    return np.isin(labels, wanted)


def scored_mask(delineation: Delineation, *, n_samples: int | None = None, fs_hz: float | None = None,
                lead_names: tuple[str, ...] = STANDARD_LEADS) -> np.ndarray:
    """Boolean (leads, samples): where the delineation is complete enough to score against.

    A lead with no delineated QRS is not scored; when the delineation names a scored span for a
    lead (LUDB annotates only between its first and last annotated waves), only that span counts.
    """
    fs = delineation.fs_hz if fs_hz is None else float(fs_hz)
    n = int(round(delineation.n_samples * fs / delineation.fs_hz)) if n_samples is None else int(n_samples)
    ratio = fs / delineation.fs_hz
    mask = np.zeros((len(lead_names), n), dtype=bool)
    for row, lead in enumerate(lead_names):
        if not any(w.kind == "QRS" for w in delineation.lead(lead)):
            continue
        span = delineation.scored_span.get(lead)
        if span is None:
            mask[row] = True
        else:
            lo = max(0, int(round(span[0] * ratio)))
            hi = min(n, int(round(span[1] * ratio)) + 1)
            mask[row, lo:hi] = True
    return mask
