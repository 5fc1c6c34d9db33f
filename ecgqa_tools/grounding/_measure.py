"""Intervals and the frontal QRS axis of one ECG, per beat and per ECG, from a ``Delineation``.

Global (12-lead) boundaries per beat: QRS complexes of all leads are grouped into beats by time;
a beat's onset is the 20th percentile of its leads' onsets and its offset the 80th percentile of
their offsets (robust to one or two leads that start early or end late; the 12SL-style global
measurement takes the earliest onset and latest offset, which a single bad lead can drag).
Per-ECG values are medians over beats after rejecting outlier beats (further than
3 x 1.4826 x MAD, at least 20 ms, from the median). Anything that cannot be measured is ``None``
with a reason; no number is ever made up.

Normal ranges for the ECG-QA range attributes (adult resting ECG; see docs/measurements.md):

===============  ==============  =====================================================
feature          normal (ms)     source
===============  ==============  =====================================================
rr interval      600 - 1000      heart rate 60-100 bpm (AHA/ACCF/HRS 2009, Part II)
p duration       <= 120          P wave < 120 ms (AHA/ACCF/HRS 2009, Part V)
pr interval      120 - 200       AHA/ACCF/HRS 2009 (Part III, first-degree AV block > 200)
qrs duration     70 - 110        normal adult QRS <= 110 ms (AHA/ACCF/HRS 2009, Part III)
qt interval      350 - 450       uncorrected QT; common textbook limits at 60-100 bpm
qt corrected     350 - 450       QTc (Bazett) long > 450 ms (men; AHA/ACCF/HRS 2009, Part IV),
                                 short < 350 ms (Gollob 2011 short-QT criteria)
===============  ==============  =====================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

from ..errors import MeasurementError, UsageError
from ..records import MIN_DURATION_S, ECG, Delineation, Wave, require_ecg

if TYPE_CHECKING:
    from ._numeric_convention import EcgqaNumeric

RangeName = Literal["below", "within", "above"]
AxisClass = Literal["normal", "left", "right", "extreme"]
DEFAULT_AXIS_CONVENTION = "textbook"
"""Axis-class cut-offs ``measure()`` uses unless told otherwise (``AXIS_CONVENTIONS``)."""

NORMAL_RANGES_MS: dict[str, tuple[float | None, float | None]] = {
    "rr interval": (600.0, 1000.0),
    "p duration": (None, 120.0),
    "pr interval": (120.0, 200.0),
    "qrs duration": (70.0, 110.0),
    "qt interval": (350.0, 450.0),
    "qt corrected": (350.0, 450.0),
}
"""ECG-QA numeric feature -> (lower, upper) limit of the normal range in ms (None: no limit)."""

PLAUSIBLE_BOUNDS: dict[str, tuple[float, float]] = {
    "heart_rate": (20.0, 300.0),
    "p_duration": (20.0, 250.0),
    "pr_interval": (60.0, 500.0),
    "qrs_duration": (40.0, 250.0),
    "qt_interval": (200.0, 700.0),
}
"""Measurement name -> (lowest, highest) physiologically plausible per-ECG value (bpm or ms);
outside them the value is a delineation error and becomes unmeasurable (docs/measurements.md,
"Physiological plausibility (session 5)"). Chosen by hand around the normal limits; not tuned on any data."""

ONSET_PERCENTILE = 20.0
OFFSET_PERCENTILE = 80.0
MIN_LEAD_SUPPORT = 0.3
"""A global wave needs waves in at least this share of the delineated leads."""


@dataclass(frozen=True)
class Measurement:
    """One per-ECG value, or ``None`` with the reason it could not be measured."""

    name: str
    """What was measured, e.g. ``qrs_duration``."""
    value: float | None
    """The value (robust median over accepted beats), ``None`` when unmeasurable."""
    unit: str
    """``ms``, ``bpm`` or ``deg``."""
    n_beats: int = 0
    """Beats the value is based on (after outlier rejection)."""
    n_rejected: int = 0
    """Beats rejected as outliers."""
    reason: str | None = None
    """Why the value is ``None`` (or a caveat), in plain words."""

    def __str__(self) -> str:
        if self.value is None:
            return f"{self.name}: not measurable ({self.reason})"
        return f"{self.name}: {self.value:.0f} {self.unit} (median of {self.n_beats} beats)"


@dataclass(frozen=True)
class Beat:
    """Global boundaries of one beat in samples at the delineation's rate (``None`` if absent)."""

    qrs_onset: int
    """Global QRS onset."""
    qrs_offset: int
    """Global QRS offset."""
    p_onset: int | None = None
    """Global P onset of the P wave preceding this QRS."""
    p_offset: int | None = None
    """Global P offset."""
    t_offset: int | None = None
    """Global T offset following this QRS."""
    n_leads: int = 0
    """Leads in which this QRS was delineated."""


@dataclass(frozen=True)
class BeatIntervals:
    """Per-beat intervals in ms (``None`` where a wave was missing)."""

    rr_ms: float | None
    """From this beat's QRS onset to the next beat's (None for the last beat)."""
    p_duration_ms: float | None
    pr_interval_ms: float | None
    qrs_duration_ms: float
    qt_ms: float | None


