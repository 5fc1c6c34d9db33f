"""The offline answerer under the ECG-QA numeric convention: ranges follow ECG-QA's measuring
convention, the clinical value is still cited next to it, and the default stays clinical."""

from __future__ import annotations

import pytest

from ecgqa_tools.errors import UsageError
from ecgqa_tools.llm import TOOLS, ToolContext, answer_offline, numeric_convention_of, use_numeric_convention

EXAMPLE = "ptbxl-00473"
QUESTION = "What range does the qrs duration of this ECG fall in?"


def test_convention_switch_changes_the_qrs_answer_and_cites_both():
    clinical_ctx = ToolContext()
    assert numeric_convention_of(clinical_ctx) == "clinical"
    clinical = answer_offline(EXAMPLE, QUESTION, context=clinical_ctx)
    ecgqa_ctx = ToolContext()
    use_numeric_convention(ecgqa_ctx, "ecgqa")
    ecgqa = answer_offline(EXAMPLE, QUESTION, context=ecgqa_ctx)
    assert clinical.template_id == ecgqa.template_id == 41
    # 12-lead QRS 100 ms is within; NeuroKit2's lead-II QRS (median ~410 ms per beat) is above ECG-QA's range
    assert clinical.answer == ("within the normal range",)
    assert ecgqa.answer == ("above the normal range",)
    cited = " ".join(e.statement for e in ecgqa.evidence if "qrs duration" in e.statement)
    assert "qrs duration 100 ms" in cited and "ECG-QA convention (NeuroKit2, lead II, per beat)" in cited
    assert "ECG-QA range 60-110 ms: above the normal range" in cited


def test_tool_output_keeps_clinical_values_and_adds_lead_ii_extremes():
    ctx = ToolContext()
    use_numeric_convention(ctx, "ecgqa")
    out = TOOLS.call("intervals_and_axis", {"record": EXAMPLE}, ctx).output
    assert out.values["qrs_duration_ms"] == pytest.approx(100.0, abs=1)
    assert out.values["ecgqa_qrs_duration_min_ms"] > 300 and out.ranges["qrs duration"] == "above the normal range"
    assert "ECG-QA convention" in out.provenance[0].source


def test_unknown_convention_is_refused():
    with pytest.raises(UsageError, match="unknown numeric convention"):
        use_numeric_convention(ToolContext(), "paper")
