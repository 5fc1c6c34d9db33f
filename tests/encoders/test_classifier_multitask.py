"""The ``multitask`` disease variant: one network with a logit per disease, a focal loss masked by each
disease's pure-label rule, checkpoint selection per disease, per-disease exported modules, resume,
and the CV / shipping paths on tiny synthetic data."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from ecgqa_tools.encoders import _cv, _jobs
from ecgqa_tools.encoders._jobs import MULTITASK_DISEASE_CONFIG
from ecgqa_tools.encoders._labels import DISEASES
from ecgqa_tools.encoders._nets import build_network
from ecgqa_tools.encoders._ptbxl_arrays import TrainingArrays
from ecgqa_tools.encoders._training import TrainConfig, _focal_bce, masked_focal_loss, train_model
from ecgqa_tools.errors import ModelError

TINY = {"channels": [4, 8], "kernel": 5, "hidden": 8, "n_outputs": 4}


def _data(n: int = 40, seed: int = 0):
    """Signals whose disease j shows as a spike train on lead j; ~1/4 of the labels excluded (NaN)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 12, 1000)).astype(np.float32)
    y = rng.integers(0, 2, (n, 4)).astype(np.float32)
    for j in range(4):
        x[y[:, j] == 1, j, ::50] += 3.0
    y[rng.random((n, 4)) < 0.25] = np.nan
    return x.astype(np.float16), y


def test_masked_loss_ignores_excluded_records():
    logits = torch.randn(6, 4, requires_grad=True)
    y = torch.tensor(np.random.default_rng(0).integers(0, 2, (6, 4)), dtype=torch.float32)
    y[0, 1] = y[3, 1] = y[2, 0] = float("nan")
    y[:, 3] = float("nan")  # no record labelled for disease 3 in this batch: left out of the mean
    loss = masked_focal_loss(logits, y, 2.0)
    known = [~torch.isnan(y[:, j]) for j in range(3)]
    expected = sum(_focal_bce(logits[k, j], y[k, j], 2.0) for j, k in enumerate(known)) / 3
    assert torch.isclose(loss, expected)
    loss.backward()
    assert logits.grad[0, 1] == 0 and logits.grad[3, 1] == 0 and logits.grad[2, 0] == 0
    assert torch.all(logits.grad[:, 3] == 0) and logits.grad[1, 1] != 0
    # whatever an excluded record's logit is, the loss does not change
    moved = logits.detach().clone()
    moved[0, 1] += 50.0
    moved[:, 3] -= 50.0
    assert torch.isclose(masked_focal_loss(moved, y, 2.0), loss.detach())
    # with one output and nothing excluded it is the binary focal loss of the single-disease models
    assert torch.isclose(masked_focal_loss(logits[:, :1].detach(), torch.ones(6, 1), 2.0),
                         _focal_bce(logits[:, 0].detach(), torch.ones(6), 2.0))


def test_selection_is_per_disease_and_the_exported_module_is_one_logit(tmp_path):
    x, y = _data()
    config = TrainConfig(task="diseases", hparams=TINY, epochs=4, batch_size=8, crop_samples=0, lr=1e-2)
    r = train_model(config, x, y, np.arange(28), np.arange(28, 40), tmp_path, progress=False)
    assert len(r.per_output) == 4
    for j, sel in enumerate(r.per_output):
        aucs = [h[f"auc_{j}"] for h in r.history]
        assert sel.best_epoch == int(np.argmax(aucs)) + 1 and sel.best_score == pytest.approx(max(aucs))
        # that disease's restricted network reproduces its selection AUC on the selection records
        net = build_network("leadwise", {**TINY, "select_output": j}).eval()
        net.load_state_dict(sel.state_dict)
        with torch.no_grad():
            out = net(torch.from_numpy(x[28:].astype(np.float32)))
        assert out.shape == (12,)
        known = ~np.isnan(y[28:, j])
        from ecgqa_tools.encoders._metrics import roc_auc

        assert roc_auc(y[28:, j][known] > 0.5, out.numpy()[known]) == pytest.approx(sel.best_score)
        full = build_network("leadwise", TINY).eval()
        full.load_state_dict(sel.state_dict)
        with torch.no_grad():
            assert torch.equal(full(torch.from_numpy(x[28:].astype(np.float32)))[:, j], out)
    with pytest.raises(ModelError, match="select_output"):
        build_network("leadwise", {**TINY, "select_output": 4})


