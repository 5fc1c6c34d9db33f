"""Session 3: a learned / level-based correction of T onsets, chosen on LUDB's 159 training records ONLY.

OpenECG's boundary model trained on these records, so everything fitted here is fitted on an
optimistic development set; the 41 held-out records are never read. Because the probabilities fit
these records, a correction is fitted and scored by GROUPED 5-fold cross-validation over records
(folds: the sorted training ids permuted with numpy seed 0, fold = position % 5): each fold's records
are corrected by a model fitted on the other four folds' T onsets, and the out-of-fold delineations
are scored together (pooled counts, as the bench does).

Candidates (written down in docs/measurements.md, "Session 3: T-onset correction", and committed
before the selection run of this script):

- ``none``: the current pipeline (12-lead T-onset consensus 60 ms, no correction);
- ``ridge-<set>-a<alpha>``: ``TOnsetCorrection`` fitted by ridge regression (standardised features
  clipped to their 1st-99th percentiles, unpenalised intercept, correction limited to +-40 ms) on
  the target gold T onset - predicted T onset (ms) of every predicted T wave in the widened span
  with a gold T onset of the same lead within 150 ms; feature sets ``timing`` (qrs_off, peak,
  offset, rr, others), ``shape`` (fused_30/50/70, own_30/50/70) and ``all`` (both); alpha 1 or 100;
- ``level-own<L>``: the T onset moved to where the lead's own T probability rises through L = 0.3,
  0.5 or 0.7, plus a constant fitted in-fold (mean residual), limited to +-40 ms.

Rule: the highest out-of-fold 12-lead macro-F1 among candidates whose out-of-fold lead-II macro-F1
is not lower than the current pipeline's on the same records (0.98590); ties go to the candidate
listed first (``none`` first). P waves, and so the AF/flutter P-wave check, are not touched by
any candidate. A learned winner is refitted on all 159 records and printed as the
``TOnsetCorrection`` to store in ``ecgqa_tools/encoders/_delineation.py``.

    python scripts/tune_t_onset_correction.py --ludb ../shared/data/ludb --cache /tmp/ludb_tune
"""

from __future__ import annotations

import sys
from dataclasses import replace

import numpy as np

FS = 500.0
TIMING = ("qrs_off", "peak", "offset", "rr", "others")
SHAPE = ("fused_30", "fused_50", "fused_70", "own_30", "own_50", "own_70")
CLIP_MS = 40.0


