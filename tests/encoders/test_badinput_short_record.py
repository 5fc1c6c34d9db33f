"""A record shorter than ``MIN_MODEL_SECONDS`` carries the short-record warning in
``predict_diseases`` (the public API) and so in ``ecgqa classify`` text and JSON (review M2: a
1.2 s normal record came out positive for all four diseases with no warning)."""

from __future__ import annotations

import json

import pytest

from ecgqa_tools.cli import main
from ecgqa_tools.encoders import MIN_MODEL_SECONDS, predict_diseases
from ecgqa_tools.records import load_example


@pytest.fixture(scope="module")
def short_ecg():
    ecg = load_example("ptbxl-00473")
    return ecg.with_signal(ecg.signal_mv[:, : int(1.2 * ecg.fs_hz)])


def test_predict_diseases_warns_on_short_record(short_ecg) -> None:
    assert short_ecg.duration_s < MIN_MODEL_SECONDS
    warnings = predict_diseases(short_ecg).warnings
    assert any("1.2 s long" in w and "zero-pad" in w for w in warnings)


def test_full_length_record_has_no_short_warning() -> None:
    assert not any("zero-pad" in w for w in predict_diseases(load_example("ptbxl-00473")).warnings)


def test_classify_cli_prints_the_warning(short_ecg, tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    import numpy as np

    path = tmp_path / "short.npz"
    np.savez(path, signal=short_ecg.signal_mv, fs_hz=short_ecg.fs_hz, lead_names=np.array(short_ecg.lead_names))
    assert main(["classify", str(path)]) == 0
    assert "Warning:" in capsys.readouterr().out
    assert main(["classify", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert any("1.2 s long" in w for w in out["warnings"])


def test_long_record_says_which_window_the_models_read() -> None:
    import numpy as np

    ecg = load_example("ptbxl-01386")
    long = ecg.with_signal(np.tile(ecg.signal_mv, 3))  # 30 s
    assert any("middle 10 s (10.0-20.0 s)" in w for w in predict_diseases(long).warnings)


def test_axis_model_carries_the_reader_notes() -> None:
    """review M8: `axis-ptbxl` on a header with negative gains said 'left (0.617)' with no warning."""
    from dataclasses import replace

    from ecgqa_tools.encoders import predict_axis_ptbxl

    ecg = load_example("ptbxl-01386")
    noted = replace(ecg, read_notes=("x.hea gives a negative ADC gain for every lead",))
    assert "x.hea gives a negative ADC gain for every lead" in predict_axis_ptbxl(noted).warnings
    assert predict_axis_ptbxl(ecg).warnings == ()