@dataclass(frozen=True)
class Measurements:
    """Intervals, heart rate and QRS axis of one ECG."""

    heart_rate: Measurement
    rr_interval: Measurement
    p_duration: Measurement
    pr_interval: Measurement
    qrs_duration: Measurement
    qt_interval: Measurement
    qtc_bazett: Measurement
    qtc_fridericia: Measurement
    qrs_axis: Measurement
    """Frontal-plane QRS axis in degrees (-180, 180]."""
    axis_class: AxisClass | None
    """Class of ``qrs_axis`` under ``axis_convention`` (textbook: normal -30..90, left -90..-30,
    right 90..180, extreme -180..-90); None if no axis."""
    beats: tuple[Beat, ...] = ()
    """Global beats the values come from."""
    beat_intervals: tuple[BeatIntervals, ...] = ()
    """Per-beat intervals, one per beat."""
    source: str = ""
    """Delineation source (openecg, neurokit2, ludb-gold...)."""
    notes: tuple[str, ...] = field(default_factory=tuple)
    """Facts about the record that limit measurement (unusable leads, AF, pacing)."""
    axis_convention: str = DEFAULT_AXIS_CONVENTION
    """Name of the cut-offs ``axis_class`` uses (``AXIS_CONVENTIONS``)."""
    numeric_convention: str = "clinical"
    """Which values ``range_attributes()`` classifies: ``clinical`` (the values above, clinical
    ranges) or ``ecgqa`` (``ecgqa_numeric``: ECG-QA's own measuring convention and ranges)."""
    ecgqa_numeric: "EcgqaNumeric | None" = None
    """The six ECG-QA numeric features measured the way ECG-QA did (``measure(...,
    numeric_convention="ecgqa")``); ``None`` otherwise."""

    def numeric(self) -> dict[str, Measurement]:
        """ECG-QA numeric feature name -> the measurement it refers to."""
        return {
            "rr interval": self.rr_interval,
            "p duration": self.p_duration,
            "pr interval": self.pr_interval,
            "qrs duration": self.qrs_duration,
            "qt interval": self.qt_interval,
            "qt corrected": self.qtc_bazett,
        }

    def range_attributes(self, convention: str | None = None) -> dict[str, RangeName | None]:
        """ECG-QA numeric feature -> ``below`` / ``within`` / ``above`` its normal range, ``None``
        when unmeasurable. ``convention`` (default: ``numeric_convention``): ``clinical`` = the
        values above with ``NORMAL_RANGES_MS``; ``ecgqa`` = ``ecgqa_numeric`` with ECG-QA's ranges."""
        conv = self.numeric_convention if convention is None else convention
        if conv == "ecgqa":
            if self.ecgqa_numeric is None:
                raise MeasurementError("no ECG-QA-convention values in these measurements: measure them with "
                                       "measure(ecg, numeric_convention='ecgqa')")
            return self.ecgqa_numeric.range_attributes()
        if conv != "clinical":
            raise UsageError(f"unknown numeric convention {conv!r}; expected clinical or ecgqa")
        return {name: range_of(name, m.value) for name, m in self.numeric().items()}

    def all(self) -> tuple[Measurement, ...]:
        """Every measurement in display order."""
        return (self.heart_rate, self.rr_interval, self.p_duration, self.pr_interval,
                self.qrs_duration, self.qt_interval, self.qtc_bazett, self.qtc_fridericia,
                self.qrs_axis)

    def summary(self) -> str:
        """Human-readable lines, one per measurement, plus ranges and notes."""
        lines = [str(m) for m in self.all()]
        if self.axis_class is not None:
            lines.append(f"axis class: {self.axis_class}"
                         + ("" if self.axis_convention == DEFAULT_AXIS_CONVENTION
                            else f" ({self.axis_convention} convention)"))
        ranges = self.range_attributes()
        lines.append(f"ECG-QA ranges ({self.numeric_convention} convention): " + ", ".join(
            f"{k} {v if v else 'unmeasurable'}" for k, v in ranges.items()))
        lines.extend(f"note: {n}" for n in self.notes)
        if self.ecgqa_numeric is not None:
            lines.append(self.ecgqa_numeric.summary())
        return "\n".join(lines)


def range_of(feature: str, value_ms: float | None,
             ranges_ms: dict[str, tuple[float | None, float | None]] = NORMAL_RANGES_MS) -> RangeName | None:
    """``below`` / ``within`` / ``above`` the normal range of an ECG-QA numeric feature (bounds
    inclusive); ``ranges_ms`` = the table of ranges (default the clinical ``NORMAL_RANGES_MS``)."""
    if feature not in ranges_ms:
        raise MeasurementError(
            f"unknown numeric feature {feature!r}; expected one of {', '.join(ranges_ms)}"
        )
    if value_ms is None:
        return None
    low, high = ranges_ms[feature]
    if low is not None and value_ms < low:
        return "below"
    if high is not None and value_ms > high:
        return "above"
    return "within"


@dataclass(frozen=True)
class AxisConvention:
    """Cut-offs that turn a frontal QRS axis in degrees into normal / left / right / extreme.

    normal if ``left_deg <= angle <= right_deg``; left if ``-90 <= angle < left_deg``; right if
    ``right_deg < angle <= 180``; extreme if ``angle < -90`` (angles wrapped to (-180, 180]).
    """

    name: str
    """Convention name, a key of ``AXIS_CONVENTIONS``."""
    left_deg: float
    """Lowest normal angle in degrees (textbook -30)."""
    right_deg: float
    """Highest normal angle in degrees (textbook +90)."""
    source: str
    """Where the cut-offs come from."""

    def __post_init__(self) -> None:
        if not -90.0 < self.left_deg < self.right_deg <= 180.0:
            raise MeasurementError(
                f"axis convention {self.name!r}: need -90 < left ({self.left_deg}) < right "
                f"({self.right_deg}) <= 180 degrees")

    def classify(self, axis_deg: float) -> AxisClass:
        """Class of a frontal QRS axis in degrees under this convention."""
        if not np.isfinite(axis_deg):
            raise MeasurementError(f"axis angle must be a finite number of degrees, got {axis_deg!r}")
        a = _wrap_deg(axis_deg)
        if self.left_deg <= a <= self.right_deg:
            return "normal"
        if -90.0 <= a < self.left_deg:
            return "left"
        if a > self.right_deg:
            return "right"
        return "extreme"


