"""``ecgqa bench speed`` additions: the IG step-count study summary, the suite row that reuses its
delineation for the measurements, and the tool settings in the report."""

from __future__ import annotations

import json

from ecgqa_tools.eval._speed import (
    _full_suite_with_measurements,
    _worker_main,
    ig_step_study,
    render_speed_markdown,
    summarize_ig_steps,
    tool_settings,
)


def _row(ecg_id: int, disease: str, cosines: dict[int, float]) -> dict:
    return {"ecg_id": ecg_id, "disease": disease, "logit_change": 1.0,
            "steps": {str(n): {"cosine": c, "cosine_positive": c, "delta": 0.0, "relative_delta": 1 - c}
                      for n, c in cosines.items()}}


def test_summary_picks_the_smallest_step_count_meeting_the_cosine_for_every_disease():
    rows = [_row(1, "MI", {4: 0.95, 8: 0.995, 16: 0.999}), _row(2, "MI", {4: 0.97, 8: 0.992, 16: 0.999}),
            _row(1, "CD", {4: 0.99, 8: 0.985, 16: 0.998}), _row(2, "CD", {4: 0.99, 8: 0.999, 16: 0.999})]
    summary = summarize_ig_steps(rows, min_cosine=0.99)
    assert summary["chosen"] == 8  # CD mean at 8: 0.992; MI at 4 fails
    assert summary["table"]["4"]["MI"]["mean_cosine"] == 0.96
    assert summary["table"]["8"]["CD"]["min_cosine"] == 0.985 and summary["n_records"] == 2
    assert summarize_ig_steps(rows, min_cosine=0.9999)["chosen"] is None


def test_study_on_real_records_resumes_without_duplicates(ptbxl_dir, tmp_path):
    out = tmp_path / "steps.jsonl"
    rows = ig_step_study(str(ptbxl_dir), str(out), n_ecgs=1, candidates=(4,), reference=8, diseases=("MI",))
    assert len(rows) == 1 and 0.5 < rows[0]["steps"]["4"]["cosine"] <= 1.0 + 1e-6
    again = ig_step_study(str(ptbxl_dir), str(out), n_ecgs=1, candidates=(4,), reference=8, diseases=("MI",))
    assert again == rows and len(out.read_text().splitlines()) == 1
    with out.open("a") as fh:
        fh.write('{"ecg_id": 8, "disease"')  # a line cut by an interruption
    other = ig_step_study(str(ptbxl_dir), str(out), n_ecgs=1, candidates=(4,), reference=16, diseases=("MI",))
    assert len(other) == 1 and other[0]["reference"] == 16  # another study: not resumed from the 8-step rows
    again = ig_step_study(str(ptbxl_dir), str(out), n_ecgs=1, candidates=(4,), reference=16, diseases=("MI",))
    assert again == other  # the row written after the cut line reads back
    from ecgqa_tools.encoders import load_disease_model

    assert rows[0]["ecg_id"] not in set(load_disease_model("MI").card.train_ids)


def test_study_compares_fixed_step_maps(ptbxl_dir, tmp_path, monkeypatch):
    """The study compares step counts, so explain's adaptive completeness loop is off for every map
    (``completeness_tolerance=None``) and each candidate's map has exactly its steps."""
    from ecgqa_tools import grounding

    calls: list[dict] = []
    real = grounding.explain

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(grounding, "explain", spy)
    rows = ig_step_study(str(ptbxl_dir), str(tmp_path / "fixed.jsonl"), n_ecgs=1, candidates=(2, 4), reference=8,
                         diseases=("MI",))
    assert len(calls) == 3 and all("completeness_tolerance" in c and c["completeness_tolerance"] is None
                                   for c in calls)
    assert [rows[0]["steps"][str(n)]["n_steps"] for n in (2, 4)] == [2, 4]


def test_study_uses_each_heads_default_baseline(ptbxl_dir, tmp_path):
    from ecgqa_tools.grounding import default_baseline

    rows = ig_step_study(str(ptbxl_dir), str(tmp_path / "cd.jsonl"), n_ecgs=1, candidates=(4,), reference=8,
                         diseases=("CD",))
    assert rows[0]["baseline_kind"] == default_baseline("CD") == "lowpass-multi"


def test_suite_with_measurements_delineates_once(monkeypatch):
    from ecgqa_tools import encoders, grounding

    calls: list[str] = []
    monkeypatch.setattr(encoders, "predict_diseases", lambda ecg: calls.append("diseases"))
    monkeypatch.setattr(encoders, "predict_attributes", lambda ecg: calls.append("attributes"))
    monkeypatch.setattr(encoders, "delineate", lambda ecg: calls.append("delineate") or "the delineation")
    monkeypatch.setattr(grounding, "explain", lambda ecg, disease, method: calls.append("ig"))
    monkeypatch.setattr(grounding, "measure", lambda ecg, delineation=None: calls.append(f"measure {delineation}"))
    _full_suite_with_measurements(object())
    assert calls == ["diseases", "attributes", "delineate", "ig", "measure the delineation"]


def test_report_names_the_tool_settings_and_the_measurement_row():
    settings = tool_settings()
    assert settings["ig_n_steps"] >= 2 and settings["delineation_interpreters"] >= 1
    assert settings["ig_baseline_by_disease"]["STTC"] == "expected-smooth" and settings["ig_baseline_by_disease"]["MI"] == "lowpass-multi"
    from ecgqa_tools.eval._speed import GOALS

    row = {"first_call_s": 1.0, "n": 1, "median_s": 0.1, "mean_s": 0.1, "p90_s": 0.1, "min_s": 0.1, "max_s": 0.1}
    report = {
        "title": "t", "command": "c", "date_utc": "now", "threads": 2, "fs_hz": 100, "settings": settings,
        "machine": {"cpu": "cpu", "cores": 2, "memory_gb": 8, "gpu": "none", "python": "3", "torch": "2"},
        "load_average_before": None, "load_average_after": None,
        "headline": {k: None for k in GOALS},
        "goals": {k: {"goal": g, "direction": d, "unit": u} for k, (g, d, u) in GOALS.items()},
        "cold_start": {}, "tools": {"measurements_given_delineation": row},
        "suite": {"full_suite": row, "full_suite_with_measurements": row}, "questions": {"error": "x"},
    }
    md = render_speed_markdown(report)
    assert f"'ig_n_steps': {settings['ig_n_steps']}" in md
    assert "| measurements_given_delineation |" in md and "measurements from its delineation" in md


def test_ig_steps_mode_needs_an_output_file(capsys):
    import pytest

    with pytest.raises(SystemExit):
        _worker_main(["ig-steps", "--ptbxl", "x"])
    assert "needs --out" in capsys.readouterr().err
    json.dumps(tool_settings())
