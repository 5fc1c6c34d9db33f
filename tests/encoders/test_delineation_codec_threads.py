"""The codec rhythm layer runs on threads beside the boundary model: its failures come back as
package errors naming the lead, and a failure of the boundary stage stops the codec threads."""

from __future__ import annotations

import threading
import time

import pytest

from ecgqa_tools.encoders import _delineation, delineate
from ecgqa_tools.errors import ModelError
from ecgqa_tools.records import load_example


@pytest.fixture
def two_workers(monkeypatch):
    monkeypatch.setenv("ECGQA_DELINEATION_THREADS", "2")


def test_codec_failure_is_a_model_error_naming_the_lead(monkeypatch, two_workers):
    import openecg

    def broken(*args, **kwargs):
        raise RuntimeError("kaput")

    monkeypatch.setattr(openecg, "encode_stream", broken)
    ecg = load_example("ptbxl-00473")
    with pytest.raises(ModelError, match=r"codec failed on lead \w+: RuntimeError: kaput"):
        delineate(ecg)


def test_boundary_failure_cancels_the_codec_threads(monkeypatch, two_workers):
    import openecg

    calls: list[str] = []
    real = openecg.encode_stream

    def slow(*args, **kwargs):
        calls.append(threading.current_thread().name)
        time.sleep(0.2)
        return real(*args, **kwargs)

    def boundary_fails(*args, **kwargs):
        time.sleep(0.05)
        raise ModelError("boundary model failed")

    ecg = load_example("ptbxl-00473")
    delineate(ecg)  # load the models first, so the codec threads start at once below
    monkeypatch.setattr(openecg, "encode_stream", slow)
    monkeypatch.setattr(_delineation, "lead_probabilities", boundary_fails)
    rhythm_leads = _delineation.usable_rhythm_leads(ecg, _delineation.lead_quality(ecg), _delineation.RHYTHM_LEADS)
    assert len(rhythm_leads) >= 8  # more leads than the two threads start before the failure
    with pytest.raises(ModelError, match="boundary model failed"):
        _delineation.delineate_detailed(ecg)
    time.sleep(1.5)  # without cancelling, both threads would finish all their leads by now
    assert len(calls) <= 2 * 2, f"codec kept running after the failure: {len(calls)} of {len(rhythm_leads)} leads"
