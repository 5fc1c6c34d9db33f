"""``export_onnx`` keeps torch's TorchScript exporter (the dynamo one needs onnxscript, is 15x slower
and still warns; see the comment in ``encoders._package``) and silences exactly its two
DeprecationWarnings; the exported model still agrees with torch to 1e-4."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from ecgqa_tools.encoders import load_disease_model, preprocess_ecg
from ecgqa_tools.encoders._package import export_onnx
from ecgqa_tools.records import list_examples, load_example


def _inputs() -> np.ndarray:
    return np.stack([preprocess_ecg(load_example(n)) for n in list_examples()[:3]])


def test_export_gives_no_deprecation_warning_and_agrees_with_torch(tmp_path) -> None:
    import onnxruntime as ort
    import torch

    model = load_disease_model("MI")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        path = export_onnx(model.module, model.card, tmp_path / "mi.onnx")
    x = _inputs()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with torch.inference_mode():
        expected = model.module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(session.run(None, {"ecg": x})[0], expected, atol=1e-4, rtol=0)


def test_only_the_two_legacy_exporter_warnings_are_silenced(tmp_path, monkeypatch) -> None:
    import torch

    real_export = torch.onnx.export

    def noisy_export(*args, **kwargs):  # the real export, plus the two known warnings and one other
        warnings.warn("You are using the legacy TorchScript-based ONNX export. Starting in ...", DeprecationWarning)
        warnings.warn("The feature will be removed. Please remove usage of this function", DeprecationWarning)
        warnings.warn("some other deprecation", DeprecationWarning)
        return real_export(*args, **kwargs)

    monkeypatch.setattr(torch.onnx, "export", noisy_export)
    model = load_disease_model("HYP")
    with pytest.warns(DeprecationWarning) as caught:
        export_onnx(model.module, model.card, tmp_path / "hyp.onnx")
    assert [str(w.message) for w in caught] == ["some other deprecation"]
