"""Attribution maps: IG completeness, rate/length mapping, method agreement, on a small fake model."""

from __future__ import annotations

import numpy as np
import pytest

from ecgqa_tools.errors import UsageError
from ecgqa_tools.grounding._attribution import cosine_similarity, explain, explain_batch, to_input_rate
from ecgqa_tools.records import ECG


class FakeModel:
    """A small nonlinear CNN on 100 Hz input; the ECG is decimated to 100 Hz (no window fitting)."""

    fs_hz = 100.0

    def __init__(self, seed: int = 0, window: int | None = None) -> None:
        import torch

        torch.manual_seed(seed)
        self.module = torch.nn.Sequential(
            torch.nn.Conv1d(12, 4, kernel_size=5, padding=2),
            torch.nn.Tanh(),
            torch.nn.Conv1d(4, 1, kernel_size=3, padding=1),
            torch.nn.AdaptiveAvgPool1d(1),
            torch.nn.Flatten(0),
        )
        self.window = window

    def preprocess(self, ecg: ECG) -> np.ndarray:
        from scipy.signal import resample_poly

        x = resample_poly(ecg.signal_mv, 100, int(ecg.fs_hz), axis=1).astype(np.float32)
        if self.window is not None:  # centre crop like the shipped models
            start = (x.shape[1] - self.window) // 2
            x = x[:, start:start + self.window]
        return x


def _ecg(fs_hz: float = 500.0, seconds: float = 4.0, seed: int = 1) -> ECG:
    rng = np.random.default_rng(seed)
    t = np.arange(int(fs_hz * seconds)) / fs_hz
    signal = np.sin(2 * np.pi * 1.2 * t)[None, :] * rng.uniform(0.5, 1.5, (12, 1))
    signal = signal + 0.05 * rng.standard_normal((12, t.size))
    return ECG.from_array(signal.astype(np.float32), fs_hz)


def test_ig_completeness_sums_to_logit_difference():
    attr = explain(_ecg(), "MI", "ig", model=FakeModel(), n_steps=64)
    expected = attr.logit - attr.baseline_logit
    assert attr.model_values.sum() == pytest.approx(expected, abs=1e-3 * max(1.0, abs(expected)))
    # carried to the input rate, the sum is kept
    assert attr.values.sum() == pytest.approx(attr.model_values.sum(), rel=1e-4, abs=1e-5)
    assert abs(attr.convergence_delta) < 1e-3


def test_map_comes_back_at_the_ecg_rate_and_length():
    ecg = _ecg(fs_hz=500.0, seconds=3.0)
    attr = explain(ecg, "MI", model=FakeModel())
    assert attr.values.shape == (12, ecg.n_samples)
    assert attr.fs_hz == 500.0
    assert attr.model_values.shape == (12, 300)
    assert 0.0 < attr.probability < 1.0


def test_centre_cropped_window_maps_to_the_middle_of_the_record():
    ecg = _ecg(fs_hz=500.0, seconds=6.0)
    attr = explain(ecg, "MI", model=FakeModel(window=400))
    assert attr.model_offset == 100  # 600 model-rate samples, window of 400 in the middle
    # model sample 100 is the input at sample 500: input samples 498-502 are nearest to it, and
    # 2498-2499 are nearer to model sample 500, outside the window
    outside = np.r_[0:498, 2498:3000]
    assert np.all(attr.values[:, outside] == 0)
    assert np.any(attr.values[:, 498:500] != 0)
    assert attr.values.sum() == pytest.approx(attr.model_values.sum(), rel=1e-4, abs=1e-5)