def _wrap_deg(axis_deg: float) -> float:
    """Angle in (-180, 180]."""
    a = (axis_deg + 180.0) % 360.0 - 180.0
    return 180.0 if a == -180.0 else a


AXIS_CONVENTIONS: dict[str, AxisConvention] = {
    "textbook": AxisConvention(
        "textbook", -30.0, 90.0,
        "AHA/ACCF/HRS 2009 recommendations: normal -30..+90, left -30..-90, right +90..+180, "
        "extreme -90..-180; also the cut-offs ECG-QA used for its signal-derived heart axis"),
    # The two dataset conventions were fitted in session 3 by `ecgqa bench axis --fit` (peak-I-aVF
    # angles, delineation pipeline 584979571e71) with the rule committed beforehand in
    # docs/measurements.md: grid L -40..+40, R 80..120 in 5-degree steps, highest three-class
    # agreement on the development part, ties to the pair closest to -30 / +90.
    "ptbxl": AxisConvention(
        "ptbxl", 5.0, 90.0,
        "PTB-XL heart_axis labels (German Lagetyp words from Schiller device/cardiologist reports): "
        "fitted on strat_fold 1-8 at 100 Hz, 339 records, agreement 0.947 there (unique best pair)"),
    "ludb": AxisConvention(
        "ludb", 25.0, 90.0,
        "LUDB 'Electric axis of the heart' labels: fitted on OpenECG's 159 LUDB training records "
        "(154 with an axis label), agreement 0.916 there (R tied over 90/95/110/115/120; 90 is the textbook value)"),
}
"""Named label conventions (``classify_axis(..., convention=name)``). ``textbook`` is the clinical
default of ``measure()`` and of the ECG-QA answers; the dataset conventions say which class a
dataset's *labels* would give an angle (fitted on development parts only, see docs/measurements.md).
Only the left and right cut-offs were fitted: every convention calls -90..-180 degrees "extreme",
although PTB-XL and LUDB have no such class and the fitting bench counts those angles as left."""


def get_axis_convention(convention: str | AxisConvention = DEFAULT_AXIS_CONVENTION) -> AxisConvention:
    """An ``AxisConvention`` by name (``AXIS_CONVENTIONS``), or the given one unchanged."""
    if isinstance(convention, AxisConvention):
        return convention
    if convention not in AXIS_CONVENTIONS:
        raise MeasurementError(f"unknown axis convention {convention!r}; expected one of "
                               f"{', '.join(AXIS_CONVENTIONS)}")
    return AXIS_CONVENTIONS[convention]


def classify_axis(axis_deg: float, convention: str | AxisConvention = DEFAULT_AXIS_CONVENTION) -> AxisClass:
    """Class of a frontal QRS axis in degrees; ``convention`` names the cut-offs
    (``AXIS_CONVENTIONS``; default ``textbook``, the clinical AHA classes)."""
    return get_axis_convention(convention).classify(axis_deg)


# --------------------------------------------------------------------------- public API


MAX_MEASURED_SECONDS = 60.0
"""``measure`` (when it delineates), ``ecgqa measure`` and the LLM ``intervals_and_axis`` tool read at
most this many seconds of a record (the first, unless a window is asked for): a 10-minute record took
181-188 s and a 2-hour one did not finish in 200 s on the 2-core machine. Fixed a priori, not tuned:
six PTB-XL lengths, dozens of beats."""


def measured_window(ecg: ECG, start_s: float = 0.0, duration_s: float | None = None) -> tuple[ECG, str]:
    """The part of ``ecg`` that is measured: ``duration_s`` seconds from ``start_s`` (default: up to
    ``MAX_MEASURED_SECONDS``, or to the end), and a note naming that window when it is not the whole
    record (e.g. ``measured the first 60 s of 7200 s``; '' otherwise). ``UsageError`` for a start
    or duration that is not a finite number >= 0 / > 0, a duration above ``MAX_MEASURED_SECONDS``,
    or a start at or past the end, or a window shorter than ``records.MIN_DURATION_S``."""
    ecg = require_ecg(ecg, "measured_window")
    for name, value in (("start_s", start_s), ("duration_s", duration_s)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not np.isfinite(value)):
            raise UsageError(f"{name} must be a finite number of seconds, got {value!r}")
    if start_s < 0:
        raise UsageError(f"start_s must be >= 0, got {start_s}")
    if duration_s is not None and not 0 < duration_s <= MAX_MEASURED_SECONDS:
        raise UsageError(f"duration_s must be > 0 and at most {MAX_MEASURED_SECONDS:g} s (measured at once; "
                         f"measure a longer record in windows), got {duration_s}")
    if start_s >= ecg.duration_s:
        raise UsageError(f"start {start_s:g} s is at or past the end of the {ecg.duration_s:.1f} s record")
    wanted = MAX_MEASURED_SECONDS if duration_s is None else duration_s
    first = int(round(start_s * ecg.fs_hz))
    last = min(ecg.n_samples, first + int(round(wanted * ecg.fs_hz)))
    if first == 0 and last == ecg.n_samples:
        return ecg, ""
    end_s = last / ecg.fs_hz
    if (last - first) / ecg.fs_hz < MIN_DURATION_S:  # the window is short, not the record (review s8 S6)
        fix = "a smaller --start/start_s" if last == ecg.n_samples else "a longer --duration/duration_s"
        raise UsageError(f"the window {first / ecg.fs_hz:g}-{end_s:g} s of the {ecg.duration_s:.1f} s record is "
                         f"{(last - first) / ecg.fs_hz:g} s long; at least {MIN_DURATION_S:g} s is measured "
                         f"(use {fix})")
    where = (f"the first {end_s:g} s" if first == 0 else f"{first / ecg.fs_hz:g}-{end_s:g} s")
    why = (f" (at most {MAX_MEASURED_SECONDS:g} s are measured at once, MAX_MEASURED_SECONDS; another window: "
           "ecgqa measure --start/--duration, grounding.measured_window)"
           if duration_s is None and last - first < ecg.n_samples - first else "")
    return (ecg.with_signal(ecg.signal_mv[:, first:last]),
            f"measured {where} of {ecg.duration_s:.1f} s{why}; beat times are from the window's start")


