"""The fast IG path: same maps as captum's Integrated Gradients, conv + batch-norm folding that
keeps the function, completeness from the end-point logits, and the shipped default step count."""

from __future__ import annotations

import numpy as np
import pytest

from ecgqa_tools.grounding._attribution import (
    DEFAULT_IG_STEPS,
    _forward_logit,
    explain,
    explain_batch,
    gradient_module,
    integrated_gradients,
)
from ecgqa_tools.records import ECG


def _bn_net(seed: int = 0):
    """A small smooth conv + batch-norm net with trained-looking (non-trivial) running statistics."""
    import torch

    torch.manual_seed(seed)
    net = torch.nn.Sequential(
        torch.nn.Conv1d(12, 6, 5, padding=2, bias=False), torch.nn.BatchNorm1d(6), torch.nn.Tanh(),
        torch.nn.Conv1d(6, 1, 3, padding=1), torch.nn.BatchNorm1d(1), torch.nn.Tanh(),
        torch.nn.AdaptiveAvgPool1d(1), torch.nn.Flatten(0),
    )
    with torch.no_grad():
        for bn in (net[1], net[4]):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.2, 0.2)
    return net.eval()


class BnModel:
    fs_hz = 100.0

    def __init__(self, seed: int = 0) -> None:
        self.module = _bn_net(seed)

    def preprocess(self, ecg: ECG) -> np.ndarray:
        return np.asarray(ecg.signal_mv, dtype=np.float32)


def _ecg(seed: int = 3, n: int = 400) -> ECG:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 100.0
    x = np.sin(2 * np.pi * 1.1 * t)[None] * rng.uniform(0.5, 1.5, (12, 1)) + 0.1 * rng.standard_normal((12, n))
    return ECG.from_array(x.astype(np.float32), 100.0)


def test_folded_module_computes_the_same_function_without_batch_norm():
    import torch

    net = _bn_net()
    state = {k: v.clone() for k, v in net.state_dict().items()}
    probe = torch.randn(2, 12, 400)
    with torch.no_grad():
        before = net(probe)
    fused = gradient_module(net)
    assert fused is not net
    assert all(torch.equal(state[k], v) for k, v in net.state_dict().items())
    with torch.no_grad():
        assert torch.equal(net(probe), before)
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in fused.modules())
    assert any(isinstance(m, torch.nn.BatchNorm1d) for m in net.modules())  # the original is untouched
    x = torch.randn(3, 12, 400)
    with torch.no_grad():
        np.testing.assert_allclose(fused(x).numpy(), net(x).numpy(), rtol=1e-5, atol=1e-6)
    assert gradient_module(net) is fused  # cached


def test_folded_module_follows_weight_changes_and_training_mode():
    import torch

    net = _bn_net()
    before = gradient_module(net)
    with torch.no_grad():
        net[0].weight.mul_(2.0)  # in-place, as an optimiser step would
    after = gradient_module(net)
    assert after is not before
    x = torch.randn(2, 12, 400)
    with torch.no_grad():
        np.testing.assert_allclose(after(x).numpy(), net(x).numpy(), rtol=1e-5, atol=1e-6)
    net.train()
    assert gradient_module(net) is net  # batch statistics in training mode: never folded


def test_integrated_gradients_matches_captum():
    import torch
    from captum.attr import IntegratedGradients

    net = _bn_net(1)
    x = torch.randn(2, 12, 400)
    base = torch.zeros_like(x) + 0.1
    for steps in (4, 8, 40):  # 40: more than one pass of path points
        ours = integrated_gradients(gradient_module(net), x, base, steps)
        ref = IntegratedGradients(_forward_logit(net)).attribute(
            x.clone().requires_grad_(True), baselines=base, n_steps=steps, method="gausslegendre")
        np.testing.assert_allclose(ours.numpy(), ref.detach().numpy(), rtol=1e-4, atol=1e-6)