def test_to_input_rate_spreads_and_aggregates_keeping_sums():
    rng = np.random.default_rng(0)
    values = rng.standard_normal((2, 10))
    up = to_input_rate(values, 50, 500.0, 100.0, 0)
    assert up.shape == (2, 50)
    np.testing.assert_allclose(up.sum(axis=1), values.sum(axis=1), rtol=1e-5)
    # each input sample takes the model sample nearest in time: model sample j is input 5j
    np.testing.assert_allclose(up[:, :3].sum(axis=1), values[:, 0], rtol=1e-5)  # inputs 0-2
    np.testing.assert_allclose(up[:, 3:8].sum(axis=1), values[:, 1], rtol=1e-5)  # inputs 3-7
    np.testing.assert_allclose(up[:, 43:48].sum(axis=1), values[:, 9], rtol=1e-5)
    assert np.all(up[:, 48:] == 0)  # nearer to model sample 10, which does not exist
    down = to_input_rate(values, 5, 50.0, 100.0, 0)
    np.testing.assert_allclose(down.sum(axis=1), values.sum(axis=1), rtol=1e-5)
    np.testing.assert_allclose(down[:, 0], values[:, 0], rtol=1e-5)  # 0 ms; 10 ms is a tie -> later
    np.testing.assert_allclose(down[:, 1], values[:, 1] + values[:, 2], rtol=1e-5)
    np.testing.assert_allclose(down[:, 4], values[:, 7] + values[:, 8] + values[:, 9], rtol=1e-5)


class OneSampleModel:
    """Logit = lead ``row`` of the input at model sample ``j``; the input is every 5th sample of
    the 500 Hz record, as the shipped models' preprocessing takes it (``encoders._preprocess``)."""

    fs_hz = 100.0

    def __init__(self, row: int, j: int) -> None:
        import torch

        class Pick(torch.nn.Module):
            def forward(self, x: "torch.Tensor") -> "torch.Tensor":
                return x[:, row, j]

        self.module = Pick().eval()

    def preprocess(self, ecg: ECG) -> np.ndarray:
        return np.ascontiguousarray(ecg.signal_mv[:, ::5], dtype=np.float32)


@pytest.mark.parametrize("j", [1, 37, 399])
def test_map_peak_lands_on_the_input_sample_the_model_sample_was_taken_at(j):
    # regression (session 6): the map used to be carried to input samples 5j..5j+4, so its peak
    # (the middle of the plateau) sat at 5j+2, 4 ms after the instant the model saw
    from ecgqa_tools.grounding._validation import peak_location

    signal = np.zeros((12, 2000), dtype=np.float32)
    signal[3, 5 * j] = 5.0  # the one input sample the model sees through its sample j
    attr = explain(ecg := ECG.from_array(signal, 500.0), "MI", "ig", model=OneSampleModel(row=3, j=j),
                   baseline="flat", n_steps=4)
    assert attr.values.shape == (12, ecg.n_samples)
    assert attr.model_values[3, j] > 0 and np.count_nonzero(attr.model_values) == 1
    assert peak_location(attr.values) == (3, 5 * j)
    assert set(np.flatnonzero(attr.values[3])) == set(range(5 * j - 2, 5 * j + 3))
    assert attr.model_index(5 * j - 2) == j and attr.model_index(5 * j + 2) == j
    assert attr.model_index(5 * j + 3) == j + 1


def test_batch_equals_single_and_methods_are_deterministic():
    ecgs = [_ecg(seed=s) for s in (1, 2, 3)]
    model = FakeModel()
    batch = explain_batch(ecgs, "MI", "ig", model=model, batch_size=2)
    single = explain(ecgs[2], "MI", "ig", model=model)
    np.testing.assert_allclose(batch[2].values, single.values, rtol=1e-4, atol=1e-6)
    gs1 = explain(ecgs[0], "MI", "gradshap", model=model, seed=3)
    gs2 = explain(ecgs[0], "MI", "gradshap", model=model, seed=3)
    np.testing.assert_array_equal(gs1.values, gs2.values)
    sal = explain(ecgs[0], "MI", "saliency", model=model)
    assert (sal.values >= 0).all() and sal.convergence_delta is None
    assert -1.0 <= cosine_similarity(batch[0], gs1) <= 1.0


def test_unknown_method_is_a_usage_error():
    with pytest.raises(UsageError, match="expected one of ig, gradshap, saliency"):
        explain(_ecg(), "MI", "lrp", model=FakeModel())  # type: ignore[arg-type]
