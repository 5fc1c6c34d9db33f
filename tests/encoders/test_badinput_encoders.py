"""Bad input to the encoders API and ``ecgqa classify`` / ``measure`` / ``tokens``: flat records,
wrong argument types, .npy files without a stored rate (``--fs``)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ecgqa_tools import cli
from ecgqa_tools.encoders import (delineate, estimate_age_sex, model_input_warnings, predict_attributes,
                                  predict_diseases, tokenize_lead)
from ecgqa_tools.errors import RecordError, UsageError
from ecgqa_tools.records import ECG, STANDARD_LEADS, load_example


def _flat_ecg() -> ECG:
    return ECG.from_array(np.zeros((12, 1000), dtype=np.float32), 100.0, STANDARD_LEADS, record_id="all_zero")


def _one_flat_lead() -> ECG:
    ecg = load_example("ptbxl-00473")
    signal = ecg.signal_mv.copy()
    signal[1] = 0.0
    return ecg.with_signal(signal)


@pytest.mark.parametrize("predict", [predict_diseases, predict_attributes, estimate_age_sex])
def test_models_refuse_a_record_flat_in_every_lead(predict):
    with pytest.raises(RecordError, match="every lead of all_zero is flat.*no ECG signal for the models"):
        predict(_flat_ecg())


def test_disease_prediction_carries_quality_warnings():
    prediction = predict_diseases(_one_flat_lead())
    assert len(prediction.warnings) == 1 and "flat lead(s): II" in prediction.warnings[0]
    assert "Warning: signal quality" in prediction.summary()
    assert predict_diseases(load_example("ptbxl-00473")).warnings == ()
    assert model_input_warnings(load_example("ptbxl-00473")) == ()


@pytest.mark.parametrize("call", [predict_diseases, predict_attributes, estimate_age_sex, delineate, tokenize_lead,
                                  model_input_warnings])
@pytest.mark.parametrize("value", [None, np.zeros((12, 1000))])
def test_api_takes_an_ecg_not_none_or_an_array(call, value):
    expected = "ECG.from_array" if isinstance(value, np.ndarray) else "NoneType"
    with pytest.raises(UsageError, match=rf"{call.__name__} takes an ECG .*{expected}"):
        call(value)


def test_cli_classify_refuses_an_all_flat_record(tmp_path, capsys):
    path = tmp_path / "all_zero.npz"
    np.savez(path, signal=np.zeros((12, 1000)), fs_hz=100.0)
    assert cli.main(["classify", str(path), "--age-sex"]) == 1
    captured = capsys.readouterr()
    assert "is flat" in captured.err and "no ECG signal" in captured.err
    assert "positive" not in captured.out and "age" not in captured.out


def test_cli_classify_prints_and_returns_warnings(tmp_path, capsys):
    path = tmp_path / "one_flat.npz"
    np.savez(path, signal=_one_flat_lead().signal_mv, fs_hz=500.0)
    assert cli.main(["classify", str(path)]) == 0
    assert "Warning: signal quality of one_flat: flat lead(s): II" in capsys.readouterr().out
    assert cli.main(["classify", str(path), "--json"]) == 0
    assert "flat lead(s): II" in json.loads(capsys.readouterr().out)["warnings"][0]


@pytest.mark.parametrize("command", ["classify", "measure", "tokens", "info"])
def test_cli_fs_reads_a_npy_without_a_rate(tmp_path, capsys, command):
    path = tmp_path / "rec.npy"
    np.save(path, load_example("ptbxl-00473").signal_mv)
    assert cli.main([command, str(path)]) == 1
    err = capsys.readouterr().err
    assert "sampling rate is unknown" in err and "--fs HZ" in err and "info/plot" not in err
    assert cli.main([command, str(path), "--fs", "500"]) == 0
    out = capsys.readouterr().out
    assert "rec" in out or "lead II" in out
