"""LUDB (Kalyakulina et al. 2020): 200 ten-second 12-lead records at 500 Hz with cardiologists'
P/QRS/T onset-peak-offset annotations per lead and typed diagnoses from ``ludb.csv``.

Gain quirk: LUDB v1.0.1 headers give every lead its own ADC gain (equal to that lead's raw
peak-to-peak range), so header-scaled "mV" signals span exactly 1 unit per lead and do not satisfy
III = II - I, while the raw integers do exactly. ``Ludb.read(n, gain="uniform")`` (the default)
divides the raw integers of every lead by one gain, ``UNIFORM_GAIN_ADU_PER_MV``, so lead relations
(Einthoven, Goldberger, the QRS axis) hold; ``gain="header"`` reproduces the published headers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np

from ..errors import DatasetError, RecordError, RecordNotFound
from ._ecg import ECG, ECGMetadata
from ._leads import normalize_lead_name
from ._waves import Delineation, Wave, WaveKind

LudbGain = Literal["uniform", "header"]
# Assumed: 1 adu = 1 uV. The raw 16-bit range then spans +-32.8 mV and LUDB's lead amplitudes
# (median lead peak-to-peak ~1.5 mV) look like other 12-lead ECGs. The files do not state it.
UNIFORM_GAIN_ADU_PER_MV = 1000.0
LUDB_FS_HZ = 500.0
LUDB_DEVICE = "Schiller Cardiovit AT-101"
LUDB_ANNOTATION_EXTENSIONS: tuple[str, ...] = ("i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6")
_PEAK_KIND: dict[str, WaveKind] = {"p": "P", "N": "QRS", "t": "T"}


@dataclass(frozen=True)
class LudbDiagnoses:
    """One row of ``ludb.csv``: the cardiologists' conclusions (labels, for evaluation only)."""

    record: int
    """LUDB record number (1-200)."""
    sex: Literal["male", "female"] | None
    """Sex of the subject."""
    age_years: float | None
    """Age in years (``>89`` in the file is reported as 90; ``None`` when not a number)."""
    rhythms: tuple[str, ...]
    """Rhythm statements, e.g. ``("Sinus bradycardia",)``."""
    electric_axis: str | None
    """Electric axis of the heart without its prefix: ``normal``, ``left axis deviation``,
    ``vertical``, ``horizontal``, ``right axis deviation``, ``none (pacemaker)``..."""
    conduction_abnormalities: tuple[str, ...]
    """E.g. ``Incomplete right bundle branch block``, ``I degree AV block``."""
    extrasystoles: tuple[str, ...]
    """Atrial/ventricular extrasystole statements."""
    hypertrophies: tuple[str, ...]
    """E.g. ``Left ventricular hypertrophy``, ``Left atrial hypertrophy``."""
    cardiac_pacing: tuple[str, ...]
    """Pacemaker statements."""
    ischemia: tuple[str, ...]
    """Ischemia / scar statements with their wall."""
    repolarization: tuple[str, ...]
    """Non-specific repolarization abnormalities (with their wall)."""
    other_states: tuple[str, ...]
    """Everything else the file lists."""


_CSV_FIELDS: dict[str, str] = {
    "Rhythms": "rhythms",
    "Conduction abnormalities": "conduction_abnormalities",
    "Extrasystolies": "extrasystoles",
    "Hypertrophies": "hypertrophies",
    "Cardiac pacing": "cardiac_pacing",
    "Ischemia": "ischemia",
    "Non-specific repolarization abnormalities": "repolarization",
    "Other states": "other_states",
}


