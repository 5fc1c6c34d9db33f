"""The second shipped set of disease models (``ecgqa-split``: ECG-QA train / selected on valid)."""

from __future__ import annotations

import numpy as np
import pytest

from ecgqa_tools.encoders import (
    DISEASE_WEIGHT_SETS,
    DISEASES,
    active_disease_weights,
    load_disease_model,
    predict_diseases,
    preprocess_ecg,
    use_disease_weights,
)
from ecgqa_tools.errors import UsageError
from ecgqa_tools.records import list_examples, load_example


@pytest.mark.parametrize("disease", DISEASES)
def test_ecgqa_split_models_load_by_name_and_agree_across_engines(disease):
    model = load_disease_model(disease, weights="ecgqa-split")
    assert model.name == f"disease_{disease}_ecgqa" and model.weights == "ecgqa-split"
    assert model.card.name == model.name and model.card.outputs == (disease,)
    assert "--split ecgqa" in model.card.training_command
    assert model.card.metrics["test_ecgqa_test"]["n_pos"] > 0
    assert not set(model.card.train_ids) & set(model.card.selection_ids)
    x = np.stack([preprocess_ecg(load_example(n)) for n in list_examples()[:3]])
    x = np.concatenate([x, np.random.default_rng(1).standard_normal((2, 12, 1000)).astype(np.float32)])
    np.testing.assert_allclose(model.predict_logits(x, "onnx"), model.predict_logits(x, "torch"), atol=1e-4, rtol=0)
    assert load_disease_model(disease).name == f"disease_{disease}"  # the default stays the fold-based set


def test_use_disease_weights_switches_the_default_inside_the_block_only():
    ecg = load_example("ptbxl-00473")
    assert active_disease_weights() == "ptbxl-folds"
    folds = predict_diseases(ecg)
    with use_disease_weights("ecgqa-split"):
        assert active_disease_weights() == "ecgqa-split"
        assert load_disease_model("MI").name == "disease_MI_ecgqa"
        inside = predict_diseases(ecg)
    assert active_disease_weights() == "ptbxl-folds" and load_disease_model("MI").name == "disease_MI"
    explicit = predict_diseases(ecg, weights="ecgqa-split")
    assert dict(inside.probabilities) == dict(explicit.probabilities)
    assert inside.versions["MI"] == load_disease_model("MI", "ecgqa-split").card.version
    assert dict(folds.probabilities) != dict(inside.probabilities)  # different weights, different outputs
    assert set(DISEASE_WEIGHT_SETS) == {"ptbxl-folds", "ecgqa-split"}
    with pytest.raises(UsageError, match="unknown disease weight set 'fold-10'"):
        load_disease_model("MI", weights="fold-10")
    with pytest.raises(UsageError, match="unknown disease weight set"):
        with use_disease_weights("nope"):
            pass


def test_the_explanations_follow_the_active_weight_set():
    from ecgqa_tools.grounding import explain

    ecg = load_example("ptbxl-00210")
    with use_disease_weights("ecgqa-split"):
        inside = explain(ecg, "MI", method="saliency")
    outside = explain(ecg, "MI", method="saliency")
    assert inside.values.shape == outside.values.shape
    assert not np.allclose(inside.values, outside.values)


@pytest.mark.data
def test_ecgqa_split_cards_saw_only_ecgqa_train_and_valid_ecgs(data_dir):
    from ecgqa_tools.encoders._jobs import ecgqa_split_ids

    split = {s: ecgqa_split_ids(data_dir, s) for s in ("train", "valid", "test")}
    for disease in DISEASES:
        card = load_disease_model(disease, "ecgqa-split").card
        assert set(card.train_ids) <= split["train"]
        assert set(card.selection_ids) <= split["valid"]
        assert not card.seen_ids & split["test"]
        fold_card = load_disease_model(disease).card
        assert fold_card.seen_ids & split["test"]  # why the benchmark needs this second set


def test_ecgqa_split_indices_follow_the_tsv_files_and_skip_excluded_records(tmp_path):
    from ecgqa_tools.encoders._jobs import disease_model_name, disease_split_indices

    folder = tmp_path / "ecg-qa" / "ptbxl"
    folder.mkdir(parents=True)
    for name, ids in {"train": [1, 2, 3, 4], "valid": [5, 6], "test": [7, 8, 99]}.items():
        (folder / f"{name}_ecgs.tsv").write_text("".join(f"{i}\t{e}\n" for i, e in enumerate(ids)))
    ecg_ids = np.arange(1, 9)
    folds = np.array([1, 9, 10, 2, 3, 10, 1, 9])
    labels = np.array([0, 1, np.nan, 0, 1, 0, np.nan, 1], dtype=np.float32)
    train, val, test = disease_split_indices(tmp_path, ecg_ids, folds, labels, "ecgqa")
    assert list(ecg_ids[train]) == [1, 2, 4] and list(ecg_ids[val]) == [5, 6] and list(ecg_ids[test]) == [8]
    train, val, test = disease_split_indices(tmp_path, ecg_ids, folds, labels, "ptbxl-folds")
    assert list(ecg_ids[train]) == [1, 4, 5] and list(ecg_ids[val]) == [2, 8] and list(ecg_ids[test]) == [6]
    assert disease_model_name("CD", "ecgqa") == "disease_CD_ecgqa" and disease_model_name("CD") == "disease_CD"
    with pytest.raises(UsageError, match="unknown split 'fold'"):
        disease_model_name("CD", "fold")
