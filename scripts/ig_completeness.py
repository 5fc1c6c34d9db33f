"""Completeness of the default Integrated Gradients maps (docs/grounding.md, "IG completeness").

Completeness is IG's defining property: the map sums to the change of the logit along the
integration path. For every record below this computes, with each head's default IG (``explain``,
one ECG per call, so the time is the per-ECG latency):

- ``rel_error``: |convergence_delta| / |logit(ECG) - baseline_logit| (captum's convergence delta
  relative to the logit change, the shipped ``Attribution`` fields);
- ``rel_error_path``: |sum(map) - path change| / |path change|, the quadrature error alone, where the
  path change is the weighted mean over the integration paths of logit(path end) - logit(path start).
  It equals ``rel_error`` for every baseline whose paths end at the ECG; for the noise tunnels
  (``expected-smooth``, STTC's default, and ``lowpass-smooth``) the paths end at the noisy copies
  x + e_j, whose logits differ from logit(x) by a term more steps cannot remove.

Record sets (labels only choose the records, as in ``ecgqa eval xai``):

- ``flat``: the records where a shipped head is locally flat (docs/grounding.md "Saturated heads":
  MI v4, 39 PTB-XL records100 ids, LUDB 11, 46, 82, 130, PTB Diagnostic s0010_re; CD v4, PTB-XL 1366);
  each is checked to be ``locally_flat`` (a row says so).
- ``tp``: the true positives the PG/CAS tables score (``ecgqa eval xai``): PTB-XL fold 10 records
  labelled with the head's superclass and called positive at the model's threshold, minus the
  card's seen ids, and LUDB records whose diagnoses match and are called positive.

    ECGQA_DATA_DIR=/work/shared/data OMP_NUM_THREADS=1 nice -n 10 python scripts/ig_completeness.py \
        --out runs/ig_completeness/before.jsonl [--label before] [--sets flat tp] [--diseases MI ...]
    python scripts/ig_completeness.py --summary runs/ig_completeness/before.jsonl [other.jsonl ...]
    OMP_NUM_THREADS=1 nice -n 10 python scripts/ig_completeness.py --cost   # CPU per map vs steps

Rows are appended as they are produced (resumes: a (label, set, dataset, record, disease) row
already in ``--out`` is skipped); progress on stderr. ``--fixed-steps`` passes
``completeness_tolerance=None`` when ``explain`` has it (the shipped rule before the adaptive
loop); without it ``explain`` runs with its defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

FLAT_PTBXL_MI = (182, 269, 414, 477, 482, 508, 514, 528, 532, 540, 610, 627, 646, 727, 827, 829, 853, 997,
                 1035, 1040, 1109, 1155, 1157, 1203, 1216, 1235, 1515, 1549, 1550, 1558, 1625, 1627, 1688,
                 1737, 1754, 1918, 1940, 1982, 1992)
"""PTB-XL records100 ids where MI v4 is flat (docs/grounding.md "Saturated heads", session 9)."""
FLAT_LUDB_MI = (11, 46, 82, 130)
FLAT_PTBXL_CD = (1366,)
TOLERANCE = 0.05
"""Relative tolerance the summary counts against (docs/grounding.md "IG completeness", fixed first)."""
ABS_FLOOR = 0.01
"""Absolute completeness error (logit units) below which a map counts as complete whatever its
relative error (same section)."""


def _cases(data: Path, sets: list[str], diseases: list[str]):
    from ecgqa_tools.encoders import load_disease_model
    from ecgqa_tools.eval._xai import _seen_ids, ludb_cases, ptbxl_cases
    from ecgqa_tools.grounding import predict_logits
    from ecgqa_tools.records import Ludb, PtbXl, read_record

    out = []
    ptbxl, ludb = PtbXl(data / "ptb-xl"), Ludb(data / "ludb")
    if "flat" in sets:
        flat = {"MI": [("ptbxl", i) for i in FLAT_PTBXL_MI] + [("ludb", n) for n in FLAT_LUDB_MI] + [("ptbdb", "s0010_re")],
                "CD": [("ptbxl", i) for i in FLAT_PTBXL_CD]}
        for disease in diseases:
            for dataset, rid in flat.get(disease, []):
                load = (lambda i=rid: ptbxl.read(i, 100)) if dataset == "ptbxl" else (
                    (lambda n=rid: ludb.read(n)) if dataset == "ludb" else (lambda: read_record(data / "ptbdb" / "s0010_re")))
                out.append(("flat", dataset, str(rid), disease, load))
    if "tp" in sets:
        cases = ptbxl_cases(data / "ptb-xl", tuple(diseases)) + ludb_cases(data / "ludb", tuple(diseases))
        for disease in diseases:
            model = load_disease_model(disease)
            seen, cut = _seen_ids(model), float(model.threshold)
            todo = [c for c in cases if disease in c.diseases
                    and not (c.dataset == "ptbxl" and int(c.record_id) in seen)]
            for c in todo:
                ecg = c.load()
                x = np.asarray(model.preprocess(ecg), dtype=np.float32)[None]
                p = 1.0 / (1.0 + np.exp(-predict_logits(model, x)[0]))
                if p >= cut:
                    out.append(("tp", c.dataset, c.record_id, disease, c.load))
    return out


def path_change(attribution, model, seed: int = 0) -> float:
    """Weighted mean over the integration paths of logit(end) - logit(start): for the noise tunnels
    the ends are the noisy copies of the input (drawn as ``grounding._paths`` draws them)."""
    from ecgqa_tools.grounding import predict_logits
    from ecgqa_tools.grounding._attribution import (
        EXPECTED_SMOOTH_DRAWS,
        SMOOTH_DRAWS,
        SMOOTH_NOISE_SD,
    )

    draws = {"expected-smooth": EXPECTED_SMOOTH_DRAWS, "lowpass-smooth": SMOOTH_DRAWS}.get(attribution.baseline_kind)
    if draws is None:
        return attribution.logit - attribution.baseline_logit
    x = np.asarray(model.preprocess(attribution.ecg), dtype=np.float32)
    noise = np.random.default_rng(seed).normal(0.0, SMOOTH_NOISE_SD, (draws, *x.shape)).astype(np.float32)
    return float(predict_logits(model, (x[None] + noise).astype(np.float32)).mean()) - attribution.baseline_logit


def measure(args: argparse.Namespace) -> int:
    import inspect

    import torch
    from tqdm import tqdm

    from ecgqa_tools.encoders import load_disease_model
    from ecgqa_tools.grounding import explain
    from ecgqa_tools.records import to_standard_leads

    torch.set_num_threads(1)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = set()
    if out.exists():
        for line in out.read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                done.add((r["label"], r["set"], r["dataset"], r["record"], r["disease"]))
    kwargs = {}
    if args.fixed_steps and "completeness_tolerance" in inspect.signature(explain).parameters:
        kwargs["completeness_tolerance"] = None
    print(f"listing records ({', '.join(args.sets)}; {', '.join(args.diseases)})", file=sys.stderr, flush=True)
    cases = [c for c in _cases(Path(args.data), args.sets, args.diseases)
             if (args.label, c[0], c[1], c[2], c[3]) not in done]
    models = {d: load_disease_model(d) for d in args.diseases}
    warm: set[str] = set()
    with out.open("a") as sink:
        for set_name, dataset, rid, disease, load in tqdm(cases, desc="ig completeness", file=sys.stderr):
            ecg = to_standard_leads(load())
            if disease not in warm:  # the first call per head pays imports and the model's tracing
                explain(ecg, disease, **kwargs)
                warm.add(disease)
            wall, cpu = time.perf_counter(), time.process_time()
            a = explain(ecg, disease, **kwargs)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            change = a.logit - a.baseline_logit
            total = float(a.model_values.sum(dtype=np.float64))
            pchange = path_change(a, models[disease])
            row = {
                "label": args.label, "set": set_name, "dataset": dataset, "record": rid, "disease": disease,
                "baseline": a.baseline_kind, "n_steps": getattr(a, "n_steps", None) or default_steps(),
                "locally_flat": a.locally_flat, "logit": a.logit, "baseline_logit": a.baseline_logit,
                "map_sum": total, "convergence_delta": a.convergence_delta, "logit_change": change,
                "path_change": pchange,
                "rel_error": abs(a.convergence_delta) / abs(change) if change else None,
                "rel_error_path": abs(total - pchange) / abs(pchange) if pchange else None,
                "abs_error_path": abs(total - pchange),
                "completeness_error": getattr(a, "completeness_error", None),
                "completeness_met": getattr(a, "completeness_met", None),
                "wall_s": wall, "cpu_s": cpu,
            }
            sink.write(json.dumps(row) + "\n")
            sink.flush()
    return 0


def default_steps() -> int:
    from ecgqa_tools.grounding import DEFAULT_IG_STEPS

    return DEFAULT_IG_STEPS


def _met(r: dict) -> bool:
    err = r["abs_error_path"]
    return err <= ABS_FLOOR or (r["rel_error_path"] is not None and r["rel_error_path"] <= TOLERANCE)


def summary(paths: list[str]) -> int:
    rows = [json.loads(line) for p in paths for line in Path(p).read_text().splitlines() if line.strip()]
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["label"], r["set"], r["disease"], r["dataset"] if r["set"] == "tp" else "all"), []).append(r)
    print("| label | set | head | data | n | rel. error (convergence delta): median / p90 / max | rel. quadrature error: "
          f"median / p90 / max | > {TOLERANCE} (quadrature) | not met (> {TOLERANCE} and > {ABS_FLOOR} logit) | "
          "median |path change| | steps: median / max | CPU s per map: median / max |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    order = {"MI": 0, "STTC": 1, "CD": 2, "HYP": 3}
    for key in sorted(groups, key=lambda k: (k[0], k[1], order.get(k[2], 9), k[3])):
        g = groups[key]
        rel = np.array([r["rel_error"] if r["rel_error"] is not None else np.inf for r in g])
        relp = np.array([r["rel_error_path"] if r["rel_error_path"] is not None else np.inf for r in g])
        steps = np.array([r["n_steps"] for r in g])
        cpu = np.array([r["cpu_s"] for r in g])
        flat_note = "" if key[1] != "flat" else f" ({sum(bool(r['locally_flat']) for r in g)} flat)"
        print(f"| {key[0]} | {key[1]}{flat_note} | {key[2]} | {key[3]} | {len(g)} | "
              f"{np.median(rel):.3f} / {np.percentile(rel, 90):.3f} / {rel.max():.3f} | "
              f"{np.median(relp):.3f} / {np.percentile(relp, 90):.3f} / {relp.max():.3f} | "
              f"{int((relp > TOLERANCE).sum())} | {sum(not _met(r) for r in g)} | "
              f"{np.median([abs(r['path_change']) for r in g]):.3f} | {int(np.median(steps))} / {int(steps.max())} | "
              f"{np.median(cpu):.3f} / {cpu.max():.3f} |")
    return 0


def cost(args: argparse.Namespace) -> int:
    """CPU seconds per default IG map at several step counts (bundled examples, one core)."""
    import inspect

    import torch

    from ecgqa_tools.encoders import DISEASES
    from ecgqa_tools.grounding import default_baseline, explain
    from ecgqa_tools.grounding._attribution import path_points
    from ecgqa_tools.records import list_examples, load_example

    torch.set_num_threads(1)
    kwargs = {"completeness_tolerance": None} if "completeness_tolerance" in inspect.signature(explain).parameters else {}
    ecgs = [load_example(n) for n in list_examples()][: args.n_examples]
    for d in args.diseases or list(DISEASES):
        explain(ecgs[0], d, **kwargs)  # warm
        for steps in args.steps:
            times = []
            for ecg in ecgs:
                t = time.process_time()
                explain(ecg, d, n_steps=steps, **kwargs)
                times.append(time.process_time() - t)
            paths, points = path_points(default_baseline(d), steps)
            print(f"{d} ({default_baseline(d)}) {steps} steps, {paths * points} gradient points: median CPU "
                  f"{np.median(times):.3f} s per map (min {min(times):.3f}, max {max(times):.3f}, {len(times)} ECGs)",
                  flush=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.environ.get("ECGQA_DATA_DIR", "/work/shared/data"))
    parser.add_argument("--out", help="JSONL results (appended; resumes)")
    parser.add_argument("--label", default="current", help="name of this run in the rows (e.g. before, after)")
    parser.add_argument("--sets", nargs="+", default=["flat", "tp"], choices=["flat", "tp"])
    parser.add_argument("--diseases", nargs="+", default=["MI", "STTC", "CD", "HYP"])
    parser.add_argument("--fixed-steps", action="store_true", help="no adaptive steps (completeness_tolerance=None)")
    parser.add_argument("--summary", nargs="+", help="print the table of these JSONL files and exit")
    parser.add_argument("--cost", action="store_true", help="CPU per map vs steps on the bundled examples")
    parser.add_argument("--steps", nargs="+", type=int, default=[8, 16, 32, 64, 128])
    parser.add_argument("--n-examples", type=int, default=6)
    args = parser.parse_args()
    if args.summary:
        return summary(args.summary)
    if args.cost:
        return cost(args)
    if not args.out:
        parser.error("--out is required to measure")
    return measure(args)


if __name__ == "__main__":
    raise SystemExit(main())
