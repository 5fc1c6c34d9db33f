"""The answer engine: every template answers inside its official option set; official agreement."""

from __future__ import annotations

import random

import pytest

from ecgqa_tools.errors import UsageError
from ecgqa_tools.qa import (
    EXTRA_SYSTOLES,
    HEART_AXES,
    INFARCTION_STAGES,
    LEADS,
    NOISE_KINDS,
    NUMERIC_FEATURES,
    SCP_STATEMENTS,
    TEMPLATES,
    EcgAttributes,
    answer_question,
    slot_vocabulary,
)
from ecgqa_tools.qa._templates import slot_kind


def _random_attrs(rng: random.Random) -> EcgAttributes:
    statements = {s: rng.choice([0.0, 15.0, 50.0, 80.0, 100.0]) for s in rng.sample(SCP_STATEMENTS, rng.randint(0, 6))}
    if rng.random() < 0.3:
        statements["normal ecg"] = 100.0
    noise = {k: frozenset(rng.sample(LEADS, rng.randint(1, 12))) for k in NOISE_KINDS if rng.random() < 0.3}
    lead_statements = {s: frozenset(rng.sample(LEADS, rng.randint(1, 4))) for s in statements if rng.random() < 0.5}
    return EcgAttributes(
        statements=statements,
        lead_statements=lead_statements,
        noise=noise,
        extra_systoles=frozenset(e for e in EXTRA_SYSTOLES if rng.random() < 0.3),
        infarction_stages=frozenset(s for s in INFARCTION_STAGES if rng.random() < 0.2),
        heart_axis=rng.choice(HEART_AXES),
        numeric={f: rng.choice(["below", "within", "above"]) for f in NUMERIC_FEATURES},
    )


def _random_slots(tid: int, rng: random.Random) -> dict[str, str]:
    tpl = TEMPLATES[tid]
    slots: dict[str, str] = {}
    used: set[str] = set()
    for name in tpl.slots:
        vocab = [v for v in slot_vocabulary(slot_kind(name)) if v not in used]
        if slot_kind(name) == "scp_code" and tid in (17, 18, 19):
            vocab = ["non-specific st changes", "inverted t-waves", "t-wave abnormality"]
            vocab = [v for v in vocab if v not in used]
        slots[name] = rng.choice(vocab)
        used.add(slots[name])
    return slots


@pytest.mark.parametrize("tid", sorted(TEMPLATES))
def test_every_template_answers_within_its_options(tid: int) -> None:
    rng = random.Random(tid)
    tpl = TEMPLATES[tid]
    for _ in range(60):
        a1, a2 = _random_attrs(rng), _random_attrs(rng)
        answer = answer_question(tid, _random_slots(tid, rng), a1, a2 if tpl.is_comparison else None)
        assert answer, (tid, answer)
        assert set(answer) <= set(tpl.answer_options), (tid, answer)
        assert len(set(answer)) == len(answer)
        if tpl.kind == "verify":
            assert len(answer) == 1


def test_uncertain_statements() -> None:
    a = EcgAttributes(statements={"left ventricular hypertrophy": 50.0, "sinus rhythm": 0.0})
    assert answer_question(1, {"scp_code": "left ventricular hypertrophy"}, a) == ["not sure"]
    assert answer_question(1, {"scp_code": "sinus rhythm"}, a) == ["yes"]
    assert answer_question(8, {}, a) == ["left ventricular hypertrophy"]
    assert answer_question(9, {}, a) == ["none"]
    assert answer_question(13, {}, a) == ["yes"] and answer_question(14, {}, a) == ["no"]


def test_choose_order_follows_the_question() -> None:
    a = EcgAttributes(noise={"static noise": frozenset(LEADS), "burst noise": frozenset({"V1"})})
    assert answer_question(30, {"noise1": "burst noise", "noise2": "static noise"}, a) == ["burst noise", "static noise"]
    assert answer_question(31, {"lead": "I", "noise1": "burst noise", "noise2": "static noise"}, a) == ["static noise"]
    assert answer_question(34, {"noise": "burst noise"}, a) == ["lead V1"]


def test_comparisons() -> None:
    old = EcgAttributes(statements={"atrial fibrillation": 0.0}, numeric={"qt interval": "above", "rr interval": "within"})
    new = EcgAttributes(statements={"sinus rhythm": 0.0}, numeric={"qt interval": "within", "rr interval": "below"})
    assert answer_question(57, {"scp_code": "atrial fibrillation"}, old, new) == ["yes"]
    assert answer_question(62, {}, old, new) == ["sinus rhythm"]
    assert answer_question(68, {}, old, new) == ["qt interval"]
    assert answer_question(69, {}, old, new) == ["rr interval"]
    assert answer_question(70, {}, old, new) == ["none"]


def test_bad_calls_are_clear_errors() -> None:
    a = EcgAttributes()
    with pytest.raises(UsageError, match="attrs2"):
        answer_question(57, {"scp_code": "atrial fibrillation"}, a)
    with pytest.raises(UsageError, match="unknown noise"):
        answer_question(27, {"noise": "cosmic rays"}, a)
    with pytest.raises(UsageError, match="missing"):
        answer_question(26, {"noise": "static noise"}, a)
    with pytest.raises(UsageError, match="unknown"):
        answer_question(41, {"numeric_feature": "qt interval"}, a)  # range not measured


def test_official_agreement(ptbxl_dir, ecgqa_dir) -> None:
    """Every official non-numeric sample agrees, except the heart-axis ones (signal-derived)."""
    from ecgqa_tools.qa import attributes_from_ptbxl, official_template_samples, verify_answers
    from ecgqa_tools.qa._ptbxl_labels import load_ptbxl_metadata
    from ecgqa_tools.qa._verify import SIGNAL_DERIVED_TEMPLATES

    samples, _ = official_template_samples(ecgqa_dir)
    metadata = load_ptbxl_metadata(ptbxl_dir)
    report = verify_answers(samples, lambda i: attributes_from_ptbxl(metadata, i))
    non_numeric = {t for t, r in report.per_template.items() if not r.numeric}
    assert len(non_numeric) == 52  # every non-numeric template has official samples here
    assert {d.sample.template_id for d in report.disagreements} <= SIGNAL_DERIVED_TEMPLATES
    label = [r for t, r in report.per_template.items() if t in non_numeric - SIGNAL_DERIVED_TEMPLATES]
    assert all(r.agree == r.total for r in label)
