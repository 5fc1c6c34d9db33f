"""``ecgqa bench xai-speed``: every step of the grounding path is timed with the current defaults."""

from __future__ import annotations

from ecgqa_tools.eval._xai import default_n_steps
from ecgqa_tools.eval._xai_speed import bench_xai_speed
from ecgqa_tools.grounding import default_baseline, explain
from ecgqa_tools.records import load_example


def test_bench_xai_speed_times_each_step_with_the_default_steps_and_baseline():
    timings = bench_xai_speed(load_example("ptbxl-00473"), "MI", repeats=1, batch=2)
    steps = [t.step for t in timings]
    # explain adapts its IG steps: the label names the start and where this ECG's map ended
    used = explain(load_example("ptbxl-00473"), "MI").n_steps
    assert steps[0] == f"explain IG (MI, 1 ECG, adaptive steps {default_n_steps()} -> {used}, {default_baseline('MI')})"
    assert f"explain_batch IG (2 ECGs, adaptive steps {default_n_steps()} -> {used})" in steps
    assert any("normal template" in s for s in steps) and any("expected grads" in s for s in steps)
    assert "plot_ecg SVG" in steps
    assert all(t.median_ms > 0 and t.repeats >= 1 for t in timings)
    total = next(t for t in timings if t.step.startswith("interactive answer"))
    parts = [t for t in timings if t.step in (steps[0], "delineate (openecg)", "build_evidence (with faithfulness check)")]
    assert len(parts) == 3 and abs(total.median_ms - sum(t.median_ms for t in parts)) < 1e-6
