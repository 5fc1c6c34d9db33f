"""The ECG-QA numeric convention: the six ECG-QA numeric features measured the way ECG-QA did.

ECG-QA's below / within / above answers for RR, P duration, PR, QRS, QT and QTc were not made by a
clinician or by a 12-lead global measurement: the public dataset pipeline (``Jwoo5/fairseq-signals``,
``ptbxl_qa_pipelines/encode_ptbxl.py``; facts in docs/qa.md "How ECG-QA measured the numeric
features") measured them with NeuroKit2 on lead II of the 500 Hz PTB-XL record, per beat, and
compared per-ECG extremes with fixed normal ranges. This module is an own implementation of those
facts (no code carried over), so that answers to ECG-QA numeric questions can follow the dataset's
own measuring convention while ``measure()`` keeps the clinical measurements:

- ``nk.ecg_clean`` -> ``nk.ecg_peaks`` -> ``nk.ecg_delineate`` (library default method) on lead II;
- fewer than 7 R peaks in lead II: every feature unmeasurable;
- per beat: RR = successive R peaks (gaps >= 2 s skipped); P = P offset - P onset; PR = QRS
  (R) onset - P onset; QRS = R offset - R onset; QT = T offset - Q peak; QTc = QT / sqrt(RR before
  the beat) (Bazett, per beat); each difference counts both end samples (``+ 1`` sample);
- a beat missing either fiducial is skipped; a feature with no beat left is unmeasurable;
- per ECG: the smallest and largest per-beat values are compared with ECG-QA's ranges
  (``ECGQA_NORMAL_RANGES_MS``); how the two become one state is ``aggregation`` (chosen on the
  ECG-QA train + valid answers, docs/measurements.md "ECG-QA numeric convention").

The convention's states come per feature from ``ECGQA_FEATURE_SOURCES`` (session-7b per-feature
rule on the same train + valid answers): the median lead-II beat for RR, P, PR, QT and QTc, and for
QRS ``measure()``'s 12-lead clinical QRS duration against ECG-QA's QRS range (NeuroKit2's lead-II QRS
here is ~186 ms median and agreed with 65/181 train + valid states, the 12-lead value with 133/181).

What is not reproduced: ECG-QA also dropped a record's features when PTB-XL's *labels* say lead II
is noisy or has extra beats; answers here come from the signal only, so no label is consulted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
import numpy as np

from ..errors import MeasurementError, UsageError
from ..records import ECG, require_ecg
from ._measure import RangeName, range_of

NUMERIC_CONVENTIONS: tuple[str, ...] = ("clinical", "ecgqa")
"""``clinical``: ``measure()``'s 12-lead values with clinical ranges (the default); ``ecgqa``: this
module's lead-II NeuroKit2 values with ECG-QA's ranges."""
DEFAULT_NUMERIC_CONVENTION = "clinical"

ECGQA_NORMAL_RANGES_MS: dict[str, tuple[float | None, float | None]] = {
    "rr interval": (600.0, 1000.0),
    "p duration": (None, 120.0),
    "pr interval": (120.0, 200.0),
    "qrs duration": (60.0, 110.0),
    "qt interval": (330.0, 430.0),
    "qt corrected": (330.0 / math.sqrt(1.0), 430.0 / math.sqrt(0.6)),
}
"""ECG-QA's normal ranges (ms; bounds inclusive): RR 0.6-1.0 s, P <= 0.12 s (no lower limit), PR
0.12-0.2 s, QRS 0.06-0.11 s, QT 0.33-0.43 s, QTc 0.33 / sqrt(1.0) to 0.43 / sqrt(0.6) (= 555.1 ms)."""

ECGQA_AGGREGATIONS: tuple[str, ...] = ("any", "max", "min", "median", "mean")
"""How per-beat values become one state: ``any`` = abnormal when the smallest or the largest
per-beat value is outside the range (``above`` wins when both are); ``max`` / ``min`` / ``median`` /
``mean`` = the state of that one value."""
DEFAULT_ECGQA_AGGREGATION = "median"
"""Chosen by the session-7 protocol on the ECG-QA train + valid answers (docs/measurements.md, "ECG-QA
numeric convention"): 999/1175 implied states agree, vs 948 for the clinical default."""
ECGQA_FEATURE_SOURCES: dict[str, str] = {
    "rr interval": "ecgqa-median",
    "p duration": "ecgqa-median",
    "pr interval": "ecgqa-median",
    "qrs duration": "clinical+ecgqa-ranges",
    "qt interval": "ecgqa-median",
    "qt corrected": "ecgqa-median",
}
"""Where the ``ecgqa`` convention's state of each feature comes from (session-7b per-feature rule,
docs/measurements.md "ECG-QA numeric convention, per feature"; train + valid 1067/1175 vs 999/1175 for
``ecgqa-median`` alone): ``ecgqa-median`` = the lead-II per-beat values under ``aggregation``
(default median); ``clinical+ecgqa-ranges`` = ``measure()``'s 12-lead value at the input's own rate
against ECG-QA's range."""
ECGQA_CLINICAL_VALUE_NAMES: dict[str, str] = {"rr interval": "rr_interval", "p duration": "p_duration",
                                        "pr interval": "pr_interval", "qrs duration": "qrs_duration",
                                        "qt interval": "qt_interval", "qt corrected": "qtc_bazett"}
"""ECG-QA feature -> name of ``measure()``'s value (``Measurements`` field)."""
ECGQA_LEAD = "II"
ECGQA_FS_HZ = 500.0
"""ECG-QA measured the 500 Hz records; other rates are resampled to it unless told otherwise."""
MIN_R_PEAKS = 7
MAX_RR_S = 2.0

FEATURES: tuple[str, ...] = tuple(ECGQA_NORMAL_RANGES_MS)


@dataclass(frozen=True)
class EcgqaNumeric:
    """Per-beat values of the six ECG-QA numeric features measured under the ECG-QA convention."""

    per_beat_ms: dict[str, tuple[float, ...]]
    """Feature (``rr interval`` ... ``qt corrected``) -> per-beat values in ms (QTc: QT / sqrt(RR s),
    in ms); empty when unmeasurable."""
    reasons: dict[str, str]
    """Feature -> why lead ``lead`` gave no per-beat value (only features with none). For a feature
    whose state comes from the 12-lead value (QRS) the state may still be known: why a *state* is
    missing is ``state_reasons()``."""
    lead: str = ECGQA_LEAD
    """Lead measured."""
    fs_hz: float = ECGQA_FS_HZ
    """Rate the lead was measured at."""
    input_fs_hz: float = ECGQA_FS_HZ
    """Rate of the ECG given (resampled to ``fs_hz`` when different)."""
    n_r_peaks: int = 0
    """R peaks NeuroKit2 found in the lead."""
    aggregation: str = DEFAULT_ECGQA_AGGREGATION
    """How per-beat values become one state (``ECGQA_AGGREGATIONS``)."""
    notes: tuple[str, ...] = field(default_factory=tuple)
    """Caveats (resampling, library version)."""
    clinical_ms: dict[str, float | None] = field(default_factory=dict)
    """Feature -> ``measure()``'s 12-lead value (ms) for the features ``ECGQA_FEATURE_SOURCES`` takes
    from the clinical measurement (``None`` when unmeasurable; empty: not measured)."""
    clinical_reasons: dict[str, str] = field(default_factory=dict)
    """Feature -> why ``clinical_ms`` has no value."""

    def value_ms(self, feature: str, how: str = "median") -> float | None:
        """One per-ECG number of ``feature`` (``min``, ``max``, ``median`` or ``mean`` of the beats)."""
        _check_feature(feature)
        vals = self.per_beat_ms[feature]
        if not vals:
            return None
        funcs = {"min": np.min, "max": np.max, "median": np.median, "mean": np.mean}
        if how not in funcs:
            raise UsageError(f"unknown statistic {how!r}; expected one of {', '.join(funcs)}")
        return float(funcs[how](np.asarray(vals)))

    def range_attributes(self, aggregation: str | None = None) -> dict[str, RangeName | None]:
        """ECG-QA numeric feature -> ``below`` / ``within`` / ``above`` ECG-QA's range; ``None`` when
        unmeasurable. Default: the convention (``ECGQA_FEATURE_SOURCES``: lead-II beats under this
        object's aggregation, QRS from ``clinical_ms``); an explicit ``aggregation`` gives every
        feature from the lead-II beats under it (the session-7 candidates)."""
        if aggregation is not None:
            return {f: ecgqa_state(f, self.per_beat_ms[f], aggregation) for f in FEATURES}
        return ecgqa_convention_states(self.per_beat_ms, self.clinical_ms, self.aggregation)

    def state_reasons(self) -> dict[str, str]:
        """Feature -> why its convention state (``range_attributes()``) is None, from the source that
        state comes from (``clinical_reasons`` for the 12-lead features, ``reasons`` for the lead-II
        ones); features with a state are left out."""
        out: dict[str, str] = {}
        for f, state in self.range_attributes().items():
            if state is None:
                out[f] = (self.clinical_reasons.get(f, "12-lead value not measured")
                          if ECGQA_FEATURE_SOURCES[f].startswith("clinical") else self.reasons.get(f, "not measurable"))
        return out

    def convention_value_ms(self, feature: str) -> float | None:
        """The one value ``feature``'s convention state is decided from (``ECGQA_FEATURE_SOURCES``): the
        12-lead clinical value, or the lead-II beats under this object's aggregation."""
        _check_feature(feature)
        if ECGQA_FEATURE_SOURCES[feature].startswith("clinical"):
            return self.clinical_ms.get(feature)
        if self.aggregation == "any":  # no single value: the state looks at both extremes
            return None
        return self.value_ms(feature, self.aggregation)

    def source_of(self, feature: str) -> str:
        """Plain words for where ``feature``'s convention state comes from."""
        _check_feature(feature)
        if ECGQA_FEATURE_SOURCES[feature].startswith("clinical"):
            return "12-lead clinical measurement, ECG-QA range"
        return f"lead {self.lead} NeuroKit2 beats ({self.aggregation}), ECG-QA range"

    def summary(self) -> str:
        """One line per feature: min / median / max over beats and the state."""
        states = self.range_attributes()
        lines = [f"ECG-QA convention (NeuroKit2, lead {self.lead} at {self.fs_hz:.0f} Hz, "
                 f"state from {self.aggregation}; QRS state from the 12-lead clinical QRS):"]
        for f in FEATURES:
            if ECGQA_FEATURE_SOURCES[f].startswith("clinical"):
                v = self.clinical_ms.get(f)
                clin = (f"12-lead {v:.0f} ms" if v is not None
                        else f"12-lead not measurable ({self.clinical_reasons.get(f, 'not measured')})")
                beats = (f"; lead {self.lead} beats {self.value_ms(f, 'min'):.0f}-{self.value_ms(f, 'max'):.0f} ms "
                         "(not used for the state)" if self.per_beat_ms[f] else "")
                lines.append(f"  {f}: {clin}{beats} -> {states[f]}")
                continue
            if not self.per_beat_ms[f]:
                lines.append(f"  {f}: not measurable ({self.reasons.get(f, 'no beat')})")
                continue
            lines.append(f"  {f}: {self.value_ms(f, 'min'):.0f}-{self.value_ms(f, 'max'):.0f} ms "
                         f"(median {self.value_ms(f, 'median'):.0f}, {len(self.per_beat_ms[f])} beats) "
                         f"-> {states[f]}")
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)


