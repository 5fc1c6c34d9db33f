"""Dev comparison (docs/llm.md rule): disease CNN vs attribute-model statements for superclass questions, PTB-XL fold 9."""
import json
import os
import sys

from tqdm import tqdm

from ecgqa_tools.llm import _adapters as ad
from ecgqa_tools.qa import attributes_from_ptbxl
from ecgqa_tools.records import PtbXl

px = PtbXl(os.path.join(os.environ['ECGQA_DATA_DIR'], 'ptb-xl'))
meta = px.metadata
ids = [i for i in px.present_ids(fs_hz=100) if int(meta.loc[i, 'strat_fold']) == 9]
truth = attributes_from_ptbxl(px)
SUP = {"MI": "myocardial infarction", "STTC": "st/t change", "CD": "conduction disturbance", "HYP": "hypertrophy"}
rows = []
for i in tqdm(ids, file=sys.stderr):
    ecg = px.read(i, fs_hz=100)
    d = ad.predict_diseases(ecg)
    a = ad.predict_attributes(ecg)
    attrs = ad.build_attributes(a, None, None)
    rows.append({"ecg_id": int(i), "truth": truth[i].superclasses(), "attr": attrs.superclasses(),
                 "cnn": [SUP[k] for k, p in d.probabilities.items() if p >= d.thresholds.get(k, 0.5)],
                 "p": dict(d.probabilities), "thr": dict(d.thresholds)})
json.dump(rows, open('/tmp/superclass_dev.json', 'w'))
def f1(src, s):
    tp = sum(s in r[src] and s in r['truth'] for r in rows); fp = sum(s in r[src] and s not in r['truth'] for r in rows)
    fn = sum(s not in r[src] and s in r['truth'] for r in rows)
    return 2 * tp / max(2 * tp + fp + fn, 1), tp, fp, fn
for src in ('cnn', 'attr'):
    per = {s: f1(src, s) for s in SUP.values()}
    print(src, 'records', len(rows), 'macroF1 %.4f' % (sum(v[0] for v in per.values()) / 4), {k: ('%.3f' % v[0], v[1:]) for k, v in per.items()})
