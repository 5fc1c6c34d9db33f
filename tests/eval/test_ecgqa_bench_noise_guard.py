"""The ECG-QA benchmark's leakage guard for ``noise_per_lead``: its static/burst thresholds were fitted
on labelled ECGs (``llm.quality_fitted_ecg_ids``: PTB-XL folds 1-8 in ECG-QA's train split), so the
guard refuses an answer resting on the tool for one of those ECGs and lets ECG-QA test ECGs through."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ecgqa_tools.errors import LeakageError
from ecgqa_tools.eval import _ecgqa_bench_systems as systems_module
from ecgqa_tools.llm import quality_fitted_ecg_ids

TEST_SPLIT_ID = 210
"""ptbxl-00210 (bundled example, PTB-XL strat_fold 10): an ECG-QA PTB-XL test ECG (checked on the
real split file below)."""


def _evidence(source: str) -> SimpleNamespace:
    return SimpleNamespace(id="E1", provenance=SimpleNamespace(source=source))


@pytest.fixture(autouse=True)
def _fresh_cache(monkeypatch):
    monkeypatch.setattr(systems_module, "_LOADER_SEEN", {})


def test_noise_per_lead_is_refused_on_an_ecg_its_thresholds_were_fitted_on():
    fitted = quality_fitted_ecg_ids()
    one = min(fitted)
    with pytest.raises(LeakageError, match=f"noise_per_lead.*quality_thresholds.*ECG\\(s\\) {one}"):
        systems_module.check_tools_unseen(["noise_per_lead"], [one])
    with pytest.raises(LeakageError, match=f"signal-quality-heuristic.*{one}"):  # its evidence, too
        systems_module.check_evidence_unseen([_evidence("signal-quality-heuristic")], [TEST_SPLIT_ID, one])
    # the measurement tools next to it fit nothing: not refused on the same ECG
    systems_module.check_tools_unseen(["intervals_and_axis", "record_summary"], [one])


def test_noise_per_lead_passes_an_ecgqa_test_split_ecg():
    assert TEST_SPLIT_ID not in quality_fitted_ecg_ids()
    systems_module.check_tools_unseen(["noise_per_lead"], [TEST_SPLIT_ID])
    systems_module.check_evidence_unseen([_evidence("signal-quality-heuristic")], [TEST_SPLIT_ID])


def test_no_ecgqa_valid_or_test_ecg_is_among_the_fitted_ids(data_dir):
    from ecgqa_tools.encoders._jobs import ecgqa_split_ids

    tests, valid = ecgqa_split_ids(data_dir, "test"), ecgqa_split_ids(data_dir, "valid")
    assert TEST_SPLIT_ID in tests and len(tests) > 3000
    fitted = quality_fitted_ecg_ids()
    assert not fitted & tests and not fitted & valid
    systems_module.check_tools_unseen(["noise_per_lead"], sorted(tests))  # the whole test split passes
