"""Attribute-model decision thresholds: the rules, the cross-fitted choice, and the shipped card."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ecgqa_tools.encoders import load_attribute_model, predict_attributes
from ecgqa_tools.encoders._thresholds import (apply_threshold_rule, crossfit_rule_scores, example_f1, macro_f1,
                                              RuleScore, select_rule)
from ecgqa_tools.errors import ModelError, UsageError
from ecgqa_tools.records import load_example


def test_rules_floor_minpos_shrink_fixed_and_combinations():
    tuned, pos = [0.01, 0.3, 0.9], [1, 10, 40]
    assert apply_threshold_rule("tuned", tuned, pos) == pytest.approx(tuned)
    assert apply_threshold_rule("floor-0.2", tuned, pos) == pytest.approx([0.2, 0.3, 0.9])
    assert apply_threshold_rule("minpos-5", tuned, pos) == pytest.approx([0.5, 0.3, 0.9])
    # (n * tuned + m * 0.5) / (n + m)
    assert apply_threshold_rule("shrink-10", tuned, pos) == pytest.approx(
        [(0.01 + 5) / 11, (3 + 5) / 20, (36 + 5) / 50])
    assert apply_threshold_rule("fixed-0.5", tuned, pos) == pytest.approx([0.5] * 3)
    assert apply_threshold_rule("minpos-5+floor-0.4", tuned, pos) == pytest.approx([0.5, 0.4, 0.9])
    # a class without positives keeps the prevalence-free default under shrinkage
    assert apply_threshold_rule("shrink-10", [0.5], [0]) == pytest.approx([0.5])


@pytest.mark.parametrize("rule", ["", "floor", "floor-x", "floor-2", "median-3", "tuned-1", "shrink--1", "shrink-0",
                                  "minpos-3+shrink-0"])
def test_malformed_rules_raise_usage_error(rule):
    with pytest.raises(UsageError):
        apply_threshold_rule(rule, [0.1], [1])


def test_mismatched_lengths_raise_usage_error():
    with pytest.raises(UsageError, match="equal-length"):
        apply_threshold_rule("tuned", [0.1, 0.2], [1])


def test_example_and_macro_f1_by_hand():
    y = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 0]])
    p = np.array([[1, 1, 0], [1, 1, 0], [0, 0, 0]])
    # rows: 2*1/3, 2*2/4, both empty -> 1
    assert example_f1(y, p) == pytest.approx((2 / 3 + 1 + 1) / 3)
    # class 0: F1 1; class 1: 2*1/(1+2); class 2 has no positive: left out
    assert macro_f1(y, p) == pytest.approx((1 + 2 / 3) / 2)


def test_crossfit_prefers_shrinkage_when_a_single_positive_sits_at_a_low_probability():
    rng = np.random.default_rng(0)
    n = 200
    common = rng.random(n) < 0.5
    probs_common = np.clip(np.where(common, 0.7, 0.3) + rng.normal(0, 0.1, n), 0, 1)
    rare = np.zeros(n, bool)
    rare[:2] = True                         # two positives, the model barely ranks them
    probs_rare = rng.uniform(0.0, 0.2, n)
    probs_rare[:2] = 0.01
    labels = np.stack([common, rare], 1).astype(float)
    probs = np.stack([probs_common, probs_rare], 1)
    scores = {s.rule: s for s in crossfit_rule_scores(labels, probs, ["tuned", "shrink-10"], seeds=(0, 1))}
    # tuned on the fitting folds, the rare cut-off collapses to ~0.01 and flags most held-out ECGs
    assert scores["shrink-10"].example_f1 > scores["tuned"].example_f1
    assert scores["tuned"].n_changed == 0 and scores["shrink-10"].n_changed == 2
    assert len(scores["tuned"].example_f1_by_seed) == 2


def test_select_rule_breaks_ties_by_macro_f1_then_fewest_changes():
    a = RuleScore("a", 0.780, 0.30, (), 10)
    b = RuleScore("b", 0.779, 0.35, (), 20)
    c = RuleScore("c", 0.770, 0.50, (), 0)
    assert select_rule([a, b, c]).rule == "b"        # b within 0.002 of a, higher macro-F1; c too far
    assert select_rule([a, b, c], tie=0.0).rule == "a"
    d = RuleScore("d", 0.779, 0.35, (), 5)
    assert select_rule([a, b, d]).rule == "d"
    with pytest.raises(UsageError):
        select_rule([])


def test_shipped_card_applies_its_rule_everywhere():
    model = load_attribute_model()
    card = model.card
    rule = card.metrics["threshold_rule"]
    positives = [rule["selection_positives"][c] for c in model.classes]
    expected = apply_threshold_rule(rule["rule"], card.metrics["thresholds"], positives)
    assert model.thresholds == pytest.approx(expected)
    # the rule fixes the collapsed cut-offs: no class tuned on <= 5 valid positives is called below 0.3
    few = [t for t, n in zip(model.thresholds, positives) if n <= 5]
    assert len(few) >= 20 and min(few) >= 0.3
    assert sum(positives) > 0 and len(card.selection_ids) == 240
    prediction = predict_attributes(load_example("ptbxl-00473"))
    assert dict(prediction.thresholds) == pytest.approx(dict(zip(model.classes, model.thresholds)))
    assert set(prediction.present) == {c for c, p in prediction.probabilities.items()
                                       if p >= prediction.thresholds[c]}


def test_card_summary_and_markdown_name_each_threshold():
    card = load_attribute_model().card
    summary = card.summary()
    line = next(ln for ln in summary.splitlines() if "normal functioning artificial pacemaker  (tuned" in ln)
    used = card.class_thresholds()["normal functioning artificial pacemaker"]
    assert line.strip().startswith(f"{used:.3f}")
    assert f"rule {card.metrics['threshold_rule']['rule']}" in summary
    assert "## Decision thresholds" in card.to_markdown()


def test_malformed_threshold_rule_in_a_card_is_a_model_error():
    card = load_attribute_model().card
    broken = dataclasses.replace(card, metrics={**card.metrics, "threshold_rule": {"rule": "shrink-10"}})
    with pytest.raises(ModelError, match="malformed threshold_rule"):
        broken.class_thresholds()
    short = dataclasses.replace(card, metrics={**card.metrics, "thresholds": [0.5]})
    with pytest.raises(ModelError, match="1 thresholds for 66 outputs"):
        short.class_thresholds()


def test_training_writes_the_shipped_rule_with_its_selection_positives(data_dir):
    """`ecgqa train attributes` writes `threshold_rule` the way the shipped card has it: the same
    rule, and positives counted from the ECG-QA targets of the card's own selection ECGs."""
    from ecgqa_tools.encoders._jobs import attribute_targets
    from ecgqa_tools.encoders._thresholds import ATTRIBUTE_THRESHOLD_RULE

    card = load_attribute_model().card
    rule = card.metrics["threshold_rule"]
    assert rule["rule"] == ATTRIBUTE_THRESHOLD_RULE
    ids = np.array(sorted(card.selection_ids), dtype=np.int64)
    counts = (attribute_targets(data_dir, ids) > 0.5).sum(axis=0)
    assert {c: int(n) for c, n in zip(card.outputs, counts)} == rule["selection_positives"]
