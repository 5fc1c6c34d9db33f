"""P/QRS/T wave boundaries per lead: the one type shared by gold annotations (LUDB, PTB-XL+)
and delineators (openecg, NeuroKit2), and used by measurements and clinical masks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ..errors import RecordError
from ._leads import normalize_lead_name

WaveKind = Literal["P", "QRS", "T"]
WAVE_KINDS: tuple[WaveKind, ...] = ("P", "QRS", "T")


@dataclass(frozen=True)
class Wave:
    """One wave of one lead, as sample indices at the delineation's sampling rate."""

    kind: WaveKind
    """``P``, ``QRS`` or ``T``."""
    onset: int
    """First sample of the wave."""
    offset: int
    """Last sample of the wave (inclusive)."""
    peak: int | None = None
    """Sample of the wave's peak, when known."""

    def __post_init__(self) -> None:
        if self.kind not in WAVE_KINDS:
            raise RecordError(f"unknown wave kind {self.kind!r}; expected one of {', '.join(WAVE_KINDS)}")
        if self.offset < self.onset:
            raise RecordError(f"{self.kind} wave ends (sample {self.offset}) before it starts ({self.onset})")


@dataclass(frozen=True)
class Delineation:
    """Waves of each lead of one ECG, from annotations or a delineator."""

    fs_hz: float
    """Sampling rate the sample indices refer to."""
    n_samples: int
    """Length of the delineated signal in samples."""
    waves: Mapping[str, tuple[Wave, ...]]
    """Waves per canonical lead name, sorted by onset."""
    source: str
    """Who drew the boundaries: ``ludb-gold``, ``ptbxl-plus``, ``openecg``, ``neurokit2``..."""
    scored_span: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    """Per lead, the (first, last) sample inside which annotations are complete (LUDB annotates only
    the beats between its first and last annotated waves); empty when the whole record counts."""

    def lead(self, name: str) -> tuple[Wave, ...]:
        """Waves of one lead (any spelling of its name); empty when the lead has none."""
        return tuple(self.waves.get(normalize_lead_name(name), ()))

    def mask(self, lead: str, kinds: tuple[WaveKind, ...] = WAVE_KINDS) -> np.ndarray:
        """Boolean mask (samples,) that is True inside waves of the given kinds in one lead."""
        mask = np.zeros(self.n_samples, dtype=bool)
        for wave in self.lead(lead):
            if wave.kind in kinds:
                mask[max(0, wave.onset): min(self.n_samples, wave.offset + 1)] = True
        return mask

    def rescaled(self, fs_hz: float) -> "Delineation":
        """The same boundaries expressed at another sampling rate."""
        ratio = fs_hz / self.fs_hz

        def scale(sample: int | None) -> int | None:
            return None if sample is None else int(round(sample * ratio))

        waves = {
            lead: tuple(Wave(w.kind, scale(w.onset), scale(w.offset), scale(w.peak)) for w in lead_waves)  # type: ignore[arg-type]
            for lead, lead_waves in self.waves.items()
        }
        spans = {lead: (scale(a), scale(b)) for lead, (a, b) in self.scored_span.items()}
        return Delineation(fs_hz, int(round(self.n_samples * ratio)), waves, self.source, spans)  # type: ignore[arg-type]
