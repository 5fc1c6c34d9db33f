"""``ecgqa bench speed`` plumbing: goal ratios, the report, subprocess workers and their errors.

No timed assertions: only that numbers are measured, have the right shape and are reported.
"""

from __future__ import annotations

import json
from contextlib import contextmanager

from ecgqa_tools.eval._speed import (
    GOALS,
    _run_worker,
    goal_ratio,
    measure_cold_start,
    render_speed_markdown,
)


def test_goal_ratio_direction():
    assert goal_ratio("full_suite_s_per_ecg", 0.25) == (0.5, True)
    assert goal_ratio("full_suite_s_per_ecg", 1.0) == (2.0, False)
    assert goal_ratio("questions_per_s_cached", 2000.0) == (2.0, True)
    assert goal_ratio("questions_per_s_cached", 10.0)[1] is False
    assert goal_ratio("peak_memory_gb", None) == (None, None)


def test_cold_start_of_a_real_subprocess_is_measured():
    result = measure_cold_start(["--help"], repeats=1, threads=1)
    assert result["n"] == 1 and result["median_s"] > 0
    failed = measure_cold_start(["no-such-command"], repeats=1, threads=1)
    assert "error" in failed and "exit 2" in failed["error"]


def test_a_failing_worker_reports_its_error_instead_of_crashing(tmp_path):
    result = _run_worker("suite", ["--ptbxl", str(tmp_path / "absent"), "--n-ecgs", "1"], threads=1)
    assert "error" in result and "worker exited" in result["error"]


def test_report_states_every_goal_and_unmeasured_numbers():
    report = {
        "title": "t", "command": "ecgqa bench speed", "date_utc": "now", "threads": 2, "fs_hz": 100,
        "machine": {"cpu": "cpu", "cores": 2, "memory_gb": 8, "gpu": "none", "python": "3", "torch": "2"},
        "load_average_before": (1, 1, 1), "load_average_after": (1, 1, 1),
        "headline": {"full_suite_s_per_ecg": 0.4, "questions_per_s_cached": 500.0,
                     "cold_start_ask_s": None, "peak_memory_gb": 1.0},
        "goals": {k: {"goal": g, "direction": d, "unit": u} for k, (g, d, u) in GOALS.items()},
        "cold_start": {"help": {"command": "ecgqa --help", "n": 1, "median_s": 0.2, "min_s": 0.2, "max_s": 0.2},
                       "ask": {"error": "exit 2: no ask"}},
        "tools": {"ecg_ids": ["1"], "attributes": {"first_call_s": 1.0, "n": 1, "median_s": 0.1, "mean_s": 0.1,
                                                   "p90_s": 0.1, "min_s": 0.1, "max_s": 0.1},
                  "ig_map_one_disease": {"error": "ImportError: x"}, "peak_memory_gb": 0.5},
        "suite": {"error": "worker exited 1"},
        "questions": {"n_samples": 3, "n_ecgs": 4, "upper-bound": {"questions_per_s": 500.0, "questions": 9,
                                                                  "errors": 0, "cache_fill_s": 1.0, "seconds": 1.0}},
    }
    md = render_speed_markdown(report)
    assert md.count("| yes |") == 2 and md.count("| NO |") == 1 and "not measured" in md
    assert "ImportError: x" in md and "no ask" in md and "ecgqa bench speed" in md
    summary = render_speed_markdown(report, summary_only=True)
    assert summary.count("\n") == 1 + len(GOALS)
    json.dumps(report)
    from ecgqa_tools.eval._report import summary_table

    table = summary_table([report])
    assert table.count("| speed: ") == len(GOALS) and "NOT met, 0.50x the goal" in table