class _SharedConvNet:
    """One conv + batch norm applied twice (weights shared across two calls)."""

    @staticmethod
    def build():
        import torch

        class Net(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.conv = torch.nn.Conv1d(12, 12, 3, padding=1)
                self.bn = torch.nn.BatchNorm1d(12)

            def forward(self, x):
                return self.bn(self.conv(self.bn(self.conv(x)))).mean(dim=(1, 2))

        torch.manual_seed(0)
        net = Net()
        with torch.no_grad():
            net.bn.running_mean.uniform_(-0.5, 0.5)
            net.bn.running_var.uniform_(0.5, 2.0)
        return net.eval()


def test_a_convolution_called_twice_is_not_folded_twice():
    import torch

    net = _SharedConvNet.build()
    x = torch.randn(2, 12, 100)
    with torch.no_grad():
        np.testing.assert_allclose(gradient_module(net)(x).numpy(), net(x).numpy(), rtol=1e-5, atol=1e-6)


def test_integrated_gradients_works_inside_no_grad():
    import torch

    net = _bn_net(2)
    x = torch.randn(1, 12, 400)
    base = torch.zeros_like(x)
    expected = integrated_gradients(gradient_module(net), x, base, 8)
    with torch.no_grad():
        inside = integrated_gradients(gradient_module(net), x, base, 8)
    np.testing.assert_allclose(inside.numpy(), expected.numpy(), rtol=1e-6, atol=1e-8)


def test_explain_reports_completeness_from_end_point_logits():
    model = BnModel()
    attr = explain(_ecg(), "MI", model=model, n_steps=64)
    change = attr.logit - attr.baseline_logit
    assert attr.convergence_delta == pytest.approx(float(attr.model_values.astype(np.float64).sum()) - change,
                                                   abs=1e-5)
    assert abs(attr.convergence_delta) < 1e-3 * max(1.0, abs(change))
    batch = explain_batch([_ecg(), _ecg(4)], "MI", model=model, n_steps=64)
    np.testing.assert_allclose(batch[0].model_values, attr.model_values, rtol=1e-4, atol=1e-6)


def test_gradshap_and_saliency_still_run_on_the_folded_module():
    model = BnModel()
    sal = explain(_ecg(), "MI", "saliency", model=model)
    assert sal.values.shape == (12, 400) and (sal.values >= 0).all()
    gs = explain(_ecg(), "MI", "gradshap", model=model, n_samples=4)
    assert np.isfinite(gs.values).all()


def test_default_step_count_is_the_one_documented():
    import inspect

    for fn in (explain, explain_batch):
        assert inspect.signature(fn).parameters["n_steps"].default == DEFAULT_IG_STEPS


def test_shipped_model_map_matches_captum_at_the_default_steps(ptbxl_dir):
    import torch
    from captum.attr import IntegratedGradients

    from ecgqa_tools.encoders import load_disease_model
    from ecgqa_tools.grounding import DEFAULT_BASELINE, make_baseline
    from ecgqa_tools.records import PtbXl

    dataset = PtbXl(ptbxl_dir)
    ecg = dataset.read(sorted(int(i) for i in dataset.present_ids(fs_hz=100))[0], fs_hz=100)
    model = load_disease_model("MI")
    attr = explain(ecg, "MI", model=model, baseline=DEFAULT_BASELINE)  # single low-pass reference, as captum's
    x = torch.from_numpy(model.preprocess(ecg)[None].astype(np.float32))
    base = torch.from_numpy(make_baseline(x.numpy(), DEFAULT_BASELINE, 100.0))
    ref, delta = IntegratedGradients(_forward_logit(model.module)).attribute(
        x.clone().requires_grad_(True), baselines=base, n_steps=DEFAULT_IG_STEPS, method="gausslegendre",
        return_convergence_delta=True)
    ref_map = ref.detach().numpy()[0]
    cosine = float((ref_map * attr.model_values).sum()
                   / (np.linalg.norm(ref_map) * np.linalg.norm(attr.model_values)))
    assert cosine > 0.99999
    # float rounding of the folded convolutions moves a few path points across ReLU kinks: all but
    # a handful of samples agree to 1e-4 of the map's peak, and none is off by more than 1e-3 of it
    scale = np.abs(ref_map).max()
    close = np.isclose(attr.model_values, ref_map, rtol=0.0, atol=1e-4 * scale)
    assert close.mean() > 0.999
    np.testing.assert_allclose(attr.model_values, ref_map, atol=1e-3 * scale)
    assert attr.convergence_delta == pytest.approx(float(delta[0]), abs=1e-4)


def test_attribution_passes_run_on_the_configured_torch_threads(monkeypatch):
    import torch

    from ecgqa_tools.errors import UsageError
    from ecgqa_tools.grounding._attribution import attribution_threads

    seen: list[int] = []

    class Recording(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = _bn_net()

        def forward(self, x):
            seen.append(torch.get_num_threads())
            return self.net(x)

    model = BnModel()
    model.module = Recording().eval()
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        monkeypatch.delenv("ECGQA_IG_THREADS", raising=False)
        explain(_ecg(), "MI", model=model)
        assert set(seen) == {1} and torch.get_num_threads() == 2  # restored
        seen.clear()
        monkeypatch.setenv("ECGQA_IG_THREADS", "0")  # torch's own setting
        explain(_ecg(), "MI", model=model)
        assert set(seen) == {2}
        monkeypatch.setenv("ECGQA_IG_THREADS", "two")
        with pytest.raises(UsageError, match="ECGQA_IG_THREADS"):
            with attribution_threads():
                pass
    finally:
        torch.set_num_threads(before)
