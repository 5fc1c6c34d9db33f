"""Model tools carry the record's quality warnings (the LLM sees what ``DiseasePrediction.warnings``
holds); on an all-flat record they refuse while record_summary / intervals_and_axis still answer."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ecgqa_tools.llm import TOOLS
from ecgqa_tools.records import ECG, STANDARD_LEADS

from .conftest import synthetic_ecg


def _one_flat_lead(lead: str = "II") -> ECG:
    ecg = synthetic_ecg()
    signal = ecg.signal_mv.copy()
    signal[ecg.lead_names.index(lead)] = 0.0
    return ECG.from_array(signal, ecg.fs_hz, ecg.lead_names, record_id="one_flat", source="synthetic")


MODEL_TOOLS = {
    "disease_probabilities": {}, "ecgqa_attributes": {}, "attribution_evidence": {"disease": "MI"},
    "age_sex_estimate": {},
}


@pytest.mark.parametrize("tool", sorted(MODEL_TOOLS))
def test_partly_flat_record_warnings_reach_the_model(context, tool):
    context.add_record("one_flat", _one_flat_lead())
    result = TOOLS.call(tool, {"record": "one_flat", **MODEL_TOOLS[tool]}, context)
    assert result.ok
    (warning,) = result.output.warnings
    assert warning.startswith("signal quality of memory:one_flat: flat lead(s): II")
    assert "warnings" in json.loads(result.output.model_dump_json())  # in what the agent/MCP send


@pytest.mark.parametrize("tool", sorted(MODEL_TOOLS))
def test_clean_record_has_empty_warnings(context, tool):
    assert TOOLS.call(tool, {"record": "syn1", **MODEL_TOOLS[tool]}, context).output.warnings == []


def test_compare_ecgs_carries_the_warnings_of_either_record(context):
    context.add_record("one_flat", _one_flat_lead())
    for pair in (("one_flat", "syn1"), ("syn1", "one_flat")):
        out = TOOLS.run("compare_ecgs", context, record_a=pair[0], record_b=pair[1])
        (warning,) = out.warnings
        assert warning.startswith("signal quality of memory:one_flat: flat lead(s): II")
    assert TOOLS.run("compare_ecgs", context, record_a="syn1", record_b="syn1").warnings == []


def test_warnings_match_the_encoders_check(context):
    from ecgqa_tools.encoders import model_input_warnings

    ecg = _one_flat_lead("V3")
    context.add_record("v3", ecg)
    out = TOOLS.run("disease_probabilities", context, record="v3")
    assert tuple(out.warnings) == model_input_warnings(ecg, name="memory:v3")


def test_a_reader_note_is_its_own_line_not_a_lead_finding(context):
    """Review s8 S5: an ignored --fs read 'signal quality of ...: fs_hz/--fs 250 Hz ignored ...;
    outputs resting on these leads may be wrong'."""
    from dataclasses import replace

    from ecgqa_tools.encoders import model_input_warnings

    note = "x.hea gives 500 Hz; fs_hz/--fs 250 Hz ignored"
    noted = replace(synthetic_ecg(), read_notes=(note,))
    assert model_input_warnings(noted, name="x") == (f"reading x: {note}",)
    both = replace(_one_flat_lead(), read_notes=(note,))
    first, second = model_input_warnings(both, name="x")
    assert first == f"reading x: {note}"
    assert second.startswith("signal quality of x: flat lead(s): II") and note not in second
    context.add_record("noted", noted)
    assert TOOLS.run("disease_probabilities", context, record="noted").warnings == [f"reading memory:noted: {note}"]


def test_all_flat_record_model_tools_refuse_descriptive_tools_answer(context, backend):
    context.add_record("flat", ECG.from_array(np.zeros((12, 5000)), 500.0, STANDARD_LEADS, record_id="flat"))
    for tool in ("disease_probabilities", "ecgqa_attributes"):
        assert not TOOLS.call(tool, {"record": "flat"}, context).ok
    summary = TOOLS.call("record_summary", {"record": "flat"}, context)
    assert summary.ok and len(summary.output.flat_leads) == 12
    assert TOOLS.call("intervals_and_axis", {"record": "flat"}, context).ok
    assert "predict_diseases" not in backend.calls and "predict_attributes" not in backend.calls


@pytest.mark.parametrize("tool", ["disease_probabilities", "ecgqa_attributes"])
def test_quality_is_checked_once_per_tool_call(context, monkeypatch, tool):
    calls = []
    original = ECG.quality

    def counting(self, *args, **kwargs):
        calls.append(self.record_id)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(ECG, "quality", counting)
    context.add_record("one_flat", _one_flat_lead())
    assert TOOLS.run(tool, context, record="one_flat").warnings
    assert calls == ["one_flat"]