def test_questions_per_second_counts_only_answered_questions(tmp_path, monkeypatch):
    import sys
    from pathlib import Path

    from ecgqa_tools.errors import UnsupportedQuestion
    from ecgqa_tools.eval import _cli_bench, _ecgqa_bench_systems as systems_module
    from ecgqa_tools.eval._speed import worker_questions

    sys.path.insert(0, str(Path(__file__).parent))
    import test_bench_ecgqa as fakes

    class Refusing(fakes.FakeSystem):
        def answer(self, sample, features):
            raise UnsupportedQuestion("no")

    class NeedsItsModels(fakes.FakeSystem):
        """Answers only inside its model context, as the tools system's leakage guard needs its
        ecgqa-split disease weights active (with the fold-based ones it refuses test ECGs)."""
        active = False

        @contextmanager
        def model_context(self):
            NeedsItsModels.active = True
            try:
                yield
            finally:
                NeedsItsModels.active = False

        def answer(self, sample, features):
            if not NeedsItsModels.active:
                raise UnsupportedQuestion("answered outside the system's model context")
            return super().answer(sample, features)

    monkeypatch.setattr(_cli_bench, "load_split_samples", lambda *a, **k: fakes.make_samples(12))
    monkeypatch.setattr(systems_module.BenchContext, "present_ids", lambda self: frozenset(range(1, 13)))
    monkeypatch.setitem(systems_module.SYSTEM_FACTORIES, "ok", lambda ctx: fakes.FakeSystem("ok", "k"))
    monkeypatch.setitem(systems_module.SYSTEM_FACTORIES, "refuse", lambda ctx: Refusing("refuse", "r"))
    monkeypatch.setitem(systems_module.SYSTEM_FACTORIES, "ctx", lambda ctx: NeedsItsModels("ctx", "c"))
    monkeypatch.setattr("ecgqa_tools.eval._speed._setup_threads", lambda threads: None)
    out = worker_questions(str(tmp_path), str(tmp_path), 100, 1, min_seconds=0.05, systems=("ok", "refuse", "ctx"))
    assert out["n_samples"] == 12
    assert out["ok"]["questions"] >= 12 and out["ok"]["errors"] == 0 and out["ok"]["questions_per_s"] > 0
    assert out["ctx"]["questions"] >= 12 and out["ctx"]["errors"] == 0
    assert "no question answered" in out["refuse"]["error"]


def test_cold_starts_report_cpu_time_and_cover_plot_and_measure(tmp_path):
    from ecgqa_tools.eval._speed import PLOT_HEADS, cold_start_commands

    result = measure_cold_start(["--help"], repeats=2, threads=1)
    assert result["n"] == 2 and 0 < result["cpu_min_s"] <= result["cpu_median_s"] <= result["cpu_max_s"]
    commands = cold_start_commands(tmp_path)
    assert {"help", "ask", "measure", "plot"} <= set(commands)
    for head in PLOT_HEADS:
        line = commands[f"plot_explain_{head}"]
        assert line[:1] == ["plot"] and line[line.index("--explain") + 1] == head
        assert line[line.index("-o") + 1].startswith(str(tmp_path))
    assert commands["measure"][0] == "measure"


def test_cli_only_report_renders_and_summarises():
    from ecgqa_tools.eval._report import summary_table

    report = {
        "title": "Cold start of the ecgqa commands", "command": "ecgqa bench speed --cli-only", "cli_only": True,
        "date_utc": "now", "threads": 2, "load_average_before": (1, 1, 1), "load_average_after": (1, 1, 1),
        "machine": {"cpu": "cpu", "cores": 2, "memory_gb": 8, "gpu": "none", "python": "3", "torch": "2"},
        "cold_start": {"measure": {"command": "ecgqa measure x", "n": 3, "median_s": 2.0, "min_s": 1.9,
                                   "max_s": 2.5, "cpu_median_s": 1.5, "cpu_min_s": 1.4, "cpu_max_s": 1.6},
                       "plot": {"error": "exit 1: no"}},
    }
    md = render_speed_markdown(report)
    assert "| `ecgqa measure x` | 2.000 | 1.900 | 2.500 | 1.500 | 1.400 | 1.600 | 3 |" in md
    assert "exit 1: no" in md and "ecgqa bench speed --cli-only" in md
    assert render_speed_markdown(report, summary_only=True).count("\n") == 3
    table = summary_table([report])
    assert "cold `ecgqa measure x`" in table and "2.00 s wall, 1.50 s CPU" in table
