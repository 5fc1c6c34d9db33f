"""Speed of the grounding path an interactive answer takes: attribution, evidence, plot."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Timing:
    """Wall time of one step (median over repeats, after one warm-up call)."""

    step: str
    """What was timed."""
    median_ms: float
    """Median wall time in milliseconds."""
    cpu_ms: float
    """Median CPU time of this process in milliseconds (all threads; robust to a busy machine)."""
    repeats: int
    """Timed calls."""


def _time(step: str, fn: Callable[[], Any], repeats: int) -> Timing:
    fn()  # warm-up (model load, first-call allocations)
    samples, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        samples.append((time.perf_counter() - start) * 1000.0)
        cpu.append((time.process_time() - start_cpu) * 1000.0)
    return Timing(step, statistics.median(samples), statistics.median(cpu), repeats)


def _adaptive_steps(attribution: Any, start: int) -> str:
    """Label words for the steps an IG call took: ``explain`` adapts them (docs/grounding.md "IG
    completeness"), starting at ``start`` and ending at ``attribution.n_steps`` for this ECG."""
    return f"adaptive steps {start} -> {attribution.n_steps}"


def bench_xai_speed(ecg: Any, disease: str = "MI", repeats: int = 5, batch: int = 16) -> list[Timing]:
    """Time explain (IG, GradientSHAP, saliency), batched IG, delineation, evidence and the plot.
    IG is timed as the product runs it, with the adaptive completeness steps; each IG label names
    the starting steps and the steps the map of this ECG ended at."""
    from ..encoders import delineate
    from ..grounding import build_evidence, clinical_mask, default_baseline, explain, explain_batch, plot_ecg
    from ._xai import default_n_steps

    steps = default_n_steps()
    attribution = explain(ecg, disease, "ig")
    normal, expected = (explain(ecg, disease, "ig", baseline=kind) for kind in ("normal", "expected"))
    first = f"explain IG ({disease}, 1 ECG, {_adaptive_steps(attribution, steps)}, {default_baseline(disease)})"
    timings = [
        _time(first, lambda: explain(ecg, disease, "ig"), repeats),
        _time(f"explain IG ({disease}, 1 ECG, {_adaptive_steps(normal, steps)}, normal template)",
              lambda: explain(ecg, disease, "ig", baseline="normal"), repeats),
        _time(f"explain IG ({disease}, 1 ECG, {_adaptive_steps(expected, steps)} x 8 refs, expected grads)",
              lambda: explain(ecg, disease, "ig", baseline="expected"), repeats),
        _time("explain GradientSHAP (1 ECG, 32 draws)", lambda: explain(ecg, disease, "gradshap"), repeats),
        _time("explain saliency (1 ECG)", lambda: explain(ecg, disease, "saliency"), repeats),
    ]
    many = [ecg] * batch
    batched = _time(f"explain_batch IG ({batch} ECGs, {_adaptive_steps(attribution, steps)})",
                    lambda: explain_batch(many, disease, "ig", batch_size=batch), max(1, repeats // 2))
    timings.append(batched)
    timings.append(Timing(f"  = per ECG in a batch of {batch}", batched.median_ms / batch, batched.cpu_ms / batch,
                          batched.repeats))
    timings.append(_time("delineate (openecg)", lambda: delineate(ecg), repeats))
    delineation = delineate(ecg)
    timings.append(_time("build_evidence (with faithfulness check)",
                         lambda: build_evidence(attribution, delineation), repeats))
    mask = clinical_mask(delineation, disease, n_samples=ecg.n_samples, fs_hz=ecg.fs_hz)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "plot.png"
        timings.append(_time("plot_ecg PNG", lambda: plot_ecg(ecg, attribution, mask=mask, path=out),
                             max(1, repeats // 2)))
        svg = Path(tmp) / "plot.svg"
        timings.append(_time("plot_ecg SVG", lambda: plot_ecg(ecg, attribution, mask=mask, path=svg),
                             max(1, repeats // 2)))
    parts = [t for t in timings if t.step == first or t.step.startswith(("delineate", "build_evidence"))]
    timings.append(Timing("interactive answer = IG + delineate + evidence", sum(t.median_ms for t in parts),
                          sum(t.cpu_ms for t in parts), repeats))
    return timings
