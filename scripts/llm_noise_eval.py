"""Record-level agreement of the noise_per_lead heuristic with PTB-XL's noise annotations, and a
threshold fit on training folds.

Usage: ECGQA_DATA_DIR=../shared/data python scripts/llm_noise_eval.py [--cache FEATURES.npz]

1. For every PTB-XL record with a 100 Hz signal here, computes the per-lead quality indices of
   ``ecgqa_tools/llm/_quality.py`` (record level: the maximum over leads).
2. Reports precision/recall of "kind flagged in any lead" against "the PTB-XL column for that
   kind is non-empty" with the thresholds currently in ``_quality.py``, on folds 9-10.
3. Fits each threshold on folds 1-8 (maximum F1) and reports the fitted thresholds on folds 9-10.
The labels are used only as ground truth (fit on 1-8, report on 9-10), never to answer.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
from tqdm import tqdm

from ecgqa_tools import _config
from ecgqa_tools.errors import RecordNotFound
from ecgqa_tools.llm import _quality as q
from ecgqa_tools.records import PtbXl

COLUMNS = ("static_noise", "burst_noise", "baseline_drift", "electrodes_problems")


def features(ptbxl: PtbXl, ids: list[int]) -> np.ndarray:
    rows = []
    for ecg_id in tqdm(ids, file=sys.stderr, mininterval=5):
        try:
            ecg = ptbxl.read(ecg_id, fs_hz=100)
        except RecordNotFound:
            rows.append([np.nan] * 4)
            continue
        leads = q.lead_quality(ecg.signal_mv, ecg.fs_hz, ecg.lead_names)
        rows.append([max(x.drift_mv for x in leads), max(x.residue_rms_mv for x in leads),
                     max(x.burst_ratio if x.residue_rms_mv * x.burst_ratio > q.STATIC_MV else 0 for x in leads),
                     max(1.0 if (x.ptp_mv < q.FLAT_MV or x.clipped_fraction > q.CLIP_FRACTION) else 0.0 for x in leads)])
    return np.array(rows, dtype=np.float64)


def scores(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float, float, int]:
    tp = int((pred & truth).sum())
    precision = tp / pred.sum() if pred.sum() else float("nan")
    recall = tp / truth.sum() if truth.sum() else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    return precision, recall, f1, int(pred.sum())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cache", default=None, help="npz file to keep the features in between runs")
    args = parser.parse_args()
    ptbxl = PtbXl(_config.dataset_dir("ptbxl"))
    meta = ptbxl.metadata
    ids = [int(i) for i in ptbxl.present_ids(fs_hz=100)]
    if args.cache and os.path.exists(args.cache):
        saved = np.load(args.cache)
        ids, feats = [int(i) for i in saved["ids"]], saved["features"]
    else:
        feats = features(ptbxl, ids)
        if args.cache:
            np.savez(args.cache, ids=np.array(ids), features=feats)
    folds = meta.loc[ids, "strat_fold"].to_numpy()
    labels = {c: meta.loc[ids, c].fillna("").astype(str).str.strip(" ,").ne("").to_numpy() for c in COLUMNS}
    ok = ~np.isnan(feats).any(axis=1)
    train, test = ok & (folds <= 8), ok & (folds >= 9)
    print(f"PTB-XL records with 100 Hz signals here: {int(ok.sum())} "
          f"(fit on folds 1-8: {int(train.sum())}, report on folds 9-10: {int(test.sum())})")
    print("kind                 thresholds        labelled(9-10) flagged precision recall  F1")
    specs = [("baseline drift", "baseline_drift", 0, q.DRIFT_MV), ("static noise", "static_noise", 1, q.STATIC_MV),
             ("burst noise", "burst_noise", 2, q.BURST_RATIO)]
    for kind, column, index, current in specs:
        truth = labels[column]
        grid = np.quantile(feats[train, index], np.linspace(0.5, 0.995, 200))
        best = max(grid, key=lambda t: scores(feats[train, index] > t, truth[train])[2])
        for name, threshold in (("current", current), ("fitted", best)):
            p, r, f1, n = scores(feats[test, index] > threshold, truth[test])
            print(f"{kind:<20} {name:<8} {threshold:>8.4f} {int(truth[test].sum()):>14} {n:>7} {p:>9.3f} {r:>6.3f} {f1:>4.2f}")
    truth = labels["electrodes_problems"]
    p, r, f1, n = scores(feats[test, 3] > 0.5, truth[test])
    print(f"{'electrodes problems':<20} {'current':<8} {'flat/clip':>8} {int(truth[test].sum()):>14} {n:>7} {p:>9.3f} {r:>6.3f} {f1:>4.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
