"""Record-level agreement of the noise_per_lead heuristic with PTB-XL's noise annotations, and a
threshold fit on training folds.

Usage: ECGQA_DATA_DIR=../shared/data python scripts/llm_noise_eval.py [--cache FEATURES.npz]
       ECGQA_DATA_DIR=../shared/data python scripts/llm_noise_eval.py --lead-level [--cache LEADS.npz] [--report]
           [--dev-split train] [--fit-ids-out ecgqa_tools/llm/quality_fit_ids.txt]

1. For every PTB-XL record with a 100 Hz signal here, computes the per-lead quality indices of
   ``ecgqa_tools/llm/_quality.py`` (record level: the maximum over leads; static and burst noise
   on the outside-QRS residue since quality version 2).
2. Reports precision/recall of "kind flagged in any lead" against "the PTB-XL column for that
   kind is non-empty" with the thresholds currently in ``_quality.py``, on folds 9-10.
3. Fits each threshold on folds 1-8 (maximum F1) and reports the fitted thresholds on folds 9-10.
The labels are used only as ground truth (fit on 1-8, report on 9-10), never to answer.

``--lead-level``: the session-6 protocol in docs/llm.md ("QRS-aware static and burst noise"):
per-lead measures S0/S1/S2 and B0/B1, thresholds chosen by leave-one-fold-out over folds 1-8
(lead-level F1), the adoption rule's comparison printed; ``--report`` adds the single report on
folds 9-10 (run it once, after the decision). ``--dev-split train`` restricts the development
records to ECG-QA's PTB-XL train split (``llm._quality.QUALITY_FIT_RULE``; the refit of docs/llm.md
"Refit on ECG-QA train ECGs only"); ``--fit-ids-out`` writes the development ecg_ids (the file the
package ships for the ECG-QA benchmark's leakage guard).
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
        rows.append([max(x.drift_mv for x in leads), max(x.residue_outside_qrs_mv for x in leads),
                     max(x.burst_ratio_outside_qrs
                         if x.residue_outside_qrs_mv * x.burst_ratio_outside_qrs > q.BURST_FLOOR_MV else 0
                         for x in leads),
                     max(1.0 if (x.ptp_mv < q.FLAT_MV or x.clipped_fraction > q.CLIP_FRACTION) else 0.0 for x in leads)])
    return np.array(rows, dtype=np.float64)


def scores(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float, float, int]:
    tp = int((pred & truth).sum())
    precision = tp / pred.sum() if pred.sum() else float("nan")
    recall = tp / truth.sum() if truth.sum() else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    return precision, recall, f1, int(pred.sum())


# ------------------------------------------------------------------ lead level (session-6 protocol)

LEAD_FIELDS = ("residue_rms_mv", "burst_ratio", "residue_outside_qrs_mv", "burst_ratio_outside_qrs",
               "qrs_amplitude_mv")
GRID_ABS = np.geomspace(0.004, 0.2, 80)
GRID_REL = np.geomspace(0.001, 0.3, 80)
GRID_RATIO = np.arange(1.5, 8.0 + 1e-9, 0.25)
GRID_FLOOR = np.geomspace(0.005, 0.2, 20)
V1_STATIC_MV, V1_BURST_RATIO, V1_BURST_FLOOR_MV = 0.05, 4.0, 0.05
"""The protocol's fixed S0 / B0 (quality version 1's thresholds, no longer ``_quality.py``'s since v2)."""


def lead_features(ptbxl: PtbXl, ids: list[int], cache: str | None) -> np.ndarray:
    """(records, 12, len(LEAD_FIELDS)) per-lead measures; resumable through ``cache``."""
    feats = np.full((len(ids), 12, len(LEAD_FIELDS)), np.nan)
    done = 0
    if cache and os.path.exists(cache):
        saved = np.load(cache)
        if [int(i) for i in saved["ids"]] == ids:
            feats, done = saved["features"], int(saved["done"])
    for row in tqdm(range(done, len(ids)), file=sys.stderr, mininterval=5, initial=done, total=len(ids)):
        try:
            ecg = ptbxl.read(ids[row], fs_hz=100)
        except RecordNotFound:
            continue
        if tuple(ecg.lead_names) != q_leads():
            raise SystemExit(f"ecg_id {ids[row]}: leads {ecg.lead_names} are not the standard 12 in order")
        leads = q.lead_quality(ecg.signal_mv, ecg.fs_hz, ecg.lead_names)
        feats[row] = [[getattr(x, f) for f in LEAD_FIELDS] for x in leads]
        if cache and ((row + 1) % 200 == 0 or row + 1 == len(ids)):
            tmp = cache + ".tmp.npz"
            np.savez(tmp, ids=np.array(ids), features=feats, done=row + 1)
            os.replace(tmp, cache)
    return feats