def measure(ecg: ECG, delineation: Delineation | None = None,
            limb_signal: np.ndarray | None = None,
            axis_convention: str | AxisConvention = DEFAULT_AXIS_CONVENTION,
            numeric_convention: str = "clinical") -> Measurements:
    """Measure heart rate, intervals and QRS axis of ``ecg``.

    ``delineation`` defaults to ``encoders.delineate(ecg)`` (OpenECG pipeline); any source works
    (gold annotations, NeuroKit2). ``limb_signal`` optionally replaces leads I and II for the axis
    (shape (2, samples) in any common unit, e.g. LUDB's raw integers, whose per-lead header gains
    break Einthoven's law in mV). ``axis_convention`` names the cut-offs of ``axis_class``
    (``AXIS_CONVENTIONS``; default ``textbook``, the clinical AHA classes; the angle is the same
    under every convention). ``numeric_convention="ecgqa"`` also measures the six ECG-QA numeric
    features the way ECG-QA did (``measure_ecgqa``, its QRS state from this measurement's QRS) and
    makes ``range_attributes()`` use them; the clinical values stay as they are.

    Without ``delineation`` only the first ``MAX_MEASURED_SECONDS`` of a longer record are
    delineated and measured, and ``notes`` says so (``measured_window`` chooses another window).
    """
    ecg = require_ecg(ecg, "measure")
    limb_signal = _checked_limb_signal(limb_signal, ecg)
    if numeric_convention not in ("clinical", "ecgqa"):
        raise UsageError(f"unknown numeric convention {numeric_convention!r}; expected clinical or ecgqa")
    if delineation is not None and not isinstance(delineation, Delineation):
        raise UsageError(f"measure takes delineation=None (delineate with OpenECG) or a records.Delineation "
                         f"(e.g. from encoders.delineate), got {type(delineation).__name__}")
    convention = get_axis_convention(axis_convention)  # an unknown name fails before any work
    notes: list[str] = []
    rhythm = None
    unusable: dict[str, str] = {}
    if delineation is None:
        from ..encoders import delineate_detailed

        ecg, window = measured_window(ecg)
        if window:
            notes.append(window)
            limb_signal = None if limb_signal is None else limb_signal[:, :ecg.n_samples]
        result = delineate_detailed(ecg)
        delineation, rhythm, unusable = result.delineation, result.rhythm, result.unusable_leads
    else:
        from ..encoders import lead_quality, rhythm_of

        unusable = lead_quality(ecg)
        rhythm = rhythm_of(delineation)
    notes.extend(ecg.quality().amplitude_problems())  # negative/defaulted gain, microvolts, > 20 mV
    for lead, why in unusable.items():
        notes.append(f"lead {lead} not used: {why}")
    af = bool(rhythm is not None and rhythm.no_p_waves)
    if rhythm is not None and rhythm.too_few_beats:
        from ..encoders import MIN_RHYTHM_QRS

        notes.append(f"too few beats to judge the rhythm ({rhythm.n_qrs} QRS complexes; at least {MIN_RHYTHM_QRS} "
                     "needed): atrial fibrillation/flutter and RR irregularity not assessed")
    if rhythm is not None and rhythm.atrial_fibrillation:
        notes.append("atrial fibrillation/flutter detected (OpenECG codec rhythm layer, RR "
                     "irregularity): no P waves, P duration and PR not measured")
    if rhythm is not None and rhythm.paced:
        notes.append("paced rhythm detected (codec rhythm layer or pacemaker spikes): intervals "
                     "reflect paced beats" + ("; P waves not reported" if rhythm.no_p_waves else ""))
    out = measure_from_delineation(delineation, ecg, af=af, limb_signal=limb_signal,
                                   notes=tuple(notes), axis_convention=convention)
    reversal = limb_reversal_note(ecg, out.beats, delineation.fs_hz)
    if reversal:
        from dataclasses import replace as _replace

        out = _replace(out, notes=(*out.notes, reversal))
    if numeric_convention == "ecgqa":
        from dataclasses import replace

        from ._numeric_convention import measure_ecgqa

        out = replace(out, numeric_convention="ecgqa", ecgqa_numeric=measure_ecgqa(ecg, clinical=out))
    return out


MIN_REVERSAL_BEATS = 3
"""Beats with a P wave needed before ``limb_reversal_note`` says anything."""
MIN_REVERSAL_P_MV = 0.03
"""Smallest P deflection (mV) whose polarity is judged (flatter P waves are not)."""


def _deflection(x: np.ndarray, start: int, stop: int, baseline: float) -> float:
    """The largest deviation from ``baseline`` in ``x[start:stop]``, with its sign."""
    seg = x[start:stop] - baseline
    return float(seg[np.argmax(np.abs(seg))]) if seg.size else 0.0


