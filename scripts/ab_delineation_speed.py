"""A/B wall and CPU time of the 12-lead delineation: two code versions, interleaved, same machine.

Each round runs one fresh subprocess per version (alternating which goes first), in which the
models are loaded and warmed on the first record, then ``delineate`` runs on every record
``--repeats`` times; the subprocess reports the median wall and CPU (process) time per ECG. A
version is whatever ``ecgqa_tools`` the subprocess imports: ``--base`` is put on PYTHONPATH for
"before"; "after" is the tree this script belongs to.

    python scripts/ab_delineation_speed.py --base /tmp/speed_base --data ../shared/data --rounds 5

Records: PTB-XL ecg_id 1-10 at 100 Hz (the records of ``ecgqa bench speed``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, sys, time
import numpy as np
import ecgqa_tools
from ecgqa_tools.encoders import delineate
from ecgqa_tools.records import PtbXl
ptbxl = PtbXl(sys.argv[1])
ecgs = [ptbxl.read(i, fs_hz=100) for i in range(1, 11)]
delineate(ecgs[0])
wall, cpu = [], []
for _ in range(int(sys.argv[2])):
    for ecg in ecgs:
        t, c = time.perf_counter(), time.process_time()
        delineate(ecg)
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
print(json.dumps({"path": ecgqa_tools.__file__, "wall": float(np.median(wall)), "cpu": float(np.median(cpu))}))
"""


def _run(pythonpath: str | None, data: Path, repeats: int) -> dict:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    else:
        env.pop("PYTHONPATH", None)
    out = subprocess.run([sys.executable, "-c", CHILD, str(data / "ptb-xl"), str(repeats)], env=env,
                         cwd="/", capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="a clone of the code to compare against")
    parser.add_argument("--data", type=Path, required=True, help="the shared data folder (ptb-xl/)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3, help="passes over the 10 records per process")
    args = parser.parse_args()
    after_root = str(Path(__file__).resolve().parents[1])
    rows = []
    for r in range(args.rounds):
        order = [("before", args.base), ("after", after_root)]
        if r % 2:
            order.reverse()
        for name, root in order:
            load = os.getloadavg()[0]
            res = _run(root, args.data, args.repeats)
            if not res["path"].startswith(root):
                raise SystemExit(f"{name}: imported {res['path']}, not from {root}")
            rows.append((r, name, res["wall"], res["cpu"], load))
            print(f"round {r} {name:6s} wall {1000 * res['wall']:7.1f} ms  cpu {1000 * res['cpu']:7.1f} ms  "
                  f"load1 before {load:.2f}", flush=True)
    import statistics

    for metric, k in (("wall", 2), ("cpu", 3)):
        b = [x[k] for x in rows if x[1] == "before"]
        a = [x[k] for x in rows if x[1] == "after"]
        ratios = [x / y for x, y in zip(a, b)]
        print(f"{metric}: before median {1000 * statistics.median(b):.1f} ms, after {1000 * statistics.median(a):.1f} ms, "
              f"after/before per round {', '.join(f'{q:.3f}' for q in ratios)} (median {statistics.median(ratios):.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
