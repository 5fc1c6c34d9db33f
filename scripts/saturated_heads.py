"""Count the ECGs at which a shipped disease head is saturated (docs/grounding.md, "Saturated heads").

A shipped disease model is a mean-logit ensemble of ``LeadwiseNet`` members whose classifier head is
Dropout, Linear 768->64, ReLU, Dropout, Linear 64->1. When all 64 hidden ReLU units of a member are
inactive, that member's logit is its final bias whatever the input near the ECG; when that holds in
every member, the ensemble's logit is the mean of the final biases, its input gradient is exactly
zero (saliency is all zero) and ``grounding.explain`` sets ``Attribution.locally_flat``.

Per dataset and disease this prints: records, records where every member's hidden units are all
inactive ("all members dead", read with forward hooks on each member's head ReLU), where at least
one member's are ("any member dead"), records where ``grounding.zero_input_gradient`` is true (the
check ``explain`` applies to custom modules; the shipped models use the encoders' output-only check,
which scripts/flat_logit_agreement.py compares with the same hooks) and whether the two agree record by record, the head's logit /
probability on the all-dead records and its threshold, and for PTB-XL the labels (the disease's own
diagnostic statements: any at likelihood 100 = "positive", only lower likelihoods = "uncertain",
none = "negative") and strat_fold of the all-dead records. Labels are used for this description
only. Also checks PTB Diagnostic s0010_re when present.

    ECGQA_DATA_DIR=/work/shared/data OMP_NUM_THREADS=1 nice -n 10 python scripts/saturated_heads.py [--ig | --cost]

``--cost`` only measures the CPU cost of the check per IG map (the shipped output-only check, the
gradient check custom models get, none). ``--ig`` adds, for each head with flat PTB-XL records, the completeness of its default IG map on
them and on as many non-flat records.

Runs in a few minutes on one core (no resume: nothing is written).
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
from pathlib import Path

import numpy as np


def _head_relus(module):  # noqa: ANN001, ANN202 - torch module in, list of ReLU modules out
    import torch

    members = getattr(module, "members", None) or [module]
    relus = []
    for member in members:
        head = getattr(member, "head", None)
        found = [m for m in head.modules() if isinstance(m, torch.nn.ReLU)] if head is not None else []
        if len(found) != 1:
            raise SystemExit(f"expected one ReLU in each member's head, found {len(found)}")
        relus.append(found[0])
    return relus


def analyse(model, ecgs, desc: str = "", batch: int = 64) -> dict[str, np.ndarray]:  # noqa: ANN001
    """Per record: active hidden units per member (n, members), zero input gradient, logit."""
    import torch
    from tqdm import tqdm

    from ecgqa_tools.grounding import predict_logits, zero_input_gradient

    module = model.module.eval()
    captured: list[torch.Tensor] = []
    hooks = [r.register_forward_hook(lambda _m, _i, out: captured.append((out > 0).sum(dim=1)))
             for r in _head_relus(module)]
    active, flat, logits = [], [], []
    try:
        for start in tqdm(range(0, len(ecgs), batch), desc=desc, file=sys.stderr, leave=False):
            x = np.stack([np.asarray(model.preprocess(e), dtype=np.float32) for e in ecgs[start:start + batch]])
            captured.clear()
            logits.append(predict_logits(model, x))
            active.append(torch.stack(captured, dim=1).numpy())
            captured.clear()
            flat.append(zero_input_gradient(module, torch.from_numpy(x)))
    finally:
        for h in hooks:
            h.remove()
    return {"active": np.concatenate(active), "flat": np.concatenate(flat), "logit": np.concatenate(logits)}


def _label(codes: dict, statements, disease: str) -> str:  # noqa: ANN001 - PTB-XL statements table
    mine = [k for k in codes if k in statements.index and statements.loc[k, "diagnostic_class"] == disease]
    if any(float(codes[k]) == 100.0 for k in mine):
        return "positive"
    return "uncertain" if mine else "negative"


def report(name: str, disease: str, model, result: dict[str, np.ndarray], extra: dict[str, list] | None = None,  # noqa: ANN001
           ids: list | None = None) -> None:
    active, flat, logit = result["active"], result["flat"], result["logit"]
    all_dead = (active == 0).all(axis=1)
    any_dead = (active == 0).any(axis=1)
    agree = int((all_dead == flat).sum())
    line = (f"{name} {disease}: n {len(flat)}, all members dead {int(all_dead.sum())}, any member dead "
            f"{int(any_dead.sum())}, zero input gradient {int(flat.sum())} (agrees with all-dead on {agree}/{len(flat)}), "
            f"median active units per member {float(np.median(active)):g}")
    if all_dead.any():
        values = np.unique(np.round(logit[all_dead], 6))
        prob = 1 / (1 + np.exp(-values))
        line += (f"; logit on all-dead {', '.join(f'{v:.4f}' for v in values)} (probability "
                 f"{', '.join(f'{p:.4f}' for p in prob)}, threshold {float(model.threshold):.4f})")
    print(line, flush=True)
    if ids is not None and all_dead.any():
        print(f"  ids of the all-dead records: {[i for i, dead in zip(ids, all_dead) if dead]}", flush=True)
    for key, values in (extra or {}).items():
        picked = [v for v, dead in zip(values, all_dead) if dead]
        print(f"  {key} of the all-dead records: {dict(sorted(collections.Counter(picked).items()))}", flush=True)


def ig_completeness(name: str, disease: str, ecgs, flat: np.ndarray, ids: list) -> None:  # noqa: ANN001
    """Default IG (``explain_batch``) on the flat records and on as many non-flat ones (every k-th
    non-flat record in id order): median |convergence_delta| / |logit change|, how many maps sum to
    the opposite sign of the logit change, at the default step count and at 32 steps."""
    from ecgqa_tools.grounding import DEFAULT_IG_STEPS, explain_batch

    on = [i for i, f in enumerate(flat) if f]
    off_all = [i for i, f in enumerate(flat) if not f]
    off = off_all[:: max(1, len(off_all) // max(1, len(on)))][: len(on)]
    for label, rows in (("flat", on), ("not flat", off)):
        for steps in (DEFAULT_IG_STEPS, 32):
            maps = explain_batch([ecgs[i] for i in rows], disease, "ig", n_steps=steps)
            change = np.array([a.logit - a.baseline_logit for a in maps])
            total = np.array([float(a.values.sum(dtype=np.float64)) for a in maps])
            ratio = np.abs(total - change) / np.maximum(np.abs(change), 1e-12)
            flipped = int((np.sign(total) != np.sign(change)).sum())
            print(f"  IG {name} {disease} {label} ({len(rows)} records, {steps} steps): median |delta|/|change| "
                  f"{float(np.median(ratio)):.3f}, > 0.5: {int((ratio > 0.5).sum())}, map sum of the opposite sign "
                  f"{flipped}; median |change| {float(np.median(np.abs(change))):.3f}"
                  + (f"; ids {[ids[i] for i in rows][:5]}..." if ids else ""), flush=True)


class _GradientOnly:
    """A shipped model without its output-only check (as a custom model is): ``explain`` then
    decides ``locally_flat`` by ``zero_input_gradient``, one more forward and backward pass."""

    def __init__(self, model) -> None:  # noqa: ANN001 - encoders.DiseaseModel
        self.module, self.preprocess, self.threshold, self.fs_hz = model.module, model.preprocess, model.threshold, model.fs_hz


def flat_check_cost(diseases: list[str], repeats: int = 4) -> None:
    """CPU seconds (``time.process_time``) of one default IG map of each bundled example, three ways,
    interleaved: the shipped path (the encoders' output-only check, ``flat_check`` head-constant),
    the gradient check (the same model without that check: ``zero_input_gradient``, the path before
    and the one custom models take) and no check (``_locally_flat`` replaced by a no-op)."""
    import time

    from ecgqa_tools.encoders import load_disease_model
    from ecgqa_tools.grounding import _attribution, explain
    from ecgqa_tools.records import list_examples, load_example, to_standard_leads

    real = _attribution._locally_flat

    def skip(_model, inputs, _logits, _method, _attr=None):  # noqa: ANN001, ANN202
        return np.zeros(len(inputs), dtype=bool), "zero-gradient"

    ecgs = [to_standard_leads(load_example(name)) for name in list_examples()]
    try:
        for disease in diseases:
            shipped = load_disease_model(disease)
            ways = {"output check": (shipped, real), "gradient check": (_GradientOnly(shipped), real),
                    "no check": (shipped, skip)}
            for model, _ in ways.values():
                explain(ecgs[0], disease, model=model)  # warm-up: model load, traced module, head constant
            times: dict[str, list[float]] = {key: [] for key in ways}
            for _ in range(repeats):
                for ecg in ecgs:
                    for key, (model, check) in ways.items():
                        _attribution._locally_flat = check
                        start = time.process_time()
                        explain(ecg, disease, model=model)
                        times[key].append(time.process_time() - start)
            print(f"cost {disease}: median CPU s per default IG map over {len(ecgs)} examples x {repeats}: "
                  + ", ".join(f"{k} {float(np.median(v)):.4f}" for k, v in times.items()), flush=True)
    finally:
        _attribution._locally_flat = real


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("ECGQA_DATA_DIR", "/work/shared/data")))
    parser.add_argument("--diseases", nargs="+", default=None)
    parser.add_argument("--ig", action="store_true",
                        help="also: default IG completeness on the flat vs as many non-flat PTB-XL records")
    parser.add_argument("--cost", action="store_true",
                        help="only: CPU cost of the locally-flat check per default IG map (bundled examples)")
    args = parser.parse_args()

    import torch

    from ecgqa_tools.encoders import DISEASES, load_disease_model
    from ecgqa_tools.records import Ludb, PtbXl, read_record, to_standard_leads

    torch.set_num_threads(1)
    diseases = args.diseases or list(DISEASES)
    if args.cost:
        flat_check_cost(diseases)
        return 0
    models = {d: load_disease_model(d) for d in diseases}
    for d, m in models.items():
        print(f"{d}: model version {getattr(m.card, 'version', '?')}, threshold {float(m.threshold):.4f}", flush=True)

    ptbxl = PtbXl(args.data / "ptb-xl")
    ids = list(ptbxl.present_ids(fs_hz=100))
    md, statements = ptbxl.metadata, ptbxl.statements
    ecgs = [to_standard_leads(ptbxl.read(i, fs_hz=100)) for i in ids]
    folds = [int(md.loc[i, "strat_fold"]) for i in ids]
    for d, m in models.items():
        labels = [_label(md.loc[i, "scp_codes"], statements, d) for i in ids]
        result = analyse(m, ecgs, f"PTB-XL {d}")
        report("PTB-XL records100", d, m, result, {"label": labels, "strat_fold": folds}, ids)
        if args.ig and result["flat"].any():
            ig_completeness("PTB-XL", d, ecgs, result["flat"], ids)
        print(f"  labels of all {len(ids)} records: {dict(sorted(collections.Counter(labels).items()))}", flush=True)

    ludb = Ludb(args.data / "ludb")
    ecgs = [to_standard_leads(ludb.read(n)) for n in range(1, 201)]
    for d, m in models.items():
        report("LUDB", d, m, analyse(m, ecgs, f"LUDB {d}"), ids=list(range(1, 201)))

    s0010 = args.data / "ptbdb" / "s0010_re"
    if s0010.with_suffix(".hea").exists():
        ecg = to_standard_leads(read_record(s0010))
        for d, m in models.items():
            r = analyse(m, [ecg])
            print(f"PTB Diagnostic s0010_re {d}: active hidden units per member {r['active'][0].tolist()}, "
                  f"zero input gradient {bool(r['flat'][0])}, probability {1 / (1 + np.exp(-r['logit'][0])):.4f}",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
