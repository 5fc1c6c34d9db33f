"""IG baselines (flat, isoelectric, low-pass): shape, completeness, and where an ST elevation's
attribution lands when the model responds to ST, on small fake models."""

from __future__ import annotations

import numpy as np
import pytest

from ecgqa_tools.errors import UsageError
from ecgqa_tools.grounding._attribution import (BASELINE_DESCRIPTIONS, BASELINES, MULTI_REFERENCE_BASELINES, explain,
                                                 make_baseline, make_references)
from ecgqa_tools.records import ECG

from .conftest import TanhModel

FS = 100.0
QRS = (20, 28)   # samples of each 1 s beat (100 Hz): QRS 80 ms
ST = (28, 40)    # ST segment 120 ms, elevated
T = (40, 56)     # T wave 160 ms


def _beat_positions(n: int) -> np.ndarray:
    return np.arange(n) % int(FS)


def _st_elevation_ecg(seconds: int = 6) -> ECG:
    """12 identical leads: isoelectric 0 mV, QRS 1.5 mV, ST elevated 0.3 mV, T 0.4 mV, 60 bpm."""
    pos = _beat_positions(int(FS * seconds))
    lead = np.zeros(pos.size, dtype=np.float32)
    lead[(pos >= QRS[0]) & (pos < QRS[1])] = 1.5
    lead[(pos >= ST[0]) & (pos < ST[1])] = 0.3
    lead[(pos >= T[0]) & (pos < T[1])] = 0.4
    return ECG.from_array(np.tile(lead, (12, 1)), FS)


class StModel:
    """Linear head on mean-removed input (like the shipped models' z-scoring) that weighs the ST
    segment 1.0 and every other sample 0.1: a model that responds to ST."""

    fs_hz = FS

    def __init__(self, n_samples: int) -> None:
        import torch

        pos = _beat_positions(n_samples)
        weight = np.where((pos >= ST[0]) & (pos < ST[1]), 1.0, 0.1).astype(np.float32)
        self.weight = torch.from_numpy(np.tile(weight, (12, 1)))

        class Head(torch.nn.Module):
            def forward(inner, x):  # noqa: N805 - closes over self.weight
                return (x * self.weight).sum(dim=(1, 2))

        self.module = Head()

    def preprocess(self, ecg: ECG) -> np.ndarray:
        x = ecg.signal_mv.astype(np.float32)
        return x - x.mean(axis=1, keepdims=True)


def _segment_share(values: np.ndarray, segment: tuple[int, int]) -> float:
    positive = np.clip(values, 0, None)
    pos = _beat_positions(values.shape[1])
    inside = (pos >= segment[0]) & (pos < segment[1])
    return float(positive[:, inside].sum() / positive.sum())


def test_baselines_have_the_input_shape_and_the_expected_levels():
    x = StModel(600).preprocess(_st_elevation_ecg())[None]
    for kind in BASELINES:
        refs = make_references(x, kind, FS)
        assert refs.shape[0] == 1 and refs.shape[2:] == x.shape[1:] and refs.dtype == np.float32
        if kind in MULTI_REFERENCE_BASELINES:
            assert refs.shape[1] > 1
            with pytest.raises(UsageError, match="make_references"):
                make_baseline(x, kind, FS)
            continue
        base = make_baseline(x, kind, FS)
        assert base.shape == x.shape and base.dtype == np.float32
        assert np.array_equal(refs[:, 0], base)
    assert not make_baseline(x, "flat", FS).any()
    # the isoelectric baseline sits on the lead's isoelectric level (0 mV before mean removal)
    iso = make_baseline(x, "isoelectric", FS)
    level = x[0, 0, (_beat_positions(600) >= 70)].mean()  # a TP-segment sample, mean-removed
    assert np.allclose(iso[0, :, 100:500], level, atol=1e-6)
    # the low-pass baseline is smooth: far smaller sample-to-sample steps than the signal
    low = make_baseline(x, "lowpass", FS)
    assert np.abs(np.diff(low, axis=2)).max() < 0.2 * np.abs(np.diff(x, axis=2)).max()
    with pytest.raises(UsageError, match="baseline"):
        make_baseline(x, "zeros", FS)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="baseline"):
        explain(_st_elevation_ecg(), "STTC", model=StModel(600), baseline="zeros")  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", BASELINES)
def test_ig_completeness_holds_for_every_baseline(kind):
    ecg = _st_elevation_ecg()
    attr = explain(ecg, "STTC", model=TanhModel(zscore=True), baseline=kind, n_steps=64)
    assert attr.values.shape == (12, ecg.n_samples)
    expected = attr.logit - attr.baseline_logit
    assert attr.values.sum() == pytest.approx(expected, abs=1e-3 * max(1.0, abs(expected)))
    assert abs(attr.convergence_delta) < 1e-3
    assert attr.baseline == BASELINE_DESCRIPTIONS[kind]


def test_isoelectric_baseline_puts_an_st_elevation_in_st_where_the_flat_one_picks_the_qrs():
    ecg = _st_elevation_ecg()
    model = StModel(ecg.n_samples)
    flat = explain(ecg, "STTC", model=model, baseline="flat")
    iso = explain(ecg, "STTC", model=model, baseline="isoelectric")
    peak_flat = int(np.argmax(flat.values[0])) % int(FS)
    peak_iso = int(np.argmax(iso.values[0])) % int(FS)
    assert QRS[0] <= peak_flat < QRS[1]       # the failure measured on the real STTC head
    assert ST[0] <= peak_iso < ST[1]
    assert _segment_share(iso.values, ST) > 0.5 > _segment_share(flat.values, ST)
    # completeness from the isoelectric baseline: the ST term is exactly weight x elevation
    assert iso.values.sum() == pytest.approx(iso.logit - iso.baseline_logit, rel=1e-4)
