"""Measurements: intervals and axis on synthetic beats with known timing, unmeasurable cases."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ecgqa_tools.errors import MeasurementError
from ecgqa_tools.grounding import NORMAL_RANGES_MS, classify_axis, measure, range_of
from ecgqa_tools.grounding._measure import measure_from_delineation
from ecgqa_tools.records import ECG, STANDARD_LEADS, Delineation, Wave


def gold_delineation(fs=500.0, n=5000, rr_s=0.8, p=(0.10, 0.1), pr=0.16, qrs=0.09, qt=0.38,
                     leads=STANDARD_LEADS, t_onset=None) -> Delineation:
    """The same beats in ``leads``: QRS every ``rr_s`` from 0.5 s, T from ``t_onset`` (default
    ``qrs`` + 0.1 s) to ``qt`` after QRS onset, a P wave of ``p[0]`` starting ``pr`` before it."""
    t_onset = qrs + 0.1 if t_onset is None else t_onset
    waves = {}
    for lead in leads:
        ws = []
        for beat in np.arange(0.5, n / fs - 0.6, rr_s):
            q_on = int(beat * fs)
            if p is not None:
                ws.append(Wave("P", q_on - int(pr * fs), q_on - int(pr * fs) + int(p[0] * fs)))
            ws.append(Wave("QRS", q_on, q_on + int(qrs * fs)))
            ws.append(Wave("T", q_on + int(t_onset * fs), q_on + int(qt * fs)))
        waves[lead] = tuple(ws)
    return Delineation(fs, n, waves, "test")


def axis_ecg(axis_deg: float, fs=500.0, n=5000) -> ECG:
    """Limb leads whose QRS net area points at ``axis_deg`` (Einthoven geometry)."""
    t = np.arange(n) / fs
    pulse = np.zeros(n)
    for beat in np.arange(0.5, n / fs - 0.6, 0.8):
        pulse += np.exp(-0.5 * ((t - beat - 0.045) / 0.012) ** 2)
    a = np.radians(axis_deg)
    lead_i, lead_ii = np.cos(a) * pulse, np.cos(a - np.pi / 3) * pulse
    from ecgqa_tools.records import to_standard_leads

    chest = np.tile(pulse, (6, 1))
    ecg = ECG.from_array(np.vstack([lead_i, lead_ii, chest]), fs, ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6"))
    return to_standard_leads(ecg)


def test_intervals_from_known_delineation():
    ecg = axis_ecg(60.0)
    m = measure(ecg, gold_delineation())
    assert m.rr_interval.value == pytest.approx(800, abs=2)
    assert m.heart_rate.value == pytest.approx(75, abs=0.5)
    assert m.pr_interval.value == pytest.approx(160, abs=2)
    assert m.p_duration.value == pytest.approx(100, abs=2)
    assert m.qrs_duration.value == pytest.approx(90, abs=2)
    assert m.qt_interval.value == pytest.approx(380, abs=2)
    assert m.qtc_bazett.value == pytest.approx(380 / np.sqrt(0.8), abs=2)
    assert m.qtc_fridericia.value == pytest.approx(380 / np.cbrt(0.8), abs=2)
    assert m.range_attributes() == {"rr interval": "within", "p duration": "within",
                                    "pr interval": "within", "qrs duration": "within",
                                    "qt interval": "within", "qt corrected": "within"}


@pytest.mark.parametrize("axis", [-120.0, -60.0, 0.0, 45.0, 80.0, 120.0, 175.0])
def test_axis_recovers_the_projection(axis):
    m = measure(axis_ecg(axis), gold_delineation())
    assert m.qrs_axis.value is not None
    diff = (m.qrs_axis.value - axis + 180) % 360 - 180
    assert abs(diff) < 3
    assert m.axis_class == classify_axis(axis)


def test_axis_classes():
    assert classify_axis(-30) == "normal" and classify_axis(-31) == "left"
    assert classify_axis(91) == "right" and classify_axis(-100) == "extreme"
    assert classify_axis(200) == "extreme"  # -160


def test_outlier_beat_is_rejected():
    d = gold_delineation()
    waves = dict(d.waves)
    for lead in waves:  # one beat with an absurd QT in every lead
        ws = list(waves[lead])
        t_idx = [i for i, w in enumerate(ws) if w.kind == "T"][3]
        ws[t_idx] = Wave("T", ws[t_idx].onset, ws[t_idx].offset + 120)
        waves[lead] = tuple(ws)
    m = measure(axis_ecg(60.0), Delineation(d.fs_hz, d.n_samples, waves, "test"))
    assert m.qt_interval.value == pytest.approx(380, abs=2)
    assert m.qt_interval.n_rejected == 1


def test_no_p_waves_is_none_with_reason():
    m = measure(axis_ecg(60.0), gold_delineation(p=None))
    assert m.p_duration.value is None and m.pr_interval.value is None
    assert "P wave" in m.p_duration.reason
    assert m.range_attributes()["pr interval"] is None
    assert m.qrs_duration.value is not None


def test_flat_signal_gives_reasons_not_numbers():
    ecg = ECG.from_array(np.zeros((12, 5000)), 500.0, STANDARD_LEADS)
    m = measure(ecg)
    for x in m.all():
        assert x.value is None and x.reason
    assert any("flat" in n for n in m.notes)


def test_ranges():
    assert range_of("qrs duration", 130) == "above"
    assert range_of("rr interval", 500) == "below"
    assert range_of("p duration", 20) == "within"  # no lower limit
    assert set(NORMAL_RANGES_MS) == {"p duration", "pr interval", "qrs duration", "qt corrected",
                                     "qt interval", "rr interval"}
    with pytest.raises(MeasurementError, match="qt interval"):
        range_of("st elevation", 1.0)


def test_ranges_names_match_ecgqa_vocabulary():
    qa = pytest.importorskip("ecgqa_tools.qa._templates")
    assert set(NORMAL_RANGES_MS) == set(qa.NUMERIC_FEATURES)


def test_cli_measure_json(ptbxl_dir, capsys):
    from ecgqa_tools.cli import main

    rec = ptbxl_dir / "records500" / "00000" / "00001_hr"
    assert main(["measure", str(rec), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert 40 < out["measurements"]["heart_rate"]["value"] < 120
    assert set(out["ecgqa_ranges"]) == set(NORMAL_RANGES_MS)
    assert main(["measure", str(rec) + "_missing"]) == 1


# Physiological bounds applied by measure_from_delineation: an implausible value becomes
# unmeasurable with a reason naming the value and the bound, and only what depends on it goes with it.

def test_heart_rate_above_300_bpm_makes_rate_rr_and_qtc_unmeasurable():
    # RR 160 ms = 375 bpm. The T wave must end before the next QRS, so QT (140 ms) cannot reach
    # its own 200 ms lower bound either: QTc is unmeasurable through QT.
    m = measure_from_delineation(gold_delineation(rr_s=0.16, qrs=0.05, t_onset=0.08, qt=0.14, p=None))
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
    m = measure_from_delineation(gold_delineation(rr_s=0.8, qrs=0.30, t_onset=0.32, qt=0.45, pr=0.16))
    assert m.qrs_duration.value is None
    assert "300 ms" in m.qrs_duration.reason and "40-250 ms" in m.qrs_duration.reason
    assert m.qt_interval.value == pytest.approx(450.0)
    assert m.heart_rate.value == pytest.approx(75.0) and m.rr_interval.value == pytest.approx(800.0)
    assert m.qtc_bazett.value == pytest.approx(450.0 / np.sqrt(0.8))
    assert m.pr_interval.value == pytest.approx(160.0) and m.p_duration.value == pytest.approx(100.0)
    assert m.range_attributes()["qrs duration"] is None
