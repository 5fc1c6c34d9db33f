"""IG path variants (session 4): Blur IG, multi-cut-off low-pass IG, SmoothGrad-IG, Guided IG, on
small fake models with known answers (linear models: every path gives weight x distance)."""

from __future__ import annotations

import numpy as np
import pytest

from ecgqa_tools.errors import UsageError
from ecgqa_tools.grounding._attribution import (BASELINE_DESCRIPTIONS, LOWPASS_MULTI_SIGMAS_S, PATHS, explain,
                                                integrated_gradients, make_baseline, make_references, path_points)
from ecgqa_tools.grounding._paths import _guided_moves, blur_ig, gaussian_blur, guided_ig, smooth_ig
from ecgqa_tools.records import ECG

from .conftest import TanhModel

FS = 100.0


class Linear:
    """logit = sum(w * x) + 0.3: IG along any path from b to x is exactly w * (x - b)."""

    def __init__(self, weight) -> None:  # noqa: ANN001
        self.weight = weight

    def __call__(self, x):  # noqa: ANN001
        return (x * self.weight).sum(dim=(1, 2)) + 0.3


def _ecg(seed: int = 1, n: int = 400) -> ECG:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / FS
    signal = np.sin(2 * np.pi * 1.2 * t)[None, :] * rng.uniform(0.5, 1.5, (12, 1))
    signal[:, ::80] += 2.0  # sharp "QRS" spikes
    signal = signal + 0.05 * rng.standard_normal((12, n))
    return ECG.from_array(signal.astype(np.float32), FS)


def _inputs(seed: int = 1) -> "np.ndarray":
    return TanhModel().preprocess(_ecg(seed))[None]


@pytest.mark.parametrize("kind", PATHS)
def test_every_path_variant_gives_a_12_lead_map_that_sums_to_its_logit_change(kind):
    ecg = _ecg()
    model = TanhModel()
    attr = explain(ecg, "MI", model=model, baseline=kind, n_steps=32)
    assert attr.values.shape == (12, ecg.n_samples) and attr.values.dtype == np.float32
    assert attr.baseline_kind == kind and attr.baseline == BASELINE_DESCRIPTIONS[kind]
    change = attr.logit - attr.baseline_logit
    if kind == "lowpass-smooth":  # completeness holds on average over the noisy copies
        import torch

        from ecgqa_tools.grounding._attribution import SMOOTH_DRAWS, SMOOTH_NOISE_SD

        x = model.preprocess(ecg)
        noise = np.random.default_rng(0).normal(0.0, SMOOTH_NOISE_SD, (SMOOTH_DRAWS, *x.shape))
        with torch.no_grad():
            noisy = model.module(torch.from_numpy((x[None] + noise).astype(np.float32))).numpy()
        change = float(noisy.mean()) - attr.baseline_logit
    assert attr.values.sum() == pytest.approx(change, abs=0.02 * max(1.0, abs(change)))


@pytest.mark.parametrize("kind", PATHS)
def test_a_path_that_starts_at_the_input_gives_zero(kind):
    """A constant ECG equals its own blur, so every variant's start (or reference) is the input;
    SmoothGrad-IG is tested without noise (otherwise the path ends at a noisy copy)."""
    import torch

    ecg = ECG.from_array(np.tile(np.linspace(-1, 1, 12, dtype=np.float32)[:, None], (1, 300)), FS)
    model = TanhModel()
    if kind == "lowpass-smooth":
        x = torch.from_numpy(model.preprocess(ecg)[None])
        values = smooth_ig(model.module, x, x.clone(), 4, 0.0, 8, seed=0).numpy()
    else:
        values = explain(ecg, "MI", model=model, baseline=kind).values
    assert np.allclose(values, 0.0, atol=1e-5)


def test_blur_and_guided_ig_on_a_linear_model_are_weight_times_distance():
    import torch

    rng = np.random.default_rng(0)
    weight = torch.from_numpy(rng.standard_normal((12, 400)).astype(np.float32))
    x = torch.from_numpy(_inputs())
    start = torch.from_numpy(make_baseline(x.numpy(), "blur-wide", FS))
    blur = blur_ig(Linear(weight), x, FS, 0.4, 5)  # exact for any segment count on a linear model
    assert torch.allclose(blur, weight * (x - start), atol=1e-5)
    base = torch.from_numpy(make_baseline(x.numpy(), "guided", FS))
    guided = guided_ig(Linear(weight), x, base, 7)
    assert torch.allclose(guided, weight * (x - base), atol=1e-5)


def test_smooth_ig_without_noise_is_plain_ig_and_is_seeded():
    import torch

    model = TanhModel()
    x = torch.from_numpy(_inputs())
    base = torch.from_numpy(make_baseline(x.numpy(), "lowpass", FS))
    plain = integrated_gradients(model.module, x, base, 6)
    assert torch.allclose(smooth_ig(model.module, x, base, 3, 0.0, 6, seed=0), plain, atol=1e-6)
    noisy = smooth_ig(model.module, x, base, 3, 0.1, 6, seed=0)
    assert torch.equal(noisy, smooth_ig(model.module, x, base, 3, 0.1, 6, seed=0))
    assert not torch.allclose(noisy, plain, rtol=1e-3, atol=1e-8)
    # the same ECG gets the same map alone and in a batch
    pair = torch.cat([x, torch.from_numpy(_inputs(seed=2))])
    in_batch = smooth_ig(model.module, pair, torch.cat([base, base]), 3, 0.1, 6, seed=0)[:1]
    assert torch.allclose(in_batch, noisy, atol=1e-6)


def test_guided_moves_the_smallest_gradients_first():
    current = np.zeros(6)
    target = np.ones(6)
    grad = np.array([5.0, 0.1, 3.0, 0.2, 4.0, 0.3])
    attr = np.zeros(6)
    _guided_moves(current, target, grad, attr, goal_l1=3.5, fraction=0.5)  # 2.5 units must move
    # chunk 1 = half of the 6 features (smallest |grad|: 1, 3, 5) moves fully (3 > 2.5: partly)
    assert np.allclose(current[[1, 3, 5]], 2.5 / 3) and np.allclose(current[[0, 2, 4]], 0.0)
    assert np.allclose(attr, grad * current)
    assert np.abs(target - current).sum() == pytest.approx(3.5)
    _guided_moves(current, target, grad, attr, goal_l1=0.0, fraction=0.5)  # last step: all the way
    assert np.array_equal(current, target) and np.allclose(attr, grad)


def test_multi_cut_off_references_and_path_costs():
    x = _inputs()
    refs = make_references(x, "lowpass-multi", FS)
    assert refs.shape == (1, len(LOWPASS_MULTI_SIGMAS_S), 12, 400) and refs.dtype == np.float32
    assert np.array_equal(refs[0, 2], make_baseline(x, "lowpass", FS)[0])  # 100 ms = the low-pass baseline
    assert np.array_equal(refs[0, 0], gaussian_blur(x, 2.5)[0])
    with pytest.raises(UsageError, match="make_references"):
        make_baseline(x, "lowpass-multi", FS)
    assert [path_points(k, 8) for k in PATHS] == [(1, 16), (1, 16), (4, 4), (4, 4), (1, 16)]
    assert path_points("lowpass", 8) == (1, 8) and path_points("expected", 8) == (8, 8)
    with pytest.raises(UsageError, match="Blur IG"):
        blur_ig(None, None, FS, 0.0, 4)  # type: ignore[arg-type]
