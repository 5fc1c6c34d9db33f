"""Check that two versions of the delineation code give identical outputs on a fixed record set.

Run once per code version (``--dump``), then compare the two dumps (``--compare``). The version is
whatever ``ecgqa_tools`` Python imports: a clone at another commit is used with
``PYTHONPATH=<clone>`` (the script prints the package path it imported, so a wrong one shows).

    git clone -q /work/main /tmp/speed_base && git -C /tmp/speed_base checkout 56ded66
    PYTHONPATH=/tmp/speed_base python scripts/check_delineation_identical.py --data ../shared/data --dump /tmp/before.pkl
    python scripts/check_delineation_identical.py --data ../shared/data --dump /tmp/after.pkl
    python scripts/check_delineation_identical.py --compare /tmp/before.pkl /tmp/after.pkl

Records (fixed before any comparison was run): the bundled examples; LUDB records 1-14 and the
first 6 (by number) whose rhythm is atrial fibrillation/flutter or that are paced (the P-wave gate
fires there); the first 20 PTB-XL records with 100 Hz signals and the first 10 with 500 Hz
signals; MIT-BIH record 100, first 60 s (2 leads, 360 Hz, several model windows); and three
derived cases: LUDB 1 with lead V3 flat (an unusable lead), LUDB 2 cut to 7 s (shorter than one
window) and a bundled example at 250 Hz.

What is compared, per record: ``delineate_detailed`` (every wave of every lead with onset, offset
and peak sample; the rhythm call with its fractions; the unusable leads and their reasons), the
``openecg-raw`` delineation, and for the bundled examples ``tokenize_lead`` of leads II and V1
(symbols, durations, codec beat types and rhythm runs). Objects are compared with ``==`` (frozen
dataclasses: exact integers and floats).
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _records(data: Path) -> list[tuple[str, object]]:
    from ecgqa_tools.records import ECG, Ludb, PtbXl, list_examples, load_example, read_record, resample

    out: list[tuple[str, object]] = [(f"example {name}", load_example(name)) for name in list_examples()]
    ludb = Ludb(data / "ludb")
    no_p = []
    for n in range(1, 201):
        d = ludb.diagnoses(n)
        rhythm = " ".join(d.rhythms).lower()
        if "fibrillation" in rhythm or "flutter" in rhythm or d.cardiac_pacing:
            no_p.append(n)
        if len(no_p) == 6:
            break
    for n in list(range(1, 15)) + no_p:
        out.append((f"ludb {n}", ludb.read(n)))
    ptbxl = PtbXl(data / "ptb-xl")
    for fs, count in ((100, 20), (500, 10)):
        for ecg_id in sorted(ptbxl.present_ids(fs_hz=fs))[:count]:
            out.append((f"ptbxl {ecg_id} {fs} Hz", ptbxl.read(ecg_id, fs_hz=fs)))
    mit = read_record(str(data / "mitdb" / "100"))
    n60 = int(round(60 * mit.fs_hz))
    out.append(("mitdb 100 0-60 s", mit.with_signal(np.ascontiguousarray(mit.signal_mv[:, :n60]))))
    one = ludb.read(1)
    flat = one.signal_mv.copy()
    flat[one.lead_names.index("V3")] = 0.0
    out.append(("ludb 1, V3 flat", one.with_signal(flat)))
    two = ludb.read(2)
    out.append(("ludb 2, first 7 s", two.with_signal(np.ascontiguousarray(two.signal_mv[:, :3500]))))
    out.append(("example ptbxl-00473 at 250 Hz", resample(load_example("ptbxl-00473"), 250.0)))
    return out


def _dump(data: Path, path: Path) -> None:
    import ecgqa_tools
    from ecgqa_tools.encoders import delineate, delineate_detailed, tokenize_lead

    print(f"ecgqa_tools imported from {Path(ecgqa_tools.__file__).parent}", file=sys.stderr)
    result: dict[str, dict] = {}
    t0 = time.perf_counter()
    for name, ecg in _records(data):
        item: dict[str, object] = {"detailed": delineate_detailed(ecg), "raw": delineate(ecg, "openecg-raw")}
        if name.startswith("example ") and "Hz" not in name:
            item["tokens"] = [tokenize_lead(ecg, lead) for lead in ("II", "V1")]
        result[name] = item
    print(f"{len(result)} records in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as f:
        pickle.dump(result, f)
    os.replace(f.name, path)


def _compare(a: Path, b: Path) -> int:
    with open(a, "rb") as f:
        before = pickle.load(f)
    with open(b, "rb") as f:
        after = pickle.load(f)
    if before.keys() != after.keys():
        print(f"different record sets: {sorted(set(before) ^ set(after))}")
        return 1
    bad = 0
    waves = 0
    for name in before:
        x, y = before[name], after[name]
        for key in x:
            if x[key] != y.get(key):
                bad += 1
                print(f"DIFFERENT: {name}: {key}")
        d = x["detailed"].delineation
        waves += sum(len(d.lead(lead)) for lead in d.waves)
    print(f"{len(before)} records, {waves} waves (openecg pipeline): "
          f"{'all identical' if not bad else f'{bad} differences'}")
    return 1 if bad else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="the shared data folder (ludb/, ptb-xl/, mitdb/)")
    parser.add_argument("--dump", type=Path, help="write the outputs of the imported code here")
    parser.add_argument("--compare", type=Path, nargs=2, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    if args.compare:
        return _compare(*args.compare)
    if not (args.data and args.dump):
        parser.error("give --data and --dump, or --compare BEFORE AFTER")
    _dump(args.data, args.dump)
    return 0


if __name__ == "__main__":
    sys.exit(main())
