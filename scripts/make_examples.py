"""Copy the bundled example records (unmodified PTB-XL WFDB files) and write their index.

    python scripts/make_examples.py ../shared/data/ptb-xl ../shared/data/ecg-qa

Chosen from strat_fold 10 (PTB-XL's test fold: models trained on folds 1-8 never saw them) and
ECG-QA's PTB-XL test split, at 500 Hz where the record exists at 500 Hz, covering a normal, an MI,
an ST/T change, conduction disturbances and (at 100 Hz, the only one available) a hypertrophy.
"""

from __future__ import annotations

import csv
import os
import shutil
import sys
import tempfile
from pathlib import Path

# ecg_id, rate, why chosen
CHOSEN: tuple[tuple[int, int, str], ...] = (
    (473, 500, "normal ECG (NORM 100%), sinus rhythm, no noise flags"),
    (210, 500, "inferior myocardial infarction (IMI 80%), static noise flagged in all leads"),
    (400, 500, "ST/T change: non-diagnostic T abnormalities (NDT 100%)"),
    (377, 500, "conduction disturbance: left posterior fascicular block (LPFB 100%)"),
    (478, 500, "incomplete right bundle branch block (IRBBB 100%) with sinus arrhythmia"),
    (1386, 100, "hypertrophy: left ventricular hypertrophy (LVH 15%); no 500 Hz test record with HYP exists here"),
)
FIELDS = ("name", "ecg_id", "fs_hz", "strat_fold", "ecgqa_split", "file", "age", "sex", "device",
          "recording_date", "patient_id", "scp_codes", "why")


def main(ptbxl_root: str, ecgqa_root: str) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from ecgqa_tools.records import PtbXl

    ptbxl = PtbXl(ptbxl_root)
    test_ids = {int(line.split("\t")[1]) for line in (Path(ecgqa_root) / "ptbxl" / "test_ecgs.tsv").read_text().split("\n") if line.strip()}
    out = Path(__file__).resolve().parents[1] / "ecgqa_tools" / "records" / "examples"
    out.mkdir(exist_ok=True)
    rows = []
    for ecg_id, rate, why in CHOSEN:
        if ptbxl.fold(ecg_id) != 10 or ecg_id not in test_ids:
            raise SystemExit(f"ecg_id {ecg_id} is not in strat_fold 10 and the ECG-QA test split")
        base = ptbxl.path(ecg_id, rate)
        for ext in (".hea", ".dat"):
            shutil.copyfile(base.with_suffix(ext), out / (base.name + ext))
        meta = ptbxl.metadata.loc[ecg_id]
        rows.append({
            "name": f"ptbxl-{ecg_id:05d}",
            "ecg_id": ecg_id,
            "fs_hz": rate,
            "strat_fold": int(meta["strat_fold"]),
            "ecgqa_split": "test",
            "file": base.name,
            "age": meta["age"],
            "sex": "male" if int(meta["sex"]) == 0 else "female",
            "device": meta["device"],
            "recording_date": str(meta["recording_date"]),
            "patient_id": int(meta["patient_id"]),
            "scp_codes": ";".join(f"{k}:{v:g}" for k, v in meta["scp_codes"].items()),
            "why": why,
        })
    fd, tmp = tempfile.mkstemp(dir=out, suffix=".csv")
    with os.fdopen(fd, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, out / "index.csv")
    print(f"wrote {len(rows)} examples to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
