"""Session-7b review: the ECG-QA convention's cache keys change with the NeuroKit2 version, not only
with the source files (another NeuroKit2 gives other lead-II beats)."""

from __future__ import annotations

import importlib.metadata

from ecgqa_tools.eval._delineation_intervals import ecgqa_fingerprint
from ecgqa_tools.eval._ecgqa_bench_systems import numeric_convention_digest


def test_digests_follow_the_neurokit2_version(monkeypatch):
    before = (ecgqa_fingerprint(), numeric_convention_digest())
    assert before == (ecgqa_fingerprint(), numeric_convention_digest())  # deterministic
    real = importlib.metadata.version

    def other(name: str) -> str:
        return "0.0.1-other" if name == "neurokit2" else real(name)

    monkeypatch.setattr(importlib.metadata, "version", other)
    after = (ecgqa_fingerprint(), numeric_convention_digest())
    assert after[0] != before[0] and after[1] != before[1]
    assert all(len(d) == 12 for d in before + after)