def limb_reversal_note(ecg: ECG, beats: tuple[Beat, ...] | list[Beat], fs_hz: float) -> str | None:
    """A signal-quality note when lead I shows inverted P waves and QRS complexes while V6 shows
    upright ones (median over beats with a P wave, each deflection the largest deviation from the
    10 ms before P onset; at least ``MIN_REVERSAL_BEATS`` beats; P deflections of at least
    ``MIN_REVERSAL_P_MV``). Lead I and V6 both look leftward and normally agree; swapping the arm
    electrodes inverts lead I only (the chest leads are unchanged). Right axis deviation inverts the
    QRS in I but not the sinus P wave; dextrocardia inverts I but also loses V6's R wave. A rule fixed
    a priori from physiology, not tuned. None otherwise, and for records without I and V6."""
    if "I" not in ecg.lead_names or "V6" not in ecg.lead_names or ecg.amplitude_unit != "mV":
        return None
    ratio = ecg.fs_hz / fs_hz
    pre = max(1, int(round(0.01 * ecg.fs_hz)))
    found: dict[str, list[tuple[float, float]]] = {"I": [], "V6": []}
    for beat in beats:
        if beat.p_onset is None or beat.p_offset is None:
            continue
        p_on, p_off = int(beat.p_onset * ratio), int(beat.p_offset * ratio) + 1
        q_on, q_off = int(beat.qrs_onset * ratio), int(beat.qrs_offset * ratio) + 1
        if p_on - pre < 0 or q_off > ecg.n_samples or not p_on < p_off <= q_on < q_off:
            continue
        for lead, rows in found.items():
            x = ecg.lead(lead)
            base = float(np.median(x[p_on - pre:p_on + 1]))
            rows.append((_deflection(x, p_on, p_off, base), _deflection(x, q_on, q_off, base)))
    if len(found["I"]) < MIN_REVERSAL_BEATS:
        return None
    p_i, qrs_i = (float(np.median(v)) for v in zip(*found["I"]))
    p_v6, qrs_v6 = (float(np.median(v)) for v in zip(*found["V6"]))
    if p_i <= -MIN_REVERSAL_P_MV and qrs_i < 0 and p_v6 >= MIN_REVERSAL_P_MV and qrs_v6 > 0:
        return (f"lead I shows inverted P waves and QRS complexes while V6 shows upright ones (median over "
                f"{len(found['I'])} beats): possible left/right arm electrode reversal (or dextrocardia); check the "
                "electrodes before reading the axis or the limb leads")
    return None


def _checked_limb_signal(limb_signal: object, ecg: ECG) -> np.ndarray | None:
    """``limb_signal`` as a float (2, ecg.n_samples) array, or ``UsageError`` saying what was given."""
    if limb_signal is None:
        return None
    try:
        array = np.asarray(limb_signal, dtype=float)
    except (TypeError, ValueError):
        raise UsageError(f"limb_signal must be a numeric array of leads I and II, got {type(limb_signal).__name__}") from None
    if array.ndim != 2 or array.shape[0] != 2 or array.shape[1] != ecg.n_samples:
        raise UsageError(f"limb_signal must have shape (2, {ecg.n_samples}) (leads I and II, as many samples as the "
                         f"ECG), got shape {array.shape}")
    if not np.isfinite(array).all():
        raise UsageError("limb_signal has NaN or infinite values")
    return array


def measure_from_delineation(delineation: Delineation, ecg: ECG | None = None, af: bool = False,
                             limb_signal: np.ndarray | None = None,
                             notes: tuple[str, ...] = (),
                             axis_convention: str | AxisConvention = DEFAULT_AXIS_CONVENTION) -> Measurements:
    """Measurements from a delineation; the axis needs ``ecg`` (or ``limb_signal``);
    ``axis_convention`` as in ``measure``."""
    convention = get_axis_convention(axis_convention)
    fs = delineation.fs_hz
    ms = 1000.0 / fs
    beats = global_beats(delineation)
    per_beat = tuple(_beat_intervals(beats, ms))
    duration_s = delineation.n_samples / fs

    def collect(values: list[float | None], name: str, unit: str, missing: str) -> Measurement:
        return _robust(name, unit, values, len(beats), missing)

    if len(beats) < 2:
        why = (f"only {len(beats)} QRS complex(es) found in {duration_s:.1f} s"
               if beats else "no QRS complex found (flat, noisy or too short signal)")
        rr = Measurement("rr_interval", None, "ms", reason=why)
    else:
        rr = collect([b.rr_ms for b in per_beat], "rr_interval", "ms", "no RR interval")
    hr = (Measurement("heart_rate", 60000.0 / rr.value, "bpm", rr.n_beats, rr.n_rejected)
          if rr.value else Measurement("heart_rate", None, "bpm", reason=rr.reason))
    hr = plausible(hr)
    if hr.value is None and rr.value is not None:
        rr = Measurement("rr_interval", None, "ms", reason=hr.reason)
    if not beats:
        none = "no QRS complex found (flat, noisy or too short signal)"
        p, pr, qrs, qt = (Measurement(n, None, "ms", reason=none)
                          for n in ("p_duration", "pr_interval", "qrs_duration", "qt_interval"))
    else:
        no_p = ("atrial fibrillation/flutter or paced rhythm: no P waves to measure" if af else None)
        p = _with_coverage(collect([b.p_duration_ms for b in per_beat], "p_duration", "ms",
                                   "no P wave found before any QRS"), per_beat, "P wave", no_p)
        pr = _with_coverage(collect([b.pr_interval_ms for b in per_beat], "pr_interval", "ms",
                                    "no P wave found before any QRS"), per_beat, "P wave", no_p)
        qrs = collect([b.qrs_duration_ms for b in per_beat], "qrs_duration", "ms", "no QRS")
        qt = _with_coverage(collect([b.qt_ms for b in per_beat], "qt_interval", "ms",
                                    "no T wave end found after any QRS"), per_beat, "T wave end", None)
        p, pr, qrs, qt = (plausible(m) for m in (p, pr, qrs, qt))
    qtcb, qtcf = _qtc(qt, rr)
    axis = _axis(ecg, delineation, beats, limb_signal)
    axis_class = convention.classify(axis.value) if axis.value is not None else None
    return Measurements(hr, rr, p, pr, qrs, qt, qtcb, qtcf, axis, axis_class, tuple(beats), per_beat,
                        delineation.source, notes, convention.name)


