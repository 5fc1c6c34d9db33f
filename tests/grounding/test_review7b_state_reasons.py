"""Session-7b review: a feature whose ECG-QA state comes from the 12-lead value is not called
unmeasurable because lead II gave no beats (a 3 s cut: QRS 'within', lead II only 2 R peaks)."""

from __future__ import annotations

import json

import pytest

from ecgqa_tools.cli import main
from ecgqa_tools.grounding import measure
from ecgqa_tools.grounding._cli_measure import measurements_json
from ecgqa_tools.records import load_example


@pytest.fixture(scope="module")
def short_measured():
    ecg = load_example("ptbxl-00473")
    return measure(ecg.with_signal(ecg.signal_mv[:, : int(3 * ecg.fs_hz)]), numeric_convention="ecgqa")


def test_state_reasons_explain_only_missing_states_from_their_own_source(short_measured):
    q = short_measured.ecgqa_numeric
    states = q.range_attributes()
    assert states["qrs duration"] == "within" and "R peaks in lead II" in q.reasons["qrs duration"]
    reasons = q.state_reasons()
    assert "qrs duration" not in reasons
    assert set(reasons) == {f for f, s in states.items() if s is None}
    assert all("R peaks in lead II" in why for why in reasons.values())


def test_measure_json_separates_state_reasons_from_lead_ii_reasons(short_measured):
    conv = measurements_json(short_measured)["ecgqa_convention"]
    assert "qrs duration" not in conv["reasons"]
    assert "qrs duration" in conv["per_beat_reasons"]
    json.dumps(conv)


def test_cli_measure_json_on_a_short_record(tmp_path, capsys):
    import numpy as np

    ecg = load_example("ptbxl-00473")
    path = tmp_path / "short.npy"
    np.save(path, ecg.signal_mv[:, : int(3 * ecg.fs_hz)].T)
    assert main(["measure", str(path), "--fs", "500", "--numeric-convention", "ecgqa", "--json"]) == 0
    conv = json.loads(capsys.readouterr().out)["ecgqa_convention"]
    assert "qrs duration" not in conv["reasons"] and "qrs duration" in conv["per_beat_reasons"]
