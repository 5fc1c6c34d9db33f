"""Session-4b variants of expected gradients (``expected-16``, ``expected-smooth``,
``expected-normal``) and GradientSHAP drawing its background from the same references as IG."""

from __future__ import annotations

import numpy as np
import pytest

from ecgqa_tools.grounding._attribution import (
    EXPECTED_SMOOTH_DRAWS,
    EXPECTED_VARIANTS,
    SMOOTH_NOISE_SD,
    TEMPLATE_WEIGHT,
    cosine_similarity,
    explain,
    gradshap_background,
    make_baseline,
    make_references,
    path_points,
    reference_weights,
)
from ecgqa_tools.grounding._baselines import (
    N_REFERENCES,
    N_REFERENCES_WIDE,
    REFERENCES_WIDE_PATH,
    load_normal_references,
)
from ecgqa_tools.records import ECG

FS = 100.0


def _spiky(n: int = 1000) -> np.ndarray:
    x = np.zeros((12, n), dtype=np.float32)
    for r in range(100, n - 80, 90):
        x[:, r - 2:r + 3] = np.array([0.2, 0.6, 1.0, 0.6, 0.2], dtype=np.float32) * 3
        x[:, r + 25:r + 40] += 0.6
    return x


class LinearModel:
    """logit = sum(w * x): IG from reference r is exactly w * (x - r)."""

    fs_hz = FS

    def __init__(self) -> None:
        import torch

        w = torch.linspace(-1.0, 1.0, 12 * 1000).reshape(1, 12, 1000)

        class Linear(torch.nn.Module):
            def forward(self, v):
                return (v * w).sum(dim=(1, 2))

        self.w = w.numpy()[0]
        self.module = Linear()

    def preprocess(self, ecg: ECG) -> np.ndarray:
        return ecg.signal_mv.astype(np.float32)


def test_variants_on_a_linear_head_are_weight_times_distance_to_their_weighted_references():
    ecg = ECG.from_array(_spiky(), FS)
    model = LinearModel()
    x = _spiky()
    for kind in EXPECTED_VARIANTS:
        refs = make_references(x[None], kind, FS)[0]
        weights = reference_weights(kind, refs.shape[0])
        attr = explain(ecg, "STTC", model=model, baseline=kind, n_steps=2)
        assert attr.values.shape == (12, 1000) and attr.baseline_kind == kind
        mean_ref = np.tensordot(weights, refs, axes=1)
        shift = 0.0
        if kind == "expected-smooth":  # the noisy copies' mean noise moves the end point
            noise = np.random.default_rng(0).normal(0.0, SMOOTH_NOISE_SD, (EXPECTED_SMOOTH_DRAWS, 12, 1000))
            shift = noise.mean(axis=0)
        np.testing.assert_allclose(attr.values, model.w * (x + shift - mean_ref), atol=1e-4)
        # baseline_logit is the weighted mean reference logit; completeness holds (exactly but for noise)
        assert attr.baseline_logit == pytest.approx(float((model.w * mean_ref).sum()), abs=1e-3)
        if kind != "expected-smooth":
            assert abs(attr.convergence_delta) < 1e-3


def test_references_weights_and_costs_of_the_variants():
    x = _spiky()[None]
    assert make_references(x, "expected-16", FS).shape == (1, N_REFERENCES_WIDE, 12, 1000)
    mixed = make_references(x, "expected-normal", FS)
    assert mixed.shape == (1, N_REFERENCES + 1, 12, 1000)
    np.testing.assert_array_equal(mixed[0, 0], make_baseline(x, "normal", FS)[0])
    np.testing.assert_array_equal(mixed[0, 1:], make_references(x, "expected", FS)[0])
    w = reference_weights("expected-normal", N_REFERENCES + 1)
    assert w[0] == TEMPLATE_WEIGHT and w.sum() == pytest.approx(1.0) and np.allclose(w[1:], w[1])
    assert np.allclose(reference_weights("expected", N_REFERENCES), 1 / N_REFERENCES)
    points = {k: np.prod(path_points(k, 8)) for k in ("expected", *EXPECTED_VARIANTS)}
    assert points == {"expected": 64, "expected-16": 128, "expected-smooth": 128, "expected-normal": 72}


def test_wide_references_extend_the_shipped_eight():
    wide, shipped = load_normal_references(REFERENCES_WIDE_PATH), load_normal_references()
    assert wide.beats.shape == (N_REFERENCES_WIDE, 12, 81) and len(set(wide.record_ids)) == N_REFERENCES_WIDE
    assert wide.record_ids[:N_REFERENCES] == shipped.record_ids
    np.testing.assert_array_equal(wide.beats[:N_REFERENCES], shipped.beats)


def test_wide_references_are_normal_training_records(ptbxl_dir):
    from ecgqa_tools.records._ptbxl import PtbXl

    meta = PtbXl(ptbxl_dir).metadata
    for ecg_id in load_normal_references(REFERENCES_WIDE_PATH).record_ids:
        assert 1 <= int(meta.loc[ecg_id, "strat_fold"]) <= 8
        assert meta.loc[ecg_id, "scp_codes"].get("NORM", 0) >= 100


def test_gradshap_draws_from_the_references_ig_uses():
    import torch

    x = torch.from_numpy(_spiky()[None])
    refs = torch.from_numpy(make_references(x.numpy(), "expected-normal", FS))
    background = gradshap_background(refs, x, "expected-normal")
    assert background.shape == (1, 2 * N_REFERENCES, 12, 1000)  # template repeated: half the draws
    assert torch.equal(background[0, :N_REFERENCES], refs[0, :1].expand(N_REFERENCES, 12, 1000))
    assert gradshap_background(refs[:, 0], x, "normal").shape == (1, 1, 12, 1000)
    assert not gradshap_background(x, x, "flat").any()
    # on a linear head, GradientSHAP around the normal references agrees with expected-gradient IG
    # far better than GradientSHAP around the flat line (the definition before session 4)
    ecg, model = ECG.from_array(_spiky(), FS), LinearModel()
    ig = explain(ecg, "STTC", model=model, baseline="expected")
    same = explain(ecg, "STTC", "gradshap", model=model, baseline="expected")
    flat = explain(ecg, "STTC", "gradshap", model=model, baseline="flat")
    assert same.baseline_kind == "expected" and same.baseline.startswith("GradientSHAP background")
    assert flat.baseline_kind == "flat"
    assert cosine_similarity(ig, same) > 0.9 > cosine_similarity(ig, flat) + 0.1


def test_gradshap_of_a_batch_equals_one_ecg_at_a_time():
    from ecgqa_tools.grounding._attribution import explain_batch

    ecgs = [ECG.from_array(_spiky() * s, FS) for s in (1.0, 0.5)]
    batch = explain_batch(ecgs, "STTC", "gradshap", model=LinearModel(), n_samples=4)
    single = explain(ecgs[1], "STTC", "gradshap", model=LinearModel(), n_samples=4)
    np.testing.assert_allclose(batch[1].values, single.values, rtol=1e-5, atol=1e-6)
