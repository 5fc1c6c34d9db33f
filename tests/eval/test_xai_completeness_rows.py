"""``ecgqa eval xai --results`` rows say what IG ran: besides the requested (starting) steps of the
resume key, each scored row stores the steps of the map after ``explain``'s adaptive completeness
loop, its completeness errors and whether it met the tolerance (docs/grounding.md "IG
completeness"); rows of older files, without these fields, are still read and reused."""

from __future__ import annotations

import json
from dataclasses import asdict
from types import SimpleNamespace

import numpy as np
import pytest

from ecgqa_tools.eval._xai import (
    Case,
    XaiRecordResult,
    XaiReport,
    aggregate,
    default_n_steps,
    score_cases,
)
from ecgqa_tools.grounding import explain
from ecgqa_tools.records import ECG, STANDARD_LEADS, Delineation, Wave

FS = 100.0
N = 1000
MEAN = 2.7  # kink at alpha = 1 / 2.7: 8-point IG misses 5%, the loop needs 32 steps


class KinkModel:
    """logit = 0.25 - 8 relu(1 - mean(x)): positive at the ECG (logit 0.25), IG from the flat line
    has a kink along the path, so the adaptive loop redoes it."""

    fs_hz = FS
    threshold = 0.5

    def __init__(self, calls: list | None = None) -> None:
        import torch

        self.calls = calls if calls is not None else []
        outer = self

        class Net(torch.nn.Module):
            def forward(self, x: torch.Tensor) -> torch.Tensor:
                outer.calls.append(x.shape[0])
                return 0.25 - 8.0 * torch.relu(1.0 - x.mean(dim=(1, 2)))

        self.module = Net().eval()
        self.card = SimpleNamespace(version="kink-1", seen_ids=frozenset())

    def preprocess(self, ecg: ECG) -> np.ndarray:
        return ecg.signal_mv.astype(np.float32)


def _ecg(record_id: str) -> ECG:
    wiggle = 0.2 * np.random.default_rng(int(record_id)).standard_normal((12, N))
    return ECG.from_array((MEAN + wiggle - wiggle.mean()).astype(np.float32), FS, record_id=record_id)


def _delineation(_ecg) -> Delineation:
    waves = tuple(w for r in range(50, N, 100) for w in (Wave("QRS", r - 5, r + 5, r), Wave("T", r + 20, r + 35)))
    return Delineation(FS, N, {lead: waves for lead in STANDARD_LEADS}, "synthetic")


def _cases() -> list[Case]:
    return [Case("ptbxl", "1", frozenset({"MI"}), False, lambda: _ecg("1"), _delineation)]


def test_rows_store_the_steps_used_and_the_completeness_of_the_scored_map(tmp_path) -> None:
    path = tmp_path / "r.jsonl"
    expected = explain(_ecg("1"), "MI", model=KinkModel(), baseline="flat")
    assert expected.n_steps > default_n_steps()  # the case needs the loop
    results, labelled, seconds, excluded = score_cases(_cases(), {"MI": KinkModel()}, results_path=path,
                                                        compare_gradshap=False, progress=False)
    row = results[0]
    assert row.positive and row.n_steps == default_n_steps()  # the requested start, the resume key
    assert row.n_steps_used == expected.n_steps and row.completeness_met is True
    assert row.completeness_error == pytest.approx(expected.completeness_error, rel=1e-9)
    assert row.completeness_abs_error == pytest.approx(expected.completeness_abs_error, rel=1e-9)
    stored = json.loads(path.read_text().splitlines()[0])
    assert stored["n_steps_used"] == expected.n_steps and stored["completeness_met"] is True
    assert stored["completeness_error"] == pytest.approx(expected.completeness_error, abs=1e-6)
    report = XaiReport(aggregate(results, labelled), tuple(results), "ig", seconds, excluded,
                       n_steps=default_n_steps())
    assert (f"IG steps {default_n_steps()} (start; adaptive: steps used median {expected.n_steps}, max "
            f"{expected.n_steps}; completeness met on 1 of 1 maps)") in report.table()
    assert report.to_dict()["completeness"] == {"maps": 1, "recorded": 1, "steps_used_median": expected.n_steps,
                                                "steps_used_max": expected.n_steps, "met": 1}


def test_rows_of_older_files_without_the_fields_are_read_and_reused(tmp_path) -> None:
    path = tmp_path / "r.jsonl"
    first, _, _, _ = score_cases(_cases(), {"MI": KinkModel()}, results_path=path, compare_gradshap=False,
                                 progress=False)
    old = {k: v for k, v in json.loads(path.read_text().splitlines()[0]).items()
           if k not in ("n_steps_used", "completeness_error", "completeness_abs_error", "completeness_met")}
    path.write_text(json.dumps(old) + "\n")
    calls: list = []
    again, labelled, seconds, excluded = score_cases(_cases(), {"MI": KinkModel(calls)}, results_path=path,
                                                     compare_gradshap=False, progress=False)
    assert not calls  # reused from the file
    row = again[0]
    assert (row.n_steps_used, row.completeness_error, row.completeness_met) == (None, None, None)
    assert row.cas == pytest.approx(first[0].cas) and row.hit == first[0].hit
    report = XaiReport(aggregate(again, labelled), tuple(again), "ig", seconds, excluded, n_steps=default_n_steps())
    assert "steps used not recorded for the 1 scored maps: older results file" in report.table()
    assert asdict(row).keys() == asdict(XaiRecordResult(**old)).keys()
