"""Session 8: a hybrid of the measured QRS angle and the learned ``axis_ptbxl`` classifier for PTB-XL's
``heart_axis`` words (protocol, committed before any candidate was counted: docs/measurements.md,
"Session 8: a hybrid of the measured angle and the learned classifier - protocol").

A hybrid rule takes the angle's class (``three_class`` with fitted cut-offs) and replaces it by the
CNN's class when the angle lies near a cut-off (``near``), when the CNN is confident and disagrees
(``conf``), or both (``near-conf``). The candidates are compared with the cut-offs alone by nested
leave-one-strat-fold-out on PTB-XL folds 1-8 with the CNN's session-7 leave-one-fold-out
probabilities. Kept apart from ``_axis_bench`` on purpose: that module's source is part of the angle
cache's fingerprint, and this code must not invalidate the cached angles.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError
from ._axis_bench import AxisRecord, fit_axis_cuts, three_class

CNN_CLASSES: tuple[str, ...] = ("left", "normal", "right")
"""Order of the CNN's probabilities (``encoders.AXIS_CLASSES``)."""
HYBRID_MARGIN = 3
"""The committed decision rule: adopt iff the nested count is at least this many records above the
cut-offs' leave-one-fold-out count."""
DEV_FOLDS: tuple[int, ...] = tuple(range(1, 9))
"""PTB-XL strat_folds of the development part."""


@dataclass(frozen=True)
class HybridRule:
    """One candidate rule: when to use the CNN's class instead of the angle's."""

    family: str
    """``cut`` (never the CNN), ``near`` (angle within ``distance_deg`` of a cut-off), ``conf`` (CNN
    disagrees with probability >= ``min_probability``) or ``near-conf`` (both conditions)."""
    distance_deg: float | None = None
    """Largest distance in degrees of the angle to the nearer cut-off at which the CNN decides."""
    min_probability: float | None = None
    """Smallest probability of the CNN's class at which it decides."""

    @property
    def name(self) -> str:
        """``cut``, ``near-<D>``, ``conf-<p>`` or ``near-<D>-conf-<p>``."""
        parts = []
        if self.distance_deg is not None:
            parts.append(f"near-{self.distance_deg:g}")
        if self.min_probability is not None:
            parts.append(f"conf-{self.min_probability:g}")
        return "-".join(parts) or "cut"

    def classify(self, axis_deg: float, cuts: tuple[float, float], cnn_probs: tuple[float, ...]) -> str:
        """left / normal / right of one record from its angle, the (left, right) cut-offs and the CNN's
        probabilities in ``CNN_CLASSES`` order."""
        angle_class = three_class(axis_deg, cuts)
        if self.family == "cut":
            return angle_class
        k = max(range(len(CNN_CLASSES)), key=lambda i: cnn_probs[i])
        cnn_class, p = CNN_CLASSES[k], float(cnn_probs[k])
        near = self.distance_deg is None or cut_distance(axis_deg, cuts) <= self.distance_deg
        confident = self.min_probability is None or p >= self.min_probability
        return cnn_class if near and confident else angle_class


def cut_distance(axis_deg: float, cuts: tuple[float, float]) -> float:
    """Degrees from the wrapped angle (-180, 180] to the nearer of the two cut-offs."""
    a = (axis_deg + 180.0) % 360.0 - 180.0
    return min(abs(a - cuts[0]), abs(a - cuts[1]))


HYBRID_CANDIDATES: tuple[HybridRule, ...] = (
    HybridRule("cut"),
    *(HybridRule("near", d) for d in (2.5, 5.0, 7.5, 10.0, 15.0, 20.0)),
    *(HybridRule("conf", None, p) for p in (0.95, 0.9, 0.8, 0.7, 0.6)),
    *(HybridRule("near-conf", d, p) for d, p in ((5.0, 0.9), (5.0, 0.7), (10.0, 0.9), (10.0, 0.7),
                                                 (20.0, 0.9), (20.0, 0.7))),
)
"""The 18 committed candidates, simplest first (the tie-break order)."""


