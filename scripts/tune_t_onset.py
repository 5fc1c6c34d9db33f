"""How the 12-lead T-onset consensus limit was chosen: on LUDB's 159 training records ONLY.

OpenECG's boundary model trained on these records, so they are an optimistic development set
(its probabilities fit them better than unseen records); the 41 held-out records are never read
here. Per-record model probabilities are cached as in ``tune_delineation.py``; the default
pipeline's waves (P gate from the cached codec shares) are decoded once and the consensus limit
is then varied.

    python scripts/tune_t_onset.py --ludb ../shared/data/ludb --cache /tmp/ludb_tune
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np


def main() -> int:
    from ecgqa_tools.encoders._delineation import (
        DEFAULT_CONFIG, LeadProbabilities, decode_waves, fuse_leads, lead_probabilities, lead_quality,
        t_onset_consensus,
    )
    from ecgqa_tools.eval._delineation_bench import DelineationScore, ludb_record_ids, score_delineation
    from ecgqa_tools.records import STANDARD_LEADS, Delineation, Ludb

    ap = argparse.ArgumentParser()
    ap.add_argument("--ludb", required=True)
    ap.add_argument("--cache", default="/tmp/ludb_tune")
    args = ap.parse_args()
    ludb = Ludb(args.ludb)
    train = ludb_record_ids(ludb, "train")  # never the 41 held-out records
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    decoded = []
    cfg = DEFAULT_CONFIG
    for n in train:
        path = cache / f"{n}.npz"
        if not path.exists():
            ecg = ludb.read(n)
            p = lead_probabilities(ecg, cfg.guard_s, lead_quality(ecg))
            tmp = cache / f"{n}.tmp.npz"
            np.savez(tmp, probs=p.probs, usable=np.array(p.usable), n250=p.n_samples_250)
            os.replace(tmp, path)
            print(f"cached {n}", file=sys.stderr)
        z = np.load(path)
        p = LeadProbabilities(z["probs"], STANDARD_LEADS, int(z["n250"]), tuple(bool(u) for u in z["usable"]))
        fused = fuse_leads(p, cfg.fusion_weight)
        waves = {lead: decode_waves(fused[i], p.n_samples_250, cfg, 500.0, 5000, own=p.probs[i])
                 if p.usable[i] else () for i, lead in enumerate(STANDARD_LEADS)}
        decoded.append((waves, ludb.delineation(n)))
    print(f"LUDB training records: {len(decoded)} (T onset only; P waves do not interact)")
    for limit in (None, 120.0, 100.0, 80.0, 60.0, 50.0, 40.0):
        s2, s12 = DelineationScore(), DelineationScore()
        for waves, gold in decoded:
            w = waves if limit is None else t_onset_consensus(waves, 500.0, limit)
            d = Delineation(500.0, 5000, w, "tune")
            s2.add(score_delineation(d, gold, ["II"]))
            s12.add(score_delineation(d, gold, STANDARD_LEADS))
        t2, t12 = s2.counts["T_on"], s12.counts["T_on"]
        print(f"consensus {'off' if limit is None else f'{limit:.0f} ms':>7}: T_on F1 lead II {t2.f1:.4f} "
              f"12 leads {t12.f1:.4f} | macro-F1 lead II {s2.macro_f1:.4f} 12 leads {s12.macro_f1:.4f}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
