"""The real functions behind the tools, converted to the backend's small result types.

encoders: ``predict_diseases``, ``predict_attributes``, ``estimate_age_sex``, ``delineate``,
``tokenize_lead``; grounding: ``measure``, ``explain``, ``build_evidence``; qa: ``parse_question``,
``template``, ``answer_question``, ``multihot_to_attributes``. All work from the signal.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import UnsupportedQuestion, UsageError
from ._backend import (
    AgeSexResult,
    AttributionResult,
    MeasurementResult,
    ParsedQuestionResult,
    ScoresResult,
    TokensResult,
)

AXIS_WORDS = {
    "normal": "normal heart axis",
    "left": "left axis deviation",
    "right": "right axis deviation",
    "extreme": "extreme axis deviation",
}
# Measurements field -> value name with unit, as the tools show them.
MEASUREMENT_NAMES = {
    "heart_rate": "heart_rate_bpm",
    "rr_interval": "rr_interval_ms",
    "p_duration": "p_duration_ms",
    "pr_interval": "pr_interval_ms",
    "qrs_duration": "qrs_duration_ms",
    "qt_interval": "qt_interval_ms",
    "qtc_bazett": "qtc_bazett_ms",
    "qtc_fridericia": "qtc_fridericia_ms",
    "qrs_axis": "qrs_axis_deg",
}

_DELINEATIONS: OrderedDict[tuple[int, str], tuple[Any, Any]] = OrderedDict()


def _version() -> str:
    from .. import __version__

    return __version__


def delineation(ecg: Any, method: str = "openecg") -> Any:
    """``encoders.delineate`` with a small per-ECG cache (measurements, tokens and evidence share it)."""
    from ..encoders import delineate

    key = (id(ecg), method)
    if key in _DELINEATIONS and _DELINEATIONS[key][0] is ecg:
        return _DELINEATIONS[key][1]
    result = delineate(ecg, method=method)
    _DELINEATIONS[key] = (ecg, result)
    while len(_DELINEATIONS) > 8:
        _DELINEATIONS.popitem(last=False)
    return result


@dataclass(frozen=True)
class DiseaseScores(ScoresResult):
    """The four disease CNNs' scores; each head is its own model with its own version."""

    versions: Mapping[str, str] = field(default_factory=dict)
    """Disease code -> version of the model that scored it (``version`` joins the distinct ones,
    e.g. ``2/3``; ``_tools.version_of`` picks one class's)."""
    flat_notes: Mapping[str, str] = field(default_factory=dict)
    """Disease code -> ``encoders.flat_head_note`` for each head that is flat at this ECG
    (``DiseasePrediction.flat_heads``: its probability is the head's constant output); empty when none."""


def predict_diseases(ecg: Any) -> ScoresResult:
    from ..encoders import predict_diseases as predict

    pred = predict(ecg)
    versions = sorted(set(pred.versions.values()))
    return DiseaseScores(dict(pred.probabilities), "disease-cnn", "/".join(versions),
                         thresholds=dict(pred.thresholds), versions=dict(pred.versions),
                         flat_notes=dict(zip(pred.flat_heads, pred.flat_notes)))


def predict_attributes(ecg: Any) -> ScoresResult:
    from ..encoders import predict_attributes as predict

    pred = predict(ecg)
    return ScoresResult(dict(pred.probabilities), "attribute-model", pred.version, thresholds=dict(pred.thresholds))


def estimate_age_sex(ecg: Any) -> AgeSexResult:
    from ..encoders import estimate_age_sex as estimate

    est = estimate(ecg)
    return AgeSexResult(est.age_years, est.female_probability, "age-sex-cnn", est.version)


def measure(ecg: Any, method: str) -> MeasurementResult:
    from ..grounding import measure as measure_

    result = measure_(ecg, delineation(ecg, method))
    values: dict[str, float | None] = {}
    reasons: dict[str, str] = {}
    for field_name, label in MEASUREMENT_NAMES.items():
        item = getattr(result, field_name)
        values[label] = item.value
        if item.value is None:
            reasons[label] = item.reason or "not measurable"
    ranges = {feature: f"{word} the normal range" for feature, word in result.range_attributes().items() if word}
    axis = AXIS_WORDS.get(result.axis_class) if result.axis_class else None
    return MeasurementResult(values, reasons, axis, ranges, method=result.source or method,
                             version=_version())


