"""Ceiling analysis of the PTB-XL heart-axis agreement on the DEVELOPMENT part only (session 8).

An analysis, not a selection: nothing here chooses or changes anything in the product. It reads
only PTB-XL ``strat_fold`` 1-8 (the 339 records100 records with a scored ``heart_axis``, 51 of
them also at 500 Hz); the report part (folds 9-10) is never read - there is no option to do so.

For each of the nine ``grounding.AXIS_METHODS`` angles (100 Hz, and 500 Hz where the record has it):

- agreement with the shipped ``ptbxl`` cut-offs (+5 / +90), with the best pair of the session-3
  grid fitted on all 339 (``fit_axis_cuts``, committed tie rule) and with the best real-valued
  pair (exact in-sample optimum over every left < right; the extreme-quadrant rule of
  ``three_class`` kept: angles below -150 count as right);
- per-record oracles: records that at least one method (and rate) classes like the label;
- for the records no method gets right: label codes, the distance in degrees from each angle to
  the nearest angle the label would accept under the cut-offs, how much the methods disagree, and
  PTB-XL's metadata flags (validation, report provenance, device, noise columns) against the rest.

    python scripts/axis_ceiling.py --ptbxl ../shared/data/ptb-xl --cache-dir /tmp/axis8c --json /tmp/axis8c/ceiling.json

``--cache-dir`` is the ``ecgqa bench axis`` cache layout (per-record QRS boundaries and angles per
delineation pipeline and method): missing values are computed (one delineation per record) and
appended. Run it with ``nice -n 10`` and ``OMP_NUM_THREADS=1``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

DEV_FOLDS: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8)
SHIPPED_CUTS_DEG: tuple[float, float] = (5.0, 90.0)
EXTREME_DEG = -150.0
NOISE_COLUMNS = ("baseline_drift", "static_noise", "burst_noise", "electrodes_problems", "extra_beats", "pacemaker")
AXIS_WORDS = re.compile(
    r"(ueberdrehter\s+\w+typ|überdrehter\s+\w+typ|\w*lagetyp\s*\w*|\w*linkstyp|\w*rechtstyp|steil\w*|"
    r"\bllt\b|\bmlt\b|\brlt\b|\w*indifferenz\w*|\w*normaltyp|\w*mitteltyp|horizontal\w*|sagittal\w*|slt|\w*achse\w*)",
    re.IGNORECASE)


def wrap_deg(a: float) -> float:
    """Angle in [-180, 180)."""
    return (a + 180.0) % 360.0 - 180.0


def label_distance_deg(angle_deg: float, label: str, cuts: tuple[float, float]) -> float:
    """Degrees the angle would have to move (along the circle) to be classed as ``label`` by
    ``three_class`` with ``cuts``; 0 when it already is. Class regions: normal [L, R], left
    [-150, L), right (R, 180] and [-180, -150)."""
    a = wrap_deg(angle_deg)
    left, right = cuts
    regions = {"normal": [(left, right)], "left": [(EXTREME_DEG, left)],
               "right": [(right, 180.0), (-180.0, EXTREME_DEG)]}[label]
    best = 360.0
    for lo, hi in regions:
        if lo <= a <= hi:
            return 0.0
        for edge in (lo, hi):
            d = abs(wrap_deg(a - edge))
            best = min(best, d)
    return best


def best_real_cuts(angles_deg: np.ndarray, labels: list[str]) -> tuple[int, float, float]:
    """Exact in-sample optimum of the three-class agreement over all real cut-offs
    -150 <= L <= R <= 180 (left: -150 <= a < L; normal: L <= a <= R; right: a > R or a < -150).
    Returns (count, L, R) with L, R at midpoints between neighbouring angles."""
    a = np.array([wrap_deg(x) for x in angles_deg])
    lab = np.array(labels)
    inner = a >= EXTREME_DEG
    extreme_right = int(np.sum((~inner) & (lab == "right")))
    a, lab = a[inner], lab[inner]
    order = np.argsort(a, kind="stable")
    a, lab = a[order], lab[order]
    n = len(a)
    # cut positions i: the first i sorted angles lie below the cut
    cum = {c: np.concatenate([[0], np.cumsum(lab == c)]) for c in ("left", "normal", "right")}
    best = (-1, 0, 0)
    for i in range(n + 1):  # left cut after i angles
        if i not in (0, n) and a[i - 1] == a[i]:
            continue
        left_ok = cum["left"][i]
        j = np.arange(i, n + 1)  # right cut after j angles
        valid = np.ones_like(j, dtype=bool)
        valid[(j > 0) & (j < n)] = a[j[(j > 0) & (j < n)] - 1] != a[j[(j > 0) & (j < n)]]
        tot = left_ok + (cum["normal"][j] - cum["normal"][i]) + (cum["right"][n] - cum["right"][j])
        tot = np.where(valid, tot, -1)
        k = int(np.argmax(tot))
        if tot[k] > best[0]:
            best = (int(tot[k]), i, int(j[k]))

    def cut_at(i: int) -> float:
        if i == 0:
            return float(EXTREME_DEG)
        if i == n:
            return 180.0
        return float((a[i - 1] + a[i]) / 2.0)

    return best[0] + extreme_right, cut_at(best[1]), cut_at(best[2])


def load_angles(root: str, cache_dir: str) -> tuple[dict, dict, list[str], dict[str, str]]:
    """{method: {id: angle}} at 100 Hz (339 records) and at 500 Hz (those with 500 Hz signals),
    the record ids and their three-class labels - folds 1-8 only."""
    from ecgqa_tools.eval._axis_bench import ptbxl_axis_records
    from ecgqa_tools.grounding import AXIS_METHODS

    a100: dict[str, dict[str, float | None]] = {}
    a500: dict[str, dict[str, float | None]] = {}
    labels: dict[str, str] = {}
    for method in AXIS_METHODS:
        for fs, out in ((100, a100), (500, a500)):
            recs = ptbxl_axis_records(root, fs, DEV_FOLDS, method, cache_dir)
            out[method] = {r.key: r.axis_deg for r in recs}
            if fs == 100:
                labels.update({r.key: r.label for r in recs})
    return a100, a500, sorted(labels, key=int), labels


def fisher(a_hit: int, a_n: int, b_hit: int, b_n: int) -> float:
    from scipy.stats import fisher_exact

    return float(fisher_exact([[a_hit, a_n - a_hit], [b_hit, b_n - b_hit]])[1])


def analyse(root: str, cache_dir: str) -> dict:
    from ecgqa_tools.eval._axis_bench import (
        AxisRecord,
        axis_fingerprint,
        fit_axis_cuts,
        three_class,
    )
    from ecgqa_tools.grounding import AXIS_METHODS
    from ecgqa_tools.records import PtbXl

    a100, a500, ids, labels = load_angles(root, cache_dir)
    meta = PtbXl(root).metadata
    folds = {int(meta.loc[int(i), "strat_fold"]) for i in ids}
    if not folds <= set(DEV_FOLDS):
        raise SystemExit(f"refusing: records outside folds 1-8 ({sorted(folds)})")
    n = len(ids)
    ids500 = [i for i in ids if a500[AXIS_METHODS[0]].get(i) is not None]
    out: dict = {"pipeline": axis_fingerprint(), "n_records": n, "n_records_500": len(ids500),
                 "needed_for_0.95": int(np.ceil(0.95 * n - 1e-9)), "methods": {}}
    fitted: dict[str, tuple[float, float]] = {}
    for m in AXIS_METHODS:
        recs = [AxisRecord(i, labels[i], a100[m][i]) for i in ids]
        if any(r.axis_deg is None for r in recs):
            raise SystemExit(f"{m}: unmeasurable records; not handled by this analysis")
        fit = fit_axis_cuts(recs)
        fitted[m] = (fit.left_deg, fit.right_deg)
        real_n, real_l, real_r = best_real_cuts(np.array([a100[m][i] for i in ids]), [labels[i] for i in ids])
        ship = sum(three_class(a100[m][i], SHIPPED_CUTS_DEG) == labels[i] for i in ids)
        ship500 = sum(three_class(a500[m][i], SHIPPED_CUTS_DEG) == labels[i] for i in ids500)
        ship100_on500 = sum(three_class(a100[m][i], SHIPPED_CUTS_DEG) == labels[i] for i in ids500)
        out["methods"][m] = {"shipped_cuts_100": ship, "grid_fit_cuts": list(fitted[m]), "grid_fit_100": fit.n_correct,
                             "grid_fit_ties": fit.n_tied(), "real_best_100": real_n,
                             "real_best_cuts": [round(real_l, 2), round(real_r, 2)],
                             "shipped_cuts_500_of_51": ship500, "shipped_cuts_100_same_51": ship100_on500}

    def right(i: str, m: str, cuts: tuple[float, float], rates=(100, 500)) -> bool:
        ok = False
        if 100 in rates:
            ok |= three_class(a100[m][i], cuts) == labels[i]
        if 500 in rates and a500[m].get(i) is not None:
            ok |= three_class(a500[m][i], cuts) == labels[i]
        return ok

    oracle = {
        "shipped_cuts_100": [i for i in ids if any(right(i, m, SHIPPED_CUTS_DEG, (100,)) for m in AXIS_METHODS)],
        "shipped_cuts_100_500": [i for i in ids if any(right(i, m, SHIPPED_CUTS_DEG) for m in AXIS_METHODS)],
        "own_fit_100": [i for i in ids if any(right(i, m, fitted[m], (100,)) for m in AXIS_METHODS)],
        "own_fit_100_500": [i for i in ids if any(right(i, m, fitted[m]) for m in AXIS_METHODS)],
    }
    out["oracle"] = {k: len(v) for k, v in oracle.items()}
    both = set(oracle["shipped_cuts_100_500"]) | set(oracle["own_fit_100_500"])
    out["oracle"]["either_cuts_100_500"] = len(both)
    never = [i for i in ids if i not in both]

    def dist(i: str, cuts_of) -> float:
        ds = [label_distance_deg(a100[m][i], labels[i], cuts_of(m)) for m in AXIS_METHODS]
        ds += [label_distance_deg(a500[m][i], labels[i], cuts_of(m)) for m in AXIS_METHODS if a500[m].get(i) is not None]
        return min(ds)

    rows = []
    for i in never:
        angs = [a100[m][i] for m in AXIS_METHODS]
        spread = max(abs(wrap_deg(x - y)) for x in angs for y in angs)
        r = meta.loc[int(i)]
        rows.append({
            "ecg_id": int(i), "fold": int(r["strat_fold"]), "heart_axis": str(r["heart_axis"]), "label": labels[i],
            "peak_I_aVF_deg": round(a100["peak-I-aVF"][i], 1),
            "angles_min_max_deg": [round(min(angs), 1), round(max(angs), 1)], "method_spread_deg": round(spread, 1),
            "has_500": a500["peak-I-aVF"].get(i) is not None,
            "dist_shipped_deg": round(dist(i, lambda m: SHIPPED_CUTS_DEG), 1),
            "dist_own_fit_deg": round(dist(i, lambda m: fitted[m]), 1),
            "device": str(r["device"]).strip(), "validated_by": None if np.isnan(r["validated_by"]) else int(r["validated_by"]),
            "second_opinion": bool(r["second_opinion"]),
            "noise": {c: str(r[c]).strip() for c in NOISE_COLUMNS if isinstance(r[c], str) and r[c].strip()},
            "report_axis_words": sorted({w.lower() for w in AXIS_WORDS.findall(str(r["report"]))}),
            "report": str(r["report"])[:160],
        })
    out["never_right"] = rows

    # shipped-method misses with the shipped cut-offs (the 20 of the 0.941 / 0.947 story), same flags
    ship_miss = [i for i in ids if three_class(a100["peak-I-aVF"][i], SHIPPED_CUTS_DEG) != labels[i]]
    out["shipped_misses"] = [int(i) for i in ship_miss]

    def flags(group: list[str]) -> dict:
        d = meta.loc[[int(i) for i in group]]
        res = {"n": len(group), "heart_axis": dict(Counter(d["heart_axis"].astype(str))),
               "validated_by_human": int(d["validated_by_human"].sum()),
               "initial_autogenerated_report": int(d["initial_autogenerated_report"].sum()),
               "second_opinion": int(d["second_opinion"].sum()),
               "validated_by_missing": int(d["validated_by"].isna().sum()),
               "device_AT6": int(d["device"].astype(str).str.startswith("AT-6").sum()),
               "device_CS12_not_E": int(sum(device_group(v) == "CS-12" for v in d["device"])),
               "abbreviated_axis_word": int(sum(bool(re.search(r"\b(llt|mlt|slt|rlt)\b", str(v).lower()))
                                                for v in d["report"])),
               "any_noise_flag": int(sum(any(isinstance(d.loc[k, c], str) and d.loc[k, c].strip()
                                            for c in NOISE_COLUMNS[:4]) for k in d.index))}
        for c in NOISE_COLUMNS:
            res[c] = int(sum(isinstance(v, str) and bool(v.strip()) for v in d[c]))
        return res

    groups = {"never_right": never, "rest": [i for i in ids if i not in set(never)],
              "shipped_misses": ship_miss, "shipped_right": [i for i in ids if i not in set(ship_miss)]}
    out["flags"] = {k: flags(v) for k, v in groups.items()}
    pv = {}
    for a, b in (("never_right", "rest"), ("shipped_misses", "shipped_right")):
        fa, fb = out["flags"][a], out["flags"][b]
        pv[f"{a}_vs_{b}"] = {k: float(f"{fisher(fa[k], fa['n'], fb[k], fb['n']):.2g}")
                             for k in ("second_opinion", "validated_by_missing", "device_AT6", "device_CS12_not_E",
                                       "abbreviated_axis_word", "any_noise_flag",
                                       *NOISE_COLUMNS)}
    out["fisher_p"] = pv
    out["report_source"] = report_sources(meta, ids, labels, a100["peak-I-aVF"], never)
    out["wording"] = wording_groups(meta, ids, labels, a100, never)
    out["lofo_real_cuts"] = {m: lofo_real_cuts(meta, ids, labels, a100[m]) for m in AXIS_METHODS}
    # distance of every shipped-method miss from the label's region (shipped cut-offs), for the picture
    out["shipped_miss_dist_deg"] = sorted(round(label_distance_deg(a100["peak-I-aVF"][i], labels[i],
                                                                   SHIPPED_CUTS_DEG), 1) for i in ship_miss)
    return out


def device_group(device: str) -> str:
    """PTB-XL ``device`` -> report source family: ``AT-6`` (English device statements),
    ``CS-12 E`` (German device statements) or ``CS-12`` (the other CS-12 records)."""
    d = " ".join(str(device).split())
    return "AT-6" if d.startswith("AT-6") else ("CS-12 E" if d == "CS-12 E" else d)


FREE_AXIS_WORDING = re.compile(r"\b(llt|mlt|slt|rlt|steiltyp|steillage|linkslagetyp|mittellagetyp)\b")
"""Axis words of the reports that are not in the device statements' vocabulary (Lagetyp normal,
Linkstyp, (ueberdrehter) Rechts-/Linkstyp, English "... axis ..."): a reader's own wording."""


