"""No rhythm claim from too few beats (review M3): a 1.2 s sinus record (2 QRS complexes) was called
atrial fibrillation from 'RR irregularity' and its P waves dropped. Below ``MIN_RHYTHM_QRS``
complexes ``measure`` says the rhythm was not assessed and measures P and PR."""

from __future__ import annotations

import pytest

from ecgqa_tools.encoders import MIN_RHYTHM_QRS, delineate_detailed
from ecgqa_tools.grounding import measure
from ecgqa_tools.records import load_example


def _cut(seconds: float):
    ecg = load_example("ptbxl-00473")
    return ecg.with_signal(ecg.signal_mv[:, : int(seconds * ecg.fs_hz)])


@pytest.fixture(scope="module")
def short_result():
    ecg = _cut(1.2)
    return ecg, delineate_detailed(ecg)


def test_short_record_rhythm_not_judged(short_result) -> None:
    _, result = short_result
    rhythm = result.rhythm
    assert rhythm is not None and rhythm.n_qrs is not None and rhythm.n_qrs < MIN_RHYTHM_QRS
    assert rhythm.too_few_beats and not rhythm.atrial_fibrillation and not rhythm.no_p_waves
    assert rhythm.rr_irregularity is None
    assert any(w.kind == "P" for waves in result.delineation.waves.values() for w in waves)


def test_measure_says_rhythm_not_assessed(short_result) -> None:
    ecg, _ = short_result
    m = measure(ecg)
    assert any("too few beats to judge the rhythm" in n for n in m.notes)
    assert not any("atrial fibrillation/flutter detected" in n for n in m.notes)
    assert "atrial fibrillation" not in (m.p_duration.reason or "")


def test_ten_second_record_is_judged() -> None:
    rhythm = delineate_detailed(load_example("ptbxl-00473")).rhythm
    assert rhythm is not None and rhythm.n_qrs >= MIN_RHYTHM_QRS and not rhythm.too_few_beats
