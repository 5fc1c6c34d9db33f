"""Axis benchmark plumbing: the --folds split rule and the resumable QRS-boundary cache."""

from __future__ import annotations

import numpy as np
import pytest

from ecgqa_tools.errors import UsageError
from ecgqa_tools.eval._axis_bench import cached_beats, parse_folds


def test_parse_folds():
    assert parse_folds("all") is None and parse_folds(None) is None
    assert parse_folds("1-8") == (1, 2, 3, 4, 5, 6, 7, 8)
    assert parse_folds("9,10") == (9, 10)
    assert parse_folds("10, 9-10") == (9, 10)
    for bad in ("0-3", "11", "a-b", ","):
        with pytest.raises(UsageError):
            parse_folds(bad)


def _ecg():
    from ecgqa_tools.records import ECG, to_standard_leads

    fs, n = 500.0, 5000
    t = np.arange(n) / fs
    x = sum(np.exp(-0.5 * ((t - b) / 0.012) ** 2) for b in np.arange(0.5, 9.5, 0.8))
    x = x + 0.2 * sum(np.exp(-0.5 * ((t - b - 0.3) / 0.05) ** 2) for b in np.arange(0.5, 9.5, 0.8))
    return to_standard_leads(ECG.from_array(np.tile(x, (8, 1)), fs,
                                            ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")))


def test_cached_beats_resume_without_recomputing(tmp_path):
    path = tmp_path / "beats.jsonl"
    calls = []

    def read(key):
        calls.append(key)
        return _ecg()

    first = cached_beats([7], read, path)
    assert calls == [7] and len(first[7]) >= 5
    again = cached_beats([7], lambda key: pytest.fail("should come from the cache"), path)
    assert [(b.qrs_onset, b.qrs_offset) for b in again[7]] == [(b.qrs_onset, b.qrs_offset) for b in first[7]]
    path.write_text(path.read_text() + '{"key": "8", "beats": [[1, ')  # cut by an interruption
    assert cached_beats([7], lambda key: pytest.fail("cached"), path)[7] == again[7]


def _recs(pairs):
    from ecgqa_tools.eval._axis_bench import AxisRecord

    return [AxisRecord(str(i), label, deg) for i, (label, deg) in enumerate(pairs)]


def test_fit_finds_the_border_of_a_synthetic_label_convention():
    from ecgqa_tools.eval._axis_bench import fit_axis_cuts, three_class

    # labels made with the cut-offs +10 / +100 on angles one degree apart: only that grid pair
    # classifies all of them like the label
    angles = np.arange(-80.0, 160.0, 1.0)
    recs = _recs([(three_class(a, (10.0, 100.0)), float(a)) for a in angles])
    fit = fit_axis_cuts(recs)
    assert (fit.left_deg, fit.right_deg) == (10.0, 100.0)
    assert fit.n_correct == fit.n_scored == len(angles) and fit.accuracy == 1.0 and fit.n_tied() == 1
    assert len(fit.grid) == 17 * 9 and fit.grid[(-30.0, 90.0)] < fit.n_correct
    assert fit.table().splitlines()[0].split()[1:] == [str(r) for r in range(80, 121, 5)]


def test_fit_ties_go_to_the_textbook_cut_offs():
    from ecgqa_tools.eval._axis_bench import fit_axis_cuts

    # every pair with -40 <= L <= 0 and 80 <= R <= 120 gets all four right: textbook (-30, 90) wins
    recs = _recs([("left", -60.0), ("normal", 3.0), ("normal", 60.0), ("right", 150.0)])
    fit = fit_axis_cuts(recs)
    assert (fit.left_deg, fit.right_deg) == (-30.0, 90.0) and fit.n_correct == 4
    # plateau -40..-20 for L: -30 is inside it; plateau 15..40 (no textbook inside): the closest, 15
    recs = _recs([("left", 12.0), ("normal", 40.5), ("normal", 60.0), ("right", 150.0)])
    fit = fit_axis_cuts(recs)
    assert (fit.left_deg, fit.right_deg) == (15.0, 90.0)
    # equal distance sums: |L + 30| decides before R
    fit = fit_axis_cuts(_recs([("left", -60.0), ("normal", 60.0)]), (-35.0, -25.0), (85.0, 95.0))
    assert (fit.left_deg, fit.right_deg) == (-35.0, 85.0)


def test_fit_ignores_unmeasurable_records_and_refuses_nothing_to_fit():
    from ecgqa_tools.eval._axis_bench import fit_axis_cuts

    fit = fit_axis_cuts(_recs([("left", -60.0), ("normal", None), ("normal", 50.0)]))
    assert fit.n_scored == 2
    with pytest.raises(UsageError, match="measurable"):
        fit_axis_cuts(_recs([("left", None)]))
    with pytest.raises(UsageError, match="not below"):
        fit_axis_cuts(_recs([("left", -60.0)]), (100.0,), (90.0,))


def test_score_axis_and_convention_cuts():
    from ecgqa_tools.eval._axis_bench import (LUDB_CUTS_DEG, PTBXL_CUTS_DEG, AxisRecord, convention_cuts,
                                              score_axis)
    from ecgqa_tools.grounding import AXIS_CONVENTIONS

    recs = [AxisRecord("1", "left", 10.0, "left axis deviation"), AxisRecord("2", "normal", 40.0, "normal"),
            AxisRecord("3", "normal", None, "normal"), AxisRecord("4", "right", -170.0, "right axis deviation")]
    r = score_axis(recs, (30.0, 90.0), "t", "m", "apriori", five_class=True)
    assert (r.n_scored, r.n_unmeasurable, r.agreement) == (3, 1, 1.0)
    assert r.confusion == {("left", "left"): 1, ("normal", "normal"): 1, ("right", "right"): 1}
    assert r.agreement_five == pytest.approx(2 / 3)  # 10 degrees is "horizontal" with the cuts 0/30/70/90
    assert score_axis(recs, (0.0, 90.0), "t").agreement == pytest.approx(2 / 3)
    assert convention_cuts("apriori", "ptbxl") == PTBXL_CUTS_DEG
    assert convention_cuts("apriori", "ludb") == LUDB_CUTS_DEG
    assert convention_cuts("textbook", "ludb") == (-30.0, 90.0)
    for dataset in ("ptbxl", "ludb"):
        if dataset in AXIS_CONVENTIONS:
            c = AXIS_CONVENTIONS[dataset]
            assert convention_cuts("dataset", dataset) == (c.left_deg, c.right_deg)
    with pytest.raises(UsageError, match="unknown axis convention"):
        convention_cuts("cabrera", "ptbxl")
    with pytest.raises(UsageError, match="unknown axis dataset"):
        convention_cuts("textbook", "mimic")


def test_cached_axes_reuse_the_angles(tmp_path):
    from ecgqa_tools.eval._axis_bench import cached_axes

    first = cached_axes([3], lambda key: _ecg(), 500.0, "peak-I-aVF", tmp_path / "b.jsonl", tmp_path / "a.jsonl")
    assert first["3"] is not None
    again = cached_axes([3], lambda key: pytest.fail("angle should come from the cache"), 500.0, "peak-I-aVF",
                        tmp_path / "b.jsonl", tmp_path / "a.jsonl")
    assert again == first


def test_cached_axes_are_recomputed_when_the_axis_code_changes(tmp_path, monkeypatch):
    from ecgqa_tools.eval import _axis_bench, _delineation_bench

    first = _axis_bench.cached_axes([3], lambda key: _ecg(), 500.0, "peak-I-aVF", tmp_path / "b.jsonl",
                                    tmp_path / "a.jsonl")
    real = _delineation_bench.pipeline_fingerprint
    # another version of grounding._measure (the angle code), same delineator
    monkeypatch.setattr(_delineation_bench, "pipeline_fingerprint",
                        lambda *modules: real(*modules) + ("-changed" if len(modules) > 1 else ""))
    calls = []
    again = _axis_bench.cached_axes([3], lambda key: calls.append(key) or _ecg(), 500.0, "peak-I-aVF",
                                    tmp_path / "b.jsonl", tmp_path / "a.jsonl")
    assert calls and set(calls) == {3} and again == first  # beats and angle redone


def test_cli_bench_axis_rejects_an_unknown_convention(capsys):
    from ecgqa_tools.cli import main

    assert main(["bench", "axis", "--conventions", "textbook,cabrera"]) == 1
    assert "unknown axis convention 'cabrera'" in capsys.readouterr().err


# ---- session 3b: the learned class rule (features, softmax fit, nested comparison)

def _beats(ecg):
    from ecgqa_tools.grounding import Beat

    fs = ecg.fs_hz
    return [Beat(int((b - 0.04) * fs), int((b + 0.04) * fs)) for b in np.arange(0.5, 9.5, 0.8)]


def _limb_ecg(scale_i: float, scale_ii: float):
    from ecgqa_tools.records import ECG

    fs, n = 500.0, 5000
    t = np.arange(n) / fs
    qrs = sum(np.exp(-0.5 * ((t - b) / 0.012) ** 2) for b in np.arange(0.5, 9.5, 0.8))
    return ECG.from_array(np.vstack([scale_i * qrs, scale_ii * qrs]), fs, ("I", "II"))


def test_wave_features_of_a_known_limb_vector_and_scale_free():
    from ecgqa_tools.eval._axis_bench import qrs_wave_features, record_axis_features

    # I = q, II = q/2: a vector at 0 degrees; III = -q/2, aVR = -3q/4, aVL = 3q/4, aVF = 0
    ecg = _limb_ecg(1.0, 0.5)
    f = qrs_wave_features(ecg, _beats(ecg), ecg.fs_hz)
    assert f["R_I"] == pytest.approx(1.0, abs=1e-3) and f["S_I"] == 0.0
    assert f["R_II"] == pytest.approx(0.5, abs=1e-3) and f["S_III"] == pytest.approx(-0.5, abs=1e-3)
    assert f["S_aVR"] == pytest.approx(-0.75, abs=1e-3) and abs(f["R_aVF"]) < 1e-3
    norm = np.sqrt(1 + 0.25 + 0.25 + 2 * 0.5625)
    assert f["area_I"] == pytest.approx(1 / norm, abs=1e-3) and f["area_aVR"] == pytest.approx(-0.75 / norm, abs=1e-3)
    big = _limb_ecg(3.0, 1.5)
    assert qrs_wave_features(big, _beats(big), big.fs_hz) == pytest.approx(f)
    full = record_axis_features(ecg, _beats(ecg), ecg.fs_hz)
    assert full["cos(peak-I-aVF)"] == pytest.approx(1.0, abs=1e-3) and full["R_I"] == f["R_I"]
    assert qrs_wave_features(ecg, [], ecg.fs_hz) is None


def test_softmax_rule_learns_a_known_cut():
    from ecgqa_tools.eval._axis_bench import SoftmaxAxisRule, fit_softmax, three_class

    angles = np.arange(-85.0, 170.0, 2.0)
    labels = [three_class(a, (5.0, 90.0)) for a in angles]
    x = np.c_[np.sin(np.radians(angles)), np.cos(np.radians(angles))]
    rule = fit_softmax(x, labels, ("sin", "cos"), 10.0)
    assert isinstance(rule, SoftmaxAxisRule) and np.asarray(rule.weights).shape == (3, 2)
    agree = np.mean(np.array(rule.predict(x)) == np.array(labels))
    assert agree >= 0.95
    assert rule.predict([[np.sin(np.radians(-60)), np.cos(np.radians(-60))],
                         [np.sin(np.radians(50)), np.cos(np.radians(50))],
                         [np.sin(np.radians(150)), np.cos(np.radians(150))]]) == ["left", "normal", "right"]
    # a stronger penalty shrinks the weights
    assert np.abs(fit_softmax(x, labels, ("sin", "cos"), 0.01).weights).sum() < np.abs(rule.weights).sum()
    with pytest.raises(UsageError, match="does not match"):
        fit_softmax(x[:, :1], labels, ("sin", "cos"), 1.0)
    with pytest.raises(UsageError, match="positive"):
        fit_softmax(x, labels, ("sin", "cos"), 0.0)


def test_nested_comparison_on_synthetic_folds():
    from ecgqa_tools.eval._axis_bench import LearnedRow, compare_learned, feature_sets, three_class

    rng = np.random.default_rng(0)
    names = set(feature_sets()["angles9+waves"])
    rows = []
    for i, a in enumerate(rng.uniform(-80.0, 160.0, 90)):
        f = {n: float(rng.normal()) for n in names}
        f["sin(peak-I-aVF)"], f["cos(peak-I-aVF)"] = float(np.sin(np.radians(a))), float(np.cos(np.radians(a)))
        rows.append(LearnedRow(str(i), 1 + i % 3, three_class(a, (5.0, 90.0)), float(a), f))
    cmp = compare_learned(rows, progress=False)
    assert cmp.n_records == 90 and set(cmp.cut_pairs) == {1, 2, 3}
    # labels follow a cut-off rule exactly: the cut-offs get (nearly) all right, so no adoption
    assert cmp.n_cut >= 87 and cmp.adopt == (cmp.n_learned > cmp.n_cut)
    assert set(cmp.learned_predictions) == {r.key for r in rows}
    assert all(name in feature_sets() for name, _ in cmp.chosen.values())


def test_cli_learned_refuses_to_report_on_development_folds(capsys):
    from ecgqa_tools.cli import main

    assert main(["bench", "axis", "--learned", "--folds", "8-10", "--skip-ludb"]) == 1
    assert "outside the development part" in capsys.readouterr().err
