"""The shipped encoder models: they load, agree across engines, carry their seen ids, behave."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ecgqa_tools.encoders import (
    DISEASES,
    AgeSexEstimate,
    AttributePrediction,
    DiseasePrediction,
    estimate_age_sex,
    guard_unseen,
    load_age_sex_model,
    load_attribute_model,
    load_disease_model,
    predict_attributes,
    predict_diseases,
    preprocess_ecg,
)
from ecgqa_tools.errors import LeakageError, ModelError, UsageError
from ecgqa_tools.records import list_examples, load_example


def _inputs(n: int = 4) -> np.ndarray:
    ecgs = [load_example(name) for name in list_examples()[:n]]
    return np.stack([preprocess_ecg(e) for e in ecgs])


@pytest.mark.parametrize("disease", DISEASES)
def test_onnxruntime_and_torch_agree_to_1e_4(disease):
    model = load_disease_model(disease)
    x = np.concatenate([_inputs(), np.random.default_rng(0).standard_normal((3, 12, 1000)).astype(np.float32)])
    onnx_logits = model.predict_logits(x, backend="onnx")
    torch_logits = model.predict_logits(x, backend="torch")
    assert onnx_logits.shape == (len(x),)
    np.testing.assert_allclose(onnx_logits, torch_logits, atol=1e-4, rtol=0)


def test_attribute_and_age_sex_models_agree_across_engines():
    x = _inputs(3)
    for model in (load_attribute_model(), load_age_sex_model()):
        np.testing.assert_allclose(model.predict_logits(x, "onnx"), model.predict_logits(x, "torch"), atol=1e-4, rtol=0)


def test_disease_model_interface_used_by_attributions():
    import torch

    model = load_disease_model("MI")
    ecg = load_example("ptbxl-00210")
    x = model.preprocess(ecg)
    assert x.shape == (12, 1000)
    out = model.module(torch.from_numpy(x[None]))
    assert tuple(out.shape) == (1,)
    out.sum().backward()  # differentiable end to end (Integrated Gradients needs it)
    assert model.card.version and model.card.train_ids and model.card.selection_ids


def test_cards_keep_training_selection_and_test_records_apart():
    for disease in DISEASES:
        card = load_disease_model(disease).card
        assert not set(card.train_ids) & set(card.selection_ids)
        assert card.metrics["test_fold10"]["n_pos"] > 0
        assert card.training_command.startswith("ecgqa train disease")
    attr = load_attribute_model().card
    assert not set(attr.train_ids) & set(attr.selection_ids)
    # the bundled examples are PTB-XL fold-10 / ECG-QA test records: no model saw them
    example_ids = {int(load_example(n).record_id) for n in list_examples()}
    for card in [load_disease_model(d).card for d in DISEASES] + [attr, load_age_sex_model().card]:
        assert not example_ids & card.seen_ids


def test_onnx_file_carries_the_seen_ids():
    import onnx

    model = load_disease_model("HYP")
    meta = {p.key: p.value for p in onnx.load(str(model.directory / "disease_HYP.onnx")).metadata_props}
    assert json.loads(meta["train_ids"]) == list(model.card.train_ids)
    assert json.loads(meta["selection_ids"]) == list(model.card.selection_ids)


def test_leakage_guard_refuses_or_drops_seen_records():
    card = load_disease_model("CD").card
    seen = list(card.train_ids[:3]) + list(card.selection_ids[:2])
    unseen_candidates = [i for i in range(21000, 21010) if i not in card.seen_ids]
    with pytest.raises(LeakageError, match="5 of 8 records were used to train or select"):
        guard_unseen(card, seen + unseen_candidates[:3], policy="refuse")
    kept, dropped = guard_unseen(card, seen + unseen_candidates[:3], policy="drop")
    assert list(kept) == unseen_candidates[:3] and sorted(dropped) == sorted(seen)


def test_predictions_are_typed_and_in_range():
    ecg = load_example("ptbxl-00473")
    p = predict_diseases(ecg)
    assert isinstance(p, DiseasePrediction) and set(p.probabilities) == set(DISEASES)
    assert all(0.0 <= v <= 1.0 for v in p.probabilities.values())
    assert set(p.positive) <= set(DISEASES) and "MI" in p.summary()
    torch_p = predict_diseases(ecg, backend="torch")
    for d in DISEASES:
        assert abs(torch_p.probabilities[d] - p.probabilities[d]) < 1e-4
    a = predict_attributes(ecg)
    assert isinstance(a, AttributePrediction) and len(a.probabilities) == len(load_attribute_model().classes)
    assert all(0.0 <= v <= 1.0 for v in a.probabilities.values())
    attrs = a.to_attributes(numeric={"qrs duration": "within"})
    assert attrs.numeric.get("qrs duration") == "within"
    s = estimate_age_sex(ecg)
    assert isinstance(s, AgeSexEstimate) and 0 < s.age_years < 110 and s.sex in ("male", "female")


def test_normal_example_scores_lower_than_the_diseased_examples():
    """Behaviour on real records the models never saw: NORM (473) vs IRBBB (478) for CD."""
    normal = predict_diseases(load_example("ptbxl-00473")).probabilities
    conduction = predict_diseases(load_example("ptbxl-00478")).probabilities
    assert conduction["CD"] > normal["CD"]


def test_bad_inputs_raise_package_errors():
    model = load_disease_model("MI")
    with pytest.raises(ModelError, match="input must be"):
        model.predict_logits(np.zeros((2, 12, 500), dtype=np.float32))
    with pytest.raises(ModelError, match="unknown backend"):
        model.predict_logits(np.zeros((1, 12, 1000), dtype=np.float32), backend="tf")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="unknown disease 'AFIB'"):
        load_disease_model("AFIB")


def test_missing_weights_name_the_shipped_models(tmp_path, monkeypatch):
    from ecgqa_tools.encoders import DiseaseModel

    with pytest.raises(ModelError, match="disease_MI.json: model file missing; shipped models are none"):
        DiseaseModel("MI", directory=tmp_path)


@pytest.mark.data
def test_fold10_auc_on_a_small_sample_is_far_above_chance(ptbxl_dir):
    """On 80 unseen fold-10 records the STTC model separates positives from negatives."""
    from ecgqa_tools.encoders import pure_labels, roc_auc
    from ecgqa_tools.records import PtbXl

    ptbxl = PtbXl(ptbxl_dir)
    meta = ptbxl.metadata
    ids = sorted(set(meta.index[meta["strat_fold"] == 10]) & set(ptbxl.present_ids(100)))[:80]
    superclass = {str(c): str(s) for c, s in ptbxl.statements["diagnostic_class"].dropna().items()}
    y = pure_labels([meta.loc[i, "scp_codes"] for i in ids], "STTC", superclass)
    model = load_disease_model("STTC")
    kept, _ = guard_unseen(model.card, ids, policy="refuse")
    probs = model.predict_proba(np.stack([preprocess_ecg(ptbxl.read(i, 100)) for i in kept]))
    known = ~np.isnan(y)
    assert roc_auc(y[known] > 0.5, probs[known]) > 0.8