@dataclass(frozen=True)
class HybridRow:
    """One labelled development record: its fold, label, angle and the CNN's probabilities."""

    key: str
    """PTB-XL ecg_id as text."""
    fold: int
    """strat_fold."""
    label: str
    """left / normal / right (``PTBXL_AXIS_MAP``)."""
    axis_deg: float
    """``peak-I-aVF`` angle in degrees."""
    cnn_probs: tuple[float, float, float]
    """The CNN's probabilities (left, normal, right) from an ensemble that did not train on ``fold``."""


def load_dev_cnn_probabilities(dev_dir: str | Path) -> dict[str, tuple[float, float, float]]:
    """ecg_id -> probabilities from ``ecgqa train axis-ptbxl``'s ``<work-dir>/axis_ptbxl/dev/fold<k>.json``
    (k = 1-8). Checks that fold k's members neither trained nor selected on fold k."""
    root = Path(dev_dir)
    out: dict[str, tuple[float, float, float]] = {}
    for k in DEV_FOLDS:
        path = root / f"fold{k}.json"
        if not path.is_file():
            raise UsageError(f"{path}: missing; run 'ecgqa train axis-ptbxl --development-only --work-dir DIR' "
                             f"and pass DIR/axis_ptbxl/dev")
        try:
            done = json.loads(path.read_text())
            seen = set(done["train_folds"]) | {int(done["selection_fold"])}
            preds = done["predictions"]
        except (ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"{path}: not a development-fold prediction file ({exc})") from exc
        if int(done.get("fold", -1)) != k or k in seen:
            raise UsageError(f"{path}: fold {done.get('fold')} with training/selection folds {sorted(seen)} "
                             f"is not a leave-fold-{k}-out prediction")
        for key, probs in preds.items():
            if len(probs) != len(CNN_CLASSES):
                raise UsageError(f"{path}: record {key} has {len(probs)} probabilities, expected {len(CNN_CLASSES)}")
            out[str(key)] = (float(probs[0]), float(probs[1]), float(probs[2]))
    return out


@dataclass(frozen=True)
class HybridComparison:
    """The committed development comparison (nested leave-one-strat-fold-out)."""

    n_records: int
    """Development records compared (the rows given to ``compare_hybrid``)."""
    n_cut: int
    """Records the cut-offs fitted on the other seven folds classify like the label (N_cut)."""
    n_hybrid: int
    """Records the nested hybrid procedure classifies like the label (N_hyb)."""
    cut_pairs: dict[int, tuple[float, float]]
    """Held-out fold -> cut-offs fitted on the other seven folds."""
    chosen: dict[int, str]
    """Held-out fold -> candidate chosen on the other seven folds."""
    flat_counts: dict[str, int]
    """Candidate -> plain leave-one-fold-out count over all records (information; the best is optimistic)."""
    final_rule: HybridRule
    """Candidate with the highest plain count (ties: earlier in ``HYBRID_CANDIDATES``)."""
    hybrid_predictions: dict[str, str]
    """Record key -> class the nested hybrid procedure gave it (held out from its own fold's choice)."""
    cut_predictions: dict[str, str]
    """Record key -> class the other seven folds' cut-offs gave it."""

    @property
    def adopt(self) -> bool:
        """The committed decision rule: N_hyb >= N_cut + ``HYBRID_MARGIN``."""
        return self.n_hybrid >= self.n_cut + HYBRID_MARGIN


def _best(counts: dict[str, int]) -> HybridRule:
    best = max(counts.values())
    return next(c for c in HYBRID_CANDIDATES if counts[c.name] == best)