# --------------------------------------------------------------------------- beats


def _clusters(waves: list[tuple[str, Wave]], gap: float) -> list[list[tuple[str, Wave]]]:
    """Group (lead, wave) pairs whose centres are within ``gap`` samples of the previous one."""
    waves = sorted(waves, key=lambda lw: 0.5 * (lw[1].onset + lw[1].offset))
    groups: list[list[tuple[str, Wave]]] = []
    last = -np.inf
    for lead, w in waves:
        c = 0.5 * (w.onset + w.offset)
        if c - last > gap or not groups:
            groups.append([])
        groups[-1].append((lead, w))
        last = c
    return groups


def global_beats(delineation: Delineation) -> list[Beat]:
    """Beats from the QRS complexes of all leads, with global P and T boundaries."""
    fs = delineation.fs_hz
    leads = [lead for lead, waves in delineation.waves.items() if any(w.kind == "QRS" for w in waves)]
    if not leads:
        return []
    need = max(1, int(np.ceil(MIN_LEAD_SUPPORT * len(leads))))
    qrs = [(lead, w) for lead in leads for w in delineation.lead(lead) if w.kind == "QRS"]
    beats: list[Beat] = []
    for group in _clusters(qrs, gap=0.08 * fs):
        if len({lead for lead, _ in group}) < need:
            continue
        on = int(round(np.percentile([w.onset for _, w in group], ONSET_PERCENTILE)))
        off = int(round(np.percentile([w.offset for _, w in group], OFFSET_PERCENTILE)))
        beats.append(Beat(on, max(off, on), n_leads=len({lead for lead, _ in group})))
    # P and T candidates of all leads sorted by onset, searched by bisection (long records).
    def sorted_kind(kind: str) -> tuple[np.ndarray, list[Wave]]:
        ws = sorted((w for lead in leads for w in delineation.lead(lead) if w.kind == kind),
                    key=lambda w: w.onset)
        return np.array([w.onset for w in ws], dtype=float), ws

    p_on_arr, p_waves = sorted_kind("P")
    t_on_arr, t_waves = sorted_kind("T")
    out: list[Beat] = []
    for i, b in enumerate(beats):
        prev_off = beats[i - 1].qrs_offset if i > 0 else -1
        next_on = beats[i + 1].qrs_onset if i + 1 < len(beats) else delineation.n_samples
        p_on = p_off = t_off = None
        lo = np.searchsorted(p_on_arr, max(prev_off, b.qrs_onset - 0.45 * fs), side="right")
        hi = np.searchsorted(p_on_arr, b.qrs_onset + 0.01 * fs, side="left")
        ps = [w for w in p_waves[lo:hi] if w.offset < b.qrs_onset + 0.01 * fs]
        if len(ps) >= need:
            p_on = int(round(np.percentile([w.onset for w in ps], ONSET_PERCENTILE)))
            p_off = int(round(np.percentile([w.offset for w in ps], OFFSET_PERCENTILE)))
        lo = np.searchsorted(t_on_arr, b.qrs_offset - 0.02 * fs, side="left")
        hi = np.searchsorted(t_on_arr, min(next_on, b.qrs_onset + 0.7 * fs), side="left")
        ts = [w for w in t_waves[lo:hi] if w.offset < next_on and w.offset < b.qrs_onset + 0.7 * fs]
        if len(ts) >= need:
            t_off = int(round(np.percentile([w.offset for w in ts], OFFSET_PERCENTILE)))
        out.append(Beat(b.qrs_onset, b.qrs_offset, p_on, p_off, t_off, b.n_leads))
    return out


def _beat_intervals(beats: list[Beat], ms: float) -> list[BeatIntervals]:
    out = []
    for i, b in enumerate(beats):
        rr = (beats[i + 1].qrs_onset - b.qrs_onset) * ms if i + 1 < len(beats) else None
        p = (b.p_offset - b.p_onset) * ms if b.p_onset is not None and b.p_offset is not None else None
        pr = (b.qrs_onset - b.p_onset) * ms if b.p_onset is not None else None
        qt = (b.t_offset - b.qrs_onset) * ms if b.t_offset is not None else None
        out.append(BeatIntervals(rr, p, pr, (b.qrs_offset - b.qrs_onset) * ms, qt))
    return out


# --------------------------------------------------------------------------- robust statistics


def robust_median(values: np.ndarray, floor: float = 20.0) -> tuple[float, int]:
    """Median after rejecting values further than max(3 x 1.4826 x MAD, floor) from the median;
    returns (median, number rejected)."""
    values = np.asarray(values, dtype=float)
    med = float(np.median(values))
    mad = float(np.median(np.abs(values - med))) * 1.4826
    keep = np.abs(values - med) <= max(3 * mad, floor)
    return float(np.median(values[keep])), int((~keep).sum())


def _robust(name: str, unit: str, values: list[float | None], n_beats: int, missing: str) -> Measurement:
    present = np.array([v for v in values if v is not None], dtype=float)
    if present.size == 0:
        return Measurement(name, None, unit, reason=missing)
    value, rejected = robust_median(present)
    return Measurement(name, value, unit, int(present.size) - rejected, rejected)