def _check_feature(feature: str) -> None:
    if feature not in ECGQA_NORMAL_RANGES_MS:
        raise MeasurementError(f"unknown numeric feature {feature!r}; expected one of {', '.join(FEATURES)}")


def ecgqa_range_of(feature: str, value_ms: float | None) -> RangeName | None:
    """``below`` / ``within`` / ``above`` ECG-QA's normal range (bounds inclusive)."""
    return range_of(feature, value_ms, ECGQA_NORMAL_RANGES_MS)


def ecgqa_state(feature: str, per_beat_ms: tuple[float, ...] | list[float], aggregation: str) -> RangeName | None:
    """The state of one feature from its per-beat values under ``aggregation``."""
    if aggregation not in ECGQA_AGGREGATIONS:
        raise UsageError(f"unknown aggregation {aggregation!r}; expected one of {', '.join(ECGQA_AGGREGATIONS)}")
    _check_feature(feature)
    if len(per_beat_ms) == 0:
        return None
    vals = np.asarray(per_beat_ms, dtype=float)
    if aggregation == "any":
        hi = ecgqa_range_of(feature, float(vals.max()))
        lo = ecgqa_range_of(feature, float(vals.min()))
        return "above" if hi == "above" else "below" if lo == "below" else "within"
    value = {"max": vals.max, "min": vals.min, "median": lambda: np.median(vals), "mean": vals.mean}[aggregation]()
    return ecgqa_range_of(feature, float(value))