def _counts(pred: np.ndarray, truth: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """(8, 3) per fold 1-8: true positives, predicted positives, positives (``pred``/``truth`` are
    (records, ...) booleans already restricted to the scored units)."""
    out = np.zeros((8, 3), dtype=np.int64)
    for k in range(8):
        sel = folds == k + 1
        p, t = pred[sel], truth[sel]
        out[k] = [(p & t).sum(), p.sum(), t.sum()]
    return out


def _f1(tp: int, npred: int, npos: int) -> tuple[float, float, float]:
    precision = tp / npred if npred else float("nan")
    recall = tp / npos if npos else float("nan")
    return precision, recall, (2 * tp / (npred + npos) if tp else 0.0)


def lead_level(cache: str | None, report: bool, dev_split: str | None = None, fit_ids_out: str | None = None) -> int:
    from ecgqa_tools.qa import parse_noise_leads

    ptbxl = PtbXl(_config.dataset_dir("ptbxl"))
    meta = ptbxl.metadata
    ids = sorted(int(i) for i in ptbxl.present_ids(fs_hz=100))
    feats = lead_features(ptbxl, ids, cache)
    ok = ~np.isnan(feats).any(axis=(1, 2))
    folds = meta.loc[ids, "strat_fold"].to_numpy()
    f = {name: feats[:, :, i] for i, name in enumerate(LEAD_FIELDS)}
    relative = f["residue_outside_qrs_mv"] / np.maximum(f["qrs_amplitude_mv"], 1e-6)
    rules = {  # name -> (kind, parameter tuples to choose from, prediction)
        "S0": ("static", [(V1_STATIC_MV,)], lambda t: f["residue_rms_mv"] > t[0]),
        "S0-refit": ("static", [(t,) for t in GRID_ABS], lambda t: f["residue_rms_mv"] > t[0]),
        "S1": ("static", [(t,) for t in GRID_ABS], lambda t: f["residue_outside_qrs_mv"] > t[0]),
        "S2": ("static", [(t,) for t in GRID_REL], lambda t: relative > t[0]),
        "B0": ("burst", [(V1_BURST_RATIO, V1_BURST_FLOOR_MV)],
               lambda t: (f["burst_ratio"] >= t[0]) & (f["burst_ratio"] * f["residue_rms_mv"] > t[1])),
        "B0-refit": ("burst", [(r, fl) for r in GRID_RATIO for fl in GRID_FLOOR],
                     lambda t: (f["burst_ratio"] >= t[0]) & (f["burst_ratio"] * f["residue_rms_mv"] > t[1])),
        "B1": ("burst", [(r, fl) for r in GRID_RATIO for fl in GRID_FLOOR],
               lambda t: (f["burst_ratio_outside_qrs"] >= t[0])
               & (f["burst_ratio_outside_qrs"] * f["residue_outside_qrs_mv"] > t[1])),
    }
    columns = {"static": "static_noise", "burst": "burst_noise"}
    dev, rep = ok & (folds <= 8), ok & (folds >= 9)
    dev_name = "folds 1-8"
    if dev_split is not None:
        from ecgqa_tools.encoders._jobs import (
            ecgqa_split_ids,  # the reader the ecgqa-split weights use
        )

        split_ids = ecgqa_split_ids(_config.dataset_dir("ecgqa").parent, dev_split)
        if dev_split != "train":
            raise SystemExit("--dev-split: only 'train' (QUALITY_FIT_RULE) is defined")
        chosen = set(q.quality_development_ids(ptbxl, split_ids))
        dev = dev & np.array([i in chosen for i in ids])
        dev_name = f"folds 1-8 in ECG-QA {dev_split}"
        print(f"ECG-QA ptbxl {dev_split}_ecgs.tsv: {len(split_ids)} ecg_ids; development rule: {q.QUALITY_FIT_RULE}")
    if fit_ids_out:
        tmp = fit_ids_out + ".tmp"
        with open(tmp, "w") as out:
            out.write(f"# ecg_ids the noise thresholds were fitted on ({int(dev.sum())} records): "
                      f"{q.QUALITY_FIT_RULE if dev_split else 'PTB-XL strat_fold 1-8 records with 100 Hz signals here'}\n"
                      "# written by scripts/llm_noise_eval.py --lead-level --fit-ids-out (docs/llm.md)\n")
            out.writelines(f"{i}\n" for i, d in zip(ids, dev) if d)
        os.replace(tmp, fit_ids_out)
    print(f"PTB-XL records with 100 Hz signals here: {int(ok.sum())} ({dev_name}: {int(dev.sum())}, "
          f"folds 9-10: {int(rep.sum())})")
    truth_lead, truth_rec, lead_ok = {}, {}, {}
    for kind, column in columns.items():
        cells = meta.loc[ids, column]
        named = [parse_noise_leads(c) for c in cells]
        truth_rec[kind] = cells.fillna("").astype(str).str.strip(" ,").ne("").to_numpy()
        truth_lead[kind] = np.array([[lead in n for lead in q_leads()] for n in named])
        lead_ok[kind] = ~truth_rec[kind] | np.array([len(n) > 0 for n in named])
        for name, sel in ((dev_name, dev), ("folds 9-10", rep)):
            s = sel & lead_ok[kind]
            print(f"{column}: {name}: {int(truth_rec[kind][sel].sum())} labelled records "
                  f"({int((sel & ~lead_ok[kind]).sum())} name no lead, left out of lead level); "
                  f"lead level {int(s.sum())} records, {int(truth_lead[kind][s].sum())} positive leads of {12 * int(s.sum())}")
    fitted: dict[str, tuple] = {}
    print(f"\nSelection on {dev_name}, leave-one-fold-out (threshold per held-out fold from the other 7)")
    print("rule      lead P   lead R  lead F1 | rec P   rec R  rec F1 | thresholds per held-out fold 1..8")
    for name, (kind, grid, predict) in rules.items():
        sl, sr = dev & lead_ok[kind], dev
        counts = np.array([_counts(predict(t)[sl], truth_lead[kind][sl], folds[sl]) for t in grid])  # (grid, 8, 3)
        totals = counts.sum(axis=1)
        best_all = int(np.argmax([_f1(*c)[2] for c in totals]))
        fitted[name] = grid[best_all]
        lead_pred = np.zeros_like(truth_lead[kind])
        chosen = []
        for k in range(8):
            train = totals - counts[:, k]
            g = int(np.argmax([_f1(*c)[2] for c in train]))
            chosen.append(grid[g])
            sel = folds == k + 1
            lead_pred[sel] = predict(grid[g])[sel]
        lp = _f1(int((lead_pred & truth_lead[kind])[sl].sum()), int(lead_pred[sl].sum()), int(truth_lead[kind][sl].sum()))
        rec_pred = lead_pred.any(axis=1)
        rp = _f1(int((rec_pred & truth_rec[kind])[sr].sum()), int(rec_pred[sr].sum()), int(truth_rec[kind][sr].sum()))
        shown = " ".join("/".join(f"{v:.3g}" for v in t) for t in chosen)
        print(f"{name:<9} {lp[0]:6.3f} {lp[1]:7.3f} {lp[2]:7.3f} | {rp[0]:5.3f} {rp[1]:6.3f} {rp[2]:6.3f} | {shown}")
    print(f"\nThresholds fitted on all of {dev_name} (maximum lead-level F1):")
    for name, t in fitted.items():
        print(f"  {name}: " + ", ".join(f"{v:.4g}" for v in t))
    if report:
        print(f"\nReport on folds 9-10 (thresholds fitted on {dev_name})")
        print("rule      lead P   lead R  lead F1 flagged/pos leads | rec P   rec R  rec F1 flagged/pos records")
        for name, (kind, _, predict) in rules.items():
            sl, sr = rep & lead_ok[kind], rep
            pred = predict(fitted[name])
            t = truth_lead[kind]
            lp = _f1(int((pred & t)[sl].sum()), int(pred[sl].sum()), int(t[sl].sum()))
            rec = pred.any(axis=1)
            rp = _f1(int((rec & truth_rec[kind])[sr].sum()), int(rec[sr].sum()), int(truth_rec[kind][sr].sum()))
            print(f"{name:<9} {lp[0]:6.3f} {lp[1]:7.3f} {lp[2]:7.3f} {int(pred[sl].sum()):>7}/{int(t[sl].sum()):<9} | "
                  f"{rp[0]:5.3f} {rp[1]:6.3f} {rp[2]:6.3f} {int(rec[sr].sum()):>7}/{int(truth_rec[kind][sr].sum())}")
    return 0


def q_leads() -> tuple[str, ...]:
    from ecgqa_tools.records import STANDARD_LEADS

    return tuple(STANDARD_LEADS)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cache", default=None, help="npz file to keep the features in between runs")
    parser.add_argument("--lead-level", action="store_true", help="the session-6 lead-level protocol")
    parser.add_argument("--report", action="store_true", help="with --lead-level: also score folds 9-10")
    parser.add_argument("--dev-split", choices=("train",), default=None,
                        help="with --lead-level: development = folds 1-8 records in this ECG-QA split")
    parser.add_argument("--fit-ids-out", default=None, help="with --lead-level: write the development ecg_ids here")
    args = parser.parse_args()
    if args.lead_level:
        return lead_level(args.cache, args.report, args.dev_split, args.fit_ids_out)
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
