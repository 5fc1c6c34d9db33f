"""Session-7b review: under the ECG-QA numeric convention ``intervals_and_axis`` takes the QRS state
from its own 12-lead measurement (the chosen delineator's), without measuring the ECG again."""

from __future__ import annotations

import pytest

from ecgqa_tools.llm import TOOLS, ToolContext, use_numeric_convention
from ecgqa_tools.records import load_example

from .conftest import FakeBackend


@pytest.mark.parametrize("method", ["openecg", "neurokit2"])
def test_ecgqa_qrs_state_comes_from_the_tools_own_measurement(method, monkeypatch):
    from ecgqa_tools.grounding import _measure

    def refuse(*_a, **_k):
        raise AssertionError("measure() ran a second time")

    monkeypatch.setattr(_measure, "measure", refuse)
    ctx = ToolContext(backend=FakeBackend())  # its measurement: QRS 96 ms
    use_numeric_convention(ctx, "ecgqa")
    ctx.add_record("rec", load_example("ptbxl-00473"))
    out = TOOLS.call("intervals_and_axis", {"record": "rec", "method": method}, ctx).output
    assert ctx.backend.calls.count("measure") == 1
    assert out.values["ecgqa_qrs_duration_ms"] == 96.0
    assert out.ranges["qrs duration"] == "within the normal range"
    assert out.values["ecgqa_pr_interval_ms"] is not None  # lead-II beats measured by NeuroKit2
