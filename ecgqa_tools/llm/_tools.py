"""The toolkit's capabilities as typed tools (``TOOLS``): one registry for OpenAI, offline and MCP.

Every tool takes a record reference (see ``_records``), works from the signal, and returns a
``ToolOutput`` with provenance and the ids of the evidence items it added to the context.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from ..errors import ToolFailed
from ._context import ToolContext
from ._registry import Provenance, ToolOutput, ToolRegistry

__all__ = [
    "AgeSexEstimate",
    "AttributionEvidence",
    "CodecTokens",
    "DISEASE_NAMES",
    "DiseaseProbabilities",
    "EcgComparison",
    "EcgqaAttributes",
    "IntervalsAndAxis",
    "LeadNoise",
    "NoisePerLead",
    "RecordSummary",
    "TOOLS",
]

TOOLS = ToolRegistry()

Disease = Literal["MI", "STTC", "CD", "HYP"]
DISEASE_NAMES: dict[str, str] = {
    "MI": "myocardial infarction",
    "STTC": "ST/T change",
    "CD": "conduction disturbance",
    "HYP": "hypertrophy",
}
Lead = Literal["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
POSITIVE_THRESHOLD = 0.5


def threshold_of(scores, name: str) -> float:
    """The tuned threshold of class ``name`` of ``scores`` (any result with ``probabilities`` and
    ``thresholds`` mappings; ``POSITIVE_THRESHOLD`` where the model has none)."""
    return float(scores.thresholds.get(name, POSITIVE_THRESHOLD))


def version_of(scores, name: str) -> str:
    """The version of the model that scored class ``name``: its own where the result carries
    per-class ``versions`` (the disease CNN heads are separate models), else ``scores.version``."""
    return str(getattr(scores, "versions", {}).get(name, scores.version))


def flat_note(scores, name: str) -> str | None:
    """The flat-head note of class ``name`` of disease scores (``encoders.flat_head_note``: the head's
    output is flat at this ECG, so its probability is the head's constant output), or None: for a
    live head, and for scores that do not carry ``flat_notes`` (other models, test backends)."""
    return getattr(scores, "flat_notes", {}).get(name)


def flat_remark(scores, name: str) -> str:
    """A short remark for an evidence statement about class ``name`` when its head is flat at this
    ECG (``flat_note``), else ""."""
    if flat_note(scores, name) is None:
        return ""
    p = float(scores.probabilities[name])
    return f"the head's output is flat at this ECG: {p:.2f} is its constant output, not a graded response"


def is_present(scores, name: str) -> bool:
    """True when class ``name``'s probability is at or above its tuned threshold (absent classes: False).
    The one present-vs-threshold rule of the llm tools, the offline answerer and its adapters."""
    p = scores.probabilities.get(name)
    return p is not None and float(p) >= threshold_of(scores, name)


# ----------------------------------------------------------------------------------- outputs


_WARNINGS_DOC = ("signal-quality findings (flat, implausible or missing leads) that can make these outputs wrong; "
                 "empty when clean")


class RecordSummary(ToolOutput):
    """What the record is: leads, rate, duration, amplitude, header facts."""

    record: str = Field(description="canonical record id")
    source: str = Field(description="dataset or reader the record came from")
    leads: list[str] = Field(description="lead names in order")
    fs_hz: float = Field(description="sampling rate in Hz")
    duration_s: float = Field(description="duration in seconds")
    max_abs_amplitude_mv: float = Field(description="largest absolute sample over all leads, mV")
    flat_leads: list[str] = Field(description="leads with peak-to-peak below 0.01 mV (disconnected electrode)")
    quality_problems: list[str] = Field(description=("reader's quality findings (flat, implausible amplitude, missing "
                                                     "leads); an ignored --fs is in notes, not here"))
    header_age_years: float | None = Field(None, description="age written in the record's header, if any")
    header_sex: str | None = Field(None, description="sex written in the record's header, if any")


class DiseaseProbabilities(ToolOutput):
    """Probabilities of the four PTB-XL diagnostic superclasses."""

    record: str = Field(description="canonical record id")
    probabilities: dict[str, float] = Field(description="MI, STTC, CD, HYP -> probability in [0, 1]")
    thresholds: dict[str, float] = Field(
        default_factory=dict,
        description=f"MI, STTC, CD, HYP -> the model's tuned decision threshold (as `ecgqa classify`; {POSITIVE_THRESHOLD} where a model has none)")
    positive: list[str] = Field(description="superclasses whose probability reaches their threshold")
    warnings: list[str] = Field(default_factory=list, description=_WARNINGS_DOC)
    flat_heads: list[str] = Field(default_factory=list, description=(
        "superclasses whose head is flat at this ECG (every hidden unit inactive in every ensemble member): "
        "the probability is the head's constant output, not a graded response; each is explained in notes"))


class AttributionEvidence(ToolOutput):
    """Where the disease model looked (Integrated Gradients or another attribution method)."""

    record: str = Field(description="canonical record id")
    disease: str = Field(description="superclass explained")
    probability: float | None = Field(description="the model's probability for it")
    method: str = Field(description="attribution method")
    text: str = Field(description="plain-language evidence")
    top_leads: dict[str, float] = Field(description="up to 4 leads with the largest share of attribution")
    wave_shares: dict[str, float] = Field(description="share of attribution on P, QRS, T and elsewhere")
    warnings: list[str] = Field(default_factory=list, description=_WARNINGS_DOC)


class EcgqaAttributes(ToolOutput):
    """ECG-QA attribute classes predicted from the signal (the upper-bound attribute model)."""

    record: str = Field(description="canonical record id")
    threshold: float | None = Field(description="probability above which a class is listed as present; null: each "
                                                "class's tuned threshold (was -1 until session 8)")
    present: dict[str, float] = Field(description="classes with probability above the threshold")
    borderline: dict[str, float] = Field(description="classes below their threshold by at most 0.2")
    warnings: list[str] = Field(default_factory=list, description=_WARNINGS_DOC)


class IntervalsAndAxis(ToolOutput):
    """Heart rate, P/PR/QRS/QT/QTc and the QRS axis measured on the delineated signal."""

    record: str = Field(description="canonical record id")
    values: dict[str, float | None] = Field(description="measurement (unit in the name) -> value, null when unmeasurable")
    reasons: dict[str, str] = Field(description="why each null measurement could not be made")
    axis_class: str | None = Field(description="heart-axis class in ECG-QA words")
    ranges: dict[str, str] = Field(description="ECG-QA numeric feature -> below/within/above the normal range")


class CodecTokens(ToolOutput):
    """Discrete tokens of one lead from the openecg codec."""

    record: str = Field(description="canonical record id")
    lead: str = Field(description="lead tokenized")
    n_tokens: int = Field(description="number of tokens of the whole lead")
    tokens: list[str] = Field(description="the first tokens (up to max_tokens), symbol + duration in ms")
    details: dict[str, str] = Field(description="codec facts (vocabulary size, tokens per second...)")


class LeadNoise(BaseModel):
    """Quality of one lead."""

    lead: str = Field(description="lead name")
    noises: list[str] = Field(description="ECG-QA noise kinds flagged (empty when clean)")
    baseline_drift_mv: float = Field(description="peak-to-peak of the baseline below 0.7 Hz, mV")
    hf_residue_rms_mv: float = Field(description="median 1 s RMS of the high-frequency residue, whole lead, mV")
    burst_ratio: float = Field(description="largest over median 1 s residue RMS, whole lead")
    hf_residue_outside_qrs_mv: float = Field(description="the same residue outside the QRS complexes, mV (decides static noise)")
    burst_ratio_outside_qrs: float = Field(description="largest over median 1 s outside-QRS residue RMS (decides burst noise)")


class NoisePerLead(ToolOutput):
    """Noise and electrode problems per lead, from signal-quality indices."""

    record: str = Field(description="canonical record id")
    leads: list[LeadNoise] = Field(description="quality of each lead")
    noisy_leads: dict[str, list[str]] = Field(description="noise kind -> leads flagged with it")


class EcgComparison(ToolOutput):
    """Differences between two ECGs (first -> second) in predicted attributes and measurements."""

    record_a: str = Field(description="first (earlier) record")
    record_b: str = Field(description="second (recent) record")
    newly_detected: list[str] = Field(description="attribute classes present (tuned thresholds) in the second only")
    resolved: list[str] = Field(description="attribute classes present in the first only")
    persisting: list[str] = Field(description="attribute classes present in both")
    disease_probability_change: dict[str, float] = Field(description="superclass -> p(second) - p(first)")
    ranges_a: dict[str, str] = Field(description="numeric feature ranges of the first")
    ranges_b: dict[str, str] = Field(description="numeric feature ranges of the second")
    warnings: list[str] = Field(default_factory=list, description=_WARNINGS_DOC + " (both records)")


class AgeSexEstimate(ToolOutput):
    """Age and sex estimated from the signal by a model (not read from the header)."""

    record: str = Field(description="canonical record id")
    age_years: float | None = Field(description="estimated age in years")
    female_probability: float | None = Field(description="probability that the patient is female")
    sex: str | None = Field(description="'female' or 'male' when the probability is decisive (outside 0.4-0.6)")
    warnings: list[str] = Field(default_factory=list, description=_WARNINGS_DOC)


# ----------------------------------------------------------------------------------- helpers


def _model_input(ctx: ToolContext, record: str):
    """(reference, ECG, quality warnings) for a model, the record's quality checked once
    (``input_warnings``); ``ToolFailed`` when every lead is flat (the models would still return
    confident-looking probabilities for a flat line; ``encoders.model_input_warnings``)."""
    ref, ecg = ctx.load(record)
    return ref, ecg, list(input_warnings(ctx, ref, ecg))


def input_warnings(ctx: ToolContext, ref, ecg) -> tuple[str, ...]:
    """``encoders.model_input_warnings`` of a loaded record plus the mostly-noise warning
    (``noise_warning``), computed once per record in the session (every tool call and every
    offline answer asks again); its ``RecordError`` (every lead flat) as ``ToolFailed``; () for an
    ECG-like object without ``quality()``."""
    return ctx.cached(ref.canonical, "input_warnings", lambda: _input_warnings(ref.canonical, ecg)
                      + _length_warnings(ref.canonical, ecg) + _noise_warnings(ctx, ref, ecg))


def input_notes(ctx: ToolContext, ref, ecg) -> tuple[str, ...]:
    """``encoders.model_input_notes`` of a loaded record (a ``--fs`` ignored because the record
    states its own rate): shown as plain notes, not warnings, since the record was read right
    (review s8 S5); () for an ECG-like object without ``quality()``."""
    from ..encoders import model_input_notes
    from ..records import ECG

    if not isinstance(ecg, ECG):
        return ()
    return ctx.cached(ref.canonical, "input_notes", lambda: model_input_notes(ecg, name=ref.canonical))


def flat_head_notes(ctx: ToolContext, records: tuple[str, ...], evidence) -> tuple[str, ...]:
    """The flat-head notes (``flat_note``) of the disease heads that ``evidence`` (items of the
    ``disease_probabilities`` tool) speaks about on ``records``: what an answer resting on such a
    probability adds to its notes. Uses the session's cached disease scores."""
    notes: list[str] = []
    for name in records:
        ref, _ = ctx.load(name)
        items = [e for e in evidence if e.tool == "disease_probabilities" and e.record == ref.canonical]
        if not items:
            continue
        scores = _diseases(ctx, name)[1]
        for code in scores.probabilities:
            note = flat_note(scores, code)
            if note is not None and any(f"({code}" in e.statement for e in items):
                notes.append(note if len(records) == 1 else f"{ref.canonical}: {note}")
    return tuple(dict.fromkeys(notes))


def record_notes(ctx: ToolContext, records: tuple[str, ...]) -> tuple[str, ...]:
    """The plain reading notes of ``records`` (``input_notes``: an ignored ``--fs``), each once: the
    ``notes`` of every tool result (``ToolOutput.notes``), offline answer and agent answer."""
    notes: list[str] = []
    for name in records:
        ref, ecg = ctx.load(name)
        notes.extend(input_notes(ctx, ref, ecg))
    return tuple(dict.fromkeys(notes))


def _length_warnings(name: str, ecg) -> tuple[str, ...]:
    """A record shorter than the models' 10 s is zero-padded; of a longer one they read the middle 10 s
    (the warnings ``classify`` gives, review s8 S2)."""
    from ..encoders import long_record_warning, short_record_warning

    duration = getattr(ecg, "duration_s", None)
    if duration is None:
        return ()
    warnings = (short_record_warning(name, duration, "the disease, attribute and age/sex models read"),
                long_record_warning(name, duration))
    return tuple(w for w in warnings if w)


MIN_NOISY_LEADS = 10
"""Static noise in at least this many leads (or in every lead of a shorter record) gives the
mostly-noise warning (rule fixed a priori, docs/llm.md "Mostly-noise records")."""


def noise_warning(quality, name: str) -> str | None:
    """The mostly-noise warning of a record from its per-lead quality (``_quality.lead_quality``),
    or None: static noise flagged in at least ``MIN_NOISY_LEADS`` leads, or in all of fewer."""
    from ._quality import QUALITY_VERSION

    leads = list(quality)
    noisy = [q.lead for q in leads if "static noise" in q.noises]
    if not leads or len(noisy) < min(MIN_NOISY_LEADS, len(leads)):
        return None
    return (f"{name}: static noise flagged in {len(noisy)} of {len(leads)} leads (signal-quality heuristic "
            f"v{QUALITY_VERSION}): noise throughout the recording can make model outputs and measurements wrong")


def _noise_warnings(ctx: ToolContext, ref, ecg) -> tuple[str, ...]:
    from ..records import ECG

    if not isinstance(ecg, ECG):
        return ()
    warning = noise_warning(_lead_quality(ctx, ref, ecg), ref.canonical)
    return (warning,) if warning else ()


def _input_warnings(name: str, ecg) -> tuple[str, ...]:
    from ..encoders import model_input_warnings
    from ..errors import RecordError
    from ..records import ECG

    if not isinstance(ecg, ECG):
        return ()
    try:
        return model_input_warnings(ecg, name=name)
    except RecordError as exc:
        raise ToolFailed(str(exc)) from None


def _diseases(ctx: ToolContext, record: str):
    """(reference, disease scores, quality warnings)."""
    ref, ecg, warnings = _model_input(ctx, record)
    return ref, ctx.cached(ref.canonical, "diseases", lambda: ctx.backend.predict_diseases(ecg)), warnings


def _attributes(ctx: ToolContext, record: str):
    """(reference, attribute scores, quality warnings)."""
    ref, ecg, warnings = _model_input(ctx, record)
    return ref, ctx.cached(ref.canonical, "attributes", lambda: ctx.backend.predict_attributes(ecg)), warnings


NUMERIC_CONVENTIONS = ("clinical", "ecgqa")


def use_numeric_convention(ctx: ToolContext, convention: str) -> None:
    """Make ``intervals_and_axis`` (and the answers built on it) give ECG-QA numeric-feature ranges
    under ``convention``: ``clinical`` (default: the 12-lead values with clinical ranges) or
    ``ecgqa`` (ECG-QA's own measuring convention, ``grounding.measure_ecgqa``; the clinical values
    stay in ``values`` next to the lead-II per-beat extremes, so an answer can cite both)."""
    if convention not in NUMERIC_CONVENTIONS:
        from ..errors import UsageError

        raise UsageError(f"unknown numeric convention {convention!r}; expected clinical or ecgqa")
    ctx.numeric_convention = convention  # type: ignore[attr-defined]


def numeric_convention_of(ctx: ToolContext) -> str:
    """The numeric convention of a tool session (``clinical`` unless ``use_numeric_convention`` set one)."""
    return getattr(ctx, "numeric_convention", "clinical")


def _with_ecgqa_convention(result, ecg):
    """``result`` with its numeric ranges from the ECG-QA convention, the value each range was decided
    from (``ecgqa_<feature>_ms``) and the lead-II per-beat extremes (``ecgqa_<feature>_min_ms`` /
    ``_max_ms``) added to its values. The clinical-sourced states (QRS) come from ``result`` itself,
    the 12-lead measurement the tool already made with its delineator: not measured again."""
    from dataclasses import replace

    from ..errors import EcgqaError
    from ..grounding import ECGQA_CLINICAL_VALUE_NAMES, measure_ecgqa

    values, reasons = dict(result.values), dict(result.reasons)
    clinical = {name: values.get(f"{name}_ms") for name in ECGQA_CLINICAL_VALUE_NAMES.values()}
    try:
        m = measure_ecgqa(ecg, clinical=clinical)
    except EcgqaError as exc:  # e.g. no lead II: no numeric range under this convention
        for feature in ("rr interval", "p duration", "pr interval", "qrs duration", "qt interval", "qt corrected"):
            reasons[f"ecgqa_{feature.replace(' ', '_')}_ms"] = str(exc)
        return replace(result, ranges={}, reasons=reasons, method=f"{result.method} + ECG-QA convention")
    state_reasons = m.state_reasons()
    for feature, beats in m.per_beat_ms.items():
        key = f"ecgqa_{feature.replace(' ', '_')}"
        values[f"{key}_ms"] = m.convention_value_ms(feature)
        if values[f"{key}_ms"] is None:
            reasons[f"{key}_ms"] = state_reasons.get(feature, "not measurable")
        for how in ("min", "max"):
            values[f"{key}_{how}_ms"] = m.value_ms(feature, how) if beats else None
            if not beats:
                reasons[f"{key}_{how}_ms"] = m.reasons.get(feature, "not measurable")
    ranges = {f: f"{w} the normal range" for f, w in m.range_attributes().items() if w}
    return replace(result, values=values, reasons=reasons, ranges=ranges,
                   method=f"{result.method} + ECG-QA convention (NeuroKit2, lead {m.lead}, {m.fs_hz:g} Hz, "
                          f"{m.aggregation} beat)")


def _measurement(ctx: ToolContext, record: str, method: str = "openecg"):
    from dataclasses import replace

    from ..grounding import measured_window
    from ..records import ECG

    ref, whole = ctx.load(record)
    ecg, window_note = measured_window(whole) if isinstance(whole, ECG) else (whole, "")
    note = f"; {window_note}" if window_note else ""

    def measure():
        result = ctx.backend.measure(ecg, method)
        return replace(result, method=result.method + note) if note else result

    result = ctx.cached(ref.canonical, f"measure:{method}", measure)
    if numeric_convention_of(ctx) == "ecgqa":
        result = ctx.cached(ref.canonical, f"measure:{method}:ecgqa", lambda: _with_ecgqa_convention(result, ecg))
    return ref, result


def _quality(ctx: ToolContext, record: str):
    ref, ecg = ctx.load(record)
    return ref, _lead_quality(ctx, ref, ecg)


def _lead_quality(ctx: ToolContext, ref, ecg):
    """``_quality.lead_quality`` of a loaded record, once per record in the session."""
    from ._quality import lead_quality

    return ctx.cached(ref.canonical, "quality", lambda: lead_quality(ecg.signal_mv, ecg.fs_hz, ecg.lead_names))


def _present(scores) -> set[str]:
    """Classes at or above the model's tuned threshold (0.5 where it has none)."""
    return {k for k in scores.probabilities if is_present(scores, k)}


def _quantity(name: str, value: float) -> str:
    """'qrs_duration_ms', 100 -> 'qrs duration 100 ms' (unit taken from the name's suffix)."""
    label, _, unit = name.rpartition("_")
    unit = {"deg": "degrees"}.get(unit, unit)
    return f"{label.replace('_', ' ')} {value:g} {unit}" if label else f"{name} {value:g}"


def _fmt(value: float) -> str:
    return f"{value:.2f}"


# ------------------------------------------------------------------------------------- tools


@TOOLS.tool
def record_summary(ctx: ToolContext, record: str) -> RecordSummary:
    """Describe an ECG record: its leads, sampling rate, duration, amplitude and quality problems (flat leads, implausible amplitudes, missing leads).

    Args:
        record: The ECG to describe: a bundled example name (e.g. 'ptbxl-00473'), 'ptbxl:<ecg_id>', 'ludb:<n>', or a record path inside the data roots.
    """
    import numpy as np

    from ..records import read_note_kind

    ref, ecg = ctx.load(record)
    prov = Provenance(source="record reader", version="1", record=ref.canonical)
    quality = ecg.quality()
    flat = list(quality.flat_leads)
    out = RecordSummary(
        record=ref.canonical, source=ecg.source, leads=list(ecg.lead_names), fs_hz=ecg.fs_hz,
        duration_s=round(ecg.duration_s, 3), max_abs_amplitude_mv=round(float(np.abs(ecg.signal_mv).max()), 3),
        flat_leads=flat, quality_problems=[p for p in quality.problems() if read_note_kind(p) != "info"],
        header_age_years=ecg.metadata.age_years, header_sex=ecg.metadata.sex,
        provenance=[prov], evidence_ids=[], notes=list(record_notes(ctx, (record,))),
    )
    statement = (
        f"{ref.canonical}: {len(ecg.lead_names)} leads, {ecg.fs_hz:g} Hz, {ecg.duration_s:.1f} s"
        + (f"; flat leads {', '.join(flat)}" if flat else "")
    )
    out.evidence_ids.append(ctx.add_evidence("record_summary", statement, prov))
    return out


@TOOLS.tool
def disease_probabilities(ctx: ToolContext, record: str) -> DiseaseProbabilities:
    """Probabilities of myocardial infarction (MI), ST/T change (STTC), conduction disturbance (CD) and hypertrophy (HYP) from the lead-wise disease CNNs.

    Args:
        record: The ECG to score: a bundled example name, 'ptbxl:<ecg_id>', 'ludb:<n>', or a record path inside the data roots.
    """
    ref, scores, warnings = _diseases(ctx, record)
    probabilities = {k: round(float(v), 4) for k, v in scores.probabilities.items()}
    thresholds = {k: round(threshold_of(scores, k), 4) for k in probabilities}
    positive = sorted(_present(scores), key=list(probabilities).index)
    # each head is its own model: its evidence names its own version
    provs = {k: Provenance(source=scores.model, version=version_of(scores, k), record=ref.canonical)
             for k in probabilities}
    flat = [k for k in probabilities if flat_note(scores, k) is not None]
    out = DiseaseProbabilities(
        record=ref.canonical, probabilities=probabilities, thresholds=thresholds, positive=positive,
        warnings=warnings, provenance=list({p.version: p for p in provs.values()}.values()) or
        [Provenance(source=scores.model, version=scores.version, record=ref.canonical)], evidence_ids=[],
        notes=list(record_notes(ctx, (record,))) + [flat_note(scores, k) for k in flat], flat_heads=flat,
    )
    for disease, p in probabilities.items():
        call = "positive" if disease in positive else "negative"
        remark = flat_remark(scores, disease)
        if remark:
            call += f"; {remark}"
        statement = (f"{DISEASE_NAMES.get(disease, disease)} ({disease}) probability {_fmt(p)} "
                     f"(threshold {_fmt(thresholds[disease])}: {call}) on {ref.canonical}")
        out.evidence_ids.append(ctx.add_evidence("disease_probabilities", statement, provs[disease]))
    return out


@TOOLS.tool
def attribution_evidence(
    ctx: ToolContext, record: str, disease: Disease, method: Literal["ig", "gradshap", "saliency"] = "ig"
) -> AttributionEvidence:
    """Explain a disease model's output on an ECG: which leads and which waves (P, QRS, T) drove it.

    Args:
        record: The ECG to explain: a bundled example name, 'ptbxl:<ecg_id>', 'ludb:<n>', or a record path inside the data roots.
        disease: Superclass whose model is explained: MI, STTC, CD or HYP.
        method: Attribution method: 'ig' (Integrated Gradients, default), 'gradshap' or 'saliency'.
    """
    ref, ecg, warnings = _model_input(ctx, record)
    result = ctx.cached(ref.canonical, f"explain:{disease}:{method}", lambda: ctx.backend.explain(ecg, disease, method))
    prov = Provenance(source=f"{result.model} + {method} attribution", version=result.version, record=ref.canonical)
    top = dict(sorted(result.lead_shares.items(), key=lambda kv: -kv[1])[:4])
    out = AttributionEvidence(
        record=ref.canonical, disease=disease, probability=result.probability, method=method, text=result.text,
        top_leads={k: round(float(v), 3) for k, v in top.items()},
        wave_shares={k: round(float(v), 3) for k, v in result.wave_shares.items()},
        warnings=warnings, provenance=[prov], evidence_ids=[], notes=list(record_notes(ctx, (record,))),
    )
    out.evidence_ids.append(ctx.add_evidence("attribution_evidence", f"{disease} on {ref.canonical}: {result.text}", prov))
    return out


@TOOLS.tool
def ecgqa_attributes(ctx: ToolContext, record: str,
                     threshold: Annotated[float, Field(ge=0.05, le=0.95)] | None = None) -> EcgqaAttributes:
    """ECG-QA attribute classes (diagnoses, rhythm, form, axis, noise, numeric-feature ranges) predicted from the signal by the attribute model, with their probabilities.

    Args:
        record: The ECG to analyse: a bundled example name, 'ptbxl:<ecg_id>', 'ludb:<n>', or a record path inside the data roots.
        threshold: Probability above which a class counts as present (0.05-0.95); omit it to use the model's tuned per-class thresholds.
    """
    ref, scores, warnings = _attributes(ctx, record)
    prov = Provenance(source=scores.model, version=scores.version, record=ref.canonical)

    def cut(name: str) -> float:
        return threshold if threshold is not None else threshold_of(scores, name)

    ranked = sorted(scores.probabilities.items(), key=lambda kv: -kv[1])
    present = {k: round(float(v), 3) for k, v in ranked if v >= cut(k) and (threshold is None or v > threshold)}
    borderline = {k: round(float(v), 3) for k, v in ranked if k not in present and cut(k) - 0.2 <= v}
    out = EcgqaAttributes(
        record=ref.canonical, threshold=threshold, present=present,
        borderline=borderline, warnings=warnings, provenance=[prov], evidence_ids=[], notes=list(record_notes(ctx, (record,))),
    )
    for name, p in present.items():
        out.evidence_ids.append(ctx.add_evidence(
            "ecgqa_attributes", f"'{name}' predicted with probability {_fmt(p)} (threshold {_fmt(cut(name))}) on {ref.canonical}", prov))
    if not present:  # "nothing reached the threshold" is a result the answer can rest on too
        where = f"threshold {_fmt(threshold)}" if threshold is not None else "its tuned threshold"
        top = f"; highest '{ranked[0][0]}' {_fmt(ranked[0][1])}" if ranked else ""
        out.evidence_ids.append(ctx.add_evidence(
            "ecgqa_attributes", f"no attribute class at or above {where}{top} on {ref.canonical}", prov))
    return out


@TOOLS.tool
def intervals_and_axis(
    ctx: ToolContext, record: str, method: Literal["openecg", "neurokit2"] = "openecg"
) -> IntervalsAndAxis:
    """Measure heart rate, RR, P duration, PR, QRS, QT, QTc (Bazett, Fridericia) and the QRS axis on the delineated signal, with each value's normal range.

    Args:
        record: The ECG to measure: a bundled example name, 'ptbxl:<ecg_id>', 'ludb:<n>', or a record path inside the data roots.
        method: Delineator that finds the P/QRS/T boundaries: 'openecg' (default) or 'neurokit2'.
    """
    ref, result = _measurement(ctx, record, method)
    prov = Provenance(source=f"measurements ({result.method})", version=result.version, record=ref.canonical)
    values = {k: (None if v is None else round(float(v), 1)) for k, v in result.values.items()}
    out = IntervalsAndAxis(
        record=ref.canonical, values=values, reasons=dict(result.reasons), axis_class=result.axis_class,
        ranges=dict(result.ranges), provenance=[prov], evidence_ids=[], notes=list(record_notes(ctx, (record,))),
    )
    for name, value in values.items():
        if value is not None:
            out.evidence_ids.append(ctx.add_evidence("intervals_and_axis", f"{_quantity(name, value)} on {ref.canonical}", prov))
    for feature, where in result.ranges.items():
        out.evidence_ids.append(ctx.add_evidence("intervals_and_axis", f"{feature} is {where} on {ref.canonical}", prov))
    if result.axis_class:
        out.evidence_ids.append(ctx.add_evidence("intervals_and_axis", f"heart axis: {result.axis_class} on {ref.canonical}", prov))
    unmeasured = [f"{name.rpartition('_')[0].replace('_', ' ') or name} ({result.reasons.get(name, 'no reason given')})"
                  for name, value in values.items() if value is None]
    if unmeasured:  # why a value is missing is a result too (e.g. no QRS found on a flat record)
        out.evidence_ids.append(ctx.add_evidence(
            "intervals_and_axis", f"not measurable on {ref.canonical}: {'; '.join(unmeasured)}", prov))
    return out


@TOOLS.tool
def codec_tokens(ctx: ToolContext, record: str, lead: Lead = "II",
                 max_tokens: Annotated[int, Field(ge=1, le=512)] = 64) -> CodecTokens:
    """Tokenize one lead with the OpenECG codec: run-length tokens (symbol + ms: '_' isoelectric, 'p' P wave, 'q'/'r'/'s' QRS parts, 'w' wide QRS, 't' T wave), beat types and rhythm runs.

    Args:
        record: The ECG to tokenize: a bundled example name, 'ptbxl:<ecg_id>', 'ludb:<n>', or a record path inside the data roots.
        lead: Lead to tokenize, one of the 12 standard leads (default II).
        max_tokens: How many of the first tokens to return (1-512, default 64).
    """
    ref, ecg = ctx.load(record)
    result = ctx.cached(ref.canonical, f"tokens:{lead}", lambda: ctx.backend.tokenize_lead(ecg, lead))
    prov = Provenance(source=result.codec, version=result.version, record=ref.canonical)
    out = CodecTokens(
        record=ref.canonical, lead=result.lead, n_tokens=len(result.tokens), tokens=list(result.tokens[:max_tokens]),
        details={k: str(v) for k, v in result.details.items()}, provenance=[prov], evidence_ids=[], notes=list(record_notes(ctx, (record,))),
    )
    out.evidence_ids.append(ctx.add_evidence("codec_tokens", f"lead {result.lead} of {ref.canonical} is {len(result.tokens)} {result.codec} tokens", prov))
    return out


@TOOLS.tool
def noise_per_lead(ctx: ToolContext, record: str) -> NoisePerLead:
    """Check each lead for baseline drift, static noise, burst noise and electrode problems (signal-quality indices).

    Args:
        record: The ECG to check: a bundled example name, 'ptbxl:<ecg_id>', 'ludb:<n>', or a record path inside the data roots.
    """
    from ._quality import NOISE_KINDS, QUALITY_METHOD, QUALITY_VERSION

    ref, quality = _quality(ctx, record)
    prov = Provenance(source=QUALITY_METHOD, version=QUALITY_VERSION, record=ref.canonical)
    noisy = {kind: [q.lead for q in quality if kind in q.noises] for kind in NOISE_KINDS}
    noisy = {k: v for k, v in noisy.items() if v}
    out = NoisePerLead(
        record=ref.canonical,
        leads=[LeadNoise(lead=q.lead, noises=list(q.noises), baseline_drift_mv=round(q.drift_mv, 3),
                         hf_residue_rms_mv=round(q.residue_rms_mv, 4), burst_ratio=round(q.burst_ratio, 2),
                         hf_residue_outside_qrs_mv=round(q.residue_outside_qrs_mv, 4),
                         burst_ratio_outside_qrs=round(q.burst_ratio_outside_qrs, 2))
               for q in quality],
        noisy_leads=noisy, provenance=[prov], evidence_ids=[], notes=list(record_notes(ctx, (record,))),
    )
    if noisy:
        for kind, leads in noisy.items():
            out.evidence_ids.append(ctx.add_evidence("noise_per_lead", f"possible {kind} in lead(s) {', '.join(leads)} of {ref.canonical}", prov))
    else:
        out.evidence_ids.append(ctx.add_evidence("noise_per_lead", f"no lead of {ref.canonical} exceeds the noise thresholds", prov))
    return out


@TOOLS.tool
def compare_ecgs(ctx: ToolContext, record_a: str, record_b: str) -> EcgComparison:
    """Compare two ECGs (first/earlier -> second/recent): attribute classes newly detected, resolved or persisting, disease probability changes, and numeric-feature ranges of each.

    Args:
        record_a: The first (earlier) ECG: a bundled example name, 'ptbxl:<ecg_id>', 'ludb:<n>', or a record path inside the data roots.
        record_b: The second (recent) ECG, named the same way.
    """
    ref_a, attrs_a, warnings_a = _attributes(ctx, record_a)
    ref_b, attrs_b, warnings_b = _attributes(ctx, record_b)
    _, dis_a, _ = _diseases(ctx, record_a)
    _, dis_b, _ = _diseases(ctx, record_b)
    _, meas_a = _measurement(ctx, record_a)
    _, meas_b = _measurement(ctx, record_b)
    present_a = _present(attrs_a)
    present_b = _present(attrs_b)
    provs = [
        Provenance(source=attrs_a.model, version=attrs_a.version, record=ref_a.canonical),
        Provenance(source=attrs_b.model, version=attrs_b.version, record=ref_b.canonical),
        Provenance(source=dis_a.model, version=dis_a.version, record=ref_a.canonical),
        Provenance(source=dis_b.model, version=dis_b.version, record=ref_b.canonical),
        Provenance(source=f"measurements ({meas_a.method})", version=meas_a.version, record=ref_a.canonical),
        Provenance(source=f"measurements ({meas_b.method})", version=meas_b.version, record=ref_b.canonical),
    ]
    out = EcgComparison(
        record_a=ref_a.canonical, record_b=ref_b.canonical,
        newly_detected=sorted(present_b - present_a), resolved=sorted(present_a - present_b),
        persisting=sorted(present_a & present_b),
        disease_probability_change={
            k: round(float(dis_b.probabilities[k]) - float(dis_a.probabilities[k]), 4)
            for k in dis_a.probabilities if k in dis_b.probabilities
        },
        ranges_a=dict(meas_a.ranges), ranges_b=dict(meas_b.ranges),
        warnings=list(dict.fromkeys(warnings_a + warnings_b)), provenance=provs, evidence_ids=[],
        notes=list(record_notes(ctx, (record_a, record_b))) + [
            f"{ref.canonical}: {note}" for ref, scores in ((ref_a, dis_a), (ref_b, dis_b))
            for k in scores.probabilities if (note := flat_note(scores, k)) is not None],
    )
    pair = Provenance(source=f"{attrs_a.model} (both records)", version=attrs_a.version,
                      record=f"{ref_a.canonical} -> {ref_b.canonical}")
    for label, items in (("newly detected", out.newly_detected), ("resolved", out.resolved), ("persisting", out.persisting)):
        text = ", ".join(items) if items else "none"
        out.evidence_ids.append(ctx.add_evidence("compare_ecgs", f"{label} from {ref_a.canonical} to {ref_b.canonical}: {text}", pair))
    return out


@TOOLS.tool
def age_sex_estimate(ctx: ToolContext, record: str) -> AgeSexEstimate:
    """Estimate the patient's age and sex from the ECG signal with a model (not from the header).

    Args:
        record: The ECG to analyse: a bundled example name, 'ptbxl:<ecg_id>', 'ludb:<n>', or a record path inside the data roots.
    """
    ref, ecg, warnings = _model_input(ctx, record)
    result = ctx.cached(ref.canonical, "age_sex", lambda: ctx.backend.estimate_age_sex(ecg))
    prov = Provenance(source=result.model, version=result.version, record=ref.canonical)
    p = result.female_probability
    sex = None if p is None or 0.4 <= p <= 0.6 else ("female" if p > 0.6 else "male")
    out = AgeSexEstimate(
        record=ref.canonical,
        age_years=None if result.age_years is None else round(float(result.age_years), 1),
        female_probability=None if p is None else round(float(p), 3), sex=sex,
        warnings=warnings, provenance=[prov], evidence_ids=[], notes=list(record_notes(ctx, (record,))),
    )
    parts = []
    if out.age_years is not None:
        parts.append(f"estimated age {out.age_years:g} years")
    if p is not None:
        parts.append(f"probability female {_fmt(p)}")
    if parts:
        out.evidence_ids.append(ctx.add_evidence("age_sex_estimate", f"{'; '.join(parts)} on {ref.canonical}", prov))
    return out
