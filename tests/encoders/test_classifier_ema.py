"""The ``ema30`` variant: epochs30 plus an exponential moving average of the weights (and BatchNorm
statistics) that is validated, selected and returned; every other recipe trains exactly as before."""

from __future__ import annotations

from dataclasses import asdict, replace

import numpy as np
import pytest
import torch

from ecgqa_tools.encoders import _cv, _training
from ecgqa_tools.errors import UsageError

TINY = {"channels": [4, 8], "kernel": 5, "hidden": 8}


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((24, 12, 1000)).astype(np.float16)
    y = (np.arange(24) % 2).astype(np.float32)
    x[y == 1, :, ::50] += 3.0
    return x, y


def _train(config, work, **kwargs):
    x, y = _data()
    return _training.train_model(config, x, y, np.arange(16), np.arange(16, 24), work, progress=False, **kwargs)


def _tiny(variant: str, epochs: int = 4):
    return replace(_cv.VARIANTS[variant], hparams=TINY, batch_size=8, epochs=epochs)


def test_ema30_differs_from_epochs30_only_by_the_ema_and_other_recipes_have_none():
    e30, ema = asdict(_cv.VARIANTS["epochs30"]), asdict(_cv.VARIANTS["ema30"])
    assert {k for k in e30 if e30[k] != ema[k]} == {"ema_half_life_epochs"}
    assert ema["ema_half_life_epochs"] == 1.0
    assert all(v.ema_half_life_epochs == 0 for k, v in _cv.VARIANTS.items() if k not in ("ema30", "ema15", "emaaux30"))


def test_ema15_differs_from_baseline_only_by_the_same_ema():
    """``ema15`` (session 8b, STTC): the shipped 15-epoch baseline plus ``ema30``'s EMA, nothing else."""
    base, ema15, ema30 = (asdict(_cv.VARIANTS[k]) for k in ("baseline", "ema15", "ema30"))
    assert {k for k in base if base[k] != ema15[k]} == {"ema_half_life_epochs"}
    assert ema15["ema_half_life_epochs"] == ema30["ema_half_life_epochs"] == 1.0
    assert ema15["epochs"] == 15 and {k for k in ema15 if ema15[k] != ema30[k]} == {"epochs"}


def test_decay_has_the_half_life_in_steps():
    d = _training.ema_decay(1.0, 42)
    assert d ** 42 == pytest.approx(0.5)
    assert _training.ema_decay(2.0, 10) ** 20 == pytest.approx(0.5)
    assert _training.ema_decay(0.0, 42) == 0.0
    with pytest.raises(UsageError, match="half-life"):
        _training.ema_decay(-1.0, 42)


def test_update_averages_float_entries_and_copies_integer_ones():
    ema = {"w": torch.tensor([1.0, 2.0]), "bn.running_var": torch.tensor([4.0]), "n": torch.tensor(3)}
    live = {"w": torch.tensor([3.0, 0.0]), "bn.running_var": torch.tensor([0.0]), "n": torch.tensor(10)}
    _training.ema_update(ema, live, 0.75)
    assert torch.allclose(ema["w"], torch.tensor([1.5, 1.5]))
    assert torch.allclose(ema["bn.running_var"], torch.tensor([3.0]))
    assert int(ema["n"]) == 10
    assert torch.equal(live["w"], torch.tensor([3.0, 0.0]))  # the live state is not touched


def test_default_recipe_trains_exactly_as_before_the_ema_code(tmp_path):
    # Pinned from this tiny epochs30 run with the training code before the EMA change (session 7,
    # same torch 2.13.0 CPU build, one thread): the no-EMA path must stay bit-for-bit the same.
    result = _train(_tiny("epochs30"), tmp_path)
    assert [h["train_loss"] for h in result.history] == pytest.approx(
        [0.25676615, 0.21548466, 0.20017879, 0.20671985], abs=1e-7)
    assert [h["auc"] for h in result.history] == [0.4375, 0.4375, 0.5, 0.5625]
    assert result.best_epoch == 4
    checksum = sum(float(t.double().abs().sum()) for t in result.state_dict.values())
    assert checksum == pytest.approx(256.75767573859775, rel=1e-9)
    assert not any(k.startswith("live_") for k in result.history[0])
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=False)["ema"] is None