def tokenize_lead(ecg: Any, lead: str) -> TokensResult:
    from ..encoders import tokenize_lead as tokenize

    codec = tokenize(ecg, lead, delineation=delineation(ecg))
    counts: dict[str, int] = {}
    for beat in codec.beats:
        counts[beat.label] = counts.get(beat.label, 0) + 1
    rhythm = ", ".join(f"{e.label} {e.start_ms / 1000:.1f}-{e.end_ms / 1000:.1f} s" for e in codec.rhythm)
    details = {
        "alphabet": "symbol + ms: _ isoelectric, p P, q/r/s QRS parts, w wide QRS, t T, * pacer spike",
        "beats": ", ".join(f"{k} x{v}" for k, v in sorted(counts.items())) or "none",
        "rhythm": rhythm or "unknown",
    }
    return TokensResult(codec.lead, tuple(f"{t.symbol}{t.duration_ms}" for t in codec.tokens),
                        "openecg codec", codec.vocab_version, details)


def explain(ecg: Any, disease: str, method: str) -> AttributionResult:
    from ..encoders import load_disease_model
    from ..grounding import build_evidence
    from ..grounding import explain as explain_

    attribution = explain_(ecg, disease, method)
    evidence = build_evidence(attribution, delineation(ecg))
    version = load_disease_model(disease).card.version
    return AttributionResult(
        disease=disease, method=method, text=evidence.text, lead_shares=dict(evidence.lead_share),
        wave_shares=dict(evidence.segment_share), probability=float(evidence.probability),
        model=f"disease-cnn {disease}", version=version,
    )


def parse_question(text: str) -> ParsedQuestionResult:
    from ..qa import parse_question as parse
    from ..qa import template

    parsed = parse(text)
    tpl = template(parsed.template_id)
    runner_up = ""
    if parsed.alternatives and parsed.runner_up_slots is not None:
        runner_up = template(parsed.alternatives[0][0]).render(dict(parsed.runner_up_slots))
    return ParsedQuestionResult(
        template_id=parsed.template_id, slots=dict(parsed.slots), confidence=float(parsed.confidence),
        question_type=tpl.question_type, attribute_type=tpl.attribute_type, answer_options=tuple(tpl.answer_options),
        reading=tpl.render(dict(parsed.slots)), margin=parsed.margin, runner_up=runner_up,
    )


def answer_question(parsed: ParsedQuestionResult, attributes: Any, attributes2: Any = None) -> list[str]:
    from ..qa import answer_question as answer

    try:
        return list(answer(parsed.template_id, dict(parsed.slots), attributes, attributes2))
    except UsageError as exc:  # e.g. a numeric feature that could not be measured
        raise UnsupportedQuestion(str(exc)) from exc


def build_attributes(scores: ScoresResult, measurement: MeasurementResult | None,
                     noisy_leads: Mapping[str, list[str]] | None) -> Any:
    """``qa.EcgAttributes`` from the attribute model's classes over their tuned thresholds, with
    numeric ranges and the heart axis from measurements and per-lead noise from signal quality
    when those tools ran."""
    import numpy as np

    from ..qa import grounding_classes, multihot_to_attributes
    from ._tools import is_present

    classes = grounding_classes("ptbxl")
    vector = np.array([
        1.0 if is_present(scores, c) else 0.0 for c in classes
    ], dtype=np.float32)
    attrs = multihot_to_attributes(vector, "ptbxl", 0.5)
    changes: dict[str, Any] = {}
    if measurement is not None:
        numeric = dict(attrs.numeric)
        for feature, where in measurement.ranges.items():
            numeric[feature] = where.split(" ", 1)[0]
        changes["numeric"] = numeric
        if measurement.axis_class:
            changes["heart_axis"] = measurement.axis_class
    if noisy_leads is not None:
        changes["noise"] = {kind: frozenset(leads) for kind, leads in noisy_leads.items() if leads}
    return replace(attrs, **changes) if changes else attrs
