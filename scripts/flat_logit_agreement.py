"""Check the output-only flat-head test of ``predict_diseases`` (``DiseasePrediction.flat_heads``,
``DiseaseModel.flat_logits``: logit == the head's constant, the mean of the members' final biases)
against the hidden units themselves (forward hooks on each member's head ReLU, as
scripts/saturated_heads.py counts "all members dead"), on both backends (docs/encoders.md "Flat heads").

Per dataset, head and backend it prints: records, all-members-dead records (hooks), records the
logit test flags, how many of each the other misses, and the largest |logit - constant| on the dead
records (against the tolerance) and the smallest on the live ones. Records: PTB-XL records100 (every
one present), LUDB 1-200, PTB Diagnostic s0010_re; also ``predict_diseases(...).flat_heads`` on
s0010_re on both backends. Labels are not read.

    ECGQA_DATA_DIR=/work/shared/data OMP_NUM_THREADS=1 nice -n 10 python scripts/flat_logit_agreement.py

A few minutes on one core; nothing is written.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from saturated_heads import _head_relus


def hidden_and_logits(model, x: np.ndarray, batch: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(all members' head ReLUs inactive (records,), torch logits (records,)) from one forward pass."""
    import torch

    module = model.module.eval()
    captured: list[torch.Tensor] = []
    hooks = [r.register_forward_hook(lambda _m, _i, out: captured.append((out > 0).sum(dim=1)))
             for r in _head_relus(module)]
    dead, logits = [], []
    try:
        with torch.no_grad():
            for start in range(0, len(x), batch):
                captured.clear()
                logits.append(module(torch.from_numpy(x[start:start + batch])).numpy().reshape(-1))
                dead.append((torch.stack(captured, dim=1) == 0).all(dim=1).numpy())
    finally:
        for h in hooks:
            h.remove()
    return np.concatenate(dead), np.concatenate(logits)


def check(name: str, disease: str, model, x: np.ndarray, ids: list) -> None:
    dead, torch_logits = hidden_and_logits(model, x)
    for backend in ("onnx", "torch"):
        logits = torch_logits if backend == "torch" else model.predict_logits(x, "onnx").reshape(-1)
        flat = model.flat_logits(logits, backend)
        constant = model.head_constant(backend)
        gap = np.abs(logits.astype(np.float64) - constant.logit)
        line = (f"{name} {disease} {backend}: n {len(x)}, all members dead {int(dead.sum())}, logit test flags "
                f"{int(flat.sum())}, dead not flagged {int((dead & ~flat).sum())}, flagged not dead "
                f"{int((flat & ~dead).sum())}; tolerance {constant.tolerance:.3g}")
        if dead.any():
            line += f", max |logit - constant| on dead {gap[dead].max():.3g}"
        if (~dead).any():
            line += f", min on live {gap[~dead].min():.3g}"
        print(line, flush=True)
        if (dead != flat).any():
            print(f"  disagreeing ids: {[i for i, a, b in zip(ids, dead, flat) if a != b][:20]}", flush=True)
        if backend == "onnx" and dead.any() and len(ids) > 1:
            print(f"  ids of the flagged records: {[i for i, f in zip(ids, flat) if f]}", flush=True)


def main() -> int:
    import torch

    from ecgqa_tools.encoders import (
        DISEASES,
        load_disease_model,
        predict_diseases,
        preprocess_ecg,
    )
    from ecgqa_tools.records import Ludb, PtbXl, read_record, to_standard_leads

    torch.set_num_threads(1)
    data = Path(os.environ.get("ECGQA_DATA_DIR", "/work/shared/data"))
    models = {d: load_disease_model(d) for d in DISEASES}
    ptbxl = PtbXl(data / "ptb-xl")
    sets = []
    ids = list(ptbxl.present_ids(fs_hz=100))
    sets.append(("PTB-XL records100", ids, [to_standard_leads(ptbxl.read(i, fs_hz=100)) for i in ids]))
    ludb = Ludb(data / "ludb")
    sets.append(("LUDB", list(range(1, 201)), [to_standard_leads(ludb.read(n)) for n in range(1, 201)]))
    s0010 = data / "ptbdb" / "s0010_re"
    if s0010.with_suffix(".hea").exists():
        ecg = to_standard_leads(read_record(s0010))
        sets.append(("PTB Diagnostic s0010_re", ["s0010_re"], [ecg]))
        for backend in ("onnx", "torch"):
            pred = predict_diseases(ecg, backend=backend)
            print(f"predict_diseases(s0010_re, backend={backend}).flat_heads = {pred.flat_heads}; "
                  f"{ {d: round(p, 4) for d, p in pred.probabilities.items()} }", flush=True)
    for name, record_ids, ecgs in sets:
        x = np.stack([preprocess_ecg(e) for e in ecgs]).astype(np.float32)
        for d, m in models.items():
            check(name, d, m, x, record_ids)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
