"""Record-level agreement of the noise_per_lead heuristic with PTB-XL's noise annotations.

Usage: ECGQA_DATA_DIR=../shared/data python scripts/llm_noise_eval.py [--fs 100|500] [--folds 9,10]

For every PTB-XL record with a signal here (in the given strat_folds), runs the signal-quality
heuristic (ecgqa_tools/llm/_quality.py, thresholds set by eye, never fitted on these labels) and
compares "kind flagged in any lead" with "the PTB-XL column for that kind is non-empty".
The labels are used only to score, as ground truth.
"""

from __future__ import annotations

import argparse
import sys

from tqdm import tqdm

from ecgqa_tools import _config
from ecgqa_tools.errors import RecordNotFound
from ecgqa_tools.llm._quality import NOISE_KINDS, lead_quality
from ecgqa_tools.records import PtbXl

COLUMNS = {"static noise": "static_noise", "burst noise": "burst_noise", "baseline drift": "baseline_drift",
           "electrodes problems": "electrodes_problems"}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fs", type=int, default=100)
    parser.add_argument("--folds", default="1,2,3,4,5,6,7,8,9,10")
    args = parser.parse_args()
    folds = {int(f) for f in args.folds.split(",")}
    ptbxl = PtbXl(_config.dataset_dir("ptbxl"))
    meta = ptbxl.metadata
    ids = [i for i in ptbxl.present_ids(fs_hz=args.fs) if int(meta.loc[i, "strat_fold"]) in folds]
    counts = {k: [0, 0, 0, 0] for k in NOISE_KINDS}  # tp, fp, fn, tn
    for ecg_id in tqdm(ids, file=sys.stderr):
        try:
            ecg = ptbxl.read(ecg_id, fs_hz=args.fs)
        except RecordNotFound:
            continue
        flagged = {kind for q in lead_quality(ecg.signal_mv, ecg.fs_hz, ecg.lead_names) for kind in q.noises}
        for kind in NOISE_KINDS:
            value = meta.loc[ecg_id, COLUMNS[kind]]
            truth = isinstance(value, str) and value.strip(" ,") != ""
            pred = kind in flagged
            counts[kind][(0 if truth else 1) if pred else (2 if truth else 3)] += 1
    print(f"PTB-XL records at {args.fs} Hz, folds {args.folds}: {len(ids)}")
    print("kind                 labelled  flagged  precision  recall")
    for kind, (tp, fp, fn, tn) in counts.items():
        precision = tp / (tp + fp) if tp + fp else float("nan")
        recall = tp / (tp + fn) if tp + fn else float("nan")
        print(f"{kind:<20} {tp + fn:>8} {tp + fp:>8} {precision:>10.3f} {recall:>7.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
