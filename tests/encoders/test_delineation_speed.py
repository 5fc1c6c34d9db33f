"""Parallel boundary-model invocation: bit-identical logits and delineations whatever the number of
interpreters or the grouping of windows per call."""

from __future__ import annotations

import numpy as np
import pytest

from ecgqa_tools.encoders import _delineation as dl
from ecgqa_tools.errors import UsageError
from ecgqa_tools.records import ECG


def _ludb(ludb_dir, n: int) -> ECG:
    from ecgqa_tools.records import Ludb

    return Ludb(ludb_dir).read(n)


def _windows(ecg: ECG) -> np.ndarray:
    x250 = dl._to_rate(ecg.signal_mv, ecg.fs_hz, dl.MODEL_FS_HZ)
    return np.stack([row[s:s + dl.WINDOW_SAMPLES] for row in x250
                     for s in dl.window_starts(x250.shape[1], dl.WINDOW_SAMPLES, 500)])


def test_parallel_logits_equal_one_interpreter_window_by_window(ludb_dir):
    from openecg.deploy import Inference

    windows = _windows(_ludb(ludb_dir, 1))[:7]
    single = Inference(num_threads=1)
    expected = np.stack([single.forward_window(w) for w in windows])
    for workers in (1, 2, 3):
        assert np.array_equal(dl.boundary_logits(windows, workers=workers), expected)


def test_delineation_is_identical_with_one_or_two_interpreters(ludb_dir, monkeypatch):
    ecgs = [_ludb(ludb_dir, n) for n in (2, 7)]
    results = {}
    for workers in ("1", "2"):
        monkeypatch.setenv("ECGQA_DELINEATION_THREADS", workers)
        results[workers] = [dl.delineate_detailed(ecg) for ecg in ecgs]
    for one, two in zip(results["1"], results["2"]):
        assert one.delineation.waves == two.delineation.waves
        assert one.rhythm == two.rhythm and one.unusable_leads == two.unusable_leads


def test_long_record_windows_grouped_per_call_give_the_same_probabilities(ludb_dir, monkeypatch):
    ecg = _ludb(ludb_dir, 3)
    long = ECG.from_array(np.concatenate([ecg.signal_mv] * 3, axis=1), ecg.fs_hz, ecg.lead_names)
    monkeypatch.setenv("ECGQA_DELINEATION_THREADS", "2")
    together = dl.lead_probabilities(long)
    n_windows = len(dl.window_starts(together.n_samples_250, dl.WINDOW_SAMPLES, 500))
    assert n_windows > 1
    for cap in (2 * n_windows, 1):  # two leads per call; one lead per call (cap below one lead)
        monkeypatch.setattr(dl, "MAX_WINDOWS_PER_CALL", cap)
        assert np.array_equal(dl.lead_probabilities(long).probs, together.probs)


def test_worker_count_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("ECGQA_DELINEATION_THREADS", "3")
    assert dl.delineation_workers() == 3
    monkeypatch.setenv("ECGQA_DELINEATION_THREADS", "many")
    with pytest.raises(UsageError, match="ECGQA_DELINEATION_THREADS"):
        dl.delineation_workers()
    monkeypatch.delenv("ECGQA_DELINEATION_THREADS")
    assert 1 <= dl.delineation_workers() <= 2


def test_codec_rhythm_fractions_match_the_default_session_lead_by_lead(ludb_dir, monkeypatch):
    import openecg

    ecg = _ludb(ludb_dir, 5)
    leads = tuple(ecg.lead_names)
    default = openecg.load_codec_onnx()  # openecg's own session (two onnxruntime threads)
    counts = np.zeros(6)
    for name in leads:
        x = dl._to_rate(ecg.lead(name), ecg.fs_hz, 500.0)
        counts += np.bincount(openecg.encode_stream(x, fs=500, model=default).rhythm, minlength=6)[:6]
    expected = counts / counts.sum()
    for workers in ("1", "2"):
        monkeypatch.setenv("ECGQA_DELINEATION_THREADS", workers)
        assert np.array_equal(dl.codec_rhythm_fractions(ecg, leads), expected)


def test_concurrent_delineations_share_the_interpreters_safely(ludb_dir, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setenv("ECGQA_DELINEATION_THREADS", "2")
    ecgs = [_ludb(ludb_dir, n) for n in (2, 7, 2, 7)]
    alone = [dl.delineate(ecg).waves for ecg in ecgs[:2]]
    with ThreadPoolExecutor(4) as pool:
        together = [d.waves for d in pool.map(dl.delineate, ecgs)]
    assert together == alone + alone
