"""The faster codec path of the delineation (refinement stage on distinct columns only,
``compact_codec_graph``) answers bit for bit like the graph as shipped, on real leads."""

from __future__ import annotations

import numpy as np
import pytest

from ecgqa_tools.encoders import _delineation as dl
from ecgqa_tools.records import load_example, resample

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def _session(model) -> object:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def _codec_inputs(name: str) -> list[np.ndarray]:
    from openecg.dsp import rank_normalize

    ecg = resample(load_example(name), 500.0)
    return [np.asarray(rank_normalize(np.asarray(x[:5000], dtype=np.float32)), dtype=np.float32)[None]
            for x in ecg.signal_mv]


def test_compact_codec_graph_gives_bit_identical_heads_on_every_lead():
    from openecg.deploy import bundled_codec_onnx_path

    path = str(bundled_codec_onnx_path())
    compact = dl.compact_codec_graph(path)
    assert compact is not None, "the bundled codec is not the checked file"
    model, rows = compact
    assert rows.shape == (5000,) and rows.max() == 4499 and np.all(np.diff(rows) >= 0)
    shipped, fast = _session(path), dl.RowExpandedSession(_session(model), rows)
    name = shipped.get_inputs()[0].name
    leads = 0
    for example in ("ptbxl-00210", "ptbxl-01386"):  # 500 Hz and 100 Hz originals
        for x in _codec_inputs(example):
            expected, got = shipped.run(None, {name: x}), fast.run(None, {name: x})
            assert len(expected) == len(got) == 3
            for e, g in zip(expected, got):  # frame, beat and rhythm logits
                assert e.shape == g.shape and np.array_equal(e, g)
            leads += 1
    assert leads == 24


def test_codec_sessions_of_the_pipeline_encode_like_openecg_default(tmp_path):
    import openecg

    codec = dl._codec_models(1)[0]
    assert isinstance(codec._sess, dl.RowExpandedSession)
    default = openecg.load_codec_onnx()  # openecg's own session of the shipped graph
    ecg = resample(load_example("ptbxl-00473"), 500.0)
    for lead in ("II", "V1", "V5"):
        x = ecg.lead(lead).astype(np.float32)
        a = openecg.encode_stream(x, fs=500, model=default)
        b = openecg.encode_stream(x, fs=500, model=codec)
        assert np.array_equal(a.channels, b.channels)  # frame, beat and rhythm layers


def test_a_different_codec_file_runs_as_shipped(tmp_path):
    from openecg.deploy import bundled_codec_onnx_path

    other = tmp_path / "codec.onnx"
    other.write_bytes(bundled_codec_onnx_path().read_bytes() + b"\0")
    assert dl.compact_codec_graph(str(other)) is None
