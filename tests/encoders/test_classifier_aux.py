"""The ``aux30`` variant: epochs30 plus training-only sex and device heads on the lead-wise network's
concatenated lead embeddings; the saved network is the plain disease network (one logit)."""

from __future__ import annotations

from dataclasses import asdict, replace

import numpy as np
import pandas as pd
import pytest
import torch

from ecgqa_tools.encoders import _aux, _cv, _training
from ecgqa_tools.errors import UsageError

TINY = {"channels": [4, 8], "kernel": 5, "hidden": 8}


def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((24, 12, 1000)).astype(np.float16)
    y = (np.arange(24) % 2).astype(np.float32)
    x[y == 1, :, ::50] += 3.0
    aux = np.stack([(np.arange(24) // 2) % 2, np.arange(24) % 6], axis=1).astype(np.float32)
    aux[3, 0] = np.nan  # unknown sex: masked out of the loss
    return x, y, aux


def _tiny(variant: str, epochs: int = 3):
    return replace(_cv.VARIANTS[variant], hparams=TINY, batch_size=8, epochs=epochs)


def _train(config, work, aux=True):
    x, y, a = _data()
    return _training.train_model(config, x, y, np.arange(16), np.arange(16, 24), work, progress=False,
                                 aux_targets=a if aux else None)


def test_aux30_differs_from_epochs30_only_by_the_aux_heads_and_other_recipes_have_none():
    e30, aux = asdict(_cv.VARIANTS["epochs30"]), asdict(_cv.VARIANTS["aux30"])
    assert {k for k in e30 if e30[k] != aux[k]} == {"aux_heads"}
    assert aux["aux_heads"] == {"sex": 0.05, "device": 0.05}
    assert all(not v.aux_heads for k, v in _cv.VARIANTS.items() if k not in ("aux30", "emaaux30"))


def test_emaaux30_differs_from_ema30_only_by_aux30s_heads():
    """``emaaux30`` (session 10, MI): the shipped MI v4 recipe ``ema30`` plus exactly ``aux30``'s heads."""
    ema, both, aux = (asdict(_cv.VARIANTS[k]) for k in ("ema30", "emaaux30", "aux30"))
    assert {k for k in ema if ema[k] != both[k]} == {"aux_heads"}
    assert both["aux_heads"] == aux["aux_heads"] == {"sex": 0.05, "device": 0.05}
    assert {k for k in aux if aux[k] != both[k]} == {"ema_half_life_epochs"}


def test_emaaux30_averages_only_the_disease_network_and_drops_the_heads(tmp_path):
    """With both, the live training is aux30's (the EMA draws no random numbers), the EMA copy holds
    the plain network's entries only, and the returned weights are the EMA ones (the heads are gone)."""
    from ecgqa_tools.encoders._metrics import roc_auc
    from ecgqa_tools.encoders._nets import build_network

    aux = _train(_tiny("aux30"), tmp_path / "aux")
    both = _train(_tiny("emaaux30"), tmp_path / "both")
    assert [h["train_loss"] for h in both.history] == [h["train_loss"] for h in aux.history]
    assert [h["live_auc"] for h in both.history] == [h["auc"] for h in aux.history]
    assert [h["aux_sex_auc"] for h in both.history] == [h["aux_sex_auc"] for h in aux.history]
    ckpt = torch.load(tmp_path / "both" / "checkpoint.pt", weights_only=False)
    assert set(ckpt["ema"]) == set(ckpt["model"]) == set(both.state_dict)  # no head entries anywhere
    assert ckpt["aux"] is not None and not set(ckpt["aux"]) & set(ckpt["model"])
    floats = [k for k, v in ckpt["model"].items() if v.dtype.is_floating_point]
    assert all(not torch.equal(ckpt["ema"][k], ckpt["model"][k]) for k in floats)
    net = build_network("leadwise", TINY)
    net.load_state_dict(both.state_dict)  # strict: the plain network
    x, y, _ = _data()
    assert roc_auc(y[16:24] > 0.5, _training.predict_batches(net, x[16:24])) == pytest.approx(both.best_score)
    assert both.history[both.best_epoch - 1]["auc"] == pytest.approx(both.best_score)


def test_device_groups_are_the_five_commonest_devices_plus_other():
    assert _aux.device_class("CS100    3") == 0.0 and _aux.device_class("CS-12   E") == 3.0
    assert _aux.device_class("AT-6     6") == 4.0 and _aux.device_class("CS-12") == 1.0
    assert _aux.device_class("AT-60    3") == 5.0 and _aux.device_class("AT-6 C 5.8") == 5.0
    assert np.isnan(_aux.device_class(None)) and np.isnan(_aux.device_class(float("nan")))
    meta = pd.DataFrame({"sex": [0, 1, np.nan], "device": ["AT-6 C 5.5", None, "AT-6 C"]})
    targets = _aux.aux_targets_from_metadata(meta)
    assert targets.shape == (3, 2) and targets.dtype == np.float32
    np.testing.assert_array_equal(targets[:, 0], [0.0, 1.0, np.nan])
    np.testing.assert_array_equal(targets[:, 1], [2.0, np.nan, 5.0])


def test_aux_training_returns_only_the_disease_network(tmp_path):
    from ecgqa_tools.encoders._metrics import roc_auc
    from ecgqa_tools.encoders._nets import build_network

    plain = _train(_tiny("epochs30"), tmp_path / "plain", aux=False)
    aux = _train(_tiny("aux30"), tmp_path / "aux")
    assert set(aux.state_dict) == set(plain.state_dict)  # no head weights in the saved state
    net = build_network("leadwise", TINY)
    net.load_state_dict(aux.state_dict)  # strict: the plain network, (batch, 12, samples) -> (batch,)
    x, y, _ = _data()
    logits = _training.predict_batches(net, x[16:24])
    assert logits.shape == (8,)
    assert roc_auc(y[16:24] > 0.5, logits) == pytest.approx(aux.best_score)
    # the heads were trained: their loss and validation metrics are in the history, and the training differs
    assert all({"aux_loss", "aux_sex_auc", "aux_device_acc"} <= set(h) for h in aux.history)
    assert [h["train_loss"] for h in aux.history] != [h["train_loss"] for h in plain.history]
    assert torch.load(tmp_path / "aux" / "checkpoint.pt", weights_only=False)["aux"] is not None
    assert torch.load(tmp_path / "plain" / "checkpoint.pt", weights_only=False)["aux"] is None


def test_aux_loss_weights_and_masks_unknown_targets():
    out = {"sex": torch.tensor([[0.0], [2.0]]), "device": torch.zeros(2, 6)}
    y = torch.tensor([[1.0, 2.0], [float("nan"), float("nan")]])
    loss = _training.aux_loss(out, y, {"sex": 0.5, "device": 0.25})
    expected = 0.5 * np.log(2.0) + 0.25 * np.log(6.0)  # only row 0 is known for both heads
    assert float(loss) == pytest.approx(expected, rel=1e-6)
    assert float(_training.aux_loss(out, y[1:], {"sex": 1.0})) == 0.0


def test_aux_heads_need_targets_and_known_names(tmp_path):
    with pytest.raises(UsageError, match="aux_targets of shape"):
        _train(_tiny("aux30", 1), tmp_path / "a", aux=False)
    with pytest.raises(UsageError, match="unknown auxiliary head"):
        _train(replace(_tiny("aux30", 1), aux_heads={"age": 0.1}), tmp_path / "b")
    with pytest.raises(UsageError, match="need task 'disease'"):
        _train(replace(_tiny("aux30", 1), network="resnet12", hparams={}), tmp_path / "c")


def test_train_disease_variant_option_picks_aux30():
    from ecgqa_tools.cli import build_parser
    from ecgqa_tools.encoders._cli_encoders import _variant_config
    from ecgqa_tools.encoders._install import card_train_config

    args = build_parser().parse_args(["train", "disease", "--disease", "HYP", "--variant", "aux30"])
    config = _variant_config(args.variant)
    assert config is _cv.VARIANTS["aux30"]
    assert card_train_config(config, (0, 1, 2))["aux_heads"] == {"sex": 0.05, "device": 0.05}


def test_filtered_subset_records_get_sex_and_device_from_the_metadata(data_dir):
    from ecgqa_tools.records import PtbXlFiltered

    subset = PtbXlFiltered(data_dir / "ptb-xl-filtered-subset")
    ids = np.asarray(subset.ecg_ids[:20], dtype=np.int64)
    targets = _aux.aux_targets(data_dir, ids)
    assert targets.shape == (20, 2)
    assert set(np.unique(targets[:, 0])) <= {0.0, 1.0} and not np.isnan(targets).any()
    assert set(np.unique(targets[:, 1])) <= set(range(6))


def test_a_record_missing_from_the_metadata_is_a_dataset_error_naming_it(data_dir):
    from ecgqa_tools.errors import DatasetError

    with pytest.raises(DatasetError, match=r"ecg_id 99999999\b.*auxiliary heads"):
        _aux.aux_targets(data_dir, np.array([1, 99999999], dtype=np.int64))
