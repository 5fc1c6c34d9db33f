"""Does counting QRS complexes on the usable leads only (session 9, review s8 S9) change a rhythm call
on the local data? (docs/measurements.md, step 5 "Usable leads only")

    OMP_NUM_THREADS=1 nice -n 10 python scripts/rhythm_usable_leads_check.py --data ../shared/data

Lists the LUDB and local PTB-XL (500 and 100 Hz) records with a lead ``lead_quality`` finds
unusable (only those can change), delineates them, and prints the rhythm call made on the usable
leads next to the one the all-lead mean gave (recomputed from the same fused probabilities).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main() -> None:
    from ecgqa_tools.encoders import _delineation as dl
    from ecgqa_tools.records import Ludb, PtbXl

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    data = parser.parse_args().data
    ludb, ptbxl = Ludb(data / "ludb"), PtbXl(data / "ptb-xl")
    readers = [("ludb", n, lambda n=n: ludb.read(n)) for n in range(1, 201)]
    for fs in (500, 100):
        readers += [(f"ptbxl@{fs}", i, lambda i=i, fs=fs: ptbxl.read(i, fs)) for i in sorted(ptbxl.present_ids(fs_hz=fs))]
    captured = {}
    original = dl.call_rhythm

    def capture(ecg, fused, unusable, *args, **kwargs):
        captured["fused"] = fused
        return original(ecg, fused, unusable, *args, **kwargs)

    dl.call_rhythm = capture
    counts: dict[str, list[int]] = {}
    for source, key, read in readers:
        ecg = read()
        found = counts.setdefault(source, [0, 0])
        found[0] += 1
        unusable = dl.lead_quality(ecg)
        if not unusable:
            continue
        found[1] += 1
        new = dl.delineate_detailed(ecg).rhythm
        frames = -(-int(round(ecg.duration_s * dl.MODEL_FS_HZ)) // dl.FRAME_SAMPLES)
        q_old = captured["fused"][:, :frames, 2].mean(axis=0)
        n_old, irr_old = len(dl._qrs_centres(q_old)), dl.rr_irregularity(q_old)
        judged = n_old >= dl.MIN_RHYTHM_QRS
        af_old = judged and (new.afib_fraction >= 0.5 or (new.afib_fraction >= 0.3 and irr_old is not None
                                                           and irr_old >= 0.15))
        gate_old = judged and dl.no_p_rhythm(new.afib_fraction, new.paced_fraction, irr_old)
        print(f"{source} {key}: unusable {unusable}\n  usable leads: n_qrs {new.n_qrs}, RR irregularity "
              f"{new.rr_irregularity}, AF {new.atrial_fibrillation}, P gate {new.no_p_waves}\n  all leads:    "
              f"n_qrs {n_old}, RR irregularity {irr_old}, AF {af_old}, P gate {gate_old}", flush=True)
    for source, (n, bad) in counts.items():
        print(f"{source}: {n} records, {bad} with an unusable lead")


if __name__ == "__main__":
    main()