def plausible(m: Measurement) -> Measurement:
    """``m``, or unmeasurable when its value lies outside ``PLAUSIBLE_BOUNDS`` (reason names both)."""
    bounds = PLAUSIBLE_BOUNDS.get(m.name)
    if m.value is None or bounds is None or bounds[0] <= m.value <= bounds[1]:
        return m
    return Measurement(m.name, None, m.unit, reason=(
        f"measured {m.value:.0f} {m.unit} lies outside the physiological bounds "
        f"{bounds[0]:.0f}-{bounds[1]:.0f} {m.unit}: a delineation error, not reported"))


def _with_coverage(m: Measurement, per_beat: tuple[BeatIntervals, ...], what: str,
                   forced_reason: str | None) -> Measurement:
    """``None`` when the wave was found in fewer than half the beats (or a forced reason)."""
    if forced_reason:
        return Measurement(m.name, None, m.unit, reason=forced_reason)
    if m.value is None:
        return m
    found = m.n_beats + m.n_rejected
    if found * 2 < len(per_beat):
        return Measurement(m.name, None, m.unit, reason=(
            f"{what} delineated in only {found} of {len(per_beat)} beats (fewer than half): "
            "too few to measure"))
    return m


def _qtc(qt: Measurement, rr: Measurement) -> tuple[Measurement, Measurement]:
    if qt.value is None or rr.value is None:
        why = qt.reason if qt.value is None else f"no RR interval ({rr.reason})"
        return (Measurement("qtc_bazett", None, "ms", reason=why),
                Measurement("qtc_fridericia", None, "ms", reason=why))
    rr_s = rr.value / 1000.0
    return (Measurement("qtc_bazett", qt.value / np.sqrt(rr_s), "ms", qt.n_beats, qt.n_rejected),
            Measurement("qtc_fridericia", qt.value / np.cbrt(rr_s), "ms", qt.n_beats, qt.n_rejected))


# --------------------------------------------------------------------------- axis

AXIS_METHODS: tuple[str, ...] = (
    "area-I-II", "area-I-II-pr-baseline", "area-I-II-fixed-window", "area-I-II-median-beat",
    "peak-I-II", "peak-I-aVF", "peak-limb6", "peak-limb6-median-beat", "area-peak-limb6",
)
"""Ways to compute the frontal QRS axis (chosen on PTB-XL folds 1-8, see docs/measurements.md):

``area`` = net QRS area (sum of baseline-corrected samples), ``peak`` = net amplitude (largest
positive plus largest negative deflection, "R minus S"); ``I-II`` / ``I-aVF`` = two leads,
``limb6`` = least-squares fit of one frontal vector to all six limb leads (derived from I and II
with Einthoven's law, augmented leads at sqrt(3)/2 gain); ``area-peak-limb6`` = the circular mean
of the area and peak angles. Window = the global QRS (delineated) unless ``fixed-window`` (+-50 ms
around the QRS vector's peak); baseline = median of the 20 ms before onset unless ``pr-baseline``
(40 to 10 ms before onset); per-beat angles with a circular robust median unless ``median-beat``
(one angle from the sample-wise median beat aligned at QRS onset)."""
DEFAULT_AXIS_METHOD = "peak-I-aVF"
"""The method ``measure`` uses: net amplitude (R minus S) in leads I and aVF, the classic manual
method, chosen on PTB-XL strat_folds 1-8 (339 records at 100 Hz: agreement 0.891 vs 0.882 for the
previous ``area-I-II``; all nine candidates lie within 0.879-0.891, so the support is weak)."""

_LIMB_ANGLES_DEG = {"I": 0.0, "II": 60.0, "III": 120.0, "aVR": -150.0, "aVL": -30.0, "aVF": 90.0}
_LIMB_GAIN = {"I": 1.0, "II": 1.0, "III": 1.0, "aVR": np.sqrt(3) / 2, "aVL": np.sqrt(3) / 2,
              "aVF": np.sqrt(3) / 2}


def limb_leads(lead_i: np.ndarray, lead_ii: np.ndarray) -> dict[str, np.ndarray]:
    """The six limb leads from I and II by Einthoven's law and Goldberger's definitions."""
    lead_iii = lead_ii - lead_i
    return {"I": lead_i, "II": lead_ii, "III": lead_iii, "aVR": -(lead_i + lead_ii) / 2,
            "aVL": lead_i - lead_ii / 2, "aVF": lead_ii - lead_i / 2}


def _frontal_angle(values: dict[str, float]) -> float:
    """Angle (deg) of the frontal vector whose lead projections best fit ``values`` (least squares;
    two leads give the exact solution)."""
    names = list(values)
    a = np.array([[_LIMB_GAIN[n] * np.cos(np.radians(_LIMB_ANGLES_DEG[n])),
                   _LIMB_GAIN[n] * np.sin(np.radians(_LIMB_ANGLES_DEG[n]))] for n in names])
    (ex, ey), *_ = np.linalg.lstsq(a, np.array([values[n] for n in names]), rcond=None)
    return float(np.degrees(np.arctan2(ey, ex)))


def _net(x: np.ndarray, kind: str) -> float:
    return float(np.sum(x)) if kind == "area" else float(np.max(x) + np.min(x))


def _method_parts(method: str) -> tuple[str, tuple[str, ...], bool, bool, bool]:
    """(net kind, leads, PR baseline, fixed window, median beat) of an axis method name."""
    if method not in AXIS_METHODS:
        raise MeasurementError(f"unknown axis method {method!r}; expected one of {', '.join(AXIS_METHODS)}")
    kind = "both" if method.startswith("area-peak") else method.split("-")[0]
    if "limb6" in method:
        leads: tuple[str, ...] = tuple(_LIMB_ANGLES_DEG)
    elif "I-aVF" in method:
        leads = ("I", "aVF")
    else:
        leads = ("I", "II")
    return kind, leads, "pr-baseline" in method, "fixed-window" in method, "median-beat" in method


