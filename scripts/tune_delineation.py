"""How the OpenECG pipeline's constants were chosen: on LUDB's 159 training records ONLY.

Caches the boundary model's per-frame probabilities and the codec rhythm shares of each training
record, then scores decoding variants (fusion weight, sub-frame boundaries, T-onset refinement,
bias, P gate) with the benchmark's scoring rule. The 41 held-out records are never read.

    python scripts/tune_delineation.py --ludb ../shared/data/ludb --cache /tmp/ludb_tune
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np


def main() -> int:
    from ecgqa_tools.encoders._delineation import (
        DelineatorConfig, LeadProbabilities, _runs, codec_rhythm_fractions, decode_waves, fuse_leads,
        lead_probabilities, lead_quality, no_p_rhythm,
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
    data = {}
    for n in train:
        path = cache / f"{n}.npz"
        if not path.exists():
            ecg = ludb.read(n)
            bad = lead_quality(ecg)
            p = lead_probabilities(ecg, 2.0, bad)
            rh = codec_rhythm_fractions(ecg, tuple(x for x in ("II", "I", "V1") if x not in bad))
            tmp = cache / f"{n}.tmp.npz"
            np.savez(tmp, probs=p.probs, usable=np.array(p.usable), n250=p.n_samples_250, rh=rh)
            os.replace(tmp, path)
            print(f"cached {n}", file=sys.stderr)
        z = np.load(path)
        data[n] = (LeadProbabilities(z["probs"], STANDARD_LEADS, int(z["n250"]),
                                     tuple(bool(u) for u in z["usable"])), z["rh"], ludb.delineation(n))

    def gate(p: LeadProbabilities, rh: np.ndarray) -> bool:
        q = p.probs[np.array(p.usable)].mean(0)[:, 2]
        c = [0.5 * (a + b) for cl, a, b in _runs((q > 0.5).astype(int)) if cl == 1 and b - a >= 1]
        irr = None
        if len(c) >= 5:
            rr = np.diff(c)
            irr = float(np.median(np.abs(np.diff(rr))) / np.median(rr))
        return no_p_rhythm(float(rh[3]), float(rh[2]), irr)

    def score(cfg: DelineatorConfig, use_gate: bool) -> tuple[float, float]:
        s2, s12 = DelineationScore(), DelineationScore()
        for n, (p, rh, gold) in data.items():
            fused = fuse_leads(p, cfg.fusion_weight)
            g = use_gate and gate(p, rh)
            waves = {}
            for i, lead in enumerate(STANDARD_LEADS):
                w = decode_waves(fused[i], p.n_samples_250, cfg, 500.0, 5000, own=p.probs[i])
                waves[lead] = tuple(x for x in w if not (g and x.kind == "P"))
            d = Delineation(500.0, 5000, waves, "tune")
            s2.add(score_delineation(d, gold, ["II"]))
            s12.add(score_delineation(d, gold, STANDARD_LEADS))
        return s2.macro_f1, s12.macro_f1

    none = DelineatorConfig(fusion_weight=0.0, subframe=False, refine_frames=(0, 0, 0), bias_ms=(0,) * 6)
    variants = [
        ("model decoding (no fusion, frame edges)", none, False),
        ("+ sub-frame boundaries", replace(none, subframe=True), False),
        ("+ fusion 0.25", replace(none, subframe=True, fusion_weight=0.25), False),
        ("+ fusion 0.5", replace(none, subframe=True, fusion_weight=0.5), False),
        ("+ fusion 0.75", replace(none, subframe=True, fusion_weight=0.75), False),
        ("fusion 0.5 + P gate", replace(none, subframe=True, fusion_weight=0.5), True),
        ("+ own-lead T onset (2 frames)", replace(none, subframe=True, fusion_weight=0.5, refine_frames=(0, 0, 2)), True),
        ("+ bias (chosen default)", DelineatorConfig(), True),
    ]
    print(f"LUDB training records: {len(data)}")
    for name, cfg, use_gate in variants:
        ii, all12 = score(cfg, use_gate)
        print(f"{name:<42} lead II {ii:.4f}  12 leads {all12:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
