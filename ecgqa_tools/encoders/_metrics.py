"""Metrics used for checkpoint selection and evaluation (numpy only)."""

from __future__ import annotations

import numpy as np


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties count half); NaN when one class is absent."""
    from scipy.stats import rankdata

    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(s)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def bootstrap_auc_ci(labels: np.ndarray, scores: np.ndarray, n_boot: int = 1000, seed: int = 0,
                     level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of the AUC, resampling positives and negatives separately."""
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    pos, neg = s[y], s[~y]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    values = np.empty(n_boot)
    for b in range(n_boot):
        p = pos[rng.integers(0, len(pos), len(pos))]
        n = neg[rng.integers(0, len(neg), len(neg))]
        # AUC via sorted search: fraction of (p, n) pairs with p > n plus half the ties
        n_sorted = np.sort(n)
        below = np.searchsorted(n_sorted, p, side="left")
        equal = np.searchsorted(n_sorted, p, side="right") - below
        values[b] = (below.sum() + 0.5 * equal.sum()) / (len(p) * len(n))
    alpha = (1 - level) / 2
    return float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha))


def macro_auc(labels: np.ndarray, scores: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean AUC over the classes (columns) that have both positives and negatives; NaN labels are
    ignored. Returns (macro, per-class array with NaN for unscorable classes)."""
    per_class = np.full(labels.shape[1], np.nan)
    for j in range(labels.shape[1]):
        known = ~np.isnan(labels[:, j])
        per_class[j] = roc_auc(labels[known, j] > 0.5, scores[known, j])
    scorable = ~np.isnan(per_class)
    return (float(per_class[scorable].mean()) if scorable.any() else float("nan")), per_class


def roc_auc_ci(labels: np.ndarray, scores: np.ndarray, n_boot: int = 1000, seed: int = 0) -> tuple[float, float, float]:
    """(AUC, CI low, CI high) with the percentile bootstrap 95% CI."""
    lo, hi = bootstrap_auc_ci(labels, scores, n_boot, seed)
    return roc_auc(labels, scores), lo, hi