def ecgqa_convention_states(per_beat_ms: dict, clinical_ms: dict,
                            aggregation: str = DEFAULT_ECGQA_AGGREGATION) -> dict[str, RangeName | None]:
    """The ``ecgqa`` convention's state of each feature (``ECGQA_FEATURE_SOURCES``) from lead-II
    per-beat values (feature -> ms list) and ``measure()``'s 12-lead values (feature -> ms or None)."""
    out: dict[str, RangeName | None] = {}
    for f in FEATURES:
        if ECGQA_FEATURE_SOURCES[f].startswith("clinical"):
            out[f] = ecgqa_range_of(f, clinical_ms.get(f))
        else:
            out[f] = ecgqa_state(f, per_beat_ms.get(f, ()), aggregation)
    return out


def _clinical_values_ms(clinical) -> tuple[dict[str, float | None], dict[str, str]]:  # noqa: ANN001 - Measurements
    """(feature -> value, feature -> reason) of the features the convention takes from ``measure()``:
    a ``Measurements``, or a mapping ``ECGQA_CLINICAL_VALUE_NAMES`` value -> ms (None: unmeasurable)."""
    from collections.abc import Mapping

    values: dict[str, float | None] = {}
    reasons: dict[str, str] = {}
    for f, src in ECGQA_FEATURE_SOURCES.items():
        if src.startswith("clinical"):
            name = ECGQA_CLINICAL_VALUE_NAMES[f]
            if isinstance(clinical, Mapping):
                value, reason = clinical.get(name), "not measurable in the 12-lead measurement"
            else:
                value, reason = getattr(clinical, name).value, getattr(clinical, name).reason
            values[f] = None if value is None else float(value)
            if value is None:
                reasons[f] = reason or "not measurable"
    return values, reasons


