"""Session-7b review: the learned PTB-XL axis classifier warns on records shorter than the 10 s it
reads (it zero-pads them; a 3 s cut gave 'normal' 0.995 with no word of caution), as the llm tools do."""

from __future__ import annotations

import json

import pytest

from ecgqa_tools.cli import main
from ecgqa_tools.encoders import MIN_MODEL_SECONDS, predict_axis_ptbxl, short_record_warning
from ecgqa_tools.records import load_example


@pytest.fixture(scope="module")
def example():
    return load_example("ptbxl-00473")


def _cut(ecg, seconds: float):
    return ecg.with_signal(ecg.signal_mv[:, : int(seconds * ecg.fs_hz)])


def test_a_short_record_gets_a_warning_and_a_full_one_none(example):
    short = predict_axis_ptbxl(_cut(example, 3.0))
    assert len(short.warnings) == 1 and "3.0 s long" in short.warnings[0] and "zero-pad" in short.warnings[0]
    assert "Warning: " in short.summary()
    assert predict_axis_ptbxl(example).warnings == ()
    assert predict_axis_ptbxl(_cut(example, MIN_MODEL_SECONDS)).warnings == ()  # the limit itself is fine


def test_the_llm_tools_and_the_axis_model_share_the_limit():
    assert short_record_warning("r", MIN_MODEL_SECONDS - 0.1, "x read") is not None
    assert short_record_warning("r", MIN_MODEL_SECONDS, "x read") is None


def test_cli_json_carries_the_warning(tmp_path, capsys, example):
    import numpy as np

    path = tmp_path / "short.npy"
    np.save(path, _cut(example, 3.0).signal_mv.T)
    assert main(["axis-ptbxl", str(path), "--fs", "500", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["warnings"] and "3.0 s long" in out["warnings"][0]
