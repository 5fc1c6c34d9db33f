"""How the no-P-wave rhythm gate was chosen: candidate rules scored on LUDB's 159 training records.

For every LUDB record this caches the codec rhythm-layer class shares of each of the 12 leads, the
QRS onsets of the 12-lead delineation (gate off) and the record's gold "no P wave" fact (no P
annotated in any lead: atrial fibrillation/flutter, pacing). Each candidate gate is then counted
on the training records (records without P it catches, records with P it wrongly empties); the
held-out 41 are printed only with ``--show-heldout`` (after the choice).

    python scripts/tune_p_gate.py --ludb ../shared/data/ludb --cache /tmp/ludb_gate
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np


def _collect(ludb, n: int) -> dict:
    from ecgqa_tools.encoders import DelineatorConfig, delineate, lead_quality
    from ecgqa_tools.encoders._delineation import codec_rhythm_fractions
    from ecgqa_tools.grounding import global_beats

    ecg = ludb.read(n)
    bad = lead_quality(ecg)
    shares = {name: codec_rhythm_fractions(ecg, (name,)).tolist()
              for name in ecg.lead_names if name not in bad}
    d = delineate(ecg, config=DelineatorConfig(rhythm_gate=False))
    gold = ludb.delineation(n)
    return {
        "n": n,
        "shares": shares,
        "qrs_onsets": [b.qrs_onset for b in global_beats(d)],
        "gold_p": sum(1 for lead in gold.waves for w in gold.lead(lead) if w.kind == "P"),
    }


def main() -> int:
    from tqdm import tqdm

    from ecgqa_tools.encoders._delineation import no_p_rhythm
    from ecgqa_tools.eval._delineation_bench import ludb_record_ids
    from ecgqa_tools.records import Ludb

    ap = argparse.ArgumentParser()
    ap.add_argument("--ludb", required=True)
    ap.add_argument("--cache", default="/tmp/ludb_gate")
    ap.add_argument("--show-heldout", action="store_true")
    args = ap.parse_args()
    ludb = Ludb(args.ludb)
    train = ludb_record_ids(ludb, "train")  # raises when the held-out list is missing
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / "gate.jsonl"
    rows: dict[int, dict] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                continue
            rows[r["n"]] = r
    heldout = ludb_record_ids(ludb, "heldout") if args.show_heldout else []
    ids = train + heldout  # the held-out records are read only when asked to show them
    with open(path, "a") as fh:
        for n in tqdm([n for n in ids if n not in rows], desc="LUDB gate data", file=sys.stderr):
            rows[n] = _collect(ludb, n)
            fh.write(json.dumps(rows[n]) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def irregularity(r: dict) -> float | None:
        q = np.asarray(r["qrs_onsets"], float)
        if q.size < 5:
            return None
        rr = np.diff(q)
        return float(np.median(np.abs(np.diff(rr))) / max(np.median(rr), 1e-9))

    def pooled(r: dict, leads) -> tuple[float, float]:
        s = np.array([r["shares"][x] for x in leads if x in r["shares"]])
        if s.size == 0:
            return 0.0, 0.0
        m = s.mean(0)
        return float(m[3]), float(m[2])

    RHYTHM_LEADS = ("II", "I", "V1")  # the gate before this script: three leads
    rules = {
        "current (II, I, V1)": lambda r: no_p_rhythm(*pooled(r, RHYTHM_LEADS), irregularity(r)),
        "same rule, 12 leads pooled": lambda r: no_p_rhythm(*pooled(r, list(r["shares"])), irregularity(r)),
        "current OR 12-lead afib+paced >= 0.5": lambda r: (
            no_p_rhythm(*pooled(r, RHYTHM_LEADS), irregularity(r))
            or sum(pooled(r, list(r["shares"]))) >= 0.5),
    }
    parts = {"train": train}
    if args.show_heldout:
        parts["heldout"] = heldout
    for part, pids in parts.items():
        nop = [n for n in pids if rows[n]["gold_p"] == 0]
        withp = [n for n in pids if rows[n]["gold_p"] > 0]
        print(f"== {part}: {len(nop)} records without P (gold), {len(withp)} with P")
        for n in nop:
            r = rows[n]
            a3, p3 = pooled(r, RHYTHM_LEADS)
            a12, p12 = pooled(r, list(r["shares"]))
            print(f"  no-P record {n:>3}: 3-lead afib {a3:.2f} paced {p3:.2f} | 12-lead afib {a12:.2f} "
                  f"paced {p12:.2f} | RR irregularity {irregularity(r)}")
        top = sorted(withp, key=lambda n: -sum(pooled(rows[n], list(rows[n]["shares"]))))[:5]
        for n in top:
            a12, p12 = pooled(rows[n], list(rows[n]["shares"]))
            a3, p3 = pooled(rows[n], RHYTHM_LEADS)
            print(f"  with-P record {n:>3} (highest 12-lead afib+paced): 12-lead {a12:.2f}+{p12:.2f}, "
                  f"3-lead {a3:.2f}+{p3:.2f}, RR irregularity {irregularity(rows[n])}")
        for name, rule in rules.items():
            caught = sum(rule(rows[n]) for n in nop)
            wrong = [n for n in withp if rule(rows[n])]
            print(f"  {name:<40} catches {caught}/{len(nop)} no-P records; empties {len(wrong)} "
                  f"records with P {wrong}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
