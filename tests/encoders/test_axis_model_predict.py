"""The shipped learned PTB-XL axis classifier (``axis_ptbxl``): weights load, outputs are
probabilities, the CLI prints what the API returns, bad input errors, the development job resumes
from its per-fold files, and the bench refuses records the model was trained or selected on."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ecgqa_tools.cli import main
from ecgqa_tools.encoders import (
    AXIS_CLASSES,
    AXIS_PTBXL_LABELS,
    AxisClassPrediction,
    load_axis_model,
    predict_axis_ptbxl,
)
from ecgqa_tools.errors import LeakageError, ModelError, RecordError, UsageError
from ecgqa_tools.records import ECG, load_example

EXAMPLE = "ptbxl-00210"  # strat_fold 10: not seen by the model


def test_shipped_weights_load_with_their_card():
    model = load_axis_model()
    card = model.card
    assert card.name == "axis_ptbxl" and tuple(card.outputs) == AXIS_CLASSES == ("left", "normal", "right")
    assert tuple(card.input_shape) == (6, 1000)
    assert len(model.members) == len(card.train_config["seeds"]) == 3
    assert card.train_ids and card.selection_ids and not set(card.train_ids) & set(card.selection_ids)
    assert card.training_command.startswith("ecgqa train axis-ptbxl")
    dev = card.metrics["development_lofo_records100"]
    assert dev["records"] == 339 and 0 <= dev["correct"] <= 339


def test_prediction_is_a_probability_over_the_three_classes():
    pred = predict_axis_ptbxl(load_example(EXAMPLE))
    assert isinstance(pred, AxisClassPrediction)
    assert set(pred.probabilities) == set(AXIS_CLASSES)
    probs = np.array([pred.probabilities[c] for c in AXIS_CLASSES])
    assert np.all((probs >= 0) & (probs <= 1)) and abs(probs.sum() - 1) < 1e-6
    assert pred.axis_class == AXIS_CLASSES[int(np.argmax(probs))]
    assert pred.model_version == load_axis_model().card.version and pred.axis_class in pred.summary()


def test_batch_probabilities_match_the_single_record_call():
    model = load_axis_model()
    ecgs = [load_example(name) for name in ("ptbxl-00210", "ptbxl-00377")]
    batch = model.predict_proba(np.stack([model.preprocess(e) for e in ecgs]))
    assert batch.shape == (2, 3)
    for row, ecg in zip(batch, ecgs):
        single = predict_axis_ptbxl(ecg).probabilities
        assert np.allclose(row, [single[c] for c in AXIS_CLASSES], atol=1e-6)


def test_cli_prints_the_class_the_api_returns(capsys):
    pred = predict_axis_ptbxl(load_example(EXAMPLE))
    assert main(["axis-ptbxl", EXAMPLE, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["axis_class"] == pred.axis_class and out["record"].endswith(EXAMPLE)
    assert out["probabilities"] == pytest.approx(pred.probabilities) and "disclaimer" in out
    assert main(["axis-ptbxl", EXAMPLE]) == 0
    assert f"axis_ptbxl v{pred.model_version}): {pred.axis_class} (" in capsys.readouterr().out


def test_bad_input_errors(tmp_path, capsys):
    fs, n = 500.0, 5000
    precordial = ECG.from_array(np.random.default_rng(0).standard_normal((6, n)), fs,
                                ("V1", "V2", "V3", "V4", "V5", "V6"))
    with pytest.raises(RecordError):
        predict_axis_ptbxl(precordial)  # no limb lead
    flat = ECG.from_array(np.zeros((12, n)), fs, ("I", "II", "III", "aVR", "aVL", "aVF",
                                                  "V1", "V2", "V3", "V4", "V5", "V6"))
    with pytest.raises(RecordError, match="flat"):
        predict_axis_ptbxl(flat)
    with pytest.raises(ModelError, match="6"):
        load_axis_model().predict_proba(np.zeros((1, 12, 1000), dtype=np.float32))
    assert main(["axis-ptbxl", str(tmp_path / "missing.hea")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Traceback" not in err


def test_label_map_is_the_benchmarks():
    from ecgqa_tools.eval import PTBXL_AXIS_MAP

    assert AXIS_PTBXL_LABELS == PTBXL_AXIS_MAP


def test_development_job_resumes_from_its_fold_files(tmp_path):
    """Finished folds are read back, not retrained; a fold without predictions for its records errors."""
    from ecgqa_tools.encoders._axis_model import AxisData, run_axis_development

    ids = np.arange(1, 17)
    folds = np.repeat(np.arange(1, 9), 2)
    labels = np.array(["left", "normal"] * 8)
    data = AxisData(ids, np.zeros((16, 6, 10), np.float16), np.array(["records100", "filtered"] * 8),
                    np.zeros((16, 3), np.float32), labels, folds)
    dev_dir = tmp_path / "dev"
    dev_dir.mkdir()
    for k in range(1, 9):
        preds = {str(i): [0.7, 0.2, 0.1] for i in ids[folds == k]}  # always "left"
        member = {"seed": 0, "best_epoch": 1, "selection_macro_auc": 0.5, "train_seconds": 2.0}
        (dev_dir / f"fold{k}.json").write_text(json.dumps({"fold": k, "members": [member], "predictions": preds}))
    dev = run_axis_development(data, tmp_path)
    assert dev.count("records100") == (8, 8) and dev.count("filtered") == (0, 8)
    assert dev.confusion("filtered")["normal"]["left"] == 8 and dev.train_seconds == 16.0
    (dev_dir / "fold3.json").write_text(json.dumps({"fold": 3, "members": [], "predictions": {}}))
    with pytest.raises(UsageError, match="no prediction for 2"):
        run_axis_development(data, tmp_path)


def test_wilson_interval():
    from ecgqa_tools.eval._axis_bench import wilson_interval

    low, high = wilson_interval(123, 132)
    assert low == pytest.approx(0.875, abs=1e-3) and high == pytest.approx(0.964, abs=1e-3)  # session 3's numbers
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_bench_refuses_records_the_model_saw(ptbxl_dir):
    from ecgqa_tools.eval._axis_bench import run_axis_model_ptbxl

    with pytest.raises(LeakageError, match="refusing"):
        run_axis_model_ptbxl(ptbxl_dir, 100, (8,), progress=False)
