"""Per-class decision thresholds of the attribute model: named rules on top of the F1-tuned cut-offs,
and the cross-fitted scoring used to choose among them (docs/encoders.md "Attribute thresholds").

A rule is a string: ``tuned`` (the F1-maximising cut-off, 0.5 for a class without a positive),
``floor-F`` (max(tuned, F)), ``minpos-K`` (tuned when the class had at least K positives among the
tuning ECGs, else 0.5), ``shrink-M`` ((n * tuned + M * 0.5) / (n + M) with n positives),
``fixed-P`` (P for every class) and ``+``-joined combinations applied left to right
(``minpos-5+floor-0.1``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import UsageError

DEFAULT_THRESHOLD = 0.5
"""Prevalence-free cut-off used when a class has too few positives to tune one."""

_KINDS = ("tuned", "floor", "minpos", "shrink", "fixed")

ATTRIBUTE_THRESHOLD_RULE = "shrink-10"
"""Rule the attribute model's card carries (chosen on ECG-QA valid by cross-fitting in session 5,
``scripts/tune_attribute_thresholds.py``); ``ecgqa train attributes`` writes it into new cards."""


def _parse_step(step: str) -> tuple[str, float]:
    kind, _, value = step.strip().partition("-")
    if kind not in _KINDS or (kind == "tuned") != (value == ""):
        raise UsageError(f"unknown threshold rule step {step!r}; expected tuned, floor-F, minpos-K, shrink-M or fixed-P")
    if kind == "tuned":
        return kind, 0.0
    try:
        number = float(value)
    except ValueError:
        raise UsageError(f"threshold rule step {step!r}: {value!r} is not a number") from None
    if number < 0 or (kind in ("floor", "fixed") and number > 1):
        raise UsageError(f"threshold rule step {step!r}: value out of range")
    if kind == "shrink" and not number > 0:  # M = 0 gives a class without a positive threshold 0
        raise UsageError(f"threshold rule step {step!r}: shrink-M needs M > 0 (M = 0 would call every "
                         "ECG positive for a class without a positive)")
    return kind, number


def check_threshold_rule(rule: str) -> str:
    """``rule`` if every ``+``-joined step parses, else ``UsageError``."""
    if not isinstance(rule, str) or not rule.strip():
        raise UsageError(f"threshold rule must be a non-empty string, got {rule!r}")
    for step in rule.split("+"):
        _parse_step(step)
    return rule


def apply_threshold_rule(rule: str, tuned: Sequence[float], positives: Sequence[int]) -> tuple[float, ...]:
    """Per-class thresholds from the F1-tuned ones (``tuned``) and each class's positives among the
    ECGs they were tuned on (``positives``), by ``rule`` (see the module docstring)."""
    t = np.asarray(tuned, dtype=np.float64).copy()
    n = np.asarray(positives, dtype=np.float64)
    if t.shape != n.shape or t.ndim != 1:
        raise UsageError(f"thresholds and positive counts must be two equal-length lists, got {t.shape} and {n.shape}")
    for step in check_threshold_rule(rule).split("+"):
        kind, value = _parse_step(step)
        if kind == "floor":
            t = np.maximum(t, value)
        elif kind == "minpos":
            t = np.where(n >= value, t, DEFAULT_THRESHOLD)
        elif kind == "shrink":
            t = (n * t + value * DEFAULT_THRESHOLD) / np.maximum(n + value, 1e-12)
        elif kind == "fixed":
            t = np.full_like(t, value)
    return tuple(float(v) for v in t)


def example_f1(labels: np.ndarray, predicted: np.ndarray) -> float:
    """Mean over rows of 2|P and T| / (|P| + |T|) between predicted and true 0/1 sets (1 when both empty)."""
    y, p = np.asarray(labels) > 0.5, np.asarray(predicted) > 0.5
    tp = (y & p).sum(axis=1)
    denom = y.sum(axis=1) + p.sum(axis=1)
    return float(np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 1.0).mean())


def macro_f1(labels: np.ndarray, predicted: np.ndarray) -> float:
    """Mean per-class F1 over the classes with at least one positive (NaN when none has)."""
    y, p = np.asarray(labels) > 0.5, np.asarray(predicted) > 0.5
    keep = y.any(axis=0)
    if not keep.any():
        return float("nan")
    tp = (y & p).sum(axis=0)[keep]
    return float((2 * tp / (y.sum(axis=0)[keep] + p.sum(axis=0)[keep])).mean())


@dataclass(frozen=True)
class RuleScore:
    """Cross-fitted scores of one threshold rule."""

    rule: str
    """The rule (see ``apply_threshold_rule``)."""
    example_f1: float
    """Example-based F1 of the out-of-fold attribute sets, mean over seeds."""
    macro_f1: float
    """Macro-F1 over classes with a positive (pooled out-of-fold predictions), mean over seeds."""
    example_f1_by_seed: tuple[float, ...]
    """Example-based F1 of each seed's fold split."""
    n_changed: int
    """Classes whose threshold, fitted on all rows, differs from ``tuned``."""


def crossfit_rule_scores(labels: np.ndarray, probs: np.ndarray, rules: Sequence[str], folds: int = 5,
                         seeds: Sequence[int] = (0, 1, 2, 3, 4)) -> tuple[RuleScore, ...]:
    """Score each rule by cross-fitting: per fold, F1-tune on the other folds, apply the rule with
    those folds' positive counts, predict the held-out fold; score all out-of-fold predictions."""
    from ._jobs import best_f1_thresholds

    y = np.asarray(labels, dtype=np.float64)
    p = np.asarray(probs, dtype=np.float64)
    if y.shape != p.shape or y.ndim != 2 or len(y) < folds:
        raise UsageError(f"labels and probabilities must be equal (records, classes) arrays with >= {folds} rows, "
                         f"got {y.shape} and {p.shape}")
    rules = [check_threshold_rule(r) for r in rules]
    by_rule: dict[str, list[tuple[float, float]]] = {r: [] for r in rules}
    for seed in seeds:
        parts = np.array_split(np.random.default_rng(seed).permutation(len(y)), folds)
        predicted = {r: np.zeros_like(y, dtype=bool) for r in rules}
        for k, held in enumerate(parts):
            fit = np.concatenate([parts[j] for j in range(folds) if j != k])
            tuned = best_f1_thresholds(y[fit], p[fit])
            positives = (y[fit] > 0.5).sum(axis=0)
            for r in rules:
                t = np.asarray(apply_threshold_rule(r, tuned, positives))
                predicted[r][held] = p[held] >= t
        for r in rules:
            by_rule[r].append((example_f1(y, predicted[r]), macro_f1(y, predicted[r])))
    full_tuned = best_f1_thresholds(y, p)
    full_pos = (y > 0.5).sum(axis=0)
    out = []
    for r in rules:
        changed = int(np.sum(~np.isclose(apply_threshold_rule(r, full_tuned, full_pos), full_tuned)))
        scores = np.array(by_rule[r])
        out.append(RuleScore(r, float(scores[:, 0].mean()), float(scores[:, 1].mean()),
                             tuple(float(v) for v in scores[:, 0]), changed))
    return tuple(out)


def select_rule(scores: Sequence[RuleScore], tie: float = 0.002) -> RuleScore:
    """The highest example-F1; within ``tie`` of it, the highest macro-F1, then the fewest changed classes."""
    if not scores:
        raise UsageError("no rule scores to select from")
    best = max(s.example_f1 for s in scores)
    tied = [s for s in scores if s.example_f1 >= best - tie]
    return sorted(tied, key=lambda s: (-s.macro_f1, s.n_changed))[0]
