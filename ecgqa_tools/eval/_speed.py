"""``ecgqa bench speed``: latency, throughput, cold start and peak memory of the toolkit.

Every measurement that loads models runs in a fresh subprocess (``python -m
ecgqa_tools.eval._speed worker ...``) so that its peak resident memory is its own and nothing is
warm from an earlier step; the parent only collects the JSON each worker prints. The goals are
the issue's: full suite <= 0.5 s per ECG, >= 1,000 ECG-QA questions/s on cached ECGs, cold start
of ``ecgqa ask`` <= 3 s, peak memory <= 1.5 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

GOALS: dict[str, tuple[float, str, str]] = {
    "full_suite_s_per_ecg": (0.5, "<=", "s"),
    "questions_per_s_cached": (1000.0, ">=", "q/s"),
    "cold_start_ask_s": (3.0, "<=", "s"),
    "peak_memory_gb": (1.5, "<=", "GB"),
}
"""Goal per headline number: (value, direction, unit)."""

ASK_QUESTION = "Does this ECG show atrial fibrillation?"
"""The question the cold-start measurement asks about a bundled example record."""


# ----------------------------------------------------------------------------- worker side


def _peak_rss_gb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024  # ru_maxrss is KiB on Linux


def _stats(seconds: Sequence[float]) -> dict[str, float | int]:
    ordered = sorted(seconds)
    p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
    return {"n": len(ordered), "median_s": statistics.median(ordered), "mean_s": statistics.fmean(ordered),
            "p90_s": p90, "min_s": ordered[0], "max_s": ordered[-1]}


def _time_per_ecg(step: Callable[[Any], Any], ecgs: Sequence[Any]) -> dict[str, Any]:
    """First call (loads models) timed apart, then every ECG once (including the first again)."""
    start = time.perf_counter()
    step(ecgs[0])
    first_s = time.perf_counter() - start
    times = []
    for ecg in ecgs:
        start = time.perf_counter()
        step(ecg)
        times.append(time.perf_counter() - start)
    return {"first_call_s": first_s, **_stats(times)}


def _setup_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def _load_ecgs(ptbxl: str, n_ecgs: int, fs_hz: int) -> list[Any]:
    from ..records import PtbXl

    dataset = PtbXl(ptbxl)
    ids = sorted(int(i) for i in dataset.present_ids(fs_hz=fs_hz))[:n_ecgs]
    if not ids:
        from ..errors import DatasetError

        raise DatasetError(f"no PTB-XL record with a {fs_hz} Hz signal under {ptbxl}")
    return [dataset.read(i, fs_hz=fs_hz) for i in ids]


def _tool_steps() -> dict[str, Callable[[Any], Any]]:
    from .. import encoders, grounding

    return {
        "disease_probabilities": lambda ecg: encoders.predict_diseases(ecg),
        "attributes": lambda ecg: encoders.predict_attributes(ecg),
        "delineation_12_lead": lambda ecg: encoders.delineate(ecg),
        "measurements": lambda ecg: grounding.measure(ecg),
        "ig_map_one_disease": lambda ecg: grounding.explain(ecg, "MI", method="ig"),
    }


def _full_suite(ecg: Any) -> Any:
    """4 disease probabilities + attributes + 12-lead delineation + one IG map, for one ECG
    (returns the delineation)."""
    from .. import encoders, grounding

    encoders.predict_diseases(ecg)
    encoders.predict_attributes(ecg)
    delineation = encoders.delineate(ecg)
    grounding.explain(ecg, "MI", method="ig")
    return delineation


def _full_suite_with_measurements(ecg: Any) -> None:
    """The full suite plus the measurements, computed from the suite's own delineation (not a
    second one)."""
    from .. import grounding

    grounding.measure(ecg, _full_suite(ecg))


def worker_tools(ptbxl: str, n_ecgs: int, fs_hz: int, threads: int) -> dict[str, Any]:
    """Per-ECG latency of each tool separately (each after its own first call)."""
    _setup_threads(threads)
    ecgs = _load_ecgs(ptbxl, n_ecgs, fs_hz)
    out: dict[str, Any] = {"ecg_ids": [e.record_id for e in ecgs], "fs_hz": fs_hz}
    for name, step in _tool_steps().items():
        try:
            out[name] = _time_per_ecg(step, ecgs)
        except Exception as exc:  # report and go on: one missing tool must not hide the others
            out[name] = {"error": f"{type(exc).__name__}: {exc}"}
    try:  # measurements alone, from a delineation the caller already has (made untimed here)
        from .. import encoders, grounding

        given = {id(ecg): encoders.delineate(ecg) for ecg in ecgs}
        out["measurements_given_delineation"] = _time_per_ecg(
            lambda ecg: grounding.measure(ecg, given[id(ecg)]), ecgs)
    except Exception as exc:
        out["measurements_given_delineation"] = {"error": f"{type(exc).__name__}: {exc}"}
    out["peak_memory_gb"] = _peak_rss_gb()
    return out


def worker_suite(ptbxl: str, n_ecgs: int, fs_hz: int, threads: int) -> dict[str, Any]:
    """The full suite per ECG, in a process that does nothing else (its peak memory is the suite's)."""
    _setup_threads(threads)
    ecgs = _load_ecgs(ptbxl, n_ecgs, fs_hz)
    result = _time_per_ecg(_full_suite, ecgs)
    with_measurements = _time_per_ecg(_full_suite_with_measurements, ecgs)
    return {"ecg_ids": [e.record_id for e in ecgs], "fs_hz": fs_hz, "full_suite": result,
            "full_suite_with_measurements": with_measurements, "peak_memory_gb": _peak_rss_gb()}


def worker_questions(ptbxl: str, ecgqa: str, fs_hz: int, threads: int, min_seconds: float = 3.0,
                     systems: Sequence[str] = ("upper-bound", "tools"), n_questions: int = 40) -> dict[str, Any]:
    """ECG-QA questions/s through the benchmark systems once every ECG's result is cached.

    Uses the first ``n_questions`` official test samples whose ECGs have signals here (filling the
    cache costs a model run and a measurement per ECG), answered over and over for ``min_seconds``.
    """
    from contextlib import nullcontext

    from ._ecgqa_bench import EcgCache, select_samples
    from ._ecgqa_bench_systems import BenchContext, build_systems
    from ._cli_bench import load_split_samples

    _setup_threads(threads)
    ctx = BenchContext(ptbxl_dir=Path(ptbxl), ecgqa_dir=Path(ecgqa), fs_hz=fs_hz)
    samples = load_split_samples(Path(ecgqa), "ptbxl", "template", "test")
    selection = select_samples(samples, ctx.present_ids(), limit=n_questions)
    out: dict[str, Any] = {"n_samples": len(selection.samples),
                           "n_ecgs": len({i for s in selection.samples for i in s.ecg_id})}
    for system in build_systems(list(systems), ctx):
        cache = EcgCache(None)
        try:
            # answer with the models `bench ecgqa` uses (ecgqa-split disease weights): with the
            # fold-based ones its leakage guard refuses many test ECGs and errors would be timed
            with getattr(system, "model_context", nullcontext)():
                out[system.name] = _questions_per_s(system, selection.samples, cache, min_seconds)
        except Exception as exc:
            out[system.name] = {"error": f"{type(exc).__name__}: {exc}"}
    out["peak_memory_gb"] = _peak_rss_gb()
    return out


def _questions_per_s(system: Any, samples: Sequence[Any], cache: Any, min_seconds: float) -> dict[str, Any]:
    """Answer ``samples`` once untimed (filling ``cache``), then over and over for ``min_seconds``;
    failed answers are counted, not timed as answers."""
    start = time.perf_counter()
    for sample in samples:
        try:
            system.answer(sample, [cache.get(system, i) for i in sample.ecg_id])
        except Exception:
            pass
    fill_s = time.perf_counter() - start
    answered, errors, first_error, start = 0, 0, None, time.perf_counter()
    while True:
        for sample in samples:
            try:
                system.answer(sample, [cache.get(system, i) for i in sample.ecg_id])
                answered += 1
            except Exception as exc:
                errors += 1
                first_error = first_error or f"{type(exc).__name__}: {exc}"
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds or not samples:
            break
    if not answered:
        return {"error": f"no question answered ({errors} errors; first: {first_error})"}
    return {"cache_fill_s": fill_s, "questions": answered, "errors": errors, "first_error": first_error,
            "seconds": elapsed, "questions_per_s": answered / elapsed if elapsed else None}


IG_STEP_CANDIDATES: tuple[int, ...] = (2, 4, 6, 8, 12, 16, 24, 32, 64)
"""Gauss-Legendre step counts compared with the reference by ``ig_step_study``."""
IG_REFERENCE_STEPS = 256
"""Step count of the reference IG map."""


def _cosine(a: Any, b: Any) -> float:
    import numpy as np

    x, y = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    norm = float(np.linalg.norm(x) * np.linalg.norm(y))
    return float(x @ y / norm) if norm > 0 else 0.0


def ig_step_study(ptbxl: str, out_path: str, fold: int = 9, n_ecgs: int = 60,
                  candidates: Sequence[int] = IG_STEP_CANDIDATES, reference: int = IG_REFERENCE_STEPS,
                  diseases: Sequence[str] | None = None, baseline: str | None = None) -> list[dict[str, Any]]:
    """How close IG maps with few Gauss-Legendre steps come to a ``reference``-step map.

    For the first ``n_ecgs`` PTB-XL records of ``fold`` (fold 9: the models' selection fold, the
    development split; records any model trained on are skipped) and each disease head: cosine
    similarity of the default-baseline map at each candidate step count to the reference map
    (signed map and its positive part) and the completeness error (convergence delta) relative to
    the logit change. ``baseline``: the IG baseline (default: ``explain``'s, i.e. each head's
    ``default_baseline``). Every map is computed at exactly its step count
    (``completeness_tolerance=None``: fixed steps are what the study compares, so ``explain``'s
    adaptive completeness loop is off; each candidate's row records the steps its map used). One JSON line per
    (record, disease) is appended to ``out_path`` as it is done; a rerun skips the pairs already
    there.
    """
    from tqdm import tqdm

    from ..encoders import DISEASES, load_disease_model
    from ..grounding import default_baseline, explain
    from ..records import PtbXl

    diseases = tuple(diseases or DISEASES)
    kinds: dict[str, Any] = {d: baseline or default_baseline(d) for d in diseases}
    dataset = PtbXl(ptbxl)
    meta = dataset.metadata
    present = {int(i) for i in dataset.present_ids(fs_hz=100)}
    seen: set[int] = set()
    for disease in diseases:
        seen |= set(load_disease_model(disease).card.train_ids)
    ids = sorted(int(i) for i in meta.index if int(meta.loc[i, "strat_fold"]) == fold
                 and int(i) in present and int(i) not in seen)[:n_ecgs]
    out = Path(out_path)
    rows: list[dict[str, Any]] = []
    if out.is_file():
        text = out.read_text()
        if text and not text.endswith("\n"):  # end a cut line so the next row starts on its own
            with out.open("a") as sink:
                sink.write("\n")
        for line in text.splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:  # a line cut by an interruption: redone
                continue
            # resume only rows of the same study (baseline and reference step count)
            if row.get("baseline_kind") == kinds.get(row.get("disease")) and row.get("reference") == reference:
                rows.append(row)
    done = {(r["ecg_id"], r["disease"]) for r in rows}
    with out.open("a") as sink:
        for ecg_id in tqdm(ids, desc="ig steps", file=sys.stderr):
            todo = [d for d in diseases if (ecg_id, d) not in done]
            if not todo:
                continue
            ecg = dataset.read(ecg_id, fs_hz=100)
            for disease in todo:
                kind = kinds[disease]
                ref = explain(ecg, disease, n_steps=reference, baseline=kind, completeness_tolerance=None)
                change = ref.logit - (ref.baseline_logit or 0.0)
                row = {"ecg_id": ecg_id, "disease": disease, "baseline": ref.baseline,
                       "baseline_kind": kind, "reference": reference, "logit_change": change,
                                       "reference_delta": ref.convergence_delta, "steps": {}}
                for n in candidates:
                    att = explain(ecg, disease, n_steps=n, baseline=kind, completeness_tolerance=None)
                    row["steps"][str(n)] = {
                        "n_steps": att.n_steps,
                        "cosine": _cosine(att.model_values, ref.model_values),
                        "cosine_positive": _cosine(att.positive, ref.positive),
                        "delta": att.convergence_delta,
                        "relative_delta": abs(att.convergence_delta or 0.0) / max(abs(change), 1e-6),
                    }
                sink.write(json.dumps(row) + "\n")
                sink.flush()
                rows.append(row)
    return rows


def summarize_ig_steps(rows: Sequence[dict[str, Any]], min_cosine: float = 0.99) -> dict[str, Any]:
    """Per step count and disease: mean / 10th percentile / minimum cosine to the reference and the
    median relative completeness error; ``chosen``: the smallest step count whose mean cosine
    reaches ``min_cosine`` for every disease (None when none does)."""
    import numpy as np

    diseases = sorted({r["disease"] for r in rows})
    steps = sorted({int(n) for r in rows for n in r["steps"]})
    table: dict[str, dict[str, dict[str, float]]] = {}
    chosen = None
    for n in steps:
        table[str(n)] = {}
        for disease in diseases:
            values = [r["steps"][str(n)] for r in rows if r["disease"] == disease and str(n) in r["steps"]]
            cos = np.array([v["cosine"] for v in values])
            table[str(n)][disease] = {
                "n": len(values), "mean_cosine": float(cos.mean()), "p10_cosine": float(np.percentile(cos, 10)),
                "min_cosine": float(cos.min()),
                "mean_cosine_positive": float(np.mean([v["cosine_positive"] for v in values])),
                "median_relative_delta": float(np.median([v["relative_delta"] for v in values])),
            }
        if chosen is None and all(table[str(n)][d]["mean_cosine"] >= min_cosine for d in diseases):
            chosen = n
    return {"min_cosine": min_cosine, "diseases": diseases, "table": table, "chosen": chosen,
            "n_records": len({r["ecg_id"] for r in rows})}


def _worker_main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ecgqa_tools.eval._speed")
    parser.add_argument("mode", choices=["tools", "suite", "questions", "ig-steps"])
    parser.add_argument("--out", help="ig-steps: JSON lines file (appended to; a rerun resumes)")
    parser.add_argument("--fold", type=int, default=9)
    parser.add_argument("--baseline", help="ig-steps: IG baseline (default: explain's, each head's own)")
    parser.add_argument("--ptbxl", required=True)
    parser.add_argument("--ecgqa")
    parser.add_argument("--n-ecgs", type=int, default=20)
    parser.add_argument("--fs", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    if args.mode == "tools":
        result = worker_tools(args.ptbxl, args.n_ecgs, args.fs, args.threads)
    elif args.mode == "ig-steps":
        if not args.out:
            parser.error("ig-steps needs --out")
        _setup_threads(args.threads)
        rows = ig_step_study(args.ptbxl, args.out, fold=args.fold, n_ecgs=args.n_ecgs, baseline=args.baseline)
        result = summarize_ig_steps(rows)
    elif args.mode == "suite":
        result = worker_suite(args.ptbxl, args.n_ecgs, args.fs, args.threads)
    else:
        result = worker_questions(args.ptbxl, args.ecgqa, args.fs, args.threads)
    print("SPEED-RESULT " + json.dumps(result, default=str))
    return 0


# ----------------------------------------------------------------------------- parent side


def _env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[name] = str(threads)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _run_worker(mode: str, args: list[str], threads: int, timeout_s: float = 1800) -> dict[str, Any]:
    command = [sys.executable, "-m", "ecgqa_tools.eval._speed", mode, *args, "--threads", str(threads)]
    print(f"speed: running {mode} worker ...", file=sys.stderr, flush=True)
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=_env(threads), timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout_s:.0f} s"}
    for line in done.stdout.splitlines():
        if line.startswith("SPEED-RESULT "):
            return json.loads(line[len("SPEED-RESULT "):])
    tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
    return {"error": f"worker exited {done.returncode}: {' / '.join(tail)}"}


def _ecgqa_command() -> list[str]:
    script = Path(sys.executable).with_name("ecgqa")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ecgqa_tools.cli"]


def _children_cpu_s() -> float:
    """User + system CPU seconds of every finished child process so far."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure_cold_start(arguments: Sequence[str], repeats: int, threads: int,
                       timeout_s: float = 300) -> dict[str, Any]:
    """Wall time and CPU time (user + system, all threads) of a fresh ``ecgqa ...`` process,
    ``repeats`` times: wall statistics as ``median_s`` etc., CPU as ``cpu_median_s``,
    ``cpu_min_s``, ``cpu_max_s`` (on a shared machine the CPU time moves less with the load)."""
    times: list[float] = []
    cpu: list[float] = []
    command = [*_ecgqa_command(), *arguments]
    for _ in range(repeats):
        start, cpu_start = time.perf_counter(), _children_cpu_s()
        try:
            done = subprocess.run(command, capture_output=True, text=True, env=_env(threads), timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout_s:.0f} s", "command": " ".join(arguments)}
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-2:]
            return {"error": f"exit {done.returncode}: {' / '.join(tail)}", "command": " ".join(arguments)}
        times.append(elapsed)
        cpu.append(_children_cpu_s() - cpu_start)
    return {"command": "ecgqa " + " ".join(arguments), **_stats(times),
            "cpu_median_s": statistics.median(cpu), "cpu_min_s": min(cpu), "cpu_max_s": max(cpu)}


PLOT_RECORD = "ptbxl-00210"
"""Bundled example the cold ``ecgqa plot`` commands draw (the first example when absent)."""
MEASURE_RECORD = "ptbxl-00473"
"""Bundled example the cold ``ecgqa measure`` command measures (the first example when absent)."""
PLOT_HEADS: tuple[str, ...] = ("MI", "STTC")
"""Heads of the cold ``plot --explain`` runs: MI (low-pass multi-path IG, 16 gradient points) and
STTC (expected-smooth IG, the most expensive default)."""


def cold_start_commands(out_dir: str | Path) -> dict[str, list[str]]:
    """The ``ecgqa`` command lines timed cold, by key: ``help``, ``ask``, ``measure``, ``plot`` and
    ``plot_explain_<HEAD>`` (plots written under ``out_dir``); ``{}`` without bundled examples."""
    try:
        from ..records import list_examples

        names = [str(n) for n in list_examples()]
    except ImportError:
        names = []
    commands: dict[str, list[str]] = {"help": ["--help"]}
    if not names:
        return commands
    first = _example_record() or names[0]
    plot_record = PLOT_RECORD if PLOT_RECORD in names else names[0]
    measure_record = MEASURE_RECORD if MEASURE_RECORD in names else names[0]
    commands["ask"] = ["ask", first, ASK_QUESTION]
    commands["measure"] = ["measure", measure_record]
    commands["plot"] = ["plot", plot_record, "-o", str(Path(out_dir) / "plot.png")]
    for head in PLOT_HEADS:
        commands[f"plot_explain_{head}"] = ["plot", plot_record, "--explain", head,
                                            "-o", str(Path(out_dir) / f"plot_{head}.png")]
    return commands


def measure_cold_starts(repeats: int, threads: int) -> dict[str, Any]:
    """Every ``cold_start_commands`` command timed cold (``measure_cold_start``); plots go to a
    temporary folder that is removed afterwards."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="ecgqa-speed-") as out_dir:
        commands = cold_start_commands(out_dir)
        cold = {key: measure_cold_start(arguments, repeats, threads) for key, arguments in commands.items()}
    for row in cold.values():  # the report names the folder, not this run's random one
        row["command"] = row["command"].replace(str(out_dir), "OUT")
    if "ask" not in cold:
        cold["ask"] = {"error": "no bundled example record found"}
    return cold


def _example_record() -> str | None:
    try:
        from ..records import list_examples

        names = list(list_examples())
        return str(names[0]) if names else None
    except ImportError:
        here = Path(__file__).resolve().parents[1] / "records" / "examples"
        found = sorted(here.glob("*.hea")) if here.is_dir() else []
        return str(found[0].with_suffix("")) if found else None


def _load_average() -> tuple[float, float, float] | None:
    try:
        return os.getloadavg()
    except OSError:
        return None


def tool_settings() -> dict[str, Any]:
    """The defaults that set the suite's cost: IG steps and baseline, delineation interpreters."""
    try:
        from ..encoders import delineation_workers
        from ..grounding import DEFAULT_BASELINE_BY_DISEASE, DEFAULT_IG_STEPS

        return {"ig_n_steps": DEFAULT_IG_STEPS, "ig_baseline_by_disease": dict(DEFAULT_BASELINE_BY_DISEASE),
                "delineation_interpreters": delineation_workers()}
    except Exception as exc:  # the report says it could not name them
        return {"error": f"{type(exc).__name__}: {exc}"}


def run_speed_benchmark(ptbxl: Path, ecgqa: Path | None, n_ecgs: int = 20, repeats: int = 3,
                        threads: int = 2, command: str = "ecgqa bench speed", fs_hz: int = 100
                        ) -> dict[str, Any]:
    """All measurements, each in its own subprocess, and the headline numbers against the goals."""
    import datetime as dt

    from ._report import machine_description

    load_before = _load_average()
    try:
        from ._ecgqa_bench_systems import model_versions

        models: dict[str, str] | str = model_versions("load_disease_model", "load_attribute_model",
                                                      "load_age_sex_model")
    except Exception as exc:  # the report still says which models it could not name
        models = f"unknown ({type(exc).__name__}: {exc})"
    data_args = ["--ptbxl", str(ptbxl), "--n-ecgs", str(n_ecgs), "--fs", str(fs_hz)]
    cold = measure_cold_starts(repeats, threads)
    tools = _run_worker("tools", data_args, threads)
    suite = _run_worker("suite", data_args, threads)
    questions = (_run_worker("questions", ["--ptbxl", str(ptbxl), "--ecgqa", str(ecgqa), "--fs", str(fs_hz)],
                             threads)
                 if ecgqa is not None else {"error": "no ECG-QA folder given"})
    headline: dict[str, float | None] = {
        "full_suite_s_per_ecg": suite.get("full_suite", {}).get("median_s"),
        "questions_per_s_cached": questions.get("upper-bound", {}).get("questions_per_s"),
        "cold_start_ask_s": cold["ask"].get("median_s"),
        "peak_memory_gb": suite.get("peak_memory_gb"),
    }
    return {
        "title": "Toolkit speed and memory",
        "command": command,
        "settings": tool_settings(),
        "date_utc": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_description(),
        "threads": threads,
        "fs_hz": fs_hz,
        "models": models,
        "load_average_before": load_before,
        "load_average_after": _load_average(),
        "headline": headline,
        "goals": {k: {"goal": g, "direction": d, "unit": u} for k, (g, d, u) in GOALS.items()},
        "cold_start": cold,
        "tools": tools,
        "suite": suite,
        "questions": questions,
    }


def run_cli_speed_benchmark(repeats: int = 3, threads: int = 2,
                            command: str = "ecgqa bench speed --cli-only") -> dict[str, Any]:
    """Only the cold starts of the ``ecgqa`` commands (``cold_start_commands``): no dataset
    needed, wall and CPU time per command; the same report keys as ``run_speed_benchmark``
    without the per-ECG, questions/s and memory parts (``cli_only`` is True)."""
    import datetime as dt

    from ._report import machine_description

    load_before = _load_average()
    cold = measure_cold_starts(repeats, threads)
    return {
        "title": "Cold start of the ecgqa commands",
        "command": command,
        "cli_only": True,
        "date_utc": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_description(),
        "threads": threads,
        "load_average_before": load_before,
        "load_average_after": _load_average(),
        "cold_start": cold,
    }


def goal_ratio(name: str, value: float | None) -> tuple[float | None, bool | None]:
    """(value / goal, goal met) for one headline number; ``(None, None)`` when not measured."""
    if value is None:
        return None, None
    goal, direction, _ = GOALS[name]
    ratio = value / goal
    return ratio, (value <= goal) if direction == "<=" else (value >= goal)


_LABELS = {
    "full_suite_s_per_ecg": "full suite per ECG (4 disease probabilities + attributes + 12-lead delineation + 1 IG map), median",
    "questions_per_s_cached": "ECG-QA questions/s on cached ECGs (upper-bound system: answer engine on cached attributes)",
    "cold_start_ask_s": "cold start of `ecgqa ask` on a bundled record, median",
    "peak_memory_gb": "peak resident memory of the full-suite process",
}


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "not measured"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _cold_start_table(cold: dict[str, Any]) -> list[str]:
    """Markdown rows of the cold starts: wall and (when measured) CPU seconds per command."""
    lines = ["| command | median wall s | min s | max s | median CPU s | min CPU s | max CPU s | n |",
             "|---|---|---|---|---|---|---|---|"]
    for key, row in cold.items():
        if "error" in row:
            lines.append(f"| {key} | error: {row['error']} | | | | | | |")
        else:
            lines.append(f"| `{row['command']}` | {_fmt(row['median_s'])} | {_fmt(row['min_s'])} "
                         f"| {_fmt(row['max_s'])} | {_fmt(row.get('cpu_median_s'))} | {_fmt(row.get('cpu_min_s'))} "
                         f"| {_fmt(row.get('cpu_max_s'))} | {row['n']} |")
    return lines


def _report_header(report: dict[str, Any], load_note: str) -> list[str]:
    """Markdown title and Command/Date/Machine/Load lines shared by both speed reports
    (``load_note``: the parenthesised remark after the load averages)."""
    machine = report["machine"]
    return [
        f"# {report['title']}",
        "",
        f"- Command: `{report['command']}`",
        f"- Date: {report['date_utc']}",
        f"- Machine: {machine['cpu']}, {machine['cores']} CPU cores, {machine['memory_gb']} GB RAM, GPU: "
        f"{machine['gpu']}; Python {machine['python']}, torch {machine['torch']}; {report['threads']} threads",
        f"- Load average (1/5/15 min) before: {report['load_average_before']}, after: "
        f"{report['load_average_after']} ({load_note})",
    ]


def _render_cli_markdown(report: dict[str, Any]) -> str:
    return "\n".join([
        *_report_header(report, "the machine is shared; load inflates wall time far more than CPU time"),
        "",
        "Each command runs in a fresh process (`ecgqa ...`); CPU is user + system time of that process "
        "(all its threads).",
        "",
        *_cold_start_table(report["cold_start"]),
    ]) + "\n"


def render_speed_markdown(report: dict[str, Any], summary_only: bool = False) -> str:
    """The speed report as Markdown (``summary_only``: the headline table alone; a ``cli_only``
    report: its cold-start table)."""
    if report.get("cli_only"):
        return "\n".join(_cold_start_table(report["cold_start"])) if summary_only else _render_cli_markdown(report)
    lines = ["| measure | value | goal | ratio to goal | met |", "|---|---|---|---|---|"]
    for name, value in report["headline"].items():
        goal = report["goals"][name]
        ratio, met = goal_ratio(name, value)
        shown = _fmt(value) if value is None else f"{_fmt(value)} {goal['unit']}"
        lines.append(f"| {_LABELS[name]} | {shown} | {goal['direction']} {goal['goal']:g} "
                     f"{goal['unit']} | {_fmt(ratio, 2)} | {'n/a' if met is None else ('yes' if met else 'NO')} |")
    if summary_only:
        return "\n".join(lines)
    head = [
        *_report_header(report, "the machine is shared; higher load inflates the times"),
        f"- Records: PTB-XL at {report['fs_hz']} Hz, ids {report['suite'].get('ecg_ids', 'n/a')}",
        f"- Models (card name: version): {report.get('models', 'n/a')}",
        f"- Tool settings: {report.get('settings', 'n/a')}",
        "",
        "Each measurement runs in a fresh subprocess; per-ECG times exclude the first call (model "
        "loading), which is reported separately.",
        "",
        "## Headline",
        "",
    ]
    body = ["", "## Cold start", "", *_cold_start_table(report["cold_start"])]
    body += ["", "## Per-ECG latency", "",
             "| step | median s | mean s | p90 s | first call s (loads models) | n ECGs |",
             "|---|---|---|---|---|---|"]
    rows = dict(report["tools"])
    rows["full_suite (own process)"] = report["suite"].get("full_suite", report["suite"])
    if "full_suite_with_measurements" in report["suite"]:
        rows["full_suite + measurements from its delineation (own process)"] = \
            report["suite"]["full_suite_with_measurements"]
    for name, row in rows.items():
        if not isinstance(row, dict):
            continue
        if "error" in row:
            body.append(f"| {name} | error: {row['error']} | | | | |")
        elif "median_s" in row:
            body.append(f"| {name} | {_fmt(row['median_s'])} | {_fmt(row['mean_s'])} | {_fmt(row['p90_s'])} "
                        f"| {_fmt(row['first_call_s'])} | {row['n']} |")
    body += ["", f"Peak memory: tools process {_fmt(report['tools'].get('peak_memory_gb'))} GB, full-suite "
             f"process {_fmt(report['suite'].get('peak_memory_gb'))} GB, questions process "
             f"{_fmt(report['questions'].get('peak_memory_gb'))} GB."]
    questions = report["questions"]
    body += ["", "## ECG-QA questions per second with per-ECG caching", ""]
    if "error" in questions:
        body.append(f"error: {questions['error']}")
    else:
        body += [f"Over the first {questions['n_samples']} official PTB-XL test samples whose ECGs have signals here "
                 f"({questions['n_ecgs']} ECGs), repeated for at least 3 s after the cache was filled.", "",
                 "| system | questions/s | questions | errors | cache fill s |", "|---|---|---|---|---|"]
        for name, row in questions.items():
            if not isinstance(row, dict):
                continue
            if "error" in row:
                body.append(f"| {name} | error: {row['error']} | | | |")
            else:
                body.append(f"| {name} | {_fmt(row['questions_per_s'], 1)} | {row['questions']} | {row['errors']} "
                            f"| {_fmt(row['cache_fill_s'], 1)} |")
    return "\n".join(head + lines + body) + "\n"


HAND_WRITTEN_MARKER = ("<!-- hand-written: `ecgqa bench speed --report` regenerates everything above this "
                       "line and keeps this line and everything below it -->")
"""The line that separates a speed report's generated part (above) from hand-written notes (below).
A line is a marker when, stripped, it starts with ``<!-- hand-written`` and ends with ``-->``."""


def _marker_offset(text: str) -> int | None:
    """Character offset of the first hand-written marker line in ``text``, or None without one."""
    offset = 0
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if stripped.startswith("<!-- hand-written") and stripped.endswith("-->"):
            return offset
        offset += len(line)
    return None


def merge_speed_report(generated_md: str, existing_md: str | None) -> str:
    """The report file's new text: ``generated_md``, then everything of ``existing_md`` from its first
    hand-written marker line on (that line included). Without an existing file or without a marker
    in it, the generated part is followed by a fresh marker line, so notes added below it survive
    the next run (an old file without a marker is replaced whole, as before markers existed)."""
    tail = HAND_WRITTEN_MARKER + "\n"
    if existing_md is not None:
        start = _marker_offset(existing_md)
        if start is not None:
            tail = existing_md[start:]
    return generated_md.rstrip("\n") + "\n\n" + tail


def write_speed_report(md_path: Path, generated_md: str) -> Path:
    """Write the speed report to ``md_path`` atomically (temp file + os.replace), keeping the
    hand-written part of an existing file (``merge_speed_report``)."""
    from .._io import write_text_atomic
    from ..errors import OutputError

    try:
        existing = md_path.read_text(encoding="utf-8") if md_path.is_file() else None
    except (OSError, UnicodeDecodeError) as exc:
        raise OutputError(f"cannot read {md_path} to keep its hand-written part: {exc}") from None
    return write_text_atomic(md_path, merge_speed_report(generated_md, existing))


if __name__ == "__main__":
    sys.exit(_worker_main())
