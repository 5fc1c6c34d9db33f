"""ECG-QA benchmark and intervals bench under a numeric convention: ranges, resume keys, selection scoring."""

from __future__ import annotations

import pytest

from ecgqa_tools.errors import UsageError
from ecgqa_tools.eval._delineation_intervals import (CONVENTION_CANDIDATES, StateAgreement, candidate_ranges,
                                                     per_feature_choice, state_agreement)
from ecgqa_tools.eval._ecgqa_bench_systems import BenchContext, OracleSystem, measured_ranges
from ecgqa_tools.grounding import measure_ecgqa
from ecgqa_tools.records import load_example


@pytest.fixture(scope="module")
def example():
    return load_example("ptbxl-00473")


def test_bench_ranges_follow_the_convention(example):
    ecgqa = measured_ranges(example, "ecgqa")
    assert ecgqa == {k: v for k, v in measure_ecgqa(example).range_attributes().items() if v}
    assert ecgqa["qrs duration"] == "within" and ecgqa["pr interval"] == "below"  # QRS: 12-lead (session 7b)
    with pytest.raises(UsageError, match="unknown numeric convention"):
        measured_ranges(example, "paper")


def test_resume_key_names_the_convention(tmp_path, example):
    clinical = OracleSystem(BenchContext(tmp_path, tmp_path)).describe()
    ecgqa_ctx = BenchContext(tmp_path, tmp_path, numeric_convention="ecgqa")
    ecgqa = OracleSystem(ecgqa_ctx).describe()
    assert clinical["numeric_convention"] == "clinical"
    assert ecgqa["numeric_convention"].startswith("ecgqa (median, 500 Hz; from the 12-lead clinical values: "
                                                  "qrs duration; code ")
    assert clinical != ecgqa  # answers cached under one convention are never reused by the other
    # the per-record ranges are kept apart too
    ecgqa_ctx.cache_dir = tmp_path / "cache"
    assert ecgqa_ctx.numeric_ranges(473, example)["pr interval"] == "below"
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


def test_numeric_bench_convention_ranges_mix_clinical_qrs_with_lead_ii_beats():
    per_beat = {f: [] for f in ("rr interval", "p duration", "pr interval", "qt interval", "qt corrected")}
    per_beat["qrs duration"] = [180.0, 190.0]
    per_beat["rr interval"] = [500.0, 520.0]
    clinical = {"values": {"rr_interval": 900.0, "p_duration": 100.0, "pr_interval": 150.0, "qrs_duration": 95.0,
                           "qt_interval": 400.0, "qtc_bazett": 420.0}}
    got = candidate_ranges("ecgqa", clinical, per_beat)
    assert got["qrs duration"] == "within"  # the 12-lead 95 ms, not lead II's 185
    assert got["rr interval"] == "below"  # lead II's beats, not the 12-lead 900 ms
    assert got["qt interval"] is None


def _agreement(per_feature):
    return StateAgreement(0, 0, 0, 0, per_feature)


def test_numeric_per_feature_rule_picks_most_states_ties_to_median_then_earlier():
    counts = {"qrs duration": {"ecgqa-median": 65, "clinical+ecgqa-ranges": 133, "clinical": 133},
              "rr interval": {"ecgqa-min": 203, "ecgqa-median": 203, "clinical": 201},
              "p duration": {"ecgqa-any": 100, "ecgqa-median": 217}}
    res = {c: {"train": _agreement({f: (300, v[c]) for f, v in counts.items() if c in v})}
           for c in CONVENTION_CANDIDATES if any(c in v for v in counts.values())}
    got = per_feature_choice(res)
    assert got["qrs duration"].candidate == "clinical+ecgqa-ranges"  # tie without median: earlier (B before A)
    assert got["rr interval"].candidate == "ecgqa-median"  # tie with median: median
    assert got["p duration"].candidate == "ecgqa-median" and got["p duration"].ok == 217
    # pooled over splits
    two = {c: {"train": _agreement({"qt interval": (10, k)}), "valid": _agreement({"qt interval": (5, j)})}
           for c, k, j in (("ecgqa-median", 6, 4), ("ecgqa-mean", 9, 0))}
    assert per_feature_choice(two)["qt interval"].candidate == "ecgqa-median"  # 10 vs 9
    assert per_feature_choice(two)["qt interval"].n == 15
