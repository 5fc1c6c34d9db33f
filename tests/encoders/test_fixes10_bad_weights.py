"""A ``.pt`` that is not what ``save_model`` writes is a ``ModelError`` naming the problem, not a raw
``AttributeError`` (review s10 nit 6); for an old card (no ``head_constant``) the flat-head check
then says it is unavailable and the ONNX prediction still runs."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from ecgqa_tools.encoders import DiseaseModel
from ecgqa_tools.encoders._package import WEIGHTS_DIR
from ecgqa_tools.errors import ModelError


def _old_card_model(tmp_path, blob) -> DiseaseModel:
    import torch

    for suffix in (".json", ".onnx"):
        shutil.copy(WEIGHTS_DIR / f"disease_MI_ecgqa{suffix}", tmp_path)
    card = tmp_path / "disease_MI_ecgqa.json"
    raw = json.loads(card.read_text())
    del raw["head_constant"]  # a pre-session-10 card: the constant would come from the .pt
    card.write_text(json.dumps(raw))
    torch.save(blob, tmp_path / "disease_MI_ecgqa.pt")
    return DiseaseModel("MI", directory=tmp_path, weights="ecgqa-split")


@pytest.mark.parametrize(("blob", "found"), [([1, 2], "found a list"),
                                             ({"network": "leadwise"}, "found a dict without hparams, state_dict")])
def test_a_pt_that_is_not_a_weights_file_is_a_model_error(tmp_path, blob, found) -> None:
    model = _old_card_model(tmp_path, blob)
    with pytest.raises(ModelError, match=f"not a model weights file .*{found}"):
        _ = model.module
    logits = model.predict_logits(np.zeros((1, 12, 1000), np.float32))  # the ONNX backend still runs
    assert not model.flat_logits(logits).any()
    assert model.flat_check_note is not None and "not a model weights file" in model.flat_check_note
