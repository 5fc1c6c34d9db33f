"""Session-8 check of grounding.limb_reversal_note (docs/measurements.md "Arm-electrode reversal note"):
flags on original and simulated arm-swapped PTB-XL (folds 1-8, first 100 present, 100 Hz) and LUDB 1-60 records.
Run: OMP_NUM_THREADS=1 nice -n 10 python scripts/limb_reversal_check.py (data in /work/shared/data)."""
import os
import time
from pathlib import Path
import numpy as np
from ecgqa_tools.records import PtbXl, Ludb
from ecgqa_tools.grounding import measure
root = Path(os.environ.get('ECGQA_DATA_DIR', '../shared/data'))

def swapped(ecg):
    rows = {n: ecg.lead(n) for n in ecg.lead_names}
    s = dict(rows, I=-rows["I"], II=rows["III"], III=rows["II"], aVR=rows["aVL"], aVL=rows["aVR"])
    return ecg.with_signal(np.stack([s[n] for n in ecg.lead_names]))

def flagged(ecg):
    return any('electrode reversal' in x for x in measure(ecg).notes)

p = PtbXl(root / 'ptb-xl')
meta = p.metadata
ids = [i for i in sorted(p.present_ids(fs_hz=100)) if int(meta.loc[i, 'strat_fold']) <= 8][:100]
fp, tp, t0 = [], 0, time.time()
for i in ids:
    ecg = p.read(i, fs_hz=100)
    if flagged(ecg):
        fp.append((i, meta.loc[i, 'scp_codes']))
    tp += flagged(swapped(ecg))
print(f'ptbxl folds1-8 100Hz first {len(ids)} present: original flagged {len(fp)} {fp}; arms swapped flagged {tp}/{len(ids)} ({time.time()-t0:.0f} s)', flush=True)
l = Ludb(root / 'ludb')
fpl, tpl, nl = [], 0, 0
for k in range(1, 61):
    try:
        ecg = l.read(k)
    except Exception:
        continue
    nl += 1
    if flagged(ecg):
        fpl.append((k, l.diagnoses(k)))
    tpl += flagged(swapped(ecg))
print(f'ludb 1-60: {nl} read, original flagged {len(fpl)} {fpl}; arms swapped flagged {tpl}/{nl} ({time.time()-t0:.0f} s)', flush=True)