def qrs_windows(limb: dict[str, np.ndarray], beats: list[Beat], beats_fs_hz: float, fs: float, *,
                pr_baseline: bool = False, fixed: bool = False) -> list[tuple[int, int, slice]]:
    """(QRS start, stop, baseline slice) per complete beat, in samples of the signal at ``fs`` Hz.

    ``limb``: leads I and II (e.g. ``limb_leads``) at ``fs``; ``beats``: QRS on/offsets at
    ``beats_fs_hz``. Beats cut by the signal's ends or shorter than 3 samples are left out. The
    baseline is the 20 ms before onset, or 40-10 ms before it with ``pr_baseline``; ``fixed``
    replaces onset..offset by 100 ms around the peak of the frontal (I, aVF) vector magnitude.
    """
    ratio = fs / beats_fs_hz
    n = len(limb["I"])
    ey = (2 * limb["II"] - limb["I"]) / np.sqrt(3)
    out = []
    for b in beats:
        on, off = int(b.qrs_onset * ratio), int(b.qrs_offset * ratio) + 1
        if on < 1 or off >= n or off - on < 3:
            continue
        pre = (slice(max(0, on - int(round(0.04 * fs))), max(1, on - int(round(0.01 * fs))))
               if pr_baseline else slice(max(0, on - int(0.02 * fs)), on + 1))
        if fixed:
            mag = np.hypot(limb["I"][on:off] - np.median(limb["I"][pre]), ey[on:off] - np.median(ey[pre]))
            peak = on + int(np.argmax(mag))
            half = int(round(0.05 * fs))
            on, off = max(1, peak - half), min(n - 1, peak + half + 1)
        out.append((on, off, pre))
    return out


def axis_from_beats(ecg: ECG | None, beats: list[Beat], beats_fs_hz: float,
                    method: str = DEFAULT_AXIS_METHOD, limb_signal: np.ndarray | None = None) -> Measurement:
    """Frontal QRS axis (deg) over ``beats`` (sample indices at ``beats_fs_hz``) by ``method``
    (one of ``AXIS_METHODS``). The signal is ``limb_signal`` (leads I and II, shape (2, samples),
    at ``beats_fs_hz``) or leads I and II (or I and aVF) of ``ecg``."""
    kind, leads, pr_baseline, fixed, median_beat = _method_parts(method)
    if not beats:
        return Measurement("qrs_axis", None, "deg", reason="no QRS complex found")
    if limb_signal is not None:
        lead_i, lead_ii = np.asarray(limb_signal[0], float), np.asarray(limb_signal[1], float)
        fs_sig = beats_fs_hz
    elif ecg is not None:
        rows = {n: ecg.signal_mv[k] for k, n in enumerate(ecg.lead_names)}
        if "I" in rows and "II" in rows:
            lead_i, lead_ii = rows["I"].astype(float), rows["II"].astype(float)
        elif "I" in rows and "aVF" in rows:
            lead_i = rows["I"].astype(float)
            lead_ii = rows["aVF"].astype(float) + lead_i / 2
        else:
            return Measurement("qrs_axis", None, "deg", reason="leads I and II (or aVF) are needed")
        fs_sig = ecg.fs_hz
    else:
        return Measurement("qrs_axis", None, "deg", reason="no signal given")
    from ..encoders import lead_problem

    for name, x in (("I", lead_i), ("II", lead_ii)):
        problem = None if limb_signal is not None else lead_problem(x, fs_sig)
        if problem:
            return Measurement("qrs_axis", None, "deg", reason=f"lead {name}: {problem}")
    limb = limb_leads(lead_i, lead_ii)
    windows = qrs_windows(limb, beats, beats_fs_hz, fs_sig, pr_baseline=pr_baseline, fixed=fixed)
    if not windows:
        return Measurement("qrs_axis", None, "deg", reason="no complete QRS inside the signal")

    def angle(segments: dict[str, np.ndarray]) -> float:
        if kind != "both":
            return _frontal_angle({n: _net(segments[n], kind) for n in leads})
        a = np.radians([_frontal_angle({n: _net(segments[n], k) for n in leads}) for k in ("area", "peak")])
        return float(np.degrees(np.arctan2(np.sin(a).sum(), np.cos(a).sum())))

    if median_beat:
        dur = int(np.median([off - on for on, off, _ in windows]))
        pre_n = max(1, int(round(0.02 * fs_sig)))
        ok = [(on, pre) for on, off, pre in windows if on - pre_n >= 0 and on + dur < len(lead_i)]
        template = {n: np.median([limb[n][on:on + dur] - np.median(limb[n][pre]) for on, pre in ok], axis=0)
                    for n in leads}
        return Measurement("qrs_axis", angle(template), "deg", len(ok), 0)
    angles = [angle({n: limb[n][on:off] - np.median(limb[n][pre]) for n in leads}) for on, off, pre in windows]
    # circular robust median: rotate around the circular mean, then take the median
    rad = np.radians(angles)
    centre = np.degrees(np.arctan2(np.sin(rad).mean(), np.cos(rad).mean()))
    rel = (np.asarray(angles) - centre + 180.0) % 360.0 - 180.0
    value, rejected = robust_median(rel, floor=15.0)
    axis = (centre + value + 180.0) % 360.0 - 180.0
    return Measurement("qrs_axis", float(axis), "deg", len(angles) - rejected, rejected)


def _axis(ecg: ECG | None, delineation: Delineation, beats: list[Beat],
          limb_signal: np.ndarray | None, method: str = DEFAULT_AXIS_METHOD) -> Measurement:
    """Frontal QRS axis of the global beats (see ``AXIS_METHODS``)."""
    return axis_from_beats(ecg, beats, delineation.fs_hz, method, limb_signal)
