"""Axis methods (grounding.AXIS_METHODS) on synthetic limb leads with a known frontal vector."""

from __future__ import annotations

import numpy as np
import pytest

from ecgqa_tools.errors import MeasurementError
from ecgqa_tools.grounding import AXIS_METHODS, DEFAULT_AXIS_METHOD, Beat, axis_from_beats, limb_leads, measure
from ecgqa_tools.records import ECG, to_standard_leads

FS = 500.0
N = 5000
BEATS_S = np.arange(0.5, N / FS - 0.6, 0.8)


def _ecg(lead_i: np.ndarray, lead_ii: np.ndarray) -> ECG:
    chest = np.tile(lead_ii, (6, 1))
    return to_standard_leads(ECG.from_array(np.vstack([lead_i, lead_ii, chest]), FS,
                                            ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")))


def _beats() -> list[Beat]:
    return [Beat(int(b * FS), int((b + 0.09) * FS)) for b in BEATS_S]


def _vector_ecg(axis_deg: float) -> ECG:
    """One Gaussian QRS lobe whose frontal vector points at ``axis_deg``."""
    t = np.arange(N) / FS
    pulse = sum(np.exp(-0.5 * ((t - b - 0.045) / 0.012) ** 2) for b in BEATS_S)
    a = np.radians(axis_deg)
    return _ecg(np.cos(a) * pulse, np.cos(a - np.pi / 3) * pulse)


@pytest.mark.parametrize("method", AXIS_METHODS)
@pytest.mark.parametrize("axis", [-75.0, 0.0, 45.0, 100.0, 170.0])
def test_every_method_recovers_a_single_lobe_vector(method, axis):
    m = axis_from_beats(_vector_ecg(axis), _beats(), FS, method)
    assert m.value is not None
    assert abs((m.value - axis + 180) % 360 - 180) < 3.0


def test_area_and_peak_differ_on_a_biphasic_lead():
    """Lead I: tall narrow R then a wide shallow S of the same area (net area 0, net amplitude
    clearly positive); lead II: a plain positive lobe. Net area puts the axis where lead I is
    zero (+90); net amplitude (R minus S) leans towards lead I (< +90)."""
    t = np.arange(N) / FS
    r = sum(np.exp(-0.5 * ((t - b - 0.03) / 0.006) ** 2) for b in BEATS_S)
    s = sum(np.exp(-0.5 * ((t - b - 0.06) / 0.018) ** 2) for b in BEATS_S) / 3.0
    lead_i = r - s
    lead_ii = 0.5 * sum(np.exp(-0.5 * ((t - b - 0.045) / 0.012) ** 2) for b in BEATS_S)
    ecg = _ecg(lead_i, lead_ii)
    area = axis_from_beats(ecg, _beats(), FS, "area-I-II").value
    peak = axis_from_beats(ecg, _beats(), FS, "peak-I-II").value
    assert area == pytest.approx(90.0, abs=4.0)
    assert peak < 60.0


def test_limb_leads_follow_einthoven_and_goldberger():
    rng = np.random.default_rng(0)
    i, ii = rng.normal(size=100), rng.normal(size=100)
    leads = limb_leads(i, ii)
    np.testing.assert_allclose(leads["III"], ii - i)
    np.testing.assert_allclose(leads["aVR"] + leads["aVL"] + leads["aVF"], 0.0, atol=1e-12)
    np.testing.assert_allclose(leads["aVL"], (i - leads["III"]) / 2)


def test_unknown_method_and_missing_signal_are_explained():
    with pytest.raises(MeasurementError, match="unknown axis method"):
        axis_from_beats(_vector_ecg(30.0), _beats(), FS, "vectorcardiogram")
    m = axis_from_beats(None, _beats(), FS, DEFAULT_AXIS_METHOD)
    assert m.value is None and "no signal" in m.reason
    m = axis_from_beats(_vector_ecg(30.0), [], FS, DEFAULT_AXIS_METHOD)
    assert m.value is None and "no QRS" in m.reason


def test_measure_uses_the_default_method():
    from ecgqa_tools.records import STANDARD_LEADS, Delineation, Wave

    waves = {lead: tuple(Wave("QRS", b.qrs_onset, b.qrs_offset) for b in _beats()) for lead in STANDARD_LEADS}
    ecg = _vector_ecg(-50.0)
    m = measure(ecg, Delineation(FS, N, waves, "test"))
    assert m.qrs_axis.value == pytest.approx(
        axis_from_beats(ecg, _beats(), FS, DEFAULT_AXIS_METHOD).value, abs=1.0)
    assert m.axis_class == "left"


def test_textbook_convention_is_the_aha_classes_and_the_default():
    from ecgqa_tools.grounding import AXIS_CONVENTIONS, DEFAULT_AXIS_CONVENTION, classify_axis

    assert DEFAULT_AXIS_CONVENTION == "textbook"
    c = AXIS_CONVENTIONS["textbook"]
    assert (c.left_deg, c.right_deg) == (-30.0, 90.0)
    cases = {-30.0: "normal", -30.5: "left", -90.0: "left", -90.5: "extreme", 90.0: "normal",
             90.5: "right", 180.0: "right", -180.0: "right", 0.0: "normal", 200.0: "extreme",
             -170.0: "extreme", 450.0: "normal"}
    for deg, cls in cases.items():
        assert classify_axis(deg) == cls, deg
        assert classify_axis(deg, "textbook") == cls, deg


def test_a_convention_moves_only_the_normal_borders():
    from ecgqa_tools.grounding import AxisConvention, classify_axis

    c = AxisConvention("test", 0.0, 100.0, "unit test")
    assert [classify_axis(d, c) for d in (-1.0, 0.0, 95.0, 100.0, 101.0, -95.0)] == [
        "left", "normal", "normal", "normal", "right", "extreme"]
    assert classify_axis(-10.0, "textbook") == "normal" and c.classify(-10.0) == "left"


def test_every_named_convention_classifies_its_own_cut_offs():
    from ecgqa_tools.grounding import AXIS_CONVENTIONS

    for name, c in AXIS_CONVENTIONS.items():
        assert c.name == name and c.source
        assert c.classify(c.left_deg) == "normal" and c.classify(c.left_deg - 0.1) == "left"
        assert c.classify(c.right_deg) == "normal" and c.classify(c.right_deg + 0.1) == "right"
        assert c.classify(-120.0) == "extreme"


def test_bad_conventions_are_explained():
    from ecgqa_tools.grounding import AxisConvention, classify_axis

    with pytest.raises(MeasurementError, match="unknown axis convention"):
        classify_axis(10.0, "cabrera")
    with pytest.raises(MeasurementError, match="need -90 < left"):
        AxisConvention("bad", 95.0, 90.0, "unit test")
    with pytest.raises(MeasurementError, match="finite"):
        classify_axis(float("nan"))


def test_measure_cuts_the_same_angle_with_the_named_convention():
    from ecgqa_tools.grounding import AxisConvention
    from ecgqa_tools.records import STANDARD_LEADS, Delineation, Wave

    waves = {lead: tuple(Wave("QRS", b.qrs_onset, b.qrs_offset) for b in _beats()) for lead in STANDARD_LEADS}
    ecg = _vector_ecg(-10.0)
    d = Delineation(FS, N, waves, "test")
    textbook = measure(ecg, d)
    shifted = measure(ecg, d, axis_convention=AxisConvention("zero", 0.0, 90.0, "unit test"))
    assert textbook.qrs_axis.value == shifted.qrs_axis.value
    assert (textbook.axis_class, textbook.axis_convention) == ("normal", "textbook")
    assert (shifted.axis_class, shifted.axis_convention) == ("left", "zero")
    assert "zero convention" in shifted.summary()
    with pytest.raises(MeasurementError, match="unknown axis convention"):
        measure(ecg, d, axis_convention="cabrera")


def test_cli_measure_axis_convention(capsys):
    import json

    from ecgqa_tools.cli import main

    assert main(["measure", "ptbxl-00473", "--json", "--axis-convention", "textbook"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["axis_convention"] == "textbook"
    assert out["axis_class"] == classify_axis_of(out)
    assert main(["measure", "ptbxl-00473", "--axis-convention", "cabrera"]) == 2  # a usage error: the choices are listed
    err = capsys.readouterr().err
    assert "invalid choice: 'cabrera'" in err and "textbook" in err


def classify_axis_of(out: dict) -> str:
    from ecgqa_tools.grounding import classify_axis

    return classify_axis(out["measurements"]["qrs_axis"]["value"])


def test_fitted_dataset_conventions_on_known_angles():
    from ecgqa_tools.grounding import classify_axis

    # PTB-XL labels: Linkstyp below +5 degrees (fitted on strat_fold 1-8), right above +90
    assert [classify_axis(d, "ptbxl") for d in (-40.0, 4.9, 5.0, 90.0, 91.0, -100.0)] == [
        "left", "left", "normal", "normal", "right", "extreme"]
    # LUDB labels: left axis deviation below +25 (fitted on its 159 training records)
    assert [classify_axis(d, "ludb") for d in (-40.0, 20.0, 25.0, 60.0, 95.0)] == [
        "left", "left", "normal", "normal", "right"]
    # the same angle, three conventions
    assert [classify_axis(0.0, c) for c in ("textbook", "ptbxl", "ludb")] == ["normal", "left", "left"]