def _nan_free(*xs: float) -> bool:
    return all(x is not None and not (isinstance(x, float) and math.isnan(x)) for x in xs)


def per_beat_from_fiducials(fid: dict[str, list[float]], r_peaks: np.ndarray, fs_hz: float) -> dict[str, list[float]]:
    """Per-beat values (ms) from NeuroKit2-style fiducial lists aligned with ``r_peaks`` (NaN = absent):
    keys ``ECG_P_Onsets``, ``ECG_P_Offsets``, ``ECG_Q_Peaks``, ``ECG_R_Onsets``, ``ECG_R_Offsets``,
    ``ECG_T_Offsets``."""
    ms = 1000.0 / fs_hz
    r = [int(x) for x in r_peaks]
    out: dict[str, list[float]] = {f: [] for f in FEATURES}
    for a, b in zip(r[:-1], r[1:]):
        if (b - a) / fs_hz < MAX_RR_S:
            out["rr interval"].append((b - a) * ms)

    def get(key: str) -> list[float]:
        return [float(x) for x in fid.get(key, [])]

    for on, off in zip(get("ECG_P_Onsets"), get("ECG_P_Offsets")):
        if _nan_free(on, off):
            out["p duration"].append((off - on + 1) * ms)
    for p_on, r_on in zip(get("ECG_P_Onsets"), get("ECG_R_Onsets")):
        if _nan_free(p_on, r_on):
            out["pr interval"].append((r_on - p_on + 1) * ms)
    for on, off in zip(get("ECG_R_Onsets"), get("ECG_R_Offsets")):
        if _nan_free(on, off):
            out["qrs duration"].append((off - on + 1) * ms)
    for j, (q, t_off) in enumerate(zip(get("ECG_Q_Peaks"), get("ECG_T_Offsets"))):
        if not _nan_free(q, t_off):
            continue
        qt_ms = (t_off - q + 1) * ms
        out["qt interval"].append(qt_ms)
        if 0 < j < len(r):
            rr_s = (r[j] - r[j - 1]) / fs_hz
            if rr_s > 0:
                out["qt corrected"].append(qt_ms / math.sqrt(rr_s))
    return out


