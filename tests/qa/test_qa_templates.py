"""The template registry, answer vocabularies and the upper-bound label space."""

from __future__ import annotations

import numpy as np
import pytest

from ecgqa_tools.errors import UsageError
from ecgqa_tools.qa import (
    GROUNDING_CLASSES,
    TEMPLATES,
    EcgAttributes,
    answer_options,
    answer_vocabulary,
    attributes_to_multihot,
    class_is_present,
    multihot_to_attributes,
    template,
)


def test_seventy_templates_with_types_and_options() -> None:
    assert sorted(TEMPLATES) == list(range(1, 71))
    for tid, tpl in TEMPLATES.items():
        assert tpl.template_id == tid
        assert tpl.answer_options == answer_options(tid)
        assert tpl.is_comparison == (tid >= 43)
        assert set(tpl.answer_options) <= set(answer_vocabulary("ptbxl"))


def test_render_and_match_round_trip() -> None:
    tpl = template(26)
    assert tpl.slots == ("noise", "lead")
    question = tpl.render({"noise": "static noise", "lead": "aVL"})
    assert question == "Does this ECG show static noise in lead aVL?"
    assert tpl.match(question) == {"noise": "static noise", "lead": "aVL"}
    assert tpl.match("Is this a normal ECG?") is None


def test_unknown_template_is_a_clear_error() -> None:
    with pytest.raises(UsageError, match="1..70"):
        template(71)
    with pytest.raises(UsageError, match="missing"):
        template(26).render({"noise": "static noise"})


def test_mimic_options_are_their_own() -> None:
    assert len(answer_options(6, "mimic-iv-ecg")) == 52
    with pytest.raises(UsageError):
        answer_options(28, "mimic-iv-ecg")  # MIMIC-IV-ECG has no per-lead noise templates


def test_grounding_classes_sizes() -> None:
    assert len(GROUNDING_CLASSES["ptbxl"]) == 83
    assert len(GROUNDING_CLASSES["mimic-iv-ecg"]) == 164


def test_multihot_round_trip_keeps_statements_and_ranges() -> None:
    attrs = EcgAttributes(
        statements={"left ventricular hypertrophy": 100.0, "sinus rhythm": 0.0, "inverted t-waves": 0.0},
        noise={"baseline drift": frozenset({"V6"})},
        extra_systoles=frozenset({"ventricular extrasystoles"}),
        infarction_stages=frozenset({"old stage of myocardial infarction"}),
        heart_axis="left axis deviation",
        numeric={"qt interval": "above", "rr interval": "within"},
    )
    vec = attributes_to_multihot(attrs)
    classes = GROUNDING_CLASSES["ptbxl"]
    on = {classes[i] for i in np.flatnonzero(vec)}
    assert {"hypertrophy", "any diagnostic symptoms", "any kind of noises", "left axis deviation",
            "above the normal range of qt interval", "within the normal range of rr interval"} <= on
    assert "normal ecg" not in on
    back = multihot_to_attributes(vec)
    assert set(back.statements) == {"left ventricular hypertrophy", "sinus rhythm", "inverted t-waves"}
    assert back.numeric == {"qt interval": "above", "rr interval": "within"}
    assert back.heart_axis == "left axis deviation"
    assert np.array_equal(attributes_to_multihot(back), vec)


def test_multihot_rejects_wrong_length() -> None:
    with pytest.raises(UsageError, match="83"):
        multihot_to_attributes(np.zeros(10))


def test_mimic_classes_match_statement_names_case_insensitively() -> None:
    attrs = EcgAttributes(statements={"first degree AV block": 100.0})
    assert class_is_present(attrs, "first degree AV block")
    assert attributes_to_multihot(attrs, "mimic-iv-ecg").shape == (164,)
