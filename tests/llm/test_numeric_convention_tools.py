"""The offline answerer under the ECG-QA numeric convention: ranges follow ECG-QA's measuring
convention, the clinical value is still cited next to it, and the default stays clinical."""

from __future__ import annotations

import pytest

from ecgqa_tools.errors import UsageError
from ecgqa_tools.llm import TOOLS, ToolContext, answer_offline, numeric_convention_of, use_numeric_convention

EXAMPLE = "ptbxl-00473"
QUESTION = "What range does the pr interval of this ECG fall in?"


def test_convention_switch_changes_the_qrs_answer_and_cites_both():
    clinical_ctx = ToolContext()
    assert numeric_convention_of(clinical_ctx) == "clinical"
    clinical = answer_offline(EXAMPLE, QUESTION, context=clinical_ctx)
    ecgqa_ctx = ToolContext()
    use_numeric_convention(ecgqa_ctx, "ecgqa")
    ecgqa = answer_offline(EXAMPLE, QUESTION, context=ecgqa_ctx)
    assert clinical.template_id == ecgqa.template_id == 41
    # 12-lead PR 172 ms is within; NeuroKit2's lead-II median PR beat (~66 ms) is below ECG-QA's range
    assert clinical.answer == ("within the normal range",)
    assert ecgqa.answer == ("below the normal range",)
    cited = " ".join(e.statement for e in ecgqa.evidence if "pr interval" in e.statement)
    assert "pr interval 172 ms" in cited and "ECG-QA convention (NeuroKit2, lead II, median beat): 66 ms" in cited
    assert "ECG-QA range 120-200 ms: below the normal range" in cited


def test_qrs_evidence_names_the_12_lead_value_the_convention_state_comes_from():
    ctx = ToolContext()
    use_numeric_convention(ctx, "ecgqa")
    got = answer_offline(EXAMPLE, "What range does the qrs duration of this ECG fall in?", context=ctx)
    assert got.answer == ("within the normal range",)
    cited = " ".join(e.statement for e in got.evidence if "qrs duration" in e.statement)
    # the state is decided from the 12-lead 100 ms (session 7b); the lead-II beats are shown as not used
    assert "qrs duration 100 ms" in cited
    assert "this 12-lead value against ECG-QA's range 60-110 ms: within the normal range" in cited
    assert "lead-II beats, not used" in cited


def test_tool_output_keeps_clinical_values_and_adds_lead_ii_extremes():
    ctx = ToolContext()
    use_numeric_convention(ctx, "ecgqa")
    out = TOOLS.call("intervals_and_axis", {"record": EXAMPLE}, ctx).output
    assert out.values["qrs_duration_ms"] == pytest.approx(100.0, abs=1)
    assert out.values["ecgqa_qrs_duration_min_ms"] > 300
    # the value each convention range was decided from: QRS the 12-lead value, PR the median lead-II beat
    assert out.values["ecgqa_qrs_duration_ms"] == pytest.approx(out.values["qrs_duration_ms"])
    assert out.values["ecgqa_pr_interval_min_ms"] <= out.values["ecgqa_pr_interval_ms"] <= out.values["ecgqa_pr_interval_max_ms"]
    # QRS's ECG-QA state comes from the 12-lead QRS (session 7b), not from the lead-II beats
    assert out.ranges["qrs duration"] == "within the normal range"
    assert out.ranges["pr interval"] == "below the normal range"
    assert "ECG-QA convention" in out.provenance[0].source


def test_unknown_convention_is_refused():
    with pytest.raises(UsageError, match="unknown numeric convention"):
        use_numeric_convention(ToolContext(), "paper")


def test_numeric_ask_flag_switches_the_convention(capsys):
    import json

    from ecgqa_tools import cli

    assert cli.main(["ask", EXAMPLE, QUESTION, "--json"]) == 0
    default = json.loads(capsys.readouterr().out)
    assert cli.main(["ask", EXAMPLE, QUESTION, "--json", "--numeric-convention", "clinical"]) == 0
    assert json.loads(capsys.readouterr().out)["answer"] == default["answer"] == ["within the normal range"]
    assert cli.main(["ask", EXAMPLE, QUESTION, "--json", "--numeric-convention", "ecgqa"]) == 0
    ecgqa = json.loads(capsys.readouterr().out)
    assert ecgqa["answer"] == ["below the normal range"]
    assert "ECG-QA convention" in json.dumps(ecgqa["evidence"]) and "pr interval 172 ms" in json.dumps(ecgqa["evidence"])
    assert cli.main(["ask", EXAMPLE, QUESTION, "--numeric-convention", "paper"]) != 0
    assert "invalid choice: 'paper'" in capsys.readouterr().err
