"""Session-7b review: ``measure_ecgqa`` takes the 12-lead values it needs without measuring again,
and has a per-beat-only path (the benchmark caches the 12-lead measurement separately)."""

from __future__ import annotations

import pytest

from ecgqa_tools.grounding import measure_ecgqa
from ecgqa_tools.records import load_example


@pytest.fixture(scope="module")
def example():
    return load_example("ptbxl-00473")


@pytest.fixture
def no_twelve_lead(monkeypatch):
    """Fail if the 12-lead ``measure()`` runs."""
    from ecgqa_tools.grounding import _measure

    def refuse(*_a, **_k):
        raise AssertionError("measure() ran again")

    monkeypatch.setattr(_measure, "measure", refuse)


def test_per_beat_only_skips_the_twelve_lead_measurement(example, no_twelve_lead):
    beats = measure_ecgqa(example, per_beat_only=True)
    with_clinical = measure_ecgqa(example, clinical={"qrs_duration": 100.0})
    assert beats.per_beat_ms == with_clinical.per_beat_ms and beats.per_beat_ms["pr interval"]
    assert beats.clinical_ms == {}
    states = beats.range_attributes()
    assert states["qrs duration"] is None  # its state comes from the 12-lead value, not measured here
    assert states["pr interval"] == with_clinical.range_attributes()["pr interval"]


def test_twelve_lead_values_given_as_a_mapping_decide_the_clinical_states(example, no_twelve_lead):
    wide = measure_ecgqa(example, clinical={"qrs_duration": 130.0})
    assert wide.convention_value_ms("qrs duration") == 130.0
    assert wide.range_attributes()["qrs duration"] == "above"
    missing = measure_ecgqa(example, clinical={"qrs_duration": None})
    assert missing.range_attributes()["qrs duration"] is None
    assert "12-lead" in missing.clinical_reasons["qrs duration"]
