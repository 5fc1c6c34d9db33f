"""Each tool on a synthetic ECG with the fake backend: outputs, provenance, evidence, caching."""

from __future__ import annotations

import pytest

from ecgqa_tools.llm import TOOLS

ONE_RECORD_CALLS = [
    ("record_summary", {}),
    ("disease_probabilities", {}),
    ("attribution_evidence", {"disease": "MI"}),
    ("ecgqa_attributes", {}),
    ("intervals_and_axis", {}),
    ("codec_tokens", {"lead": "V2", "max_tokens": 10}),
    ("noise_per_lead", {}),
    ("age_sex_estimate", {}),
]


@pytest.mark.parametrize(("name", "extra"), ONE_RECORD_CALLS)
def test_every_tool_returns_provenance_and_resolvable_evidence(context, name, extra):
    result = TOOLS.call(name, {"record": "syn1", **extra}, context)
    assert result.ok, result.error
    output = result.output
    assert isinstance(output, TOOLS.get(name).output_model)
    assert output.provenance and all(p.record == "memory:syn1" and p.version for p in output.provenance)
    assert output.evidence_ids
    for evidence_id in output.evidence_ids:
        item = context.evidence[evidence_id]
        assert item.tool == name and item.statement and item.provenance in output.provenance


def test_disease_probabilities_values_and_positive_list(context):
    out = TOOLS.run("disease_probabilities", context, record="syn1")
    assert out.probabilities == {"MI": 0.81, "STTC": 0.22, "CD": 0.1, "HYP": 0.05}
    assert out.positive == ["MI"]
    assert out.thresholds == {"MI": 0.5, "STTC": 0.5, "CD": 0.5, "HYP": 0.5}


def test_disease_probabilities_use_the_models_tuned_thresholds(backend, context):
    """A superclass is positive when its probability reaches the model's own threshold (what
    `ecgqa classify` uses), not 0.5: here MI 0.81 < 0.9 is negative and STTC 0.22 >= 0.2 positive."""
    from ecgqa_tools.llm import ScoresResult

    tuned = {"MI": 0.9, "STTC": 0.2, "CD": 0.3, "HYP": 0.05}
    backend.predict_diseases = lambda ecg: ScoresResult(
        {"MI": 0.81, "STTC": 0.22, "CD": 0.10, "HYP": 0.05}, "fake-disease-cnn", "0-test", thresholds=tuned)
    out = TOOLS.run("disease_probabilities", context, record="syn1")
    assert out.positive == ["STTC", "HYP"]
    assert out.thresholds == tuned
    statements = [context.evidence[i].statement for i in out.evidence_ids]
    assert any("(MI)" in s and "threshold 0.90: negative" in s for s in statements), statements
    assert any("(STTC)" in s and "threshold 0.20: positive" in s for s in statements), statements


def test_attributes_threshold_splits_present_and_borderline(context):
    out = TOOLS.run("ecgqa_attributes", context, record="syn1", threshold=0.5)
    assert set(out.present) == {"sinus rhythm", "myocardial infarction in inferior leads"}
    assert set(out.borderline) == {"left axis deviation"}


def test_codec_tokens_are_truncated_but_counted(context):
    out = TOOLS.run("codec_tokens", context, record="syn1", lead="II", max_tokens=5)
    assert out.tokens == ["r0", "r1", "r2", "r3", "r4"] and out.n_tokens == 100


def test_noise_tool_flags_the_noisy_record_only(context):
    clean = TOOLS.run("noise_per_lead", context, record="syn1")
    noisy = TOOLS.run("noise_per_lead", context, record="syn2")
    assert clean.noisy_leads == {}
    assert set(noisy.noisy_leads["static noise"]) == {lead.lead for lead in noisy.leads}
    assert len(noisy.leads) == 12


def test_compare_lists_differences_between_two_records(context, backend):
    out = TOOLS.run("compare_ecgs", context, record_a="syn1", record_b="syn2")
    assert out.record_a == "memory:syn1" and out.record_b == "memory:syn2"
    assert out.newly_detected == [] and out.resolved == []  # the fake model scores both alike
    assert "sinus rhythm" in out.persisting
    assert out.disease_probability_change == {"MI": 0.0, "STTC": 0.0, "CD": 0.0, "HYP": 0.0}


def test_results_are_cached_per_record(context, backend):
    TOOLS.run("disease_probabilities", context, record="syn1")
    TOOLS.run("disease_probabilities", context, record="syn1")
    assert backend.calls.count("predict_diseases") == 1


def test_evidence_ids_are_stable_for_the_same_fact(context):
    first = TOOLS.run("disease_probabilities", context, record="syn1").evidence_ids
    again = TOOLS.run("disease_probabilities", context, record="syn1").evidence_ids
    assert first == again == ["E1", "E2", "E3", "E4"]


def test_age_sex_estimate_comes_from_the_model_not_the_header(context):
    out = TOOLS.run("age_sex_estimate", context, record="syn1")
    assert out.age_years == 61.4 and out.sex == "male" and out.female_probability == 0.23