def compare_hybrid(rows: list[HybridRow], progress: bool = True) -> HybridComparison:
    """Cut-offs vs the nested hybrid selection, both by leave-one-strat-fold-out over ``rows``' folds."""
    from tqdm import tqdm

    folds = sorted({r.fold for r in rows})
    if len(folds) < 3:
        raise UsageError(f"need records of at least three folds for a nested comparison, got {folds}")
    fits: dict[frozenset[int], tuple[float, float]] = {}

    def cuts_without(excluded: frozenset[int]) -> tuple[float, float]:
        if excluded not in fits:
            fit = fit_axis_cuts([AxisRecord(r.key, r.label, r.axis_deg) for r in rows if r.fold not in excluded])
            fits[excluded] = (fit.left_deg, fit.right_deg)
        return fits[excluded]

    def counts(part: list[HybridRow], excluded: frozenset[int]) -> dict[str, int]:
        out = {}
        for c in HYBRID_CANDIDATES:
            out[c.name] = sum(c.classify(r.axis_deg, cuts_without(excluded | {r.fold}), r.cnn_probs) == r.label
                              for r in part)
        return out

    chosen: dict[int, str] = {}
    hybrid_pred: dict[str, str] = {}
    cut_pred: dict[str, str] = {}
    for k in tqdm(folds, desc="outer folds", file=sys.stderr, disable=not progress or None):
        inner = [r for r in rows if r.fold != k]
        rule = _best(counts(inner, frozenset({k})))
        chosen[k] = rule.name
        cuts = cuts_without(frozenset({k}))
        for r in rows:
            if r.fold == k:
                hybrid_pred[r.key] = rule.classify(r.axis_deg, cuts, r.cnn_probs)
                cut_pred[r.key] = three_class(r.axis_deg, cuts)
    flat = counts(rows, frozenset())
    return HybridComparison(
        len(rows), sum(cut_pred[r.key] == r.label for r in rows), sum(hybrid_pred[r.key] == r.label for r in rows),
        {k: cuts_without(frozenset({k})) for k in folds}, chosen, flat, _best(flat), hybrid_pred, cut_pred)


def rule_by_name(name: str) -> HybridRule:
    """A committed candidate by its name (``cut``, ``near-5``, ``conf-0.9``, ``near-10-conf-0.7``...)."""
    for c in HYBRID_CANDIDATES:
        if c.name == name:
            return c
    raise UsageError(f"unknown hybrid rule {name!r}; expected one of {', '.join(c.name for c in HYBRID_CANDIDATES)}")


def ptbxl_hybrid_dev_rows(root, dev_dir, cache_dir=None) -> list[HybridRow]:
    """The labelled records100 records of folds 1-8 with a measurable angle and their session-7
    leave-one-fold-out CNN probabilities (``UsageError`` when one has none)."""
    from ..records import PtbXl
    from ._axis_bench import ptbxl_axis_records

    meta = PtbXl(root).metadata
    probs = load_dev_cnn_probabilities(dev_dir)
    recs = [r for r in ptbxl_axis_records(root, 100, DEV_FOLDS, None, cache_dir) if r.axis_deg is not None]
    missing = [r.key for r in recs if r.key not in probs]
    if missing:
        raise UsageError(f"{dev_dir}: no CNN prediction for {len(missing)} development records (e.g. {missing[:5]})")
    return [HybridRow(r.key, int(meta.loc[int(r.key), "strat_fold"]), r.label, float(r.axis_deg), probs[r.key])
            for r in recs]


def model_probabilities(keys: list, read, progress: bool = True, desc: str = "axis model") -> dict[str, tuple]:
    """key -> the shipped ``axis_ptbxl`` model's probabilities (left, normal, right) for ``read(key)``."""
    import numpy as np
    from tqdm import tqdm

    from ..encoders import load_axis_model

    if not keys:
        return {}
    model = load_axis_model()
    x = np.stack([model.preprocess(read(k)) for k in tqdm(keys, desc=desc, file=sys.stderr, disable=not progress)])
    return {str(k): tuple(float(v) for v in p) for k, p in zip(keys, model.predict_proba(x))}


def score_hybrid(records: list[AxisRecord], probs: dict[str, tuple], rule: HybridRule, cuts: tuple[float, float],
                 dataset: str):
    """``AxisResult`` of ``rule`` on ``records`` (angle + the CNN's probabilities keyed like the
    records) with the (left, right) cut-offs; records without an angle count as unmeasurable."""
    from collections import Counter

    from ._axis_bench import AxisResult, _agreement

    confusion: Counter = Counter()
    for r in records:
        if r.axis_deg is not None:
            confusion[(r.label, rule.classify(r.axis_deg, cuts, probs[r.key]))] += 1
    return AxisResult(dataset, sum(confusion.values()), sum(r.axis_deg is None for r in records),
                      _agreement(confusion), dict(confusion), method=f"hybrid {rule.name}",
                      convention="ptbxl-hybrid", cuts_deg=(float(cuts[0]), float(cuts[1])))
