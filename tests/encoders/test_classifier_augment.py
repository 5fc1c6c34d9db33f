"""The ``aug30`` variant: epochs30 plus per-lead amplitude scaling, baseline wander and time masking
(``_training.augment_batch``), deterministic under a seed and changing the input as specified."""

from __future__ import annotations

from dataclasses import asdict, replace

import numpy as np
import pytest

from ecgqa_tools.encoders import _cv, _training
from ecgqa_tools.encoders._training import augment_batch

FS = 100.0


def _batch(n: int = 16, samples: int = 500, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, 12, samples)).astype(np.float32) + 2.0


def test_aug30_differs_from_epochs30_only_by_the_augmentation_and_shipped_recipes_have_none():
    e30, aug = asdict(_cv.VARIANTS["epochs30"]), asdict(_cv.VARIANTS["aug30"])
    assert {k for k in e30 if e30[k] != aug[k]} == {"augment"}
    assert aug["augment"] == _cv.STRONG_AUGMENT
    assert all(not v.augment for k, v in _cv.VARIANTS.items() if k != "aug30")


def test_same_seed_same_output_other_seed_other_output():
    x = _batch()
    a = augment_batch(x, np.random.default_rng(7), _cv.STRONG_AUGMENT)
    b = augment_batch(x, np.random.default_rng(7), _cv.STRONG_AUGMENT)
    c = augment_batch(x, np.random.default_rng(8), _cv.STRONG_AUGMENT)
    assert a.dtype == np.float32 and a.shape == x.shape
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c) and not np.array_equal(a, x)
    np.testing.assert_array_equal(x, _batch())  # the input is not modified in place


def test_no_params_returns_the_batch_and_leaves_the_random_stream_alone():
    x, rng = _batch(), np.random.default_rng(3)
    state = rng.bit_generator.state
    assert augment_batch(x, rng, {}) is x
    assert rng.bit_generator.state == state


def test_amplitude_scaling_multiplies_each_lead_by_its_own_factor_in_range():
    x = _batch()
    out = augment_batch(x, np.random.default_rng(0), {"p": 1.0, "amp_scale": 0.2})
    ratio = out / x
    factors = ratio[:, :, 0]
    np.testing.assert_allclose(ratio, np.broadcast_to(factors[:, :, None], ratio.shape), rtol=1e-5)  # constant in time
    assert factors.min() >= 0.8 - 1e-6 and factors.max() <= 1.2 + 1e-6
    assert np.std(factors) > 0.05  # leads and records get different gains


def test_baseline_wander_is_one_slow_sinusoid_per_record_bounded_per_lead():
    x = _batch()
    params = {"p": 1.0, "wander_max": 0.15, "wander_hz_min": 0.05, "wander_hz_max": 0.5}
    diff = augment_batch(x, np.random.default_rng(0), params) - x
    assert np.abs(diff).max() <= 0.15 + 1e-5 and np.abs(diff).max() > 0.01
    # the largest step between samples of a <= 0.5 Hz sinusoid of amplitude <= 0.15
    assert np.abs(np.diff(diff, axis=-1)).max() <= 2 * np.pi * 0.5 * 0.15 / FS + 1e-5
    for rec in diff:  # the same waveform in every lead, scaled: rank one across leads
        s = np.linalg.svd(rec.astype(np.float64), compute_uv=False)
        assert s[1] <= 1e-4 * s[0]


def test_time_mask_zeroes_one_contiguous_stretch_of_all_leads():
    x = _batch(n=32)
    out = augment_batch(x, np.random.default_rng(0), {"p": 1.0, "mask_max_s": 0.5})
    for before, after in zip(x, out):
        zero = np.all(after == 0.0, axis=0)
        idx = np.nonzero(zero)[0]
        assert 1 <= len(idx) <= 50 and np.all(np.diff(idx) == 1)  # one stretch of 0.01-0.5 s
        keep = ~zero
        np.testing.assert_array_equal(after[:, keep], before[:, keep])


def test_probability_p_leaves_about_that_share_of_records_untouched():
    x = _batch(n=400, samples=100)
    out = augment_batch(x, np.random.default_rng(0), {"p": 0.5, "amp_scale": 0.2})
    changed = np.array([not np.array_equal(a, b) for a, b in zip(x, out)])
    assert 0.4 < changed.mean() < 0.6


def test_training_with_aug30_is_deterministic(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((24, 12, 1000)).astype(np.float16)
    y = (np.arange(24) % 2).astype(np.float32)
    x[y == 1, :, ::50] += 3.0
    config = replace(_cv.VARIANTS["aug30"], hparams={"channels": [4, 8], "kernel": 5, "hidden": 8},
                     batch_size=8, epochs=2)
    runs = [_training.train_model(config, x, y, np.arange(16), np.arange(16, 24), tmp_path / str(k), progress=False)
            for k in range(2)]
    for key, value in runs[0].state_dict.items():
        assert np.array_equal(value.numpy(), runs[1].state_dict[key].numpy()), key
    plain = _training.train_model(replace(config, augment={}), x, y, np.arange(16), np.arange(16, 24),
                                  tmp_path / "plain", progress=False)
    assert [h["train_loss"] for h in plain.history] != pytest.approx([h["train_loss"] for h in runs[0].history])


def test_train_disease_variant_option_picks_the_cv_config_and_refuses_others(tmp_path, capsys):
    from ecgqa_tools.cli import build_parser, main
    from ecgqa_tools.encoders._cli_encoders import _variant_config

    args = build_parser().parse_args(["train", "disease", "--disease", "MI", "--variant", "aug30"])
    assert _variant_config(args.variant) is _cv.VARIANTS["aug30"]
    assert build_parser().parse_args(["train", "disease"]).variant == "baseline"
    assert main(["train", "disease", "--disease", "MI", "--variant", "multitask", "--data-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "unknown --variant 'multitask'" in err and "aug30" in err