def test_ema_leaves_the_live_training_alone_and_returns_the_ema_weights(tmp_path):
    from ecgqa_tools.encoders._metrics import roc_auc
    from ecgqa_tools.encoders._nets import build_network

    plain = _train(_tiny("epochs30"), tmp_path / "plain")
    ema = _train(_tiny("ema30"), tmp_path / "ema")
    # same live trajectory (same random stream, same optimiser steps): same losses, and the live
    # network's validation AUCs are the plain run's
    assert [h["train_loss"] for h in ema.history] == [h["train_loss"] for h in plain.history]
    assert [h["live_auc"] for h in ema.history] == [h["auc"] for h in plain.history]
    # the weights returned are the averaged ones: not the live weights of any epoch...
    ckpt = torch.load(tmp_path / "ema" / "checkpoint.pt", weights_only=False)
    assert ckpt["ema"] is not None
    floats = [k for k, v in ckpt["model"].items() if v.dtype.is_floating_point]
    assert all(not torch.equal(ckpt["ema"][k], ckpt["model"][k]) for k in floats)
    # ...and scoring them reproduces the selection AUC recorded for the best epoch
    net = build_network("leadwise", TINY)
    net.load_state_dict(ema.state_dict)
    x, y = _data()
    logits = _training.predict_batches(net, x[16:24])
    assert roc_auc(y[16:24] > 0.5, logits) == pytest.approx(ema.best_score)
    assert ema.history[ema.best_epoch - 1]["auc"] == pytest.approx(ema.best_score)


def test_a_tiny_half_life_gives_the_live_network(tmp_path):
    plain = _train(_tiny("epochs30", 2), tmp_path / "plain")
    # 2 steps per epoch, half-life 0.01 epochs: decay 0.5 ** 50, so the EMA is the live state to ~1e-15
    near = _train(replace(_tiny("epochs30", 2), ema_half_life_epochs=0.01), tmp_path / "near")
    assert [h["auc"] for h in near.history] == [h["auc"] for h in plain.history]
    for key, value in plain.state_dict.items():
        assert np.allclose(near.state_dict[key].numpy(), value.numpy(), atol=1e-6), key


def _aux_targets() -> np.ndarray:
    aux = np.stack([(np.arange(24) // 2) % 2, np.arange(24) % 6], axis=1).astype(np.float32)
    aux[3, 0] = np.nan  # unknown sex: masked out of the loss
    return aux


@pytest.mark.parametrize("variant, epochs, with_aux", [("ema30", 3, False), ("aux30", 2, True)])
def test_an_interrupted_run_resumes_to_the_same_result(variant, epochs, with_aux, tmp_path, monkeypatch):
    """The EMA weights (ema30) and the auxiliary heads (aux30) live in the checkpoint: a run cut after
    epoch 1 resumes there (epoch 1 is not trained again) and ends bit-identical to an uncut run."""
    config = _tiny(variant, epochs)
    kwargs = {"aux_targets": _aux_targets()} if with_aux else {}
    whole = _train(config, tmp_path / "whole", **kwargs)
    save, calls = _training._atomic_torch_save, []

    def interrupt_after_first_epoch(obj, path):
        save(obj, path)
        calls.append(obj["epoch"])
        if obj["epoch"] == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(_training, "_atomic_torch_save", interrupt_after_first_epoch)
    with pytest.raises(KeyboardInterrupt):
        _train(config, tmp_path / "cut", **kwargs)
    resumed = _train(config, tmp_path / "cut", **kwargs)
    assert calls == list(range(1, epochs + 1))
    assert [h["auc"] for h in resumed.history] == [h["auc"] for h in whole.history]
    assert resumed.best_epoch == whole.best_epoch
    for key, value in whole.state_dict.items():
        assert torch.equal(resumed.state_dict[key], value), key


def test_checkpoint_from_before_the_field_resumes_and_other_ema_is_refused(tmp_path):
    config = _tiny("epochs30", 2)
    first = _train(config, tmp_path)
    ckpt_path = tmp_path / "checkpoint.pt"
    ckpt = torch.load(ckpt_path, weights_only=False)
    del ckpt["config"]["ema_half_life_epochs"]  # as written by the code before the EMA field
    torch.save(ckpt, ckpt_path)
    again = _train(config, tmp_path)  # finished checkpoint: nothing retrained, same selection
    assert again.best_epoch == first.best_epoch and len(again.history) == 2
    with pytest.raises(UsageError, match="different training config"):
        _train(replace(config, ema_half_life_epochs=1.0), tmp_path)


def test_train_disease_variant_option_picks_ema30():
    from ecgqa_tools.cli import build_parser
    from ecgqa_tools.encoders._cli_encoders import _variant_config

    args = build_parser().parse_args(["train", "disease", "--disease", "MI", "--variant", "ema30"])
    assert _variant_config(args.variant) is _cv.VARIANTS["ema30"]
    args = build_parser().parse_args(["train", "disease", "--disease", "STTC", "--variant", "ema15"])
    assert _variant_config(args.variant) is _cv.VARIANTS["ema15"]
