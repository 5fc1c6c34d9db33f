"""Session-7 review: a record file rewritten between tool calls is read again (no stale results)."""

from __future__ import annotations

import os

import numpy as np

from ecgqa_tools.llm import TOOLS, ToolContext, answer_offline

from .conftest import FakeBackend, synthetic_ecg


class SignalBackend(FakeBackend):
    """MI probability = the record's largest amplitude / 10: differs when the file's signal differs."""

    def predict_diseases(self, ecg):
        result = super().predict_diseases(ecg)
        result.probabilities["MI"] = round(float(np.abs(ecg.signal_mv).max()) / 10, 4)
        return result


def _write(path, scale: float) -> None:
    ecg = synthetic_ecg("f")
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, ecg.signal_mv * scale)
    os.replace(tmp, path)


def test_an_overwritten_record_file_is_read_again_and_its_cached_results_dropped(tmp_path):
    path = tmp_path / "latest.npy"
    _write(path, 1.0)
    ctx = ToolContext(backend=SignalBackend(), extra_roots=[tmp_path], fs_hz=500)
    first = TOOLS.run("disease_probabilities", ctx, record=str(path)).probabilities["MI"]
    again = TOOLS.run("disease_probabilities", ctx, record=str(path)).probabilities["MI"]
    assert ctx.backend.calls.count("predict_diseases") == 1 and again == first  # unchanged file: cached
    _write(path, 3.0)
    os.utime(path, ns=(1, 1))  # a different mtime even on a coarse clock (the size is the same)
    second = TOOLS.run("disease_probabilities", ctx, record=str(path)).probabilities["MI"]
    assert second == round(3 * first, 4) and ctx.backend.calls.count("predict_diseases") == 2
    answer = answer_offline(str(path), "Is there a heart attack?", context=ctx)
    assert any(f"probability {second:.2f}" in e.statement for e in answer.evidence)


def test_in_memory_records_stay_loaded(context):
    ref, ecg = context.load("syn1")
    assert context.load("syn1")[1] is ecg and context.load(ref.canonical)[1] is ecg
