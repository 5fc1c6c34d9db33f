"""Shared by the LUDB tuning scripts: per-record boundary-model probabilities (and codec rhythm
shares on II/I/V1) of LUDB's 159 training records, cached as one ``.npz`` per record. The 41
held-out records are never read (``ludb_record_ids`` refuses without the held-out list)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np


def parse_args(description: str) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--ludb", required=True)
    ap.add_argument("--cache", default="/tmp/ludb_tune")
    return ap.parse_args()


def p_gate(p, rhythm_shares: np.ndarray) -> bool:
    """The no-P-wave rhythm gate on cached data: codec rhythm shares and the RR irregularity of the
    model's QRS probability averaged over the usable leads (unfused)."""
    from ecgqa_tools.encoders._delineation import no_p_rhythm, rr_irregularity

    qrs = p.probs[np.array(p.usable)].mean(0)[:, 2]
    return no_p_rhythm(float(rhythm_shares[3]), float(rhythm_shares[2]), rr_irregularity(qrs))


def training_records(ludb_dir: str, cache_dir: str):
    """``[(n, LeadProbabilities, rhythm shares, gold Delineation)]`` for the training records."""
    from ecgqa_tools.encoders._delineation import (
        LeadProbabilities,
        codec_rhythm_fractions,
        lead_probabilities,
        lead_quality,
    )
    from ecgqa_tools.eval._delineation_bench import ludb_record_ids
    from ecgqa_tools.records import STANDARD_LEADS, Ludb

    ludb = Ludb(ludb_dir)
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    out = []
    for n in ludb_record_ids(ludb, "train"):
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
        probs = LeadProbabilities(z["probs"], STANDARD_LEADS, int(z["n250"]), tuple(bool(u) for u in z["usable"]))
        out.append((n, probs, z["rh"], ludb.delineation(n)))
    return out
