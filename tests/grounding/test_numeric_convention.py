"""The ECG-QA numeric convention (grounding.measure_ecgqa): per-beat rules, ranges, aggregation,
the switch in measure(), and clear errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ecgqa_tools.errors import MeasurementError, RecordError, UsageError
from ecgqa_tools.grounding import (ECGQA_FEATURE_SOURCES, ECGQA_NORMAL_RANGES_MS, EcgqaNumeric,
                                   ecgqa_convention_states, ecgqa_range_of, ecgqa_state, measure, measure_ecgqa)
from ecgqa_tools.grounding._numeric_convention import per_beat_from_fiducials
from ecgqa_tools.records import ECG, load_example

NAN = float("nan")


def test_per_beat_rules_count_both_end_samples_and_skip_gaps_and_missing_fiducials():
    fs = 500.0
    r = np.array([100, 550, 1000, 2100])  # RR 900, 900, 2200 ms (the last >= 2 s is skipped)
    fid = {
        "ECG_P_Onsets": [20, 470, NAN, 2020],
        "ECG_P_Offsets": [69, 519, 950, NAN],
        "ECG_R_Onsets": [80, 530, 980, 2080],
        "ECG_R_Offsets": [124, 574, NAN, 2124],
        "ECG_Q_Peaks": [85, 535, 985, NAN],
        "ECG_T_Offsets": [284, 734, 1184, 2284],
    }
    got = per_beat_from_fiducials(fid, r, fs)
    assert got["rr interval"] == [900.0, 900.0]
    assert got["p duration"] == [100.0, 100.0]  # (69 - 20 + 1) / 500 s
    assert got["pr interval"] == [122.0] * 3  # (80 - 20 + 1) / 500 s; beat 3 has no P onset
    assert got["qrs duration"] == [90.0, 90.0, 90.0]  # beat 3 has no R offset
    assert got["qt interval"] == [400.0, 400.0, 400.0]  # T offset - Q PEAK + 1 sample
    # QTc per beat from the RR before it (beat 1 has none): 400 / sqrt(0.9)
    assert got["qt corrected"] == pytest.approx([400 / math.sqrt(0.9)] * 2)


def test_ranges_are_ecgqas_with_inclusive_bounds():
    assert ECGQA_NORMAL_RANGES_MS["qrs duration"] == (60.0, 110.0)
    assert ecgqa_range_of("qrs duration", 60.0) == "within"
    assert ecgqa_range_of("qrs duration", 59.9) == "below"
    assert ecgqa_range_of("qrs duration", 110.1) == "above"
    assert ecgqa_range_of("p duration", 10.0) == "within"  # no lower limit for P
    assert ecgqa_range_of("qt corrected", 555.0) == "within"  # 0.43 / sqrt(0.6) s = 555.1 ms
    assert ecgqa_range_of("qt corrected", 556.0) == "above"
    assert ecgqa_range_of("qt interval", None) is None
    with pytest.raises(MeasurementError, match="unknown numeric feature"):
        ecgqa_range_of("st elevation", 1.0)


def test_aggregations_differ_where_the_beats_straddle_a_limit():
    beats = [100.0, 104.0, 108.0, 116.0]  # QRS: one beat above 110
    assert ecgqa_state("qrs duration", beats, "any") == "above"
    assert ecgqa_state("qrs duration", beats, "max") == "above"
    assert ecgqa_state("qrs duration", beats, "min") == "within"
    assert ecgqa_state("qrs duration", beats, "median") == "within"
    assert ecgqa_state("rr interval", [580.0, 700.0, 1100.0], "any") == "above"  # above wins over below
    assert ecgqa_state("rr interval", [580.0, 700.0], "any") == "below"
    assert ecgqa_state("qt interval", [], "any") is None
    with pytest.raises(UsageError, match="unknown aggregation"):
        ecgqa_state("qt interval", beats, "mode")


@pytest.fixture(scope="module")
def example() -> ECG:
    return load_example("ptbxl-00473")


@pytest.fixture(scope="module")
def both(example):
    return measure(example, numeric_convention="ecgqa")


def test_example_measured_on_lead_ii_at_500_hz(example, both):
    m = both.ecgqa_numeric
    assert isinstance(m, EcgqaNumeric)
    assert (m.lead, m.fs_hz, m.input_fs_hz) == ("II", 500.0, 500.0)
    assert m.n_r_peaks >= 7
    # the record is a regular sinus rhythm at ~55 bpm: every lead-II RR is 1.05-1.15 s
    rr = m.per_beat_ms["rr interval"]
    assert len(rr) >= 7 and all(1050 <= x <= 1150 for x in rr)
    assert m.range_attributes()["rr interval"] == "above"
    assert abs(m.value_ms("rr interval") - both.rr_interval.value) < 30  # agrees with the 12-lead value


def test_convention_switch_changes_states_but_not_the_clinical_values(example, both):
    clinical = measure(example)
    assert clinical.numeric_convention == "clinical" and clinical.ecgqa_numeric is None
    # the clinical values and their ranges are untouched by the convention
    assert both.qrs_duration == clinical.qrs_duration and both.pr_interval == clinical.pr_interval
    assert both.range_attributes("clinical") == clinical.range_attributes()
    ecgqa = both.range_attributes()
    assert ecgqa == both.ecgqa_numeric.range_attributes()
    # lead II's median PR beat (NeuroKit2, ~66 ms) is below ECG-QA's range; the 12-lead PR (172 ms) is within
    assert clinical.range_attributes()["pr interval"] == "within" and ecgqa["pr interval"] == "below"
    # NeuroKit2's lead-II QRS boundaries are far wider than the 12-lead ones (100 ms): the lead-II
    # median beat would say above; the convention (session 7b) takes QRS from the 12-lead value
    assert both.ecgqa_numeric.range_attributes("median")["qrs duration"] == "above"
    assert both.ecgqa_numeric.clinical_ms == {"qrs duration": both.qrs_duration.value}
    assert clinical.range_attributes()["qrs duration"] == "within" and ecgqa["qrs duration"] == "within"
    assert "ECG-QA convention (NeuroKit2, lead II at 500 Hz" in both.summary()
    assert "12-lead 100 ms" in both.summary() and "not used for the state" in both.summary()


def test_numeric_per_feature_sources_are_the_session_7b_choice():
    assert ECGQA_FEATURE_SOURCES == {"rr interval": "ecgqa-median", "p duration": "ecgqa-median",
                                     "pr interval": "ecgqa-median", "qrs duration": "clinical+ecgqa-ranges",
                                     "qt interval": "ecgqa-median", "qt corrected": "ecgqa-median"}
    beats = {f: [] for f in ECGQA_FEATURE_SOURCES}
    beats["qrs duration"] = [180.0, 190.0, 200.0]  # lead II says above...
    beats["qt interval"] = [300.0, 320.0, 500.0]  # median 320: below
    got = ecgqa_convention_states(beats, {"qrs duration": 65.0})  # ...the 12-lead 65 ms is within 60-110
    assert got["qrs duration"] == "within" and got["qt interval"] == "below" and got["rr interval"] is None
    assert ecgqa_convention_states(beats, {"qrs duration": 58.0})["qrs duration"] == "below"
    assert ecgqa_convention_states(beats, {})["qrs duration"] is None  # no 12-lead value: unmeasurable


def test_numeric_given_clinical_measurement_is_used_not_remeasured(example, both):
    again = measure_ecgqa(example, clinical=both)
    assert again == both.ecgqa_numeric
    fake = type("M", (), {"qrs_duration": type("V", (), {"value": 150.0, "reason": None})()})()
    assert measure_ecgqa(example, clinical=fake).range_attributes()["qrs duration"] == "above"


def test_100_hz_input_is_resampled_to_500_unless_told(example):
    from ecgqa_tools.records import resample

    low = resample(example, 100.0)
    m = measure_ecgqa(low)
    assert (m.fs_hz, m.input_fs_hz) == (500.0, 100.0) and any("resampled from 100" in n for n in m.notes)
    native = measure_ecgqa(low, fs_hz=None)
    assert native.fs_hz == 100.0 and not native.notes


def test_bad_input_gives_clear_errors(example):
    with pytest.raises(UsageError, match="takes an ECG"):
        measure_ecgqa(np.zeros((12, 5000)))
    with pytest.raises(UsageError, match="unknown aggregation"):
        measure_ecgqa(example, aggregation="mode")
    with pytest.raises(UsageError, match="unknown numeric convention"):
        measure(example, numeric_convention="paper")
    with pytest.raises(MeasurementError, match="numeric_convention='ecgqa'"):
        measure(example).range_attributes("ecgqa")
    no_ii = ECG.from_array(example.signal_mv[[0, 2]], 500.0, ("I", "III"))
    with pytest.raises(RecordError, match="no lead 'II'"):
        measure_ecgqa(no_ii)


def test_flat_or_short_lead_is_unmeasurable_with_a_reason(example):
    flat = example.with_signal(np.zeros_like(example.signal_mv))
    m = measure_ecgqa(flat)
    assert all(v is None for v in m.range_attributes().values())
    assert "flat" in m.reasons["qrs duration"] and m.clinical_reasons["qrs duration"]
    short = example.with_signal(example.signal_mv[:, :2500])  # 5 s at 55 bpm: < 7 R peaks
    m = measure_ecgqa(short)
    # lead II's features are unmeasurable; QRS comes from the 12-lead measurement (session 7b)
    assert all(v is None for f, v in m.range_attributes().items() if f != "qrs duration")
    assert "at least 7" in m.reasons["rr interval"]


def test_cli_measure_numeric_convention_prints_both(capsys):
    import json

    from ecgqa_tools import cli

    assert cli.main(["measure", "ptbxl-00473", "--numeric-convention", "ecgqa", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["numeric_convention"] == "ecgqa"
    conv = out["ecgqa_convention"]
    assert (conv["lead"], conv["fs_hz"]) == ("II", 500.0)
    assert conv["feature_sources"]["qrs duration"] == "12-lead clinical measurement, ECG-QA range"
    assert out["ecgqa_ranges"]["pr interval"] == "below" and conv["clinical_ranges"]["pr interval"] == "within"
    assert cli.main(["measure", "ptbxl-00473", "--numeric-convention", "paper"]) != 0
