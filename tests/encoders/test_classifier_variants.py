"""CV variants that differ from the shipped recipe by one setting: ``epochs30`` (longer training)."""

from __future__ import annotations

from dataclasses import asdict, replace
from itertools import pairwise

import numpy as np
import pytest

from ecgqa_tools.encoders import _cv, _training

TINY = {"channels": [4, 8], "kernel": 5, "hidden": 8}


def test_epochs30_differs_from_baseline_only_by_the_number_of_epochs():
    base, longer = asdict(_cv.VARIANTS["baseline"]), asdict(_cv.VARIANTS["epochs30"])
    assert {k for k in base if base[k] != longer[k]} == {"epochs"}
    assert (base["epochs"], longer["epochs"]) == (15, 30)


def _lr_after_each_epoch(config, tmp_path, monkeypatch) -> list[float]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((24, 12, 1000)).astype(np.float16)
    y = (np.arange(24) % 2).astype(np.float32)
    x[y == 1, :, ::50] += 3.0
    lrs: list[float] = []
    save = _training._atomic_torch_save

    def spy(obj, path):
        lrs.append(obj["optimizer"]["param_groups"][0]["lr"])
        save(obj, path)

    monkeypatch.setattr(_training, "_atomic_torch_save", spy)
    result = _training.train_model(config, x, y, np.arange(16), np.arange(16, 24), tmp_path, progress=False)
    assert len(result.history) == config.epochs and 1 <= result.best_epoch <= config.epochs
    return lrs


@pytest.mark.parametrize("variant", ["baseline", "epochs30"])
def test_warm_up_then_cosine_to_zero_stretches_over_the_variants_epochs(variant, tmp_path, monkeypatch):
    config = replace(_cv.VARIANTS[variant], hparams=TINY, batch_size=8, crop_samples=0)
    lrs = _lr_after_each_epoch(config, tmp_path, monkeypatch)
    n, peak = config.epochs, config.lr
    assert len(lrs) == n
    assert lrs[0] == pytest.approx(peak)  # one epoch of warm-up ends at the peak
    assert lrs[-1] == pytest.approx(0.0, abs=1e-12)  # cosine reaches 0 at the last epoch
    assert all(a > b for a, b in pairwise(lrs))  # strictly decaying after the warm-up
    # after epoch e the cosine has covered (e - 1) / (n - 1) of its length
    for e in (n // 2, n - 1):
        assert lrs[e - 1] == pytest.approx(peak * 0.5 * (1 + np.cos(np.pi * (e - 1) / (n - 1))))
    if variant == "epochs30":  # at epoch 15, where the baseline ends at 0, half the peak remains
        assert lrs[14] > 0.5 * peak
