"""The training loop: a tiny smoke run on synthetic records, checkpoints, resume, seeding."""

from __future__ import annotations

import numpy as np
import pytest

from ecgqa_tools.encoders._training import TrainConfig, train_model
from ecgqa_tools.errors import UsageError

TINY = {"channels": [4, 8], "kernel": 5, "hidden": 8}


def _data(n: int = 24, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 12, 1000)).astype(np.float16)
    y = (np.arange(n) % 2).astype(np.float32)
    x[y == 1, :, ::50] += 3.0  # positives carry a spike train: learnable
    return x, y


def test_one_epoch_smoke_run_writes_a_checkpoint_and_resumes(tmp_path):
    x, y = _data()
    config = TrainConfig(task="disease", hparams=TINY, epochs=1, batch_size=8, crop_samples=0)
    first = train_model(config, x, y, np.arange(16), np.arange(16, 24), tmp_path, progress=False)
    assert (tmp_path / "checkpoint.pt").is_file()
    assert first.best_epoch == 1 and len(first.history) == 1 and 0.0 <= first.best_score <= 1.0
    # rerunning the finished config resumes from the checkpoint and trains nothing more
    again = train_model(config, x, y, np.arange(16), np.arange(16, 24), tmp_path, progress=False)
    assert again.history == first.history
    for key, value in first.state_dict.items():
        assert np.array_equal(value.numpy(), again.state_dict[key].numpy())
    # extending the run is a different config: refused rather than silently mixed
    with pytest.raises(UsageError, match="different training config"):
        train_model(TrainConfig(task="disease", hparams=TINY, epochs=2, batch_size=8, crop_samples=0),
                    x, y, np.arange(16), np.arange(16, 24), tmp_path, progress=False)


def test_same_seed_same_weights(tmp_path):
    x, y = _data()
    config = TrainConfig(task="disease", hparams=TINY, epochs=1, batch_size=8, seed=3)
    a = train_model(config, x, y, np.arange(16), np.arange(16, 24), tmp_path / "a", progress=False)
    b = train_model(config, x, y, np.arange(16), np.arange(16, 24), tmp_path / "b", progress=False)
    for key in a.state_dict:
        assert np.allclose(a.state_dict[key].numpy(), b.state_dict[key].numpy())


def test_multilabel_and_age_sex_tasks_run(tmp_path):
    x, _ = _data(16)
    labels = np.random.default_rng(1).integers(0, 2, (16, 3)).astype(np.float32)
    labels[0, 0] = np.nan  # unknown labels are ignored by the loss
    r = train_model(TrainConfig(task="attributes", network="resnet12",
                                hparams={"channels": [4, 8], "kernel": 5, "n_outputs": 3}, epochs=1, batch_size=8),
                    x, labels, np.arange(10), np.arange(10, 16), tmp_path / "attr", progress=False)
    assert np.isfinite(r.history[0]["train_loss"])
    age_sex = np.stack([np.linspace(20, 80, 16), np.arange(16) % 2], axis=1).astype(np.float32)
    r = train_model(TrainConfig(task="age_sex", network="resnet12",
                                hparams={"channels": [4, 8], "kernel": 5, "n_outputs": 2}, epochs=1, batch_size=8),
                    x, age_sex, np.arange(10), np.arange(10, 16), tmp_path / "agesex", progress=False)
    assert r.history[0]["age_mae_years"] >= 0


def test_empty_splits_are_refused(tmp_path):
    x, y = _data()
    with pytest.raises(UsageError, match="need training and validation records"):
        train_model(TrainConfig(task="disease", hparams=TINY, epochs=1), x, y, np.arange(0), np.arange(4), tmp_path)
