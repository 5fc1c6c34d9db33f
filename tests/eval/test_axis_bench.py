"""Axis benchmark plumbing: the --folds split rule and the resumable QRS-boundary cache."""

from __future__ import annotations

import numpy as np
import pytest

from ecgqa_tools.errors import UsageError
from ecgqa_tools.eval._axis_bench import cached_beats, parse_folds


def test_parse_folds():
    assert parse_folds("all") is None and parse_folds(None) is None
    assert parse_folds("1-8") == (1, 2, 3, 4, 5, 6, 7, 8)
    assert parse_folds("9,10") == (9, 10)
    assert parse_folds("10, 9-10") == (9, 10)
    for bad in ("0-3", "11", "a-b", ","):
        with pytest.raises(UsageError):
            parse_folds(bad)


def _ecg():
    from ecgqa_tools.records import ECG, to_standard_leads

    fs, n = 500.0, 5000
    t = np.arange(n) / fs
    x = sum(np.exp(-0.5 * ((t - b) / 0.012) ** 2) for b in np.arange(0.5, 9.5, 0.8))
    x = x + 0.2 * sum(np.exp(-0.5 * ((t - b - 0.3) / 0.05) ** 2) for b in np.arange(0.5, 9.5, 0.8))
    return to_standard_leads(ECG.from_array(np.tile(x, (8, 1)), fs,
                                            ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")))


def test_cached_beats_resume_without_recomputing(tmp_path):
    path = tmp_path / "beats.jsonl"
    calls = []

    def read(key):
        calls.append(key)
        return _ecg()

    first = cached_beats([7], read, path)
    assert calls == [7] and len(first[7]) >= 5
    again = cached_beats([7], lambda key: pytest.fail("should come from the cache"), path)
    assert [(b.qrs_onset, b.qrs_offset) for b in again[7]] == [(b.qrs_onset, b.qrs_offset) for b in first[7]]
    path.write_text(path.read_text() + '{"key": "8", "beats": [[1, ')  # cut by an interruption
    assert cached_beats([7], lambda key: pytest.fail("cached"), path)[7] == again[7]
