"""Public grounding/records APIs raise the package's errors for wrong argument types (review M9:
AttributeError/TypeError/ValueError/MemoryError came out of explain, build_evidence, measure,
plot_ecg and ECG)."""

from __future__ import annotations

import numpy as np
import pytest

from ecgqa_tools.errors import RecordError, UsageError
from ecgqa_tools.grounding import build_evidence, explain, measure, plot_ecg
from ecgqa_tools.records import ECG, STANDARD_LEADS, load_example


@pytest.fixture(scope="module")
def ecg() -> ECG:
    return load_example("ptbxl-01386")


def test_explain_needs_an_ecg(ecg) -> None:
    with pytest.raises(UsageError, match="explain takes an ECG.*ECG.from_array"):
        explain(ecg.signal_mv, "MI")


@pytest.mark.parametrize("value", [None, "attr", 3])
def test_build_evidence_needs_an_attribution(value) -> None:
    with pytest.raises(UsageError, match="build_evidence takes an Attribution"):
        build_evidence(value)


@pytest.mark.parametrize("limb", [np.zeros(3), np.zeros((2, 10)), "x", np.full((2, 1000), np.nan)])
def test_measure_limb_signal_checked(ecg, limb) -> None:
    with pytest.raises(UsageError, match="limb_signal"):
        measure(ecg, limb_signal=limb)


@pytest.mark.parametrize("dpi", [0, -1, 100000, float("nan"), "200", True])
def test_plot_dpi_bounds(ecg, dpi, tmp_path) -> None:
    with pytest.raises(UsageError, match="dpi must be a number from 50 to 600"):
        plot_ecg(ecg, path=tmp_path / "x.png", dpi=dpi)
    assert not any(tmp_path.iterdir())


def test_ecg_with_none_samples_is_a_record_error() -> None:
    with pytest.raises(RecordError, match="NaN/inf samples"):  # None becomes NaN
        ECG(signal_mv=np.array([[None] * 500] * 12), fs_hz=100, lead_names=STANDARD_LEADS, record_id="x", source="t")
    with pytest.raises(RecordError, match="not a numeric array"):
        ECG(signal_mv=np.array([["a"] * 500] * 12), fs_hz=100, lead_names=STANDARD_LEADS, record_id="x", source="t")
    with pytest.raises(RecordError, match="complex"):
        ECG(signal_mv=np.ones((12, 500), dtype=complex), fs_hz=100, lead_names=STANDARD_LEADS, record_id="x",
            source="t")
    numbers_as_objects = np.ones((12, 500)).astype(object)
    assert ECG(signal_mv=numbers_as_objects, fs_hz=100, lead_names=STANDARD_LEADS, record_id="x",
               source="t").signal_mv.dtype == np.float32
