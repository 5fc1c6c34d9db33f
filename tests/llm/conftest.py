"""Fakes for the LLM layer's unit tests: a deterministic backend, a synthetic ECG, a scripted chat model.

The fake backend stands in for the trained models (which have their own tests); it computes
nothing from labels and returns fixed, plausible numbers, so the tests check the plumbing:
dispatch, validation, provenance, evidence, citations, error handling.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

from ecgqa_tools.errors import UnsupportedQuestion
from ecgqa_tools.llm import (
    AgeSexResult,
    AttributionResult,
    MeasurementResult,
    ParsedQuestionResult,
    ScoresResult,
    TokensResult,
    ToolContext,
)
from ecgqa_tools.records import ECG, STANDARD_LEADS


def synthetic_ecg(record_id: str = "syn1", fs_hz: float = 500.0, seconds: float = 10.0, noise_mv: float = 0.0) -> ECG:
    """A 12-lead ECG of narrow Gaussian 'beats' at 75 bpm (deterministic)."""
    t = np.arange(int(fs_hz * seconds)) / fs_hz
    beats = np.zeros_like(t)
    for center in np.arange(0.4, seconds, 0.8):
        beats += 1.2 * np.exp(-((t - center) ** 2) / (2 * 0.012 ** 2))
        beats += 0.3 * np.exp(-((t - center - 0.3) ** 2) / (2 * 0.04 ** 2))
    rng = np.random.default_rng(0)
    signal = np.stack([beats * (0.5 + 0.05 * i) for i in range(12)])
    if noise_mv:
        signal = signal + rng.normal(0, noise_mv, signal.shape)
    return ECG.from_array(signal, fs_hz, STANDARD_LEADS, record_id=record_id, source="synthetic")


FAKE_ATTRIBUTES = {"sinus rhythm": 0.93, "myocardial infarction in inferior leads": 0.71, "normal ecg": 0.12,
                   "left axis deviation": 0.41}
FAKE_TEMPLATES = {
    "is this a normal ecg?": (2, {}, "single-verify", "scp_code", ("no", "yes")),
    "what rhythm-related symptoms does this ecg show?": (10, {}, "single-query", "scp_code",
                                                        ("atrial fibrillation", "none", "sinus rhythm")),
    "what kind of noises does this ecg show?": (32, {}, "single-query", "noise",
                                               ("baseline drift", "burst noise", "electrodes problems", "none", "static noise")),
    "what range does the qt interval of this ecg fall in?": (41, {"numeric_feature": "qt interval"}, "single-query",
                                                           "numeric_feature", ("above the normal range", "below the normal range", "within the normal range")),
    "does this ecg show symptoms of myocardial infarction?": (1, {"scp_code": "myocardial infarction"}, "single-verify",
                                                            "scp_code", ("no", "not sure", "yes")),
    "what symptoms are newly detected in the second ecg as compared to the first ecg?": (
        62, {}, "comparison_irrelevant-query", "scp_code", ("sinus rhythm", "none")),
}


class FakeAttributes:
    """Minimal stand-in for qa.EcgAttributes built by the fake backend."""

    def __init__(self, present: set[str], numeric: Mapping[str, str], noise: Mapping[str, list[str]]):
        self.present_set, self.numeric, self.noise = present, dict(numeric), dict(noise)

    def superclasses(self) -> list[str]:
        return ["myocardial infarction"] if any(s.startswith("myocardial infarction in") for s in self.present_set) else []


class FakeBackend:
    """Deterministic models; a tiny template table instead of the ECG-QA question understanding."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def predict_diseases(self, ecg: Any) -> ScoresResult:
        self.calls.append("predict_diseases")
        return ScoresResult({"MI": 0.81, "STTC": 0.22, "CD": 0.10, "HYP": 0.05}, "fake-disease-cnn", "0-test")

    def predict_attributes(self, ecg: Any) -> ScoresResult:
        self.calls.append("predict_attributes")
        return ScoresResult(dict(FAKE_ATTRIBUTES), "fake-attribute-model", "0-test")

    def estimate_age_sex(self, ecg: Any) -> AgeSexResult:
        return AgeSexResult(61.4, 0.23, "fake-age-sex", "0-test")

    def measure(self, ecg: Any, method: str) -> MeasurementResult:
        self.calls.append("measure")
        return MeasurementResult(
            values={"heart_rate_bpm": 75.0, "qrs_duration_ms": 96.0, "qt_interval_ms": 470.0, "p_duration_ms": None},
            reasons={"p_duration_ms": "no P wave found"}, axis_class="normal heart axis",
            ranges={"qt interval": "above the normal range", "qrs duration": "within the normal range"},
            method=method, version="0-test",
        )

    def tokenize_lead(self, ecg: Any, lead: str) -> TokensResult:
        return TokensResult(lead, tuple(f"r{i}" for i in range(100)), "fake-codec", "0-test", {"beats": "sinus x12"})

    def explain(self, ecg: Any, disease: str, method: str) -> AttributionResult:
        return AttributionResult(disease, method, f"{disease} attribution is largest on the QRS of leads II, III, aVF",
                                 {"II": 0.3, "III": 0.25, "aVF": 0.2, "V1": 0.1, "I": 0.15}, {"QRS": 0.6, "T": 0.3, "other": 0.1},
                                 0.81, "fake-disease-cnn", "0-test")

    def parse_question(self, text: str) -> ParsedQuestionResult:
        key = " ".join(text.lower().split())
        if key not in FAKE_TEMPLATES:
            raise UnsupportedQuestion(f"no template for {text!r}")
        tid, slots, qtype, atype, options = FAKE_TEMPLATES[key]
        return ParsedQuestionResult(tid, slots, 0.95, qtype, atype, options)

    def build_attributes(self, scores: ScoresResult, measurement: MeasurementResult | None,
                         noisy_leads: Mapping[str, list[str]]) -> FakeAttributes:
        present = {k for k, v in scores.probabilities.items() if v > 0.5}
        return FakeAttributes(present, measurement.ranges if measurement else {}, noisy_leads or {})

    def answer_question(self, parsed: ParsedQuestionResult, attributes: Any, attributes2: Any = None) -> list[str]:
        if parsed.template_id == 2:
            return ["yes" if "normal ecg" in attributes.present_set else "no"]
        if parsed.template_id == 10:
            found = [o for o in parsed.answer_options if o in attributes.present_set]
            return found or ["none"]
        if parsed.template_id == 32:
            return sorted(attributes.noise) or ["none"]
        if parsed.template_id == 41:
            return [f"{attributes.numeric[parsed.slots['numeric_feature']]}"]
        if parsed.template_id == 62:
            return sorted(attributes2.present_set - attributes.present_set) or ["none"]
        raise UnsupportedQuestion("fake engine")


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def context(backend: FakeBackend) -> ToolContext:
    ctx = ToolContext(backend=backend)
    ctx.add_record("syn1", synthetic_ecg("syn1"))
    ctx.add_record("syn2", synthetic_ecg("syn2", noise_mv=0.2))
    return ctx
