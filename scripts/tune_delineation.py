"""How the OpenECG pipeline's constants were chosen: on LUDB's 159 training records ONLY.

Caches the boundary model's per-frame probabilities and the codec rhythm shares of each training
record, then scores decoding variants (fusion weight, sub-frame boundaries, T-onset refinement,
bias, P gate) with the benchmark's scoring rule. The 41 held-out records are never read.

    python scripts/tune_delineation.py --ludb ../shared/data/ludb --cache /tmp/ludb_tune
"""

from __future__ import annotations

import sys
from dataclasses import replace



def main() -> int:
    from _ludb_training_cache import p_gate, parse_args, training_records

    args = parse_args("score decoding variants on LUDB's training records")
    from ecgqa_tools.encoders._delineation import (
        DelineatorConfig, decode_waves, fuse_leads,
        t_offset_consensus, t_onset_consensus,
    )
    from ecgqa_tools.eval._delineation_bench import DelineationScore, score_delineation
    from ecgqa_tools.records import STANDARD_LEADS, Delineation

    data = {n: (p, rh, gold) for n, p, rh, gold in training_records(args.ludb, args.cache)}

    def score(cfg: DelineatorConfig, use_gate: bool) -> tuple[float, float]:
        s2, s12 = DelineationScore(), DelineationScore()
        for n, (p, rh, gold) in data.items():
            fused = fuse_leads(p, cfg.fusion_weight)
            g = use_gate and p_gate(p, rh)
            waves = {}
            for i, lead in enumerate(STANDARD_LEADS):
                w = decode_waves(fused[i], p.n_samples_250, cfg, 500.0, 5000, own=p.probs[i])
                waves[lead] = tuple(x for x in w if not (g and x.kind == "P"))
            if cfg.t_onset_consensus_ms is not None:
                waves = t_onset_consensus(waves, 500.0, cfg.t_onset_consensus_ms)
            if cfg.t_offset_consensus_ms is not None:
                waves = t_offset_consensus(waves, 500.0, cfg.t_offset_consensus_ms)
            d = Delineation(500.0, 5000, waves, "tune")
            s2.add(score_delineation(d, gold, ["II"]))
            s12.add(score_delineation(d, gold, STANDARD_LEADS))
        return s2.macro_f1, s12.macro_f1

    # refine_offset_frames=None: own-lead refinement moves offsets too, as in sessions 1-2
    none = DelineatorConfig(fusion_weight=0.0, subframe=False, refine_frames=(0, 0, 0), bias_ms=(0,) * 6,
                            refine_offset_frames=None, t_onset_consensus_ms=None)
    variants = [
        ("model decoding (no fusion, frame edges)", none, False),
        ("+ sub-frame boundaries", replace(none, subframe=True), False),
        ("+ fusion 0.25", replace(none, subframe=True, fusion_weight=0.25), False),
        ("+ fusion 0.5", replace(none, subframe=True, fusion_weight=0.5), False),
        ("+ fusion 0.75", replace(none, subframe=True, fusion_weight=0.75), False),
        ("fusion 0.5 + P gate", replace(none, subframe=True, fusion_weight=0.5), True),
        ("+ own-lead T onset (2 frames)", replace(none, subframe=True, fusion_weight=0.5, refine_frames=(0, 0, 2)), True),
        ("+ bias (no T-onset consensus)", DelineatorConfig(refine_offset_frames=None, t_onset_consensus_ms=None), True),
        # the learned T-onset correction (the default since session 3) is not applied by this script's
        # decoding; scripts/tune_t_onset_correction.py scores it
        ("+ consensus, T offsets fused (no T-on corr.)", DelineatorConfig(), True),
    ]
    print(f"LUDB training records: {len(data)}")
    for name, cfg, use_gate in variants:
        ii, all12 = score(cfg, use_gate)
        print(f"{name:<42} lead II {ii:.4f}  12 leads {all12:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
