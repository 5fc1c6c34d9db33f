"""What the tools need from the rest of the toolkit, behind one small interface.

``Backend`` is the seam between the LLM layer and the models/measurements: the real one
(``ToolkitBackend``) calls the encoders, grounding and qa subpackages; tests pass a fake with the
same methods. Every method works from the signal (``ECG``) only, never from dataset labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "AgeSexResult",
    "AttributionResult",
    "Backend",
    "MeasurementResult",
    "ParsedQuestionResult",
    "ScoresResult",
    "TokensResult",
    "ToolkitBackend",
]


@dataclass(frozen=True)
class ScoresResult:
    """Probabilities from one model over named classes."""

    probabilities: Mapping[str, float]
    """Class name -> probability in [0, 1]."""
    model: str
    """Model name, e.g. ``disease-cnn`` or ``attribute-model``."""
    version: str
    """Model version (from its model card)."""
    thresholds: Mapping[str, float] = field(default_factory=dict)
    """Class name -> the model's tuned decision threshold (0.5 where absent)."""


@dataclass(frozen=True)
class AgeSexResult:
    """Age and sex estimated from the signal."""

    age_years: float | None
    """Estimated age in years."""
    female_probability: float | None
    """Probability that the patient is female."""
    model: str
    """Model name."""
    version: str
    """Model version."""


@dataclass(frozen=True)
class MeasurementResult:
    """Intervals and axis measured on the signal; ``None`` values have a reason."""

    values: Mapping[str, float | None]
    """Name with unit (``heart_rate_bpm``, ``pr_ms``, ``qrs_ms``, ``qt_ms``, ``qtc_bazett_ms``,
    ``qrs_axis_deg``...) -> value, or None when unmeasurable."""
    reasons: Mapping[str, str]
    """Name -> why it could not be measured."""
    axis_class: str | None
    """ECG-QA heart-axis class (``normal heart axis``, ``left axis deviation``...), None if unknown."""
    ranges: Mapping[str, str]
    """ECG-QA numeric feature (``qt interval``...) -> ``below``/``within``/``above the normal range``."""
    method: str
    """Delineator and measurement method, e.g. ``openecg``."""
    version: str
    """Version of the method."""


@dataclass(frozen=True)
class TokensResult:
    """Discrete codec tokens of one lead."""

    lead: str
    """Canonical lead name."""
    tokens: tuple[str, ...]
    """Tokens in time order (OpenECG: symbol + duration in ms, e.g. ``p96``)."""
    codec: str
    """Codec name."""
    version: str
    """Codec version."""
    details: Mapping[str, Any] = field(default_factory=dict)
    """Further facts (vocabulary size, tokens per second...)."""


@dataclass(frozen=True)
class AttributionResult:
    """Where a disease model looked, summarised as text and shares."""

    disease: str
    """One of MI, STTC, CD, HYP."""
    method: str
    """Attribution method (``ig``, ``gradshap``, ``saliency``)."""
    text: str
    """Plain-language evidence sentence(s) from ``build_evidence``."""
    lead_shares: Mapping[str, float]
    """Lead -> share of the positive attribution (sums to about 1)."""
    wave_shares: Mapping[str, float]
    """Wave or segment (``P``, ``QRS``, ``T``, ``other``) -> share of the positive attribution."""
    probability: float | None
    """The model's probability for the disease on this record."""
    model: str
    """Model explained."""
    version: str
    """Its version."""


@dataclass(frozen=True)
class ParsedQuestionResult:
    """A question mapped to an ECG-QA template."""

    template_id: int
    """ECG-QA template id (1-70)."""
    slots: Mapping[str, Any]
    """Slot name -> value (e.g. ``scp_code`` -> ``myocardial infarction``)."""
    confidence: float
    """How sure the question understanding is, in [0, 1]."""
    question_type: str
    """``single-verify``, ``single-choose``, ``single-query``, ``comparison_...``."""
    attribute_type: str
    """``scp_code``, ``noise``, ``numeric_feature``..."""
    answer_options: tuple[str, ...]
    """Answers the template allows (its ECG-QA vocabulary)."""
    reading: str = ""
    """The template's question with its slots filled (how the question was read); "" if unknown."""
    margin: float | None = None
    """Ranking score of this template minus the runner-up's; None when there was no runner-up."""
    runner_up: str = ""
    """The runner-up template's question with its slots filled; "" when there was none."""


class Backend(Protocol):
    """The functions behind the tools (all from the signal)."""

    def predict_diseases(self, ecg: Any) -> ScoresResult: ...

    def predict_attributes(self, ecg: Any) -> ScoresResult: ...

    def estimate_age_sex(self, ecg: Any) -> AgeSexResult: ...

    def measure(self, ecg: Any, method: str) -> MeasurementResult: ...

    def tokenize_lead(self, ecg: Any, lead: str) -> TokensResult: ...

    def explain(self, ecg: Any, disease: str, method: str) -> AttributionResult: ...

    def parse_question(self, text: str) -> ParsedQuestionResult: ...

    def answer_question(
        self, parsed: ParsedQuestionResult, attributes: Any, attributes2: Any = None
    ) -> list[str]: ...

    def build_attributes(
        self, scores: ScoresResult, measurement: MeasurementResult | None, noisy_leads: Mapping[str, list[str]] | None
    ) -> Any: ...


class ToolkitBackend:
    """The real backend: encoders, grounding (measurements, attributions) and qa."""

    def predict_diseases(self, ecg: Any) -> ScoresResult:
        from ._adapters import predict_diseases

        return predict_diseases(ecg)

    def predict_attributes(self, ecg: Any) -> ScoresResult:
        from ._adapters import predict_attributes

        return predict_attributes(ecg)

    def estimate_age_sex(self, ecg: Any) -> AgeSexResult:
        from ._adapters import estimate_age_sex

        return estimate_age_sex(ecg)

    def measure(self, ecg: Any, method: str) -> MeasurementResult:
        from ._adapters import measure

        return measure(ecg, method)

    def tokenize_lead(self, ecg: Any, lead: str) -> TokensResult:
        from ._adapters import tokenize_lead

        return tokenize_lead(ecg, lead)

    def explain(self, ecg: Any, disease: str, method: str) -> AttributionResult:
        from ._adapters import explain

        return explain(ecg, disease, method)

    def parse_question(self, text: str) -> ParsedQuestionResult:
        from ._adapters import parse_question

        return parse_question(text)

    def answer_question(self, parsed: ParsedQuestionResult, attributes: Any, attributes2: Any = None) -> list[str]:
        from ._adapters import answer_question

        return answer_question(parsed, attributes, attributes2)

    def build_attributes(
        self, scores: ScoresResult, measurement: MeasurementResult | None, noisy_leads: Mapping[str, list[str]] | None
    ) -> Any:
        from ._adapters import build_attributes

        return build_attributes(scores, measurement, noisy_leads)
