"""Compare two cross-validation variants on a subset of test folds (docs/encoders.md, "Design choice:
`wide` vs `baseline`"): pooled out-of-fold AUC per seed and of the seeds' mean-logit ensemble, over
the records of the chosen test folds that both variants predicted for every seed.

    python scripts/compare_cv_variants.py --disease MI --folds 1-9 --seeds 0,1,2 \\
        --a /tmp/ecgqa_f/cv/cv_baseline.jsonl --b /tmp/ecgqa_f/cv_wide_a/cv_wide.jsonl,/tmp/ecgqa_f/cv_wide_b/cv_wide.jsonl

The session-3 numbers (baseline 0.9529 vs wide 0.9473 on 2,944 MI records of folds 1-9) came from an
earlier one-off script with the same definitions; this is its reproducible form.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


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
    from ecgqa_tools.encoders._metrics import roc_auc

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--disease", default="MI")
    ap.add_argument("--folds", default="1-9", help="test folds to compare on, e.g. 1-9 or 1,2,3")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--a", required=True, help="variant A predictions (comma-separated JSONL files)")
    ap.add_argument("--b", required=True, help="variant B predictions (comma-separated JSONL files)")
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
    for name, rows in (("A", a), ("B", b)):
        per_seed = []
        for s in seeds:
            y = np.array([lab for r in rows if r["seed"] == s for lab in r["labels"]]) > 0
            z = np.array([v for r in rows if r["seed"] == s for v in r["logits"]])
            per_seed.append(roc_auc(y, z))
        ens = ensemble_oof(rows, args.disease, seeds)
        print(f"{name}: per seed " + " ".join(f"{v:.4f}" for v in per_seed)
              + ("" if ens is None else f"; ensemble (mean logit) {ens['oof_auc_mean_logit']:.4f} "
                 f"[{ens['ci_mean_logit'][0]:.3f}, {ens['ci_mean_logit'][1]:.3f}] "
                 f"({ens['n_pos']} pos / {ens['n_neg']} neg)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
