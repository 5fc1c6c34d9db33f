"""``EcgAttributes``: everything ECG-QA asks about one ECG, in ECG-QA's own vocabulary.

The vocabulary (statement names, superclasses, noise kinds, extra systoles, infarction stages,
heart axes, numeric-feature ranges) is the one of the official answers. ``attributes_from_ptbxl``
(in ``_ptbxl_labels``) fills it from PTB-XL labels; a signal model fills it from predictions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from ..errors import UsageError
from ._templates import LEADS, NUMERIC_FEATURES

__all__ = [
    "EcgAttributes",
    "SCP_DIAGNOSTIC",
    "SCP_FORM",
    "SCP_RHYTHM",
    "SCP_STATEMENTS",
    "SCP_SUPERCLASSES",
    "SUPERCLASS_OF",
    "NOISE_KINDS",
    "EXTRA_SYSTOLES",
    "INFARCTION_STAGES",
    "HEART_AXES",
    "CERTAIN",
    "SCP_DIAGNOSTIC_EXTRA",
    "SCP_FORM_EXTRA",
    "SCP_RHYTHM_EXTRA",
]

CERTAIN = 100.0
"""The likelihood of a certain statement (PTB-XL: 100; form/rhythm statements carry 0 = unstated)."""

# ECG-QA statement names of the PTB-XL SCP codes ECG-QA uses, by kind (scp_statements.csv order).
# Statements that are both diagnostic and form (NDT, NST_, DIG, LNGQT) are in both tuples.
SCP_DIAGNOSTIC: tuple[str, ...] = (
    "non-diagnostic t abnormalities", "non-specific st changes", "digitalis effect", "long qt-interval",
    "myocardial infarction in inferior leads", "myocardial infarction in anteroseptal leads",
    "left ventricular hypertrophy", "left anterior fascicular block", "non-specific ischemic",
    "incomplete right bundle branch block", "first degree av block",
    "non-specific intraventricular conduction disturbance (block)", "ischemic in anterolateral leads",
    "complete right bundle branch block", "complete left bundle branch block",
    "myocardial infarction in inferolateral leads", "left atrial overload/enlargement",
    "myocardial infarction in anterior leads", "myocardial infarction in anterolateral leads",
    "ischemic in inferior leads", "subendocardial injury in anteroseptal leads",
    "myocardial infarction in lateral leads", "ischemic in inferolateral leads",
    "left posterior fascicular block", "ischemic in anteroseptal leads",
    "subendocardial injury in anterolateral leads", "ischemic in lateral leads",
    "right atrial overload/enlargement", "incomplete left bundle branch block",
    "myocardial infarction in inferoposterolateral leads", "ischemic in anterior leads",
    "myocardial infarction in inferoposterior leads", "subendocardial injury in inferior leads",
    "subendocardial injury in lateral leads", "myocardial infarction in posterior leads",
    "subendocardial injury in inferolateral leads",
)
SCP_FORM: tuple[str, ...] = (
    "non-diagnostic t abnormalities", "non-specific st changes", "digitalis effect", "long qt-interval",
    "abnormal qrs", "ventricular premature complex", "non-specific st depression",
    "voltage criteria (qrs) for left ventricular hypertrophy", "q waves present", "low amplitude t-wave",
    "non-specific t-wave changes", "atrial premature complex", "prolonged pr interval", "inverted t-waves",
    "low qrs voltages in the frontal and horizontal leads", "high qrs voltage", "t-wave abnormality",
    "non-specific st elevation",
)
SCP_RHYTHM: tuple[str, ...] = (
    "sinus rhythm", "atrial fibrillation", "sinus tachycardia", "sinus arrhythmia", "sinus bradycardia",
    "normal functioning artificial pacemaker",
    "bigeminal pattern (unknown origin, supraventricular, or ventricular)", "atrial flutter",
    "supraventricular tachycardia",
)
SCP_STATEMENTS: tuple[str, ...] = tuple(dict.fromkeys(SCP_DIAGNOSTIC + SCP_FORM + SCP_RHYTHM))
"""The 63 statement names ECG-QA asks about (diagnostic, then form-only, then rhythm)."""

# PTB-XL statements ECG-QA never names in an answer but that still count for the "any ..."
# questions (any diagnostic / form / rhythm / abnormal symptom).
SCP_DIAGNOSTIC_EXTRA: tuple[str, ...] = (
    "right ventricular hypertrophy", "st-t changes compatible with ventricular aneurysm",
    "electrolytic disturbance or drug (former edis)", "wolf-parkinson-white syndrome", "septal hypertrophy",
    "third degree av block", "second degree av block",
)
SCP_FORM_EXTRA: tuple[str, ...] = ("premature complex(es)",)
SCP_RHYTHM_EXTRA: tuple[str, ...] = (
    "supraventricular arrhythmia", "paroxysmal supraventricular tachycardia",
    "trigeminal pattern (unknown origin, sv or ventricular)",
)

SCP_SUPERCLASSES: tuple[str, ...] = (
    "conduction disturbance", "hypertrophy", "myocardial infarction", "st/t change",
)
# diagnostic statement -> its PTB-XL superclass (CD, HYP, MI, STTC)
_SUPER = {
    "conduction disturbance": (
        "left anterior fascicular block", "incomplete right bundle branch block", "first degree av block",
        "non-specific intraventricular conduction disturbance (block)", "complete right bundle branch block",
        "complete left bundle branch block", "left posterior fascicular block",
        "incomplete left bundle branch block",
    ),
    "hypertrophy": (
        "left ventricular hypertrophy", "left atrial overload/enlargement", "right atrial overload/enlargement",
    ),
    "myocardial infarction": tuple(
        s for s in SCP_DIAGNOSTIC if s.startswith(("myocardial infarction in", "subendocardial injury"))
    ),
    "st/t change": (
        "non-diagnostic t abnormalities", "non-specific st changes", "digitalis effect", "long qt-interval",
        "non-specific ischemic", "ischemic in anterolateral leads", "ischemic in inferior leads",
        "ischemic in inferolateral leads", "ischemic in anteroseptal leads", "ischemic in lateral leads",
        "ischemic in anterior leads",
    ),
}
SUPERCLASS_OF: dict[str, str] = {s: sup for sup, members in _SUPER.items() for s in members}
"""Diagnostic statement name -> superclass name."""

NOISE_KINDS: tuple[str, ...] = ("static noise", "burst noise", "baseline drift", "electrodes problems")
EXTRA_SYSTOLES: tuple[str, ...] = ("extrasystoles", "ventricular extrasystoles", "supraventricular extrasystoles")
INFARCTION_STAGES: tuple[str, ...] = (
    "early stage of myocardial infarction",
    "middle stage of myocardial infarction",
    "old stage of myocardial infarction",
    "unknown stage of myocardial infarction",
)
HEART_AXES: tuple[str, ...] = (
    "normal heart axis", "left axis deviation", "right axis deviation", "extreme axis deviation",
)
_RANGE_WORDS = ("below", "within", "above")


def _frozen_map(value: Mapping | None) -> Mapping:
    return MappingProxyType(dict(value or {}))


@dataclass(frozen=True)
class EcgAttributes:
    """All attributes of one ECG that ECG-QA questions ask about (ECG-QA vocabulary).

    Statements carry a likelihood: ``100`` is certain, ``0 < x < 100`` uncertain (PTB-XL's 15, 35,
    50, 80), ``0`` means "stated, no likelihood given" (PTB-XL form and rhythm statements) and counts
    as certain. Absent statements are simply not in the mapping.
    """

    statements: Mapping[str, float] = field(default_factory=dict)
    """Statement name (``SCP_STATEMENTS``, plus ``"normal ecg"``) -> likelihood in 0..100."""
    lead_statements: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Statement name -> the leads it is reported in (``LEADS`` names, e.g. ``"aVL"``)."""
    noise: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Noise kind (``NOISE_KINDS``) -> the leads that show it; a kind absent from the map is absent."""
    extra_systoles: frozenset[str] = frozenset()
    """Subset of ``EXTRA_SYSTOLES`` (PTB-XL ``extra_beats``: ES / VES / SVES)."""
    infarction_stages: frozenset[str] = frozenset()
    """Subset of ``INFARCTION_STAGES`` (PTB-XL ``infarction_stadium1/2``)."""
    heart_axis: str | None = None
    """One of ``HEART_AXES``, or None when not known."""
    numeric: Mapping[str, str] = field(default_factory=dict)
    """Numeric feature (``NUMERIC_FEATURES``) -> ``"below"``, ``"within"`` or ``"above"`` the normal range;
    None values (unmeasurable) are dropped."""
    ecg_id: int | None = None
    """The record these attributes describe (PTB-XL ecg_id or MIMIC study_id), when known."""
    superclass_set: frozenset[str] | None = None
    """Superclasses (``SCP_SUPERCLASSES``) when given explicitly; None derives them from statements."""
    any_extra_systole: bool | None = None
    """"Any kind of extra systoles" when given explicitly; None derives it from ``extra_systoles``."""

    def __post_init__(self) -> None:
        # an unmeasurable feature (None, as measure().range_attributes() gives) is simply unknown
        object.__setattr__(self, "numeric", {k: v for k, v in dict(self.numeric).items() if v is not None})
        for name, likelihood in dict(self.statements).items():
            if not 0.0 <= float(likelihood) <= 100.0:
                raise UsageError(f"likelihood of {name!r} must be in 0..100; got {likelihood!r}")
        for feature, value in dict(self.numeric).items():
            if feature not in NUMERIC_FEATURES:
                raise UsageError(f"unknown numeric feature {feature!r}; expected one of {', '.join(NUMERIC_FEATURES)}")
            if value not in _RANGE_WORDS:
                raise UsageError(f"range of {feature!r} must be below, within or above; got {value!r}")
        for kind, leads in dict(self.noise).items():
            if kind not in NOISE_KINDS:
                raise UsageError(f"unknown noise kind {kind!r}; expected one of {', '.join(NOISE_KINDS)}")
            bad = set(leads) - set(LEADS)
            if bad:
                raise UsageError(f"unknown lead(s) {sorted(bad)} for {kind!r}; expected {', '.join(LEADS)}")
        if self.heart_axis is not None and self.heart_axis not in HEART_AXES:
            raise UsageError(f"unknown heart axis {self.heart_axis!r}; expected one of {', '.join(HEART_AXES)}")
        bad_es = set(self.extra_systoles) - set(EXTRA_SYSTOLES)
        if bad_es:
            raise UsageError(f"unknown extra systole kind(s) {sorted(bad_es)}; expected {', '.join(EXTRA_SYSTOLES)}")
        bad_stage = set(self.infarction_stages) - set(INFARCTION_STAGES)
        if bad_stage:
            raise UsageError(f"unknown infarction stage(s) {sorted(bad_stage)}; expected {', '.join(INFARCTION_STAGES)}")
        object.__setattr__(self, "statements", _frozen_map({k: float(v) for k, v in dict(self.statements).items()}))
        object.__setattr__(
            self, "lead_statements", _frozen_map({k: frozenset(v) for k, v in dict(self.lead_statements).items()})
        )
        object.__setattr__(self, "noise", _frozen_map({k: frozenset(v) for k, v in dict(self.noise).items()}))
        object.__setattr__(self, "numeric", _frozen_map(self.numeric))
        object.__setattr__(self, "extra_systoles", frozenset(self.extra_systoles))
        object.__setattr__(self, "infarction_stages", frozenset(self.infarction_stages))
        if self.superclass_set is not None:
            bad_sup = set(self.superclass_set) - set(SCP_SUPERCLASSES)
            if bad_sup:
                raise UsageError(f"unknown superclass(es) {sorted(bad_sup)}; expected {', '.join(SCP_SUPERCLASSES)}")
            object.__setattr__(self, "superclass_set", frozenset(self.superclass_set))

    # --- statements -------------------------------------------------------------------------
    def has(self, statement: str, include_uncertain: bool = True) -> bool:
        """Whether ``statement`` is present (certain, or also uncertain when asked)."""
        likelihood = self.statements.get(statement)
        if likelihood is None:
            return False
        return include_uncertain or not self.is_uncertain(statement)

    def is_uncertain(self, statement: str) -> bool:
        """True when the statement is present with a likelihood strictly between 0 and 100."""
        likelihood = self.statements.get(statement)
        return likelihood is not None and 0.0 < likelihood < CERTAIN

    def present(self, vocabulary: tuple[str, ...], include_uncertain: bool = True) -> list[str]:
        """The statements of ``vocabulary`` that are present, in vocabulary order."""
        return [s for s in vocabulary if self.has(s, include_uncertain)]

    def superclasses(self) -> list[str]:
        """Superclasses (``SCP_SUPERCLASSES`` order): ``superclass_set`` when given, else those with
        at least one present (certain or uncertain) diagnostic statement."""
        if self.superclass_set is not None:
            found = set(self.superclass_set)
        else:
            found = {SUPERCLASS_OF[s] for s in self.present(SCP_DIAGNOSTIC)}
        return [s for s in SCP_SUPERCLASSES if s in found]

    def has_any(self, kind: str, include_uncertain: bool = True) -> bool:
        """Any statement of ``kind`` (``diagnostic``, ``form``, ``rhythm``, ``abnormal``), counting the
        PTB-XL statements ECG-QA never names in answers; ``abnormal`` is any statement but sinus rhythm
        and normal ECG."""
        pools = {
            "diagnostic": SCP_DIAGNOSTIC + SCP_DIAGNOSTIC_EXTRA,
            "form": SCP_FORM + SCP_FORM_EXTRA,
            "rhythm": SCP_RHYTHM + SCP_RHYTHM_EXTRA,
        }
        if kind == "abnormal":
            pool = tuple(s for p in pools.values() for s in p if s != "sinus rhythm")
        elif kind in pools:
            pool = pools[kind]
        else:
            raise UsageError(f"unknown statement kind {kind!r}; expected diagnostic, form, rhythm or abnormal")
        return any(self.has(s, include_uncertain) for s in pool)

    def has_extra_systole(self) -> bool:
        """"Any kind of extra systoles": ``any_extra_systole`` when given, else any kind present."""
        if self.any_extra_systole is not None:
            return self.any_extra_systole
        return bool(self.extra_systoles)

    def noise_in_lead(self, lead: str) -> list[str]:
        """Noise kinds (``NOISE_KINDS`` order) reported in ``lead``."""
        return [k for k in NOISE_KINDS if lead in self.noise.get(k, frozenset())]

    def noise_kinds(self) -> list[str]:
        """Noise kinds (``NOISE_KINDS`` order) reported in at least one lead."""
        return [k for k in NOISE_KINDS if self.noise.get(k)]