def measure_ecgqa(ecg: ECG, *, lead: str = ECGQA_LEAD, fs_hz: float | None = ECGQA_FS_HZ,
                  aggregation: str = DEFAULT_ECGQA_AGGREGATION, clinical=None,  # noqa: ANN001
                  per_beat_only: bool = False) -> EcgqaNumeric:
    """The six ECG-QA numeric features of ``ecg`` under the ECG-QA convention (see the module doc).

    ``fs_hz``: rate to measure at (default 500 Hz, ECG-QA's; the ECG is resampled when its rate
    differs); ``None`` measures at the ECG's own rate. ``aggregation``: ``ECGQA_AGGREGATIONS``.
    ``clinical``: ``measure(ecg)`` if already computed (the QRS state comes from it,
    ``ECGQA_FEATURE_SOURCES``), or its values as a mapping ``ECGQA_CLINICAL_VALUE_NAMES`` value ->
    ms (e.g. ``{"qrs_duration": 96.0}``; a missing name or None is unmeasurable); ``None`` measures
    it here, at the ECG's own rate (12 leads: about 1.4 s per 10 s record on this machine).
    ``per_beat_only``: only the lead-II per-beat values, no 12-lead measurement (``clinical_ms``
    empty, so the clinical-sourced states are None; for callers that keep ``per_beat_ms`` only).
    Raises ``RecordError`` when the ECG has no ``lead``; a lead NeuroKit2 cannot delineate gives
    unmeasurable features with a reason, not an error.
    """
    from dataclasses import replace

    lead_ii = _measure_lead(ecg, lead=lead, fs_hz=fs_hz, aggregation=aggregation)
    if per_beat_only:
        return lead_ii
    if clinical is None:
        from ..errors import EcgqaError
        from ._measure import measure

        try:
            clinical = measure(ecg)
        except EcgqaError as exc:  # e.g. too few leads for the 12-lead measurement
            why = f"12-lead measurement failed: {exc}"
            clin = {f: None for f, s in ECGQA_FEATURE_SOURCES.items() if s.startswith("clinical")}
            return replace(lead_ii, clinical_ms=clin, clinical_reasons={f: why for f in clin})
    values, reasons = _clinical_values_ms(clinical)
    return replace(lead_ii, clinical_ms=values, clinical_reasons=reasons)


def _measure_lead(ecg: ECG, *, lead: str, fs_hz: float | None, aggregation: str) -> EcgqaNumeric:
    """The lead-II NeuroKit2 per-beat part of ``measure_ecgqa``."""
    import warnings

    from ..errors import require
    from ..records import resample

    ecg = require_ecg(ecg, "measure_ecgqa")
    if aggregation not in ECGQA_AGGREGATIONS:
        raise UsageError(f"unknown aggregation {aggregation!r}; expected one of {', '.join(ECGQA_AGGREGATIONS)}")
    if fs_hz is not None and not (50.0 <= float(fs_hz) <= 10000.0):
        raise UsageError(f"measure_ecgqa: fs_hz must be 50-10000 Hz or None, got {fs_hz}")
    ecg.lead(lead)  # RecordError naming the leads present when absent
    notes: list[str] = []
    input_fs = float(ecg.fs_hz)
    target = input_fs if fs_hz is None else float(fs_hz)
    if abs(target - input_fs) > 1e-6:
        ecg = resample(ecg, target)
        notes.append(f"resampled from {input_fs:g} to {target:g} Hz before measuring (ECG-QA measured "
                     "500 Hz records)")
    x = np.asarray(ecg.lead(lead), dtype=float)
    fs = int(round(target))
    empty = {f: () for f in FEATURES}
    if not np.all(np.isfinite(x)) or float(np.ptp(x)) == 0.0:
        why = f"lead {lead} is flat or has missing samples"
        return EcgqaNumeric(empty, {f: why for f in FEATURES}, lead, target, input_fs, 0, aggregation, tuple(notes))
    nk = require("neurokit2", "all")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            clean = nk.ecg_clean(x, sampling_rate=fs)  # type: ignore[attr-defined]
            _, rinfo = nk.ecg_peaks(clean, sampling_rate=fs)  # type: ignore[attr-defined]
            r_peaks = np.asarray(rinfo["ECG_R_Peaks"], dtype=int)
        except Exception as exc:  # NeuroKit2 raises bare errors on degenerate signals
            why = f"NeuroKit2 found no R peaks in lead {lead} ({type(exc).__name__})"
            return EcgqaNumeric(empty, {f: why for f in FEATURES}, lead, target, input_fs, 0, aggregation,
                                tuple(notes))
        if r_peaks.size < MIN_R_PEAKS:
            why = (f"only {r_peaks.size} R peaks in lead {lead} (ECG-QA's convention needs at least "
                   f"{MIN_R_PEAKS})")
            return EcgqaNumeric(empty, {f: why for f in FEATURES}, lead, target, input_fs, int(r_peaks.size),
                                aggregation, tuple(notes))
        try:
            _, fid = nk.ecg_delineate(clean, rinfo, sampling_rate=fs)  # type: ignore[attr-defined]
        except Exception as exc:
            fid = {}
            notes.append(f"NeuroKit2 delineation of lead {lead} failed ({type(exc).__name__}): only RR measured")
    per_beat = per_beat_from_fiducials(fid, r_peaks, float(fs))
    reasons = {f: f"no beat of lead {lead} had both fiducials of {f}" for f, v in per_beat.items() if not v}
    return EcgqaNumeric({f: tuple(v) for f, v in per_beat.items()}, reasons, lead, target, input_fs,
                        int(r_peaks.size), aggregation, tuple(notes))