def test_an_interrupted_multitask_run_resumes_to_the_same_selections(tmp_path, monkeypatch):
    from ecgqa_tools.encoders import _training

    x, y = _data()
    config = TrainConfig(task="diseases", hparams=TINY, epochs=3, batch_size=8, crop_samples=300, seed=2)
    whole = train_model(config, x, y, np.arange(28), np.arange(28, 40), tmp_path / "whole", progress=False)
    real_save, calls = _training._atomic_torch_save, []

    def save_then_stop(obj: object, path: object) -> None:
        real_save(obj, path)
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt  # killed after epoch 2's checkpoint
    monkeypatch.setattr(_training, "_atomic_torch_save", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        train_model(config, x, y, np.arange(28), np.arange(28, 40), tmp_path / "cut", progress=False)
    monkeypatch.setattr(_training, "_atomic_torch_save", real_save)
    resumed = train_model(config, x, y, np.arange(28), np.arange(28, 40), tmp_path / "cut", progress=False)
    assert [h["auc_0"] for h in resumed.history] == [h["auc_0"] for h in whole.history]
    for a, b in zip(whole.per_output, resumed.per_output):
        assert a.best_epoch == b.best_epoch
        for key in a.state_dict:
            assert torch.equal(a.state_dict[key], b.state_dict[key])


def _fake_ptbxl(monkeypatch, per_fold: int = 8):
    """Ten folds of synthetic records in place of the PTB-XL arrays and labels."""
    x, y = _data(10 * per_fold, seed=1)
    strat = np.repeat(np.arange(1, 11), per_fold)
    y[0] = np.nan  # a record with no pure label at all: trained on by nobody
    arrays = TrainingArrays(np.arange(1, 10 * per_fold + 1), x, np.array(["records100"] * len(x)))
    for module in (_cv, _jobs):
        monkeypatch.setattr(module, "load_arrays", lambda *a, **k: arrays)
        monkeypatch.setattr(module, "multitask_targets", lambda *a, **k: (y, strat))
    return arrays, y, strat


def test_cv_writes_one_row_per_disease_over_its_labelled_test_records_and_resumes(tmp_path, monkeypatch):
    arrays, y, strat = _fake_ptbxl(monkeypatch)
    tiny = replace(MULTITASK_DISEASE_CONFIG, hparams=TINY, epochs=1, batch_size=16)
    monkeypatch.setitem(_cv.VARIANTS, "multitask", tiny)
    out = _cv.run_cv(tmp_path, tmp_path, "multitask", seeds=(0,), folds=(1, 2), progress=False)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["disease"], r["fold"]) for r in rows] == [(d, f) for f in (1, 2) for d in DISEASES]
    for r in rows:
        j = DISEASES.index(r["disease"])
        expected = arrays.ecg_ids[(strat == r["fold"]) & ~np.isnan(y[:, j])]
        assert r["ecg_ids"] == expected.tolist() and r["val_fold"] == (10 if r["fold"] == 1 else r["fold"] - 1)
        assert r["labels"] == y[np.isin(arrays.ecg_ids, expected), j].astype(int).tolist()
    assert not list(tmp_path.glob("cv_multitask_s0_f*"))  # work dirs removed once the rows are written
    _cv.run_cv(tmp_path, tmp_path, "multitask", seeds=(0,), folds=(1, 2, 3), progress=False)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 12 and {r["fold"] for r in rows[8:]} == {3}  # folds 1-2 not retrained


def test_shipping_path_saves_one_model_per_disease_taking_12_leads_to_one_logit(tmp_path, monkeypatch):
    from ecgqa_tools.encoders._package import LoadedModel

    arrays, y, strat = _fake_ptbxl(monkeypatch)
    config = replace(MULTITASK_DISEASE_CONFIG, hparams=TINY, epochs=1, batch_size=16)
    assert _jobs.train_diseases_multitask(("MI", "HYP"), tmp_path, tmp_path / "work", config, (0, 1),
                                          tmp_path / "w", fit_only=True, progress=False) == []
    assert not (tmp_path / "w").exists()  # fit_only scores and saves nothing
    cards = _jobs.train_diseases_multitask(("MI", "HYP"), tmp_path, tmp_path / "work", config, (0, 1),
                                           tmp_path / "w", command="ecgqa train disease --multitask", progress=False)
    assert [c.name for c in cards] == ["disease_MI", "disease_HYP"]
    seen_train = set(arrays.ecg_ids[(strat <= 8) & ~np.isnan(y).all(axis=1)].tolist())
    fold10 = arrays.ecg_ids[strat == 10]
    for card, j in zip(cards, (0, 3)):
        assert set(card.train_ids) == seen_train and 1 not in card.train_ids  # unlabelled record 1 never used
        assert set(card.selection_ids) == set(arrays.ecg_ids[(strat == 9) & ~np.isnan(y).all(axis=1)].tolist())
        assert not set(fold10) & (set(card.train_ids) | set(card.selection_ids))
        assert card.hparams["select_output"] == j and card.train_config["seeds"] == [0, 1]
        test = card.metrics["test_fold10"]
        assert test["n_pos"] + test["n_neg"] == int((~np.isnan(y[strat == 10, j])).sum())
        model = LoadedModel(card.name, tmp_path / "w")
        inputs = arrays.signals[:5].astype(np.float32)
        torch_out = model.predict_logits(inputs, backend="torch")
        assert torch_out.shape == (5,)
        assert np.allclose(model.predict_logits(inputs, backend="onnx"), torch_out, atol=1e-4)
