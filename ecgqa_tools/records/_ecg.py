"""The ``ECG`` type every part of ecgqa-tools passes around, and its validation."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal, Self

import numpy as np

from ..errors import RecordError, UsageError
from ._leads import STANDARD_LEADS, normalize_lead_name

MIN_FS_HZ = 50.0
MAX_FS_HZ = 10_000.0
MIN_DURATION_S = 1.0
# 24 h at 10 kHz would be 864M samples a lead: refuse anything past 24 h of signal.
MAX_DURATION_S = 24 * 3600.0

Sex = Literal["male", "female"]
AmplitudeUnit = Literal["mV", "z-score"]

# A lead whose peak-to-peak range is below this is reported as flat (a disconnected electrode).
FLAT_LEAD_PTP_MV = 0.01
# |amplitude| above this in a mV record is reported as implausible (wrong gain or artefact).
IMPLAUSIBLE_AMPLITUDE_MV = 20.0
# Median peak-to-peak over the leads above this: the values look like microvolts. A lead of an ECG in
# mV spans about 0.5-5 mV; the tallest QRS complexes (severe LVH) reach ~5-7 mV in a few leads, so a
# median over all leads above 20 mV is not an ECG in mV; a normal ECG stored in uV gives ~1000.
MICROVOLT_MEDIAN_PTP_MV = 20.0

ReadNoteKind = Literal["doubt", "info"]
"""``ReadNote.kind``: ``doubt`` = the reader assumed or followed something that can make outputs
wrong (shown as a warning); ``info`` = information only, the outputs stand (shown as a plain note)."""


class ReadNote(str):
    """One line of ``ECG.read_notes`` that carries its kind as data (``ReadNoteKind``), so outputs
    tell a plain note from a warning by ``kind``, not by how the text begins (review s9 N5): a
    reworded message cannot move between the two. ``file_rate``'s note that a caller's rate was
    ignored is ``info``; every other reader note, and any plain ``str`` note, is a ``doubt``. It is
    a ``str`` (same text, equality, hashing, JSON), so code that shows notes as text is unchanged;
    the kind survives ``dataclasses.replace``, copying and pickling (text operations return plain
    ``str``)."""

    kind: ReadNoteKind

    def __new__(cls, text: str, kind: ReadNoteKind = "doubt") -> Self:
        if kind not in ("doubt", "info"):
            raise UsageError(f"read note kind must be 'doubt' or 'info', got {kind!r}")
        note = super().__new__(cls, text)
        note.kind = kind
        return note


def read_note_kind(note: str) -> ReadNoteKind:
    """``note.kind`` for a ``ReadNote``; ``doubt`` for a plain ``str`` note (the cautious default)."""
    return note.kind if isinstance(note, ReadNote) else "doubt"


@dataclass(frozen=True)
class ECGMetadata:
    """What is known about the recording besides its samples (``None`` when unknown)."""

    age_years: float | None = None
    """Age of the patient at recording time, in years."""
    sex: Sex | None = None
    """Sex of the patient as recorded by the source."""
    device: str | None = None
    """Recording device as named by the source (e.g. ``CS-12   E`` in PTB-XL)."""
    recording_date: str | None = None
    """Recording date/time as given by the source (ISO-like string)."""
    patient_id: str | None = None
    """Patient identifier in the source dataset (used for patient-level splits)."""
    extra: tuple[tuple[str, str], ...] = ()
    """Further source-specific facts as (name, value) pairs, e.g. header comments."""
    snomed_ct_codes: tuple[int, ...] = ()
    """SNOMED CT diagnosis codes the source lists for this record (CinC 2020/2021 ``#Dx``): labels,
    for training and evaluation only, never used to answer questions about the record."""

    def get(self, name: str) -> str | None:
        """The first ``extra`` value called ``name`` (``None`` when absent)."""
        return next((value for key, value in self.extra if key == name), None)


@dataclass(frozen=True)
class ECG:
    """One ECG recording: samples in millivolts with their leads and sampling rate.

    Construct through a reader (``read_record``, ``PtbXl.read``...) or ``ECG.from_array``;
    construction validates the signal and normalises lead names.
    """

    signal_mv: np.ndarray
    """float32 samples in mV, shape (leads, samples)."""
    fs_hz: float
    """Sampling rate in Hz."""
    lead_names: tuple[str, ...]
    """Canonical lead names, one per row of ``signal_mv`` (standard order after ``to_standard_leads``)."""
    record_id: str
    """Identifier of the record within its source (e.g. PTB-XL ``ecg_id`` as a string)."""
    source: str
    """Where it came from: ``ptbxl``, ``mimic-iv-ecg``, ``ludb``, ``wfdb``, ``cinc``, ``array``, ``csv``..."""
    metadata: ECGMetadata = field(default_factory=ECGMetadata)
    """Patient and device facts where known."""
    path: str | None = None
    """File the samples were read from (without extension for WFDB), if any."""
    amplitude_unit: AmplitudeUnit = "mV"
    """Unit of ``signal_mv``: ``mV`` for every raw source; ``z-score`` for pre-normalised data
    (PTB-XL filtered subset) whose mV amplitude is lost: amplitude measurements are meaningless."""
    read_notes: tuple[str, ...] = ()
    """What the reader assumed or followed, one line each: ``doubt`` notes can change the answers
    (a negative ADC gain followed, WFDB's default gain used, a rate given by the caller for a header
    without one), ``info`` notes cannot (a caller's rate ignored because the record states its own;
    ``ReadNote.kind``, a plain ``str`` counts as ``doubt``); ``quality().problems()`` lists them all,
    so every output that shows quality findings does."""

    def __post_init__(self) -> None:
        signal = np.asarray(self.signal_mv)
        where = self.path or self.record_id
        if np.iscomplexobj(signal):
            raise RecordError(f"{where}: signal holds complex samples (dtype {signal.dtype}); an ECG is real-valued mV")
        if not np.issubdtype(signal.dtype, np.number) and signal.dtype != np.bool_:
            try:  # object/str arrays: numbers stored as objects or as number text ('1.5') are converted;
                # None or other text is not
                signal = signal.astype(np.float64)
            except (TypeError, ValueError) as exc:
                raise RecordError(f"{where}: signal is not a numeric array (dtype {signal.dtype}: {exc})") from None
        if signal.ndim != 2:
            raise RecordError(f"{where}: signal must be 2-D (leads, samples), got shape {signal.shape}")
        if signal.shape[0] != len(self.lead_names):
            raise RecordError(
                f"{where}: {signal.shape[0]} signal rows but {len(self.lead_names)} lead names"
            )
        if signal.shape[0] == 0:
            raise RecordError(f"{where}: record has no leads")
        if self.amplitude_unit not in ("mV", "z-score"):
            raise RecordError(f"{where}: amplitude unit {self.amplitude_unit!r}; expected 'mV' or 'z-score'")
        if not (MIN_FS_HZ <= float(self.fs_hz) <= MAX_FS_HZ):
            raise RecordError(
                f"{where}: sampling rate {self.fs_hz} Hz is outside the supported "
                f"{MIN_FS_HZ:g}-{MAX_FS_HZ:g} Hz"
            )
        duration_s = signal.shape[1] / float(self.fs_hz)
        if duration_s < MIN_DURATION_S:
            raise RecordError(
                f"{where}: record is {duration_s:.3f} s long; at least {MIN_DURATION_S:g} s is needed"
            )
        if duration_s > MAX_DURATION_S:
            raise RecordError(
                f"{where}: record is {duration_s / 3600:.1f} h long; at most 24 h is supported "
                "(read a window with start_s/duration_s)"
            )
        finite = np.isfinite(signal)
        if not finite.all():
            bad_rows = sorted({int(r) for r in np.nonzero(~finite)[0]})
            bad = ", ".join(self.lead_names[r] for r in bad_rows)
            raise RecordError(
                f"{where}: {int((~finite).sum())} NaN/inf samples in lead(s) {bad}"
            )
        names = tuple(normalize_lead_name(n) for n in self.lead_names)
        if len(set(names)) != len(names):
            raise RecordError(f"{where}: duplicate lead names {names}")
        object.__setattr__(self, "lead_names", names)
        object.__setattr__(self, "fs_hz", float(self.fs_hz))
        signal = np.ascontiguousarray(signal, dtype=np.float32)
        signal.setflags(write=False)
        object.__setattr__(self, "signal_mv", signal)

    @classmethod
    def from_array(
        cls,
        signal_mv: np.ndarray,
        fs_hz: float,
        lead_names: tuple[str, ...] | list[str] = STANDARD_LEADS,
        record_id: str = "array",
        source: str = "array",
        layout: Literal["leads_first", "samples_first"] = "leads_first",
        metadata: ECGMetadata | None = None,
        path: str | None = None,
        amplitude_unit: AmplitudeUnit = "mV",
        read_notes: tuple[str, ...] = (),
    ) -> "ECG":
        """Wrap a numpy array; ``layout='samples_first'`` accepts (samples, leads) arrays."""
        try:
            array = np.asarray(signal_mv, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise RecordError(f"{path or record_id}: signal is not a numeric array ({exc})") from None
        if layout == "samples_first":
            array = array.T
        return cls(
            signal_mv=array,
            fs_hz=fs_hz,
            lead_names=tuple(lead_names),
            record_id=record_id,
            source=source,
            metadata=metadata or ECGMetadata(),
            path=path,
            amplitude_unit=amplitude_unit,
            read_notes=tuple(read_notes),
        )

    @property
    def n_samples(self) -> int:
        return int(self.signal_mv.shape[1])

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs_hz

    @property
    def ignored_rate_notes(self) -> tuple[str, ...]:
        """``SignalQuality.ignored_rate_notes`` without ``quality()``'s pass over the signal."""
        return _info_notes(self.read_notes)

    def lead(self, name: str) -> np.ndarray:
        """Samples of one lead (any spelling of its name), shape (samples,)."""
        canonical = normalize_lead_name(name)
        if canonical not in self.lead_names:
            raise RecordError(
                f"{self.path or self.record_id}: no lead {name!r}; this record has "
                f"{', '.join(self.lead_names)}"
            )
        return self.signal_mv[self.lead_names.index(canonical)]

    def with_signal(self, signal_mv: np.ndarray, fs_hz: float | None = None,
                    lead_names: tuple[str, ...] | None = None) -> "ECG":
        """A copy with new samples (and optionally a new rate or leads), same identity."""
        return replace(
            self,
            signal_mv=signal_mv,
            fs_hz=self.fs_hz if fs_hz is None else fs_hz,
            lead_names=self.lead_names if lead_names is None else lead_names,
        )

    def quality(self) -> "SignalQuality":
        """Problems of a readable signal that callers should know about (never raises)."""
        ptp = np.ptp(self.signal_mv, axis=1)
        flat = tuple(n for n, a in zip(self.lead_names, ptp) if a < FLAT_LEAD_PTP_MV)
        large: tuple[str, ...] = ()
        if self.amplitude_unit == "mV":
            peak = np.abs(self.signal_mv).max(axis=1)
            large = tuple(n for n, a in zip(self.lead_names, peak) if a > IMPLAUSIBLE_AMPLITUDE_MV)
        from ._leads import STANDARD_LEADS as standard

        return SignalQuality(
            reader_notes=tuple(self.read_notes),
            median_ptp_mv=float(np.median(ptp)) if self.amplitude_unit == "mV" else None,
            flat_leads=flat,
            implausible_amplitude_leads=large,
            missing_standard_leads=tuple(n for n in standard if n not in self.lead_names),
            non_standard_leads=tuple(n for n in self.lead_names if n not in standard),
            n_leads=len(self.lead_names),
        )

    def summary(self) -> str:
        """A few human-readable lines describing the record."""
        meta = self.metadata
        facts = [
            f"record {self.record_id} ({self.source})",
            f"{len(self.lead_names)} leads: {', '.join(self.lead_names)}",
            f"{self.fs_hz:g} Hz, {self.n_samples} samples, {self.duration_s:.1f} s",
        ]
        patient = []
        if meta.age_years is not None:
            patient.append(f"age {meta.age_years:g}")
        if meta.sex is not None:
            patient.append(meta.sex)
        if meta.device:
            patient.append(f"device {meta.device.strip()}")
        if meta.recording_date:
            patient.append(f"recorded {meta.recording_date}")
        if patient:
            facts.append(", ".join(patient))
        if meta.patient_id:
            facts.append(f"patient {meta.patient_id}")
        amplitude = float(np.abs(self.signal_mv).max())
        if self.amplitude_unit == "mV":
            facts.append(f"max |amplitude| {amplitude:.2f} mV")
        else:
            facts.append(f"amplitude unit: {self.amplitude_unit} (not mV; max |value| {amplitude:.2f})")
        facts.extend(self.quality().problems())
        return "\n".join(facts)


@dataclass(frozen=True)
class SignalQuality:
    """Quality findings of a readable record: reported, not raised (see README "Errors")."""

    flat_leads: tuple[str, ...]
    """Leads whose peak-to-peak range is below 0.01 mV (disconnected or zeroed electrode)."""
    implausible_amplitude_leads: tuple[str, ...]
    """Leads with |amplitude| above 20 mV (wrong gain, saturation or artefact); mV records only."""
    missing_standard_leads: tuple[str, ...]
    """Standard leads the record does not carry (``to_standard_leads`` would derive or refuse them)."""
    non_standard_leads: tuple[str, ...]
    """Leads that are not one of the 12 standard ones (e.g. Frank ``vx``), dropped by ``to_standard_leads``."""
    n_leads: int
    """Number of leads the record carries (required: ``all_flat`` compares ``flat_leads`` with it)."""
    reader_notes: tuple[str, ...] = ()
    """``ECG.read_notes``: what the reader assumed or followed (negative or defaulted gain...)."""
    median_ptp_mv: float | None = None
    """Median over the leads of each lead's peak-to-peak range in mV (None: not a mV record)."""

    @property
    def ignored_rate_notes(self) -> tuple[str, ...]:
        """The reader notes of kind ``info`` (``ReadNote``): today only the one saying a caller's
        ``fs_hz``/``--fs`` was ignored because the record states its own rate (``file_rate``). They
        are information, not a doubt about any output: the record was read at its own, right rate.
        Outputs show them as plain notes; the other reader notes (an assumed rate, a defaulted or
        negative gain) can make outputs wrong and are warnings (review s8 S5). Told apart by
        ``ReadNote.kind``, not by wording (review s9 N5)."""
        return _info_notes(self.reader_notes)

    @property
    def microvolt_like(self) -> bool:
        """True when the values look like microvolts (``median_ptp_mv`` > ``MICROVOLT_MEDIAN_PTP_MV``)."""
        return self.median_ptp_mv is not None and self.median_ptp_mv > MICROVOLT_MEDIAN_PTP_MV

    def amplitude_problems(self) -> list[str]:
        """The findings that make amplitudes (and measurements or answers resting on them) wrong:
        the reader's notes, values that look like microvolts, leads above 20 mV."""
        lines = list(self.reader_notes)
        if self.microvolt_like:
            lines.append(f"values look like microvolts, not mV (median lead peak-to-peak {self.median_ptp_mv:.0f}; a "
                         "lead of an ECG in mV spans about 0.5-5 mV): check the units, or divide by 1000")
        if self.implausible_amplitude_leads:
            lines.append(f"implausible amplitude (>20 mV) in lead(s): {', '.join(self.implausible_amplitude_leads)}")
        return lines

    @property
    def all_flat(self) -> bool:
        """True when every lead is flat: there is no ECG signal at all (models must not read it)."""
        return bool(self.flat_leads) and len(self.flat_leads) == self.n_leads

    @property
    def ok(self) -> bool:
        """True when nothing worth reporting was found."""
        return not (self.flat_leads or self.implausible_amplitude_leads or self.missing_standard_leads
                    or self.reader_notes or self.microvolt_like)

    def problems(self) -> list[str]:
        """One human-readable line per finding."""
        lines = self.amplitude_problems()
        if self.flat_leads:
            lines.append(f"flat lead(s): {', '.join(self.flat_leads)}")
        if self.missing_standard_leads:
            lines.append(f"missing standard lead(s): {', '.join(self.missing_standard_leads)}")
        if self.non_standard_leads:
            lines.append(f"non-standard lead(s): {', '.join(self.non_standard_leads)}")
        return lines


def _info_notes(notes: tuple[str, ...]) -> tuple[str, ...]:
    """The ``info`` notes of ``notes`` (``ReadNote.kind``), in order."""
    return tuple(n for n in notes if read_note_kind(n) == "info")


RATE_TOLERANCE = 1e-3
"""Relative difference under which a caller's ``fs_hz`` and a file's own rate count as the same
(a CSV time column rounded to the microsecond)."""


def file_rate(where: str, given_hz: float | None, stored_hz: float | None,
              stored_what: str) -> tuple[float | None, str]:
    """(rate to read a file at, note). One rule for every format and record name: a rate the record
    states (WFDB header, ``.npz`` ``fs_hz``, CSV time column, a dataset record; ``stored_what`` says
    which, e.g. ``the header gives``) is used; the caller's ``fs_hz`` (``--fs``) is used only when it
    states none. A ``fs_hz`` that contradicts the stated rate is not obeyed silently (it used to be
    obeyed for some formats and ignored for others): the note (a ``ReadNote`` of kind ``info``: the
    record is read at its right rate) says it was ignored, and readers put it in ``ECG.read_notes``
    so every output shows it. A session-wide ``fs_hz`` (``ecgqa chat/mcp --fs``)
    meant for rate-less files therefore does not break records that state their own."""
    if given_hz is not None:
        try:
            given_hz = float(given_hz)
        except (TypeError, ValueError):
            raise RecordError(f"{where}: fs_hz must be a number of Hz, got {given_hz!r}") from None
        if not np.isfinite(given_hz) or given_hz <= 0:
            raise RecordError(f"{where}: fs_hz must be a positive number of Hz, got {given_hz}")
    if stored_hz is None:
        return given_hz, ""
    if given_hz is not None and abs(given_hz - stored_hz) > RATE_TOLERANCE * stored_hz:
        return float(stored_hz), ReadNote(f"fs_hz/--fs {given_hz:g} Hz ignored: {stored_what} {stored_hz:g} Hz, which is "
                                          "used (to change the rate, resample the record with records.resample)", "info")
    return float(stored_hz), ""


def require_ecg(value: object, where: str) -> ECG:
    """``value`` when it is an ``ECG``, else ``UsageError`` saying what ``where`` takes and what it got
    (a bare array or ``None`` would otherwise fail later with an ``AttributeError``)."""
    if isinstance(value, ECG):
        return value
    hint = (" (wrap an array with ECG.from_array(signal_mv, fs_hz, lead_names))"
            if isinstance(value, np.ndarray) else " (read one with records.read_record or load_example)")
    raise UsageError(f"{where} takes an ECG (ecgqa_tools.records.ECG), got {type(value).__name__}{hint}")
