"""How the 12-lead T-onset consensus limit was chosen: on LUDB's 159 training records ONLY.

OpenECG's boundary model trained on these records, so they are an optimistic development set
(its probabilities fit them better than unseen records); the 41 held-out records are never read
here. Per-record model probabilities are cached as in ``tune_delineation.py``; the default
pipeline's waves (P gate from the cached codec shares) are decoded once and the consensus limit
is then varied.

    python scripts/tune_t_onset.py --ludb ../shared/data/ludb --cache /tmp/ludb_tune
"""

from __future__ import annotations

import sys



def main() -> int:
    from _ludb_training_cache import parse_args, training_records

    args = parse_args("vary the 12-lead T-onset consensus limit on LUDB's training records")
    from ecgqa_tools.encoders._delineation import (
        DEFAULT_CONFIG, decode_waves, fuse_leads, t_onset_consensus,
    )
    from ecgqa_tools.eval._delineation_bench import DelineationScore, score_delineation
    from ecgqa_tools.records import STANDARD_LEADS, Delineation

    from dataclasses import replace

    cfg = replace(DEFAULT_CONFIG, refine_offset_frames=None)  # the session-2 pipeline it was chosen on
    decoded = []
    for _n, p, _rh, gold in training_records(args.ludb, args.cache):
        fused = fuse_leads(p, cfg.fusion_weight)
        waves = {lead: decode_waves(fused[i], p.n_samples_250, cfg, 500.0, 5000, own=p.probs[i])
                 if p.usable[i] else () for i, lead in enumerate(STANDARD_LEADS)}
        decoded.append((waves, gold))
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
