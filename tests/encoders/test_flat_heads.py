"""A disease head whose hidden units are all inactive in every ensemble member gives a constant logit
(the mean of the members' final biases) whatever the ECG; ``predict_diseases`` lists it in
``DiseasePrediction.flat_heads`` from the logit alone (no gradient pass), on both backends, and
``classify`` prints a note (docs/encoders.md "Flat heads"). A tiny synthetic ensemble runs without
data; PTB Diagnostic s0010_re is such an ECG for the shipped MI head (docs/grounding.md "Saturated heads").
The constant is computed from the parameters when a model is saved and read from its card
(``ModelCard.head_constant``); a card without it falls back to the ``.pt`` parameters."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from ecgqa_tools.cli import main
from ecgqa_tools.encoders import (
    DiseaseModel,
    DiseasePrediction,
    _inference,
    flat_head_note,
    load_disease_model,
    predict_diseases,
)
from ecgqa_tools.encoders._cards import ModelCard
from ecgqa_tools.encoders._flat import _HEAD_BIAS, head_constant, torch_head_biases
from ecgqa_tools.encoders._nets import build_network
from ecgqa_tools.encoders._package import WEIGHTS_DIR, make_ensemble, save_model
from ecgqa_tools.records import ECG, load_example

TINY = {"channels": [4, 8], "kernel": 5, "hidden": 8}
FINAL_BIASES = (0.3, -0.1, 0.2)


def _tiny_model(tmp_path, dead_members: tuple[bool, ...]) -> DiseaseModel:
    """An ensemble of tiny LeadwiseNets saved like a shipped model; a dead member's hidden layer has
    zero weights and bias -1 (every hidden unit inactive for any input), a live one bias +1."""
    import torch

    members = [build_network("leadwise", TINY) for _ in dead_members]
    with torch.no_grad():
        for member, dead, bias in zip(members, dead_members, FINAL_BIASES):
            member.head[1].weight.zero_()
            member.head[1].bias.fill_(-1.0 if dead else 1.0)
            member.head[4].weight.fill_(0.5)
            member.head[4].bias.fill_(bias)
    card = ModelCard.load(WEIGHTS_DIR / "disease_MI.json")
    card = replace(card, hparams=dict(TINY), train_ids=(), selection_ids=(), history=[])
    folder = tmp_path / ("dead" if all(dead_members) else "live")
    save_model(make_ensemble(members), card, folder)
    return DiseaseModel("MI", directory=folder)


def _ecg(seed: int = 0) -> ECG:
    signal = np.random.default_rng(seed).standard_normal((12, 1000)).astype(np.float32) * 0.3
    return ECG.from_array(signal, 100.0)


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_dead_ensemble_is_flagged_live_ones_are_not(tmp_path, backend) -> None:
    x = np.stack([_ecg(s).signal_mv for s in range(3)])  # already (12, 1000) at 100 Hz: a model input
    dead = _tiny_model(tmp_path, (True, True, True))
    logits = dead.predict_logits(x, backend)
    constant = dead.head_constant(backend)
    assert dead.card.head_constant == constant  # written by save_model, read from the card
    assert constant.members == 3 and constant.logit == pytest.approx(np.mean(FINAL_BIASES), abs=1e-7)
    np.testing.assert_allclose(logits, constant.logit, atol=constant.tolerance)  # the same for every input
    assert dead.flat_logits(logits, backend).all()
    partly = _tiny_model(tmp_path / "p", (True, False, True))  # one live member: the output moves
    assert not partly.flat_logits(partly.predict_logits(x, backend), backend).any()
    # a logit just outside the tolerance is not flat
    assert not dead.flat_logits(np.array([constant.logit + 4 * constant.tolerance + 1e-9]), backend)[0]


def _onnx_head_biases(path) -> dict[str, np.ndarray]:
    """The head biases stored as initializers in an ONNX file, read with the ``onnx`` package."""
    import onnx
    from onnx import numpy_helper

    return {init.name: numpy_helper.to_array(init).astype(np.float32)
            for init in onnx.load(str(path)).graph.initializer if _HEAD_BIAS.match(init.name)}


def test_card_constant_matches_the_pt_and_onnx_weights_of_every_shipped_disease_model() -> None:
    """For all 8 shipped disease models: the card's constant == the one from the .pt parameters ==
    the one from the ONNX initializers (bit-identical biases in both files)."""
    names = sorted(path.stem for path in WEIGHTS_DIR.glob("disease_*.json"))
    assert len(names) == 8
    for name in names:
        disease = name.split("_")[1]
        weights = "ecgqa-split" if name.endswith("_ecgqa") else "ptbxl-folds"
        model = load_disease_model(disease, weights)
        onnx_biases, torch_biases = _onnx_head_biases(model._path(".onnx")), torch_head_biases(model.module)
        assert onnx_biases.keys() == torch_biases.keys() and onnx_biases
        for key in onnx_biases:
            np.testing.assert_array_equal(onnx_biases[key], torch_biases[key])
        stored = ModelCard.load(WEIGHTS_DIR / f"{name}.json").head_constant
        assert stored is not None, name
        assert stored == model.parameter_head_constant() == head_constant(torch_biases) == head_constant(onnx_biases)
        assert model.head_constant() is model.card.head_constant  # inference reads the card's value (both backends)
        assert model.flat_check_note is None


def _strip_card_constant(folder) -> None:
    """Rewrite the card in ``folder`` as a pre-session-10 one (no ``head_constant`` key)."""
    card_path = folder / "disease_MI.json"
    raw = json.loads(card_path.read_text())
    del raw["head_constant"]
    card_path.write_text(json.dumps(raw, indent=1))


def test_old_card_without_the_constant_falls_back_to_the_pt_parameters(tmp_path) -> None:
    saved = _tiny_model(tmp_path, (True, True, True))
    _strip_card_constant(saved.directory)
    old = DiseaseModel("MI", directory=saved.directory)
    assert old.card.head_constant is None
    assert old.head_constant("onnx") == old.head_constant("torch") == saved.card.head_constant
    assert old.flat_check_note is None
    assert old.flat_logits(old.predict_logits(_ecg().signal_mv[None], "onnx"), "onnx").all()


def test_a_network_without_a_constant_records_none_and_needs_no_weights(tmp_path) -> None:
    """A network without one single-output ``head`` (resnet12) has no constant: ``save_model`` writes
    ``"head_constant": null``, and a model loaded from that card answers None without reading the
    weights (before the review s10 fix the key was absent, the card looked pre-session-10 and the
    check fell back to the .pt: without it, "flat-head check unavailable")."""
    hparams = {"channels": [4, 4, 4, 4], "kernel": 5}
    card = replace(ModelCard.load(WEIGHTS_DIR / "disease_MI.json"), network="resnet12", hparams=hparams,
                   train_ids=(), selection_ids=(), history=[], head_constant=None, head_constant_computed=False)
    save_model(build_network("resnet12", hparams).eval(), card, tmp_path)
    raw = json.loads((tmp_path / "disease_MI.json").read_text())
    assert "head_constant" in raw and raw["head_constant"] is None
    loaded = ModelCard.load(tmp_path / "disease_MI.json")
    assert loaded.head_constant is None and loaded.head_constant_computed is True
    assert loaded.to_json() == (tmp_path / "disease_MI.json").read_text()  # round trip keeps the null
    (tmp_path / "disease_MI.pt").unlink()  # the ONNX backend needs only the .onnx and the card
    model = DiseaseModel("MI", directory=tmp_path)
    logits = model.predict_logits(_ecg().signal_mv[None], "onnx")
    assert model.head_constant("onnx") is None and not model.flat_logits(logits, "onnx").any()
    assert model.flat_check_note is None
    # a card without the key is still read as a pre-session-10 one
    del raw["head_constant"]
    assert ModelCard.load(_write_json(tmp_path / "old.json", raw)).head_constant_computed is False


def _write_json(path, raw) -> object:
    path.write_text(json.dumps(raw, indent=1))
    return path


def test_old_card_with_unreadable_weights_says_the_check_is_unavailable(tmp_path, monkeypatch) -> None:
    """No constant in the card and no .pt: the ONNX prediction still runs, nothing is called flat,
    and the prediction's notes say the check is unavailable (no crash)."""
    saved = _tiny_model(tmp_path, (True, True, True))
    _strip_card_constant(saved.directory)
    (saved.directory / "disease_MI.pt").unlink()
    old = DiseaseModel("MI", directory=saved.directory)
    assert old.head_constant("onnx") is None and not old.flat_logits(np.array([0.0])).any()
    assert old.flat_check_note.startswith("MI: flat-head check unavailable (model card disease_MI has no head_constant")
    monkeypatch.setattr(_inference, "load_disease_model", lambda disease, weights=None: old)
    pred = predict_diseases(_ecg(), diseases=("MI",))
    assert pred.flat_heads == () and pred.notes == (old.flat_check_note,)
    assert "note: MI: flat-head check unavailable" in pred.summary()