def wording_groups(meta, ids: list[str], labels: dict[str, str], a100: dict, never: list[str]) -> dict:
    """Records whose report words the axis freely (``FREE_AXIS_WORDING``) vs the others: size,
    ``peak-I-aVF`` agreement with the shipped cut-offs, its in-sample best real cut-offs, never-right."""
    from ecgqa_tools.eval._axis_bench import three_class

    free = [i for i in ids if FREE_AXIS_WORDING.search(str(meta.loc[int(i), "report"]).lower())]
    groups = {"free_wording": free, "device_statement_wording": [i for i in ids if i not in set(free)]}
    out = {}
    for g, members in groups.items():
        ang = a100["peak-I-aVF"]
        n_best, left, right = best_real_cuts(np.array([ang[i] for i in members]), [labels[i] for i in members])
        out[g] = {"n": len(members), "heart_axis": dict(Counter(str(meta.loc[int(i), "heart_axis"]) for i in members)),
                  "devices": dict(Counter(device_group(meta.loc[int(i), "device"]) for i in members)),
                  "shipped_cuts_right": sum(three_class(ang[i], SHIPPED_CUTS_DEG) == labels[i] for i in members),
                  "real_best_in_group": n_best, "real_best_cuts": [round(left, 2), round(right, 2)],
                  "never_right": sum(i in set(never) for i in members)}
    fa, fb = out["free_wording"], out["device_statement_wording"]
    out["fisher_p_never_right"] = float(f"{fisher(fa['never_right'], fa['n'], fb['never_right'], fb['n']):.2g}")
    out["fisher_p_shipped_miss"] = float(f"{fisher(fa['n'] - fa['shipped_cuts_right'], fa['n'], fb['n'] - fb['shipped_cuts_right'], fb['n']):.2g}")
    return out


