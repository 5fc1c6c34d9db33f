"""A record flat in every lead (the models refuse it with ``RecordError``) does not abort a benchmark:
``eval age-sex`` counts it as unscorable, ``bench ecgqa`` scores its samples as errors and goes on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecgqa_tools.errors import DatasetError
from ecgqa_tools.records import ECG, STANDARD_LEADS

FLAT_ID = 3


def _ecg(ecg_id: int) -> ECG:
    t = np.arange(1000) / 100.0
    signal = np.stack([np.sin(2 * np.pi * 1.2 * t + lead) * (0.5 + lead / 12) for lead in range(12)])
    if ecg_id == FLAT_ID:
        signal = np.zeros_like(signal)
    return ECG.from_array(signal, 100.0, STANDARD_LEADS, record_id=str(ecg_id), source="ptbxl")


class FakePtbXl:
    """Four fold-10 records with age and sex; record FLAT_ID is all zeros."""

    def __init__(self, root, ids=(1, 2, 3, 4)) -> None:
        self.ids = ids
        self.metadata = pd.DataFrame({"strat_fold": 10, "age": [40.0, 70.0, 55.0, 62.0][: len(ids)],
                                      "sex": [0, 1, 1, 0][: len(ids)]}, index=pd.Index(ids, name="ecg_id"))

    def present_ids(self, fs_hz: int = 100) -> list[int]:
        return list(self.ids)

    def read(self, ecg_id: int, fs_hz: int = 100) -> ECG:
        return _ecg(ecg_id)


@pytest.fixture
def fake_fold10(monkeypatch):
    import ecgqa_tools.encoders as encoders
    import ecgqa_tools.records as records

    monkeypatch.setattr(records, "PtbXl", FakePtbXl)
    monkeypatch.setattr(encoders, "guard_unseen", lambda card, ids, policy: (list(ids), []))


def test_age_sex_eval_counts_a_flat_record_as_unscorable(fake_fold10, tmp_path):
    from ecgqa_tools.eval._classifiers import evaluate_age_sex

    report = evaluate_age_sex(tmp_path, progress=False)  # the real age/sex model on 4 fake records
    assert report["records"] == 3 and report["unscorable"] == 1 and report["unscorable_ids"] == [FLAT_ID]
    assert report["n_female"] + report["n_male"] == 3 and np.isfinite(report["age_mae_years"])


def test_age_sex_cli_names_the_records_it_did_not_score(fake_fold10, tmp_path, capsys):
    import json

    from ecgqa_tools.cli import main

    assert main(["eval", "age-sex", "--ptbxl", str(tmp_path), "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["unscorable_ids"] == [FLAT_ID]
    assert f"1 record(s), ecg_id {FLAT_ID}" in err


def test_age_sex_eval_with_only_flat_records_is_a_dataset_error(fake_fold10, monkeypatch, tmp_path):
    from ecgqa_tools.eval import _classifiers

    monkeypatch.setattr("ecgqa_tools.records.PtbXl", lambda root: FakePtbXl(root, ids=(FLAT_ID,)))
    with pytest.raises(DatasetError, match="none of the 1 fold-10 records could be scored.*is flat"):
        _classifiers.evaluate_age_sex(tmp_path, progress=False)


def test_upper_bound_system_scores_a_flat_record_as_an_error_and_goes_on(tmp_path, monkeypatch):
    from ecgqa_tools.eval._ecgqa_bench import EcgCache, run_system, select_samples
    from ecgqa_tools.eval._ecgqa_bench_systems import BenchContext, UpperBoundSystem

    ctx = BenchContext(ptbxl_dir=tmp_path, ecgqa_dir=tmp_path)
    monkeypatch.setattr(ctx, "load_ecg", _ecg)
    monkeypatch.setattr(ctx, "numeric_ranges", lambda ecg_id, ecg=None: {})
    samples = [{"template_id": 2, "question_id": 0, "sample_id": 100 + i, "question_type": "single-verify",
                "attribute_type": "scp_code", "question": "Is this a normal ECG?", "answer": ["no"],
                "ecg_id": [i], "attribute": None} for i in (1, FLAT_ID, 4)]
    selection = select_samples(samples, frozenset({1, FLAT_ID, 4}))
    done = run_system(UpperBoundSystem(ctx), selection.samples, tmp_path / "out", EcgCache(), progress=False)
    assert len(done) == 3
    flat = done[100 + FLAT_ID]
    assert not flat.correct and flat.predicted == () and "every lead of" in flat.error and "is flat" in flat.error
    assert all(done[100 + i].error is None and done[100 + i].predicted for i in (1, 4))