class Ludb:
    """A LUDB folder (``RECORDS``, ``ludb.csv``, ``data/N.{hea,dat,i,ii,...,v6}``)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser()
        self.data = self.root / "data"
        if not self.data.is_dir():
            raise DatasetError(f"{self.root}: not a LUDB folder (no data/ subfolder)")
        self._diagnoses: dict[int, LudbDiagnoses] | None = None

    def __repr__(self) -> str:
        return f"Ludb({str(self.root)!r})"

    # ------------------------------------------------------------------ listing
    @property
    def record_ids(self) -> tuple[int, ...]:
        """Records the dataset lists (``RECORDS``, else ``ludb.csv``, else the headers present)."""
        records = self.root / "RECORDS"
        if records.is_file():
            ids = [int(Path(line.strip()).name) for line in records.read_text().split() if line.strip()]
        elif (self.root / "ludb.csv").is_file():
            ids = list(self.diagnoses_all())
        else:
            ids = [int(p.stem) for p in self.data.glob("*.hea") if p.stem.isdigit()]
        return tuple(sorted(ids))

    def present_ids(self) -> frozenset[int]:
        """Listed records whose header and signal files exist."""
        names = {p.name for p in self.data.iterdir()}
        return frozenset(n for n in self.record_ids if f"{n}.hea" in names and f"{n}.dat" in names)

    def missing_ids(self) -> frozenset[int]:
        return frozenset(self.record_ids) - self.present_ids()

    def annotated_ids(self) -> frozenset[int]:
        """Present records with all 12 per-lead annotation files."""
        names = {p.name for p in self.data.iterdir()}
        return frozenset(
            n for n in self.present_ids() if all(f"{n}.{ext}" in names for ext in LUDB_ANNOTATION_EXTENSIONS)
        )

    def openecg_heldout_ids(self) -> tuple[int, ...]:
        """Records listed in ``openecg_heldout_records.txt`` (the 41 the openecg delineator did not
        train on) when that file exists in the folder; empty otherwise."""
        path = self.root / "openecg_heldout_records.txt"
        if not path.is_file():
            return ()
        text = "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("#"))
        return tuple(sorted(int(t) for t in text.split() if t.isdigit()))

    def _check(self, n: int) -> Path:
        n = int(n)
        if n not in self.record_ids:
            raise RecordNotFound(f"LUDB record {n} is not listed in {self.root} (records run 1-200)")
        if n not in self.present_ids():
            raise RecordNotFound(f"LUDB record {n} is listed but its files {self.data / str(n)}.hea/.dat are absent")
        return self.data / str(n)

    # ------------------------------------------------------------------ signals
    def read(self, n: int, gain: LudbGain = "uniform") -> ECG:
        """Record ``n`` in the standard lead order (see the module docstring for ``gain``)."""
        from ._wfdb import read_wfdb, read_wfdb_header
        from ._wfdb_fast import read_samples

        base = self._check(n)
        diag = self.diagnoses(n) if (self.root / "ludb.csv").is_file() else None
        metadata = ECGMetadata(
            age_years=diag.age_years if diag else None,
            sex=diag.sex if diag else None,
            device=LUDB_DEVICE,
            patient_id=str(int(n)),
            extra=(("gain", gain),),
        )
        ecg = read_wfdb(base, source="ludb", record_id=str(int(n)), metadata=metadata)
        if gain == "header":
            return ecg
        if gain != "uniform":
            raise RecordError(f"LUDB gain must be 'uniform' or 'header', got {gain!r}")
        head = read_wfdb_header(base)
        uniform = replace(head, adc_gain=(UNIFORM_GAIN_ADU_PER_MV,) * head.n_sig, baseline=(0,) * head.n_sig)
        signal = read_samples(uniform, base, 0, ecg.n_samples)
        if ecg.lead_names != tuple(normalize_lead_name(n) for n in head.sig_name):
            raise RecordError(f"{base}: lead order changed between reads")
        return replace(ecg, signal_mv=np.ascontiguousarray(signal.T))

    # ------------------------------------------------------------------ annotations
    def delineation(self, n: int) -> Delineation:
        """Gold P/QRS/T waves per lead (source ``ludb-gold``) at 500 Hz.

        ``scored_span`` per lead runs from the first annotated onset to the last annotated offset:
        LUDB leaves the first and last beats unannotated, so only that span is complete.
        """
        base = self._check(n)
        waves: dict[str, tuple[Wave, ...]] = {}
        spans: dict[str, tuple[int, int]] = {}
        for ext in LUDB_ANNOTATION_EXTENSIONS:
            path = base.parent / f"{base.name}.{ext}"
            if not path.is_file():
                raise RecordNotFound(f"{path}: LUDB annotation file for lead {ext} of record {n} is missing")
            symbols, samples = read_wave_annotations(path)
            lead = normalize_lead_name(ext)
            lead_waves = _waves_from_symbols(symbols, samples)
            waves[lead] = lead_waves
            if lead_waves:
                spans[lead] = (min(w.onset for w in lead_waves), max(w.offset for w in lead_waves))
        return Delineation(
            fs_hz=LUDB_FS_HZ, n_samples=int(LUDB_FS_HZ * 10), waves=waves, source="ludb-gold", scored_span=spans
        )

    # ------------------------------------------------------------------ diagnoses
    def diagnoses(self, n: int) -> LudbDiagnoses:
        """The ``ludb.csv`` row of record ``n``."""
        table = self.diagnoses_all()
        if int(n) not in table:
            raise RecordNotFound(f"LUDB record {n} has no row in {self.root / 'ludb.csv'}")
        return table[int(n)]

    def diagnoses_all(self) -> dict[int, LudbDiagnoses]:
        """Every row of ``ludb.csv`` by record number."""
        if self._diagnoses is None:
            self._diagnoses = _parse_ludb_csv(self.root / "ludb.csv")
        return self._diagnoses

    def inventory(self):  # -> DatasetInventory
        from ._inventory import ludb_inventory

        return ludb_inventory(self)


# MIT annotation codes of the marks LUDB uses (wfdb ``ann_label_table``).
_WAVE_CODES: dict[int, str] = {1: "N", 24: "p", 27: "t", 39: "(", 40: ")"}
_SKIP, _NUM, _SUB, _CHN, _AUX = 59, 60, 61, 62, 63


def read_wave_annotations(path: Path) -> tuple[list[str], list[int]]:
    """Symbols and sample indices of an MIT-format annotation file holding wave marks.

    A direct decoder of the MIT format (``signal(5)``/``annot(5)``), ~50x faster than
    ``wfdb.rdann``; files with other annotation codes are handed to ``wfdb.rdann``.
    """
    data = np.fromfile(path, dtype="<u2")
    symbols: list[str] = []
    samples: list[int] = []
    time = 0
    i = 0
    while i < len(data):
        word = int(data[i])
        code, interval = word >> 10, word & 0x3FF
        i += 1
        if code == 0 and interval == 0:
            break
        if code == _SKIP:
            if i + 2 > len(data):
                raise RecordError(f"{path}: truncated annotation file (SKIP without its interval)")
            time += (int(data[i]) << 16) | int(data[i + 1])
            i += 2
        elif code == _AUX:
            i += (interval + 1) // 2
        elif code in (_NUM, _SUB, _CHN):
            continue
        elif code in _WAVE_CODES:
            time += interval
            symbols.append(_WAVE_CODES[code])
            samples.append(time)
        else:
            return _read_with_rdann(path)
    return symbols, samples


def _read_with_rdann(path: Path) -> tuple[list[str], list[int]]:
    import wfdb

    try:
        ann = wfdb.rdann(str(path.with_suffix("")), path.suffix.lstrip("."))
    except Exception as exc:
        raise RecordError(f"{path}: unreadable annotation file ({type(exc).__name__}: {exc})") from exc
    return list(ann.symbol), [int(s) for s in ann.sample]


def _waves_from_symbols(symbols: list[str], samples: list[int]) -> tuple[Wave, ...]:
    """``(`` onset, ``p``/``N``/``t`` peak, ``)`` offset triplets -> waves; unpaired marks are skipped."""
    waves: list[Wave] = []
    onset: int | None = None
    peak: int | None = None
    kind: WaveKind | None = None
    for symbol, sample in zip(symbols, samples):
        if symbol == "(":
            onset, peak, kind = sample, None, None
        elif symbol in _PEAK_KIND:
            if kind is not None:  # a second peak without boundaries: start over
                onset = None
            kind, peak = _PEAK_KIND[symbol], sample
        elif symbol == ")":
            if onset is not None and kind is not None and peak is not None and onset <= peak <= sample:
                waves.append(Wave(kind, onset, sample, peak))
            onset, peak, kind = None, None, None
    return tuple(sorted(waves, key=lambda w: w.onset))


def _lines(value: object) -> tuple[str, ...]:
    if not isinstance(value, str):
        return ()
    return tuple(line.strip().rstrip(".") for line in value.splitlines() if line.strip())


def _parse_ludb_csv(path: Path) -> dict[int, LudbDiagnoses]:
    import pandas as pd

    if not path.is_file():
        raise DatasetError(f"{path}: LUDB diagnoses file not found")
    try:
        frame = pd.read_csv(path)
    except Exception as exc:
        raise DatasetError(f"{path}: unreadable ({type(exc).__name__}: {exc})") from exc
    if "ID" not in frame.columns:
        raise DatasetError(f"{path}: no ID column; columns are {', '.join(map(str, frame.columns))}")
    table: dict[int, LudbDiagnoses] = {}
    for _, row in frame.iterrows():
        sex_text = str(row.get("Sex", "")).strip().upper()
        age_text = str(row.get("Age", "")).strip()
        match = re.match(r"^\d+(\.\d+)?$", age_text)
        axis_lines = _lines(row.get("Electric axis of the heart"))
        axis = axis_lines[0].split(":", 1)[-1].strip() if axis_lines else None
        fields = {attr: _lines(row.get(column)) for column, attr in _CSV_FIELDS.items()}
        table[int(row["ID"])] = LudbDiagnoses(
            record=int(row["ID"]),
            sex={"M": "male", "F": "female"}.get(sex_text),  # type: ignore[arg-type]
            age_years=float(age_text) if match else (90.0 if age_text.startswith(">89") else None),
            electric_axis=axis,
            **fields,
        )
    return table


