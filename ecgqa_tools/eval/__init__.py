"""Benchmarks and evaluations: they only call the other subpackages' public APIs."""

from ._ecgqa_bench import (
    BenchSystem,
    EcgCache,
    LeakageReport,
    Prediction,
    RunResult,
    Selection,
    apply_leakage_guard,
    as_qa_sample,
    exact_match,
    read_predictions,
    run_benchmark,
    select_samples,
    stratified_sample,
)
from ._ecgqa_bench_systems import SYSTEM_FACTORIES, BenchContext, LLMEndpoint, build_systems
from ._report import GroupScore, bootstrap_ci, score_predictions, write_report
from ._axis_bench import PTBXL_AXIS_MAP, AxisResult, run_ludb_axis, run_ptbxl_axis
from ._delineation_bench import TOLERANCE_MS, DelineationScore, LudbResult, QrsResult, run_ludb, run_mitdb, score_delineation

__all__ = [
    # ECG-QA benchmark (engineer B)
    "SYSTEM_FACTORIES",
    "BenchContext",
    "BenchSystem",
    "EcgCache",
    "GroupScore",
    "LLMEndpoint",
    "LeakageReport",
    "Prediction",
    "RunResult",
    "Selection",
    "apply_leakage_guard",
    "as_qa_sample",
    "bootstrap_ci",
    "build_systems",
    "exact_match",
    "read_predictions",
    "run_benchmark",
    "score_predictions",
    "select_samples",
    "stratified_sample",
    "write_report",
    # measurements benchmarks (engineer M)
    "PTBXL_AXIS_MAP",
    "TOLERANCE_MS",
    "AxisResult",
    "DelineationScore",
    "LudbResult",
    "QrsResult",
    "run_ludb",
    "run_ludb_axis",
    "run_mitdb",
    "run_ptbxl_axis",
    "score_delineation",
]
