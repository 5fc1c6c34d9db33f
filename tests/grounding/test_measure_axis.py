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