def fit_ridge(x: np.ndarray, y: np.ndarray, features: tuple[str, ...], alpha: float):
    """A ``TOnsetCorrection`` from feature rows x (n, k) and targets y (n,) in ms."""
    from ecgqa_tools.encoders._delineation import TOnsetCorrection

    low, high = np.percentile(x, 1, axis=0), np.percentile(x, 99, axis=0)
    xc = np.clip(x, low, high)
    mean, scale = xc.mean(axis=0), xc.std(axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    z = np.c_[np.ones(len(xc)), (xc - mean) / scale]
    penalty = alpha * np.diag([0.0] + [1.0] * x.shape[1])
    w = np.linalg.solve(z.T @ z + penalty, z.T @ y)
    return TOnsetCorrection(features, tuple(low), tuple(high), tuple(mean), tuple(scale),
                            tuple(w[1:]), float(w[0]), CLIP_MS)


def fit_level(x: np.ndarray, y: np.ndarray, feature: str):
    """Onset moved to a level crossing (coefficient 1 on the unscaled feature) plus a mean offset."""
    from ecgqa_tools.encoders._delineation import TOnsetCorrection

    low, high = np.percentile(x, 1), np.percentile(x, 99)
    xc = np.clip(x[:, 0], low, high)
    return TOnsetCorrection((feature,), (float(low),), (float(high),), (0.0,), (1.0,), (1.0,),
                            float(np.mean(y - xc)), CLIP_MS)


def main() -> int:
    from _ludb_training_cache import p_gate, parse_args, training_records

    args = parse_args("choose a T-onset correction on LUDB's training records (grouped CV)")
    from ecgqa_tools.encoders._delineation import (
        DEFAULT_CONFIG,
        T_ONSET_FEATURES,
        correct_t_onsets,
        decode_waves,
        fuse_leads,
        t_onset_consensus,
        t_onset_features,
    )
    from ecgqa_tools.eval._delineation_bench import DelineationScore, score_delineation
    from ecgqa_tools.records import STANDARD_LEADS, Delineation

    data = training_records(args.ludb, args.cache)
    base_cfg = replace(DEFAULT_CONFIG, t_onset_correction=None)

    recs = []  # (n, waves after consensus, fused, probs, gold, feature rows, targets)
    for n, p, rh, gold in data:
        fused = fuse_leads(p, base_cfg.fusion_weight)
        no_p = p_gate(p, rh)
        waves = {}
        for i, lead in enumerate(STANDARD_LEADS):
            w = decode_waves(fused[i], p.n_samples_250, base_cfg, FS, 5000, own=p.probs[i]) if p.usable[i] else ()
            waves[lead] = tuple(x for x in w if not (no_p and x.kind == "P"))
        waves = t_onset_consensus(waves, FS, base_cfg.t_onset_consensus_ms)
        feats = t_onset_features(waves, fused, p, FS)
        xs, ys = [], []
        for (lead, k), x in feats.items():
            if not np.isfinite(x[0]) or lead not in gold.scored_span:
                continue
            lo, hi = gold.scored_span[lead]
            on = waves[lead][k].onset
            gon = np.array([g.onset for g in gold.waves.get(lead, ()) if g.kind == "T"], dtype=float)
            if not (lo - 25 <= on <= hi + 25) or gon.size == 0:
                continue
            j = int(np.argmin(np.abs(gon - on)))
            if abs(gon[j] - on) <= 75:  # 150 ms at 500 Hz
                xs.append(x)
                ys.append((gon[j] - on) * 1000.0 / FS)
        recs.append((n, waves, fused, p, gold, np.array(xs).reshape(-1, len(T_ONSET_FEATURES)), np.array(ys)))
    ids = np.array(sorted(r[0] for r in recs))
    perm = np.random.default_rng(0).permutation(ids)
    fold_of = {int(n): i % 5 for i, n in enumerate(perm)}
    rr_col = T_ONSET_FEATURES.index("rr")

    def rows(fold: int, exclude: bool) -> tuple[np.ndarray, np.ndarray]:
        sel = [r for r in recs if (fold_of[r[0]] != fold) == exclude]
        x = np.concatenate([r[5] for r in sel])
        y = np.concatenate([r[6] for r in sel])
        x = x.copy()
        rr = x[:, rr_col]
        rr[np.isnan(rr)] = np.nanmean(rr)
        return x, y

    def evaluate(fit) -> tuple[DelineationScore, DelineationScore]:
        s2, s12 = DelineationScore(), DelineationScore()
        for fold in range(5):
            model = None if fit is None else fit(*rows(fold, exclude=True))
            for n, waves, fused, p, gold, _x, _y in recs:
                if fold_of[n] != fold:
                    continue
                w = waves if model is None else correct_t_onsets(waves, fused, p, FS, model)
                d = Delineation(FS, 5000, w, "tune")
                s2.add(score_delineation(d, gold, ["II"]))
                s12.add(score_delineation(d, gold, STANDARD_LEADS))
        return s2, s12

    def ridge(features: tuple[str, ...], alpha: float):
        cols = [T_ONSET_FEATURES.index(f) for f in features]
        return lambda x, y: fit_ridge(x[:, cols], y, features, alpha)

    def level(feature: str):
        col = T_ONSET_FEATURES.index(feature)
        return lambda x, y: fit_level(x[:, [col]], y, feature)

    candidates = [("none", None)]
    for name, feats in (("timing", TIMING), ("shape", SHAPE), ("all", TIMING + SHAPE)):
        for alpha in (1.0, 100.0):
            candidates.append((f"ridge-{name}-a{alpha:g}", ridge(feats, alpha)))
    for lv in ("own_30", "own_50", "own_70"):
        candidates.append((f"level-{lv.replace('_', '')}", level(lv)))

    n_rows = sum(len(r[6]) for r in recs)
    print(f"LUDB training records: {len(recs)}, T onsets with a gold onset within 150 ms: {n_rows}; "
          f"grouped 5-fold CV by record (seed 0)")
    results = []
    for name, fit in candidates:
        s2, s12 = evaluate(fit)
        results.append((name, fit, s2.macro_f1, s12.macro_f1))
        print(f"{name:<22} lead II {s2.macro_f1:.5f}  12 leads {s12.macro_f1:.5f}  "
              f"T on F1 II {s2.counts['T_on'].f1:.4f} 12 {s12.counts['T_on'].f1:.4f}", flush=True)
    base_ii = results[0][2]
    eligible = [r for r in results if r[2] >= base_ii]
    best = max(eligible, key=lambda r: r[3])  # max() keeps the first of equal values
    print(f"chosen: {best[0]} (lead II {best[2]:.5f}, 12 leads {best[3]:.5f}; current {base_ii:.5f} / "
          f"{results[0][3]:.5f})")
    if best[1] is not None:
        x = np.concatenate([r[5] for r in recs])
        rr = x[:, rr_col]
        rr[np.isnan(rr)] = np.nanmean(rr)
        model = best[1](x, np.concatenate([r[6] for r in recs]))
        print("refitted on all training records:")
        print(repr(model))
    return 0


if __name__ == "__main__":
    sys.exit(main())