def test_predict_diseases_lists_the_flat_head_and_summary_notes_it(tmp_path, monkeypatch) -> None:
    dead = _tiny_model(tmp_path, (True, True, True))
    monkeypatch.setattr(_inference, "load_disease_model", lambda disease, weights=None: dead)
    for backend in ("onnx", "torch"):
        pred = predict_diseases(_ecg(), diseases=("MI",), backend=backend)
        assert pred.flat_heads == ("MI",)
        assert pred.flat_notes == (flat_head_note("MI", pred.probabilities["MI"]),)
        assert "the head's output is flat at this ECG" in pred.summary()
        assert "note: MI: the head's output is flat" in pred.summary()
        assert "Warning: MI" not in pred.summary()  # a note, not a warning
        assert not any("flat" in w for w in pred.warnings)


def test_a_normal_record_has_no_flat_head() -> None:
    pred = predict_diseases(load_example("ptbxl-00210"))
    assert pred.flat_heads == () and pred.flat_notes == ()
    assert "flat" not in pred.summary()
    assert DiseasePrediction({}, {}, {}).flat_notes == ()


def test_s0010_re_mi_head_is_flat_on_both_backends(ptbdb_dir, capsys) -> None:
    from ecgqa_tools.records import read_record

    ecg = read_record(ptbdb_dir / "s0010_re")
    for backend in ("onnx", "torch"):
        pred = predict_diseases(ecg, backend=backend)
        assert pred.flat_heads == ("MI",), backend  # STTC, CD, HYP are live there
        assert pred.probabilities["MI"] == pytest.approx(0.4996, abs=1e-4)
    assert main(["classify", str(ptbdb_dir / "s0010_re")]) == 0
    text = capsys.readouterr().out
    assert "note: MI: the head's output is flat at this ECG" in text and "0.50 is that constant" in text
    assert main(["classify", str(ptbdb_dir / "s0010_re"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["flat_heads"] == ["MI"]
    assert any("MI: the head's output is flat" in n for n in out["notes"])
    assert not any("flat" in w for w in out["warnings"])


def test_classify_json_of_a_normal_record_has_no_flat_head(capsys) -> None:
    assert main(["classify", "ptbxl-00210", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["flat_heads"] == [] and not any("flat" in n for n in out["notes"])
