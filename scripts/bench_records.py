"""Time the records layer on the shared data (wall clock, this machine).

    ECGQA_DATA_DIR=../shared/data python scripts/bench_records.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def main() -> int:
    root = Path(os.environ.get("ECGQA_DATA_DIR", "../shared/data"))
    t0 = time.perf_counter()
    from ecgqa_tools.records import Ludb, PtbXl, read_record

    import pandas  # noqa: F401  (import time reported separately)

    t1 = time.perf_counter()
    ptbxl = PtbXl(root / "ptb-xl")
    _ = ptbxl.metadata
    t2 = time.perf_counter()
    print(f"import ecgqa_tools.records + pandas: {t1 - t0:.2f} s")
    print(f"PtbXl metadata ({len(ptbxl.metadata):,} rows, scp_codes parsed): {t2 - t1:.2f} s")
    for rate in (100, 500):
        ids = sorted(ptbxl.present_ids(rate))
        start = time.perf_counter()
        for ecg_id in ids:
            ptbxl.read(ecg_id, fs_hz=rate)
        elapsed = time.perf_counter() - start
        print(f"PtbXl.read at {rate} Hz: {len(ids):,} records in {elapsed:.2f} s ({1000 * elapsed / len(ids):.2f} ms each)")
    ludb = Ludb(root / "ludb")
    start = time.perf_counter()
    for n in ludb.record_ids:
        ludb.read(n)
        ludb.delineation(n)
    elapsed = time.perf_counter() - start
    print(f"Ludb.read + delineation: {len(ludb.record_ids)} records in {elapsed:.2f} s")
    start = time.perf_counter()
    headers = sorted((root / "mitdb").glob("*.hea"))
    for header in headers:
        read_record(header)
    print(f"MIT-BIH (30 min, 2 leads, format 212): {len(headers)} records in {time.perf_counter() - start:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