def report_sources(meta, ids: list[str], labels: dict[str, str], angles: dict, never: list[str]) -> dict:
    """Per device family: records, ``peak-I-aVF`` agreement with the shipped cut-offs, the
    in-sample best real cut-offs of that family alone, never-right records, validators and how
    many reports use the abbreviations llt / mlt / slt / rlt."""
    from ecgqa_tools.eval._axis_bench import three_class

    groups: dict[str, list[str]] = {}
    for i in ids:
        groups.setdefault(device_group(meta.loc[int(i), "device"]), []).append(i)
    out = {}
    abbrev = re.compile(r"\b(llt|mlt|slt|rlt)\b")
    for g, members in sorted(groups.items()):
        n_best, left, right = best_real_cuts(np.array([angles[i] for i in members]), [labels[i] for i in members])
        vb = meta.loc[[int(i) for i in members], "validated_by"].fillna(-1)
        out[g] = {"n": len(members),
                  "labels": dict(Counter(labels[i] for i in members)),
                  "heart_axis": dict(Counter(str(meta.loc[int(i), "heart_axis"]) for i in members)),
                  "shipped_cuts_right": sum(three_class(angles[i], SHIPPED_CUTS_DEG) == labels[i] for i in members),
                  "real_best_in_group": n_best, "real_best_cuts": [round(left, 2), round(right, 2)],
                  "never_right": sum(i in set(never) for i in members),
                  "validated_by": {("none" if v < 0 else str(int(v))): int(c)
                                   for v, c in Counter(vb.tolist()).items()},
                  "abbreviated_axis_word": sum(bool(abbrev.search(str(meta.loc[int(i), "report"]).lower()))
                                               for i in members)}
    return out


def lofo_real_cuts(meta, ids: list[str], labels: dict[str, str], angles: dict) -> int:
    """Leave-one-strat-fold-out count of the real-valued optimum (``best_real_cuts`` fitted on the
    other seven folds, first optimum found): how the in-sample bound holds up out of sample."""
    from ecgqa_tools.eval._axis_bench import three_class

    fold = {i: int(meta.loc[int(i), "strat_fold"]) for i in ids}
    right = 0
    for k in DEV_FOLDS:
        train = [i for i in ids if fold[i] != k]
        _, left, rc = best_real_cuts(np.array([angles[i] for i in train]), [labels[i] for i in train])
        right += sum(three_class(angles[i], (left, rc)) == labels[i] for i in ids if fold[i] == k)
    return right


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ptbxl", required=True)
    p.add_argument("--cache-dir", required=True, help="ecgqa bench axis cache directory")
    p.add_argument("--json", help="write the full result here")
    args = p.parse_args(argv)
    res = analyse(args.ptbxl, args.cache_dir)
    text = json.dumps(res, indent=1, ensure_ascii=False)
    if args.json:
        fd, tmp = tempfile.mkstemp(dir=Path(args.json).parent, suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, args.json)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
