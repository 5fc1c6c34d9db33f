"""Physiological bounds applied by ``measure_from_delineation`` on synthetic delineations: an
implausible value becomes unmeasurable with a reason naming the value and the bound, and only the
measurements that depend on it go with it."""

from __future__ import annotations

import numpy as np
import pytest

from ecgqa_tools.grounding._measure import measure_from_delineation
from ecgqa_tools.records import STANDARD_LEADS, Delineation, Wave


def regular_delineation(rr_s: float, qrs_s: float, t_onset_s: float, qt_s: float,
                        pr_s: float | None = None, fs: float = 500.0, n: int = 5000) -> Delineation:
    """The same beats in all 12 leads: QRS at every ``rr_s`` from 0.5 s, T from ``t_onset_s`` to
    ``qt_s`` after QRS onset, a 100 ms P wave starting ``pr_s`` before it (none if None)."""
    waves = {}
    for lead in STANDARD_LEADS:
        ws = []
        for beat_s in np.arange(0.5, n / fs - 0.6, rr_s):
            q_on = round(beat_s * fs)
            if pr_s is not None:
                ws.append(Wave("P", q_on - round(pr_s * fs), q_on - round((pr_s - 0.1) * fs)))
            ws.append(Wave("QRS", q_on, q_on + round(qrs_s * fs)))
            ws.append(Wave("T", q_on + round(t_onset_s * fs), q_on + round(qt_s * fs)))
        waves[lead] = tuple(ws)
    return Delineation(fs, n, waves, "test")


def test_heart_rate_above_300_bpm_makes_rate_rr_and_qtc_unmeasurable():
    # RR 160 ms = 375 bpm. The T wave must end before the next QRS, so QT (140 ms) cannot reach
    # its own 200 ms lower bound either: QTc is unmeasurable through QT.
    m = measure_from_delineation(regular_delineation(rr_s=0.16, qrs_s=0.05, t_onset_s=0.08, qt_s=0.14))
    assert len(m.beats) > 40
    assert m.heart_rate.value is None and m.rr_interval.value is None
    for reason in (m.heart_rate.reason, m.rr_interval.reason):
        assert "375 bpm" in reason and "20-300 bpm" in reason
    assert m.qt_interval.value is None
    assert "140 ms" in m.qt_interval.reason and "200-700 ms" in m.qt_interval.reason
    for qtc in (m.qtc_bazett, m.qtc_fridericia):
        assert qtc.value is None and "physiological bounds" in qtc.reason
    assert m.qrs_duration.value == pytest.approx(50.0)  # the QRS itself is plausible and kept
    assert m.range_attributes()["rr interval"] is None


def test_qrs_of_300_ms_is_unmeasurable_while_qt_is_kept():
    m = measure_from_delineation(regular_delineation(rr_s=0.8, qrs_s=0.30, t_onset_s=0.32, qt_s=0.45,
                                                     pr_s=0.16))
    assert m.qrs_duration.value is None
    assert "300 ms" in m.qrs_duration.reason and "40-250 ms" in m.qrs_duration.reason
    assert m.qt_interval.value == pytest.approx(450.0)
    assert m.heart_rate.value == pytest.approx(75.0) and m.rr_interval.value == pytest.approx(800.0)
    assert m.qtc_bazett.value == pytest.approx(450.0 / np.sqrt(0.8))
    assert m.pr_interval.value == pytest.approx(160.0) and m.p_duration.value == pytest.approx(100.0)
    assert m.range_attributes()["qrs duration"] is None
