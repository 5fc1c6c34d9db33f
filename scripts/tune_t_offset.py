"""How the T-offset placement was chosen (session 3): on LUDB's 159 training records ONLY.

OpenECG's boundary model trained on these records, so they are an optimistic development set; the
41 held-out records are never read here. Candidates (18): the T offset's own-lead refinement reach
(2 = the session-2 pipeline, which moves T offsets as well as T onsets to the lead's own crossing;
1; 0 = T offset stays on the 12-lead fused crossing) x a 12-lead T-offset consensus limit (off,
100, 80, 60, 40, 30 ms). Rule, written down before this script was run for the selection
(docs/measurements.md, "Session 3"): the highest 12-lead macro-F1 among the candidates whose lead-II
macro-F1 is not lower than the session-2 pipeline's on the same records; ties go to the candidate
listed first (fewer changes). Nothing else (P, QRS, rhythm gate, T onset) changes.

    python scripts/tune_t_offset.py --ludb ../shared/data/ludb --cache /tmp/ludb_tune
"""

from __future__ import annotations

import sys
from dataclasses import replace



def main() -> int:
    from _ludb_training_cache import p_gate, parse_args, training_records

    args = parse_args("choose the T-offset placement on LUDB's training records")
    from ecgqa_tools.encoders._delineation import (
        DEFAULT_CONFIG, DelineatorConfig, decode_waves, fuse_leads,
        t_offset_consensus, t_onset_consensus,
    )
    from ecgqa_tools.eval._delineation_bench import DelineationScore, score_delineation
    from ecgqa_tools.records import STANDARD_LEADS, Delineation

    data = training_records(args.ludb, args.cache)

    gates = {n: p_gate(p, rh) for n, p, rh, _ in data}

    def score(cfg: DelineatorConfig) -> tuple[DelineationScore, DelineationScore]:
        s2, s12 = DelineationScore(), DelineationScore()
        for n, p, _rh, gold in data:
            fused = fuse_leads(p, cfg.fusion_weight)
            waves = {}
            for i, lead in enumerate(STANDARD_LEADS):
                w = decode_waves(fused[i], p.n_samples_250, cfg, 500.0, 5000, own=p.probs[i]) if p.usable[i] else ()
                waves[lead] = tuple(x for x in w if not (gates[n] and x.kind == "P"))
            if cfg.t_onset_consensus_ms is not None:
                waves = t_onset_consensus(waves, 500.0, cfg.t_onset_consensus_ms)
            if cfg.t_offset_consensus_ms is not None:
                waves = t_offset_consensus(waves, 500.0, cfg.t_offset_consensus_ms)
            d = Delineation(500.0, 5000, waves, "tune")
            s2.add(score_delineation(d, gold, ["II"]))
            s12.add(score_delineation(d, gold, STANDARD_LEADS))
        return s2, s12

    session2 = replace(DEFAULT_CONFIG, refine_offset_frames=None, t_offset_consensus_ms=None)
    base_ii, base_12 = score(session2)
    print(f"LUDB training records: {len(data)}; session-2 pipeline: lead II {base_ii.macro_f1:.5f} "
          f"12 leads {base_12.macro_f1:.5f} (T off F1 {base_12.counts['T_off'].f1:.4f})")
    rows = []
    for reach in (2, 1, 0):
        for limit in (None, 100.0, 80.0, 60.0, 40.0, 30.0):
            cfg = replace(session2, refine_offset_frames=(0, 0, reach), t_offset_consensus_ms=limit)
            s2, s12 = score(cfg)
            rows.append((reach, limit, s2.macro_f1, s12.macro_f1))
            print(f"T-off own reach {reach}  consensus {'off' if limit is None else f'{limit:.0f} ms':>6}: "
                  f"lead II {s2.macro_f1:.5f}  12 leads {s12.macro_f1:.5f}  "
                  f"T off F1 II {s2.counts['T_off'].f1:.4f} 12 {s12.counts['T_off'].f1:.4f}", flush=True)
    eligible = [r for r in rows if r[2] >= base_ii.macro_f1]
    best = max(eligible, key=lambda r: r[3])  # max() keeps the first of equal values
    print(f"chosen: T-off own reach {best[0]}, consensus {best[1]} "
          f"(lead II {best[2]:.5f}, 12 leads {best[3]:.5f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
