"""Benchmark scoring of the measurements area: Martinez matching, span rule, axis conventions."""

from __future__ import annotations

import numpy as np
import pytest

from ecgqa_tools.errors import UsageError
from ecgqa_tools.eval import TOLERANCE_MS, DelineationScore, score_delineation
from ecgqa_tools.eval._axis_bench import LUDB_CUTS_DEG, PTBXL_CUTS_DEG, ludb_five_class, three_class
from ecgqa_tools.eval._delineation_bench import BOUNDARIES, match_boundaries
from ecgqa_tools.records import Delineation, Wave


def beats(shift: int = 0, start: float = 0.5, stop: float = 9.0, extra: tuple[Wave, ...] = ()) -> tuple[Wave, ...]:
    ws = []
    for t in np.arange(start, stop, 0.8):
        q = int(t * 500) + shift
        ws += [Wave("P", q - 80, q - 30), Wave("QRS", q, q + 45), Wave("T", q + 100, q + 190)]
    return tuple(sorted(ws + list(extra), key=lambda w: w.onset))


def gold_of(waves) -> Delineation:
    return Delineation(500.0, 5000, {"II": waves}, "gold",
                       {"II": (min(w.onset for w in waves), max(w.offset for w in waves))})


def test_perfect_and_shifted():
    g = gold_of(beats())
    assert score_delineation(Delineation(500.0, 5000, {"II": beats()}, "p"), g, ["II"]).macro_f1 == 1.0
    # shifted by 30 ms: inside every tolerance but QRS (40 ms) -> still all matched
    s = score_delineation(Delineation(500.0, 5000, {"II": beats(shift=15)}, "p"), g, ["II"])
    assert s.macro_f1 == 1.0
    assert np.median(s.counts["QRS_on"].errors_ms) == pytest.approx(30.0)
    # shifted by 60 ms: outside all tolerances but T offset (100 ms)
    s = score_delineation(Delineation(500.0, 5000, {"II": beats(shift=30)}, "p"), g, ["II"])
    assert s.counts["T_off"].f1 == 1.0
    assert all(s.counts[b].f1 == 0.0 for b in BOUNDARIES if b != "T_off")


def test_predictions_outside_the_annotated_span_are_ignored():
    g = gold_of(beats(start=1.3, stop=8.0))
    pred = Delineation(500.0, 5000, {"II": beats(start=0.5, stop=9.7)}, "p")  # one more beat each side
    assert score_delineation(pred, g, ["II"]).macro_f1 == 1.0


def test_unannotated_p_wave_before_the_span_counts_only_under_the_widened_rule():
    # LUDB often starts annotating at a QRS: the P wave before it is real but unannotated. Its offset
    # (30 ms before the QRS onset) lies inside the widened P margin (50 ms) but outside the span.
    gold_waves = tuple(w for w in beats() if not (w.kind == "P" and w.onset < 300))
    g = gold_of(gold_waves)  # span starts at the first QRS onset, sample 250
    pred = Delineation(500.0, 5000, {"II": gold_waves + (Wave("P", 185, 235),)}, "p")
    strict = score_delineation(pred, g, ["II"], span_rule="strict")
    widened = score_delineation(pred, g, ["II"])
    assert strict.macro_f1 == 1.0
    assert widened.counts["P_off"].fp == 1 and widened.counts["P_on"].fp == 0
    # a prediction just outside the span still matches the gold boundary at its edge under both rules
    early = Delineation(500.0, 5000, {"II": beats(shift=-10)}, "p")
    assert score_delineation(early, gold_of(beats()), ["II"]).counts["P_on"].tp == len(
        [w for w in beats() if w.kind == "P"])
    with pytest.raises(UsageError, match="span rule"):
        score_delineation(pred, g, ["II"], span_rule="loose")


def test_false_positives_only_where_eligible():
    tp, fp, fn, _ = match_boundaries(np.array([10.0, 100.0, 200.0]), np.array([101.0]), 20.0,
                                     np.array([False, True, True]))
    assert (tp, fp, fn) == (1, 1, 0)


def test_extra_and_missing_waves():
    g = gold_of(beats())
    extra = Wave("P", 4700, 4740)  # inside the span? no: after the last gold wave -> ignored
    pred = beats(extra=(Wave("P", 2000 + 240, 2000 + 270),))
    s = score_delineation(Delineation(500.0, 5000, {"II": pred}, "p"), g, ["II"])
    assert s.counts["P_on"].fp == 1 and s.counts["P_on"].fn == 0
    assert s.counts["QRS_on"].f1 == 1.0
    assert extra.onset > g.scored_span["II"][1]


def test_each_gold_matches_one_prediction():
    tp, fp, fn, err = match_boundaries(np.array([100.0, 102.0]), np.array([101.0]), 20.0)
    assert (tp, fp, fn) == (1, 1, 0) and len(err) == 1


def test_json_round_trip():
    g = gold_of(beats())
    s = score_delineation(Delineation(500.0, 5000, {"II": beats(shift=3)}, "p"), g, ["II"])
    t = DelineationScore.from_json(s.to_json())
    assert t.macro_f1 == s.macro_f1 and t.table() == s.table()


def test_tolerances_are_martinez():
    assert TOLERANCE_MS == {"P_on": 50.0, "P_off": 50.0, "QRS_on": 40.0, "QRS_off": 40.0,
                            "T_on": 50.0, "T_off": 100.0}


def test_axis_conventions():
    assert three_class(10.0, PTBXL_CUTS_DEG) == "left"  # German Linkstyp below +30
    assert three_class(10.0, LUDB_CUTS_DEG) == "normal"  # Russian: left deviation below 0
    assert three_class(-10.0, LUDB_CUTS_DEG) == "left"
    assert three_class(120.0, LUDB_CUTS_DEG) == "right"
    assert three_class(-170.0, LUDB_CUTS_DEG) == "right"
    assert [ludb_five_class(a) for a in (-20, 15, 50, 80, 100)] == [
        "left axis deviation", "horizontal", "normal", "vertical", "right axis deviation"]


def test_ludb_gold_scores_perfectly_against_itself(ludb_dir):
    from ecgqa_tools.records import STANDARD_LEADS, Ludb

    ludb = Ludb(ludb_dir)
    g = ludb.delineation(1)
    s = score_delineation(g, g, STANDARD_LEADS)
    assert s.macro_f1 == 1.0
