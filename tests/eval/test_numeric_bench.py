"""ECG-QA benchmark and intervals bench under a numeric convention: ranges, resume keys, selection scoring."""

from __future__ import annotations

import pytest

from ecgqa_tools.errors import UsageError
from ecgqa_tools.eval._delineation_intervals import candidate_ranges, state_agreement
from ecgqa_tools.eval._ecgqa_bench_systems import BenchContext, OracleSystem, measured_ranges
from ecgqa_tools.grounding import measure_ecgqa
from ecgqa_tools.records import load_example


@pytest.fixture(scope="module")
def example():
    return load_example("ptbxl-00473")


def test_bench_ranges_follow_the_convention(example):
    ecgqa = measured_ranges(example, "ecgqa")
    assert ecgqa == {k: v for k, v in measure_ecgqa(example).range_attributes().items() if v}
    assert ecgqa["qrs duration"] == "above"
    with pytest.raises(UsageError, match="unknown numeric convention"):
        measured_ranges(example, "paper")


def test_resume_key_names_the_convention(tmp_path, example):
    clinical = OracleSystem(BenchContext(tmp_path, tmp_path)).describe()
    ecgqa_ctx = BenchContext(tmp_path, tmp_path, numeric_convention="ecgqa")
    ecgqa = OracleSystem(ecgqa_ctx).describe()
    assert clinical["numeric_convention"] == "clinical"
    assert ecgqa["numeric_convention"].startswith("ecgqa (median, 500 Hz, code ")
    assert clinical != ecgqa  # answers cached under one convention are never reused by the other
    # the per-record ranges are kept apart too
    ecgqa_ctx.cache_dir = tmp_path / "cache"
    assert ecgqa_ctx.numeric_ranges(473, example)["qrs duration"] == "above"
    assert [f.name for f in (tmp_path / "cache").glob("measured-ranges-ecgqa-*-100hz/473.json")] == ["473.json"]


def test_state_agreement_counts_unmeasurable_as_within():
    states = {(1, "qrs duration"): {"abn"}, (2, "qrs duration"): {"within"}, (3, "qrs duration"): {"abn"},
              (4, "qrs duration"): {"abn", "within"}}  # implied both ways: skipped
    ranges = {1: {"qrs duration": "above"}, 2: {"qrs duration": None}, 3: {"qrs duration": "within"},
              4: {"qrs duration": "above"}}
    a = state_agreement(states, ranges)
    assert (a.n, a.ok, a.n_measured, a.ok_measured) == (3, 2, 2, 1)
    per_beat = {f: [] for f in ("rr interval", "p duration", "pr interval", "qt interval", "qt corrected")}
    per_beat["qrs duration"] = [100.0, 104.0, 130.0]
    assert candidate_ranges("ecgqa-median", None, per_beat)["qrs duration"] == "within"
    assert candidate_ranges("ecgqa-any", None, per_beat)["qrs duration"] == "above"
    assert candidate_ranges("ecgqa-median", None, per_beat)["qt interval"] is None
