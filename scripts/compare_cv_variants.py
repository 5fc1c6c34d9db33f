"""Compare two cross-validation variants on a subset of test folds (docs/encoders.md, "Design choice:
`wide` vs `baseline`"): pooled out-of-fold AUC per seed and of the seeds' mean-logit ensemble, over
the records of the chosen test folds that both variants predicted for every seed.

    python scripts/compare_cv_variants.py --disease MI --folds 1-9 --seeds 0,1,2 \\
        --a /tmp/ecgqa_f/cv/cv_baseline.jsonl --b /tmp/ecgqa_f/cv_wide_a/cv_wide.jsonl,/tmp/ecgqa_f/cv_wide_b/cv_wide.jsonl

The session-3 numbers (baseline 0.9529 vs wide 0.9473 on 2,944 MI records of folds 1-9) came from an
earlier one-off script with the same definitions; this is its reproducible form. It also prints the
per-seed differences (B - A), the paired bootstrap 95% CI of the ensemble difference (1,000 resamples
of positives and negatives, the same records for both) and the ensembles' AUC per test fold.
``--b-seeds`` additionally reports B's ensemble over other seeds (e.g. 0,1,2 where A has only 0,1),
on the records every one of those seeds predicted; it plays no part in the comparison above it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def _folds(spec: str) -> set[int]:
    if "-" in spec:
        a, b = spec.split("-")
        return set(range(int(a), int(b) + 1))
    return {int(f) for f in spec.split(",")}


def _rows(paths: str, disease: str, folds: set[int], seeds: list[int]) -> list[dict]:
    from ecgqa_tools.encoders._cv import _load_rows

    rows: list[dict] = []
    for p in paths.split(","):
        if not Path(p).is_file():
            raise SystemExit(f"error: {p}: no such predictions file")
        rows += [r for r in _load_rows(Path(p))
                 if r["disease"] == disease and r["fold"] in folds and r["seed"] in seeds]
    return rows


def _restrict(rows: list[dict], keep: set[int]) -> list[dict]:
    out = []
    for r in rows:
        idx = [k for k, i in enumerate(r["ecg_ids"]) if i in keep]
        out.append({**r, "ecg_ids": [r["ecg_ids"][k] for k in idx], "labels": [r["labels"][k] for k in idx],
                    "logits": [r["logits"][k] for k in idx]})
    return out


def main() -> int:
    import numpy as np

    from ecgqa_tools.encoders._cv import ensemble_oof
    from ecgqa_tools.encoders._metrics import bootstrap_auc_ci, roc_auc

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--disease", default="MI")
    ap.add_argument("--folds", default="1-9", help="test folds to compare on, e.g. 1-9 or 1,2,3")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--a", required=True, help="variant A predictions (comma-separated JSONL files)")
    ap.add_argument("--b", required=True, help="variant B predictions (comma-separated JSONL files)")
    ap.add_argument("--b-seeds", help="also report B alone with these seeds (information only)")
    args = ap.parse_args()
    folds, seeds = _folds(args.folds), [int(s) for s in args.seeds.split(",")]
    a, b = (_rows(p, args.disease, folds, seeds) for p in (args.a, args.b))

    def ids_per_seed(rows: list[dict]) -> dict[int, set[int]]:
        out: dict[int, set[int]] = {s: set() for s in seeds}
        for r in rows:
            out[r["seed"]].update(r["ecg_ids"])
        return out

    common = set.intersection(*ids_per_seed(a).values(), *ids_per_seed(b).values())
    if not common:
        raise SystemExit("error: no record predicted by every seed of both variants on these folds")
    a, b = _restrict(a, common), _restrict(b, common)
    print(f"{args.disease}, test folds {sorted(folds)}, {len(common)} records predicted by every seed of both")
    per_variant = {}
    for name, rows in (("A", a), ("B", b)):
        per_seed, cis = [], []
        for s in seeds:
            y = np.array([lab for r in rows if r["seed"] == s for lab in r["labels"]]) > 0
            z = np.array([v for r in rows if r["seed"] == s for v in r["logits"]])
            per_seed.append(roc_auc(y, z))
            cis.append(bootstrap_auc_ci(y, z))
        per_variant[name] = per_seed
        ens = ensemble_oof(rows, args.disease, seeds)
        print(f"{name}: per seed " + " ".join(f"{v:.4f} [{lo:.3f}, {hi:.3f}]" for v, (lo, hi) in zip(per_seed, cis))
              + ("" if ens is None else f"; ensemble (mean logit) {ens['oof_auc_mean_logit']:.4f} "
                 f"[{ens['ci_mean_logit'][0]:.3f}, {ens['ci_mean_logit'][1]:.3f}] "
                 f"({ens['n_pos']} pos / {ens['n_neg']} neg)"))
    diffs = [vb - va for va, vb in zip(per_variant["A"], per_variant["B"])]
    print("B - A per seed: " + " ".join(f"{d:+.4f}" for d in diffs)
          + f" (B higher for {sum(d > 0 for d in diffs)} of {len(diffs)} seeds)")
    if len(seeds) > 1:
        _, y, za, zb, fold_of = _ensemble_logits(a, b, seeds)
        diff, lo, hi = _paired_bootstrap(y, za, zb)
        print(f"ensemble B - A: {diff:+.4f}, paired bootstrap 95% CI [{lo:+.4f}, {hi:+.4f}]")
        per_fold = []
        for f in sorted(folds):
            m = fold_of == f
            if m.any():
                per_fold.append((f, roc_auc(y[m], za[m]), roc_auc(y[m], zb[m])))
        print("ensemble AUC per test fold (A / B): " + ", ".join(f"{f} {x:.3f} / {z:.3f}" for f, x, z in per_fold)
              + f" (B higher on {sum(z > x for _, x, z in per_fold)} of {len(per_fold)})")
    if args.b_seeds:
        b_seeds = [int(s) for s in args.b_seeds.split(",")]
        rows = _rows(args.b, args.disease, folds, b_seeds)
        ens = ensemble_oof(rows, args.disease, b_seeds)
        if ens is not None:
            print(f"B alone, seeds {args.b_seeds}: ensemble (mean logit) {ens['oof_auc_mean_logit']:.4f} "
                  f"[{ens['ci_mean_logit'][0]:.3f}, {ens['ci_mean_logit'][1]:.3f}] over {ens['n_records']} records "
                  f"({ens['n_pos']} pos / {ens['n_neg']} neg)")
    return 0


def _ensemble_logits(a: list[dict], b: list[dict], seeds: list[int]) -> tuple:
    """Per record (sorted ids): label, A's and B's mean logit over ``seeds``, test fold."""
    import numpy as np

    def by_record(rows: list[dict]) -> tuple[dict[int, list[float]], dict[int, int], dict[int, int]]:
        logits: dict[int, list[float]] = {}
        labels: dict[int, int] = {}
        fold: dict[int, int] = {}
        for r in rows:
            for i, lab, z in zip(r["ecg_ids"], r["labels"], r["logits"]):
                logits.setdefault(i, []).append(z)
                labels[i], fold[i] = lab, r["fold"]
        return logits, labels, fold

    la, labels, fold = by_record(a)
    lb, labels_b, _ = by_record(b)
    ids = sorted(i for i in la if len(la[i]) == len(seeds) and len(lb.get(i, [])) == len(seeds))
    if any(labels[i] != labels_b[i] for i in ids):
        raise SystemExit("error: the two variants disagree on a record's label")
    return (np.array(ids), np.array([labels[i] for i in ids]) > 0, np.array([np.mean(la[i]) for i in ids]),
            np.array([np.mean(lb[i]) for i in ids]), np.array([fold[i] for i in ids]))


def _paired_bootstrap(y: Any, za: Any, zb: Any, n_boot: int = 1000, seed: int = 0) -> tuple[float, float, float]:
    """AUC(B) - AUC(A) and its percentile 95% CI, resampling positives and negatives (same for both)."""
    import numpy as np

    from ecgqa_tools.encoders._metrics import roc_auc

    rng = np.random.default_rng(seed)
    pos, neg = np.nonzero(y)[0], np.nonzero(~y)[0]
    values = np.empty(n_boot)
    for k in range(n_boot):
        idx = np.concatenate([rng.choice(pos, len(pos)), rng.choice(neg, len(neg))])
        values[k] = roc_auc(y[idx], zb[idx]) - roc_auc(y[idx], za[idx])
    return roc_auc(y, zb) - roc_auc(y, za), float(np.quantile(values, 0.025)), float(np.quantile(values, 0.975))


if __name__ == "__main__":
    sys.exit(main())
