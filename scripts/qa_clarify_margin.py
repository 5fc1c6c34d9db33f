"""Margins of the question parser on paraphrased ECG-QA chunks (docs/qa.md, "Ambiguous readings").

Usage: python scripts/qa_clarify_margin.py valid 60000.json dev | python scripts/qa_clarify_margin.py test 80000.json test
(reads $ECGQA_DATA_DIR/ecg-qa/ptbxl; writes /tmp/margins2_<mode>.json)."""
import json
import math
import sys
from pathlib import Path

from ecgqa_tools.errors import UnsupportedQuestion
from ecgqa_tools.qa._samples import _read_json, parse_samples
from ecgqa_tools.qa._templates import _data_text
from ecgqa_tools.qa._understand import (
    HANDWRITTEN_FILES,
    _default_parser,
    extract_slots,
)
from ecgqa_tools.qa._verify import slots_of_sample

split, name, mode = sys.argv[1], sys.argv[2], sys.argv[3]
import os

root = Path(os.environ['ECGQA_DATA_DIR']) / 'ecg-qa' / 'ptbxl'
para = parse_samples(_read_json(root/'paraphrased'/split/name), split, name)
tmpl = {s.sample_id: s for s in parse_samples(_read_json(root/'template'/split/name), split, name)}
gold = {}
for s in para:
    t = tmpl.get(s.sample_id)
    if t is None or t.template_id != s.template_id: continue
    gold.setdefault(s.question, (s.template_id, slots_of_sample(t)))
items = [(q, tid, sl, 'chunk') for q, (tid, sl) in gold.items()]
if mode == 'dev':
    for nm in HANDWRITTEN_FILES:
        for it in json.loads(_data_text(nm))['questions']:
            items.append((it['question'], int(it['template_id']), dict(it['slots']), 'hand'))
parser = _default_parser()
rows = []
for q, tid, sl, src in items:
    for loo in ((True, False) if (src == 'chunk' and mode == 'test') else ((src == 'chunk'),)):
        try:
            g = parser.parse(q, exclude_prototypes={extract_slots(q).text} if loo else set())
            ok = g.template_id == tid and g.slots == sl
            rows.append((src + ('-loo' if loo else ''), 'correct' if ok else 'wrong', g.margin, q, g.template_id))
        except UnsupportedQuestion:
            rows.append((src + ('-loo' if loo else ''), 'refused', None, q, None))
json.dump(rows, open(f'/tmp/margins2_{mode}.json', 'w'))
from collections import Counter

print(mode, Counter((r[0], r[1]) for r in rows))
correct = [r for r in rows if r[1] == 'correct']
margins = sorted(r[2] for r in correct if r[2] is not None)
undecided = sum(r[2] is None for r in correct)
if mode == 'dev':  # the rule: largest m (down to 0.005) keeping >= 99% of correct parses answered
    need = math.ceil(0.99 * len(correct))
    best = max((m for m in set(margins) if undecided + sum(v >= m for v in margins) >= need), default=None)
    m = None if best is None else math.floor(best / 0.005) * 0.005
    print('CLARIFY_MARGIN by the rule:', m)
else:
    from ecgqa_tools.llm._offline import CLARIFY_MARGIN as m
for src in sorted({r[0] for r in rows}):
    part = [r for r in rows if r[0] == src]
    ok = [r for r in part if r[1] == 'correct']
    bad = [r for r in part if r[1] == 'wrong']
    kept = sum(r[2] is None or m is None or r[2] >= m for r in ok)
    caught = sum(r[2] is not None and m is not None and r[2] < m for r in bad)
    print(f'{src}: {len(part)} questions, correct {len(ok)} (answered {kept}), wrong {len(bad)} (caught {caught}), '
          f'refused {sum(r[1] == "refused" for r in part)}')
