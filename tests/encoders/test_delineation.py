"""Delineator: real behaviour on synthetic and real ECGs (P before QRS before T, stitching)."""

from __future__ import annotations

import numpy as np
import pytest

from ecgqa_tools.encoders import delineate, delineate_detailed, tokenize_lead
from ecgqa_tools.encoders._delineation import window_starts
from ecgqa_tools.errors import RecordError, UsageError
from ecgqa_tools.records import ECG, STANDARD_LEADS


def synthetic_ecg(seconds: float = 10.0, fs: float = 500.0, hr_bpm: float = 70.0, p_waves: bool = True,
                  seed: int = 0) -> ECG:
    """Gaussian P/QRS/T beats at a fixed rate on all 12 leads (scaled per lead)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * fs)) / fs
    x = np.zeros_like(t)
    rr = 60.0 / hr_bpm
    for beat in np.arange(0.3, seconds, rr):
        if p_waves:
            x += 0.15 * np.exp(-0.5 * ((t - beat + 0.16) / 0.02) ** 2)
        x += -0.1 * np.exp(-0.5 * ((t - beat + 0.02) / 0.006) ** 2)
        x += 1.2 * np.exp(-0.5 * ((t - beat) / 0.01) ** 2)
        x += -0.2 * np.exp(-0.5 * ((t - beat - 0.025) / 0.007) ** 2)
        x += 0.3 * np.exp(-0.5 * ((t - beat - 0.3) / 0.045) ** 2)
    if not p_waves:  # fibrillatory baseline
        x += 0.03 * np.sin(2 * np.pi * 6.3 * t + rng.uniform(0, 6))
    x += 0.005 * rng.standard_normal(t.size)
    gains = np.array([0.6, 1.0, 0.4, -0.8, 0.1, 0.7, 0.5, 0.9, 1.1, 1.2, 1.0, 0.8])
    return ECG.from_array(np.outer(gains, x), fs, STANDARD_LEADS, record_id="synthetic")


def check_order(waves) -> None:
    """Waves are sorted, do not overlap, and P -> QRS -> T repeats."""
    for a, b in zip(waves, waves[1:]):
        assert a.onset <= b.onset
        assert a.offset < b.onset
    kinds = [w.kind for w in waves]
    for i, k in enumerate(kinds[:-1]):
        nxt = kinds[i + 1]
        assert (k, nxt) in {("P", "QRS"), ("QRS", "T"), ("T", "P"), ("T", "QRS"), ("QRS", "QRS")}


def test_synthetic_sinus_all_leads():
    ecg = synthetic_ecg()
    d = delineate(ecg)
    assert d.fs_hz == ecg.fs_hz and d.n_samples == ecg.n_samples
    lead_ii = d.lead("II")
    qrs = [w for w in lead_ii if w.kind == "QRS"]
    assert 10 <= len(qrs) <= 13  # 70 bpm over 10 s
    assert sum(w.kind == "P" for w in lead_ii) >= len(qrs) - 2
    check_order(lead_ii)
    for w in qrs:
        assert 40 <= (w.offset - w.onset) * 2 <= 160  # ms at 500 Hz


@pytest.mark.parametrize("fs", [100.0, 250.0, 360.0, 1000.0])
def test_any_rate_gives_same_times(fs):
    ref = [w.onset / 500.0 for w in delineate(synthetic_ecg(fs=500.0)).lead("II") if w.kind == "QRS"]
    got = [w.onset / fs for w in delineate(synthetic_ecg(fs=fs)).lead("II") if w.kind == "QRS"]
    assert len(got) == len(ref)
    assert np.max(np.abs(np.array(got) - np.array(ref))) < 0.025


def test_long_record_stitching_has_no_seam_artefacts():
    """A 35 s record: every beat is found once, including beats where 10 s windows meet."""
    ecg = synthetic_ecg(seconds=35.0, hr_bpm=75.0)
    d = delineate(ecg)
    qrs = [w for w in d.lead("II") if w.kind == "QRS"]
    expected = len(np.arange(0.3, 35.0, 0.8))
    assert abs(len(qrs) - expected) <= 1
    centres = np.array([(w.onset + w.offset) / 2 for w in qrs]) / 500.0
    assert np.all(np.diff(centres) > 0.7) and np.all(np.diff(centres) < 0.9)
    # the same beat delineated from a 10 s crop around a seam agrees within 10 ms
    starts = window_starts(int(35 * 250), 2500, 500)
    seam = (starts[1] + 2500) / 250.0 - 2.0
    crop = ecg.with_signal(ecg.signal_mv[:, int((seam - 5) * 500):int((seam + 5) * 500)])
    crop_qrs = [w.onset / 500.0 + seam - 5 for w in delineate(crop).lead("II") if w.kind == "QRS"]
    near = [c for c in crop_qrs if 3 < c - (seam - 5) < 7]
    for c in near:
        assert np.min(np.abs(np.array([w.onset / 500.0 for w in qrs]) - c)) < 0.01


def test_short_record():
    d = delineate(synthetic_ecg(seconds=3.0))
    assert any(w.kind == "QRS" for w in d.lead("II"))
    assert all(w.offset < d.n_samples for w in d.lead("II"))


def test_flat_lead_is_reported_not_delineated():
    ecg = synthetic_ecg()
    sig = ecg.signal_mv.copy()
    sig[0] = 0.0
    res = delineate_detailed(ecg.with_signal(sig))
    assert "I" in res.unusable_leads and "flat" in res.unusable_leads["I"]
    assert res.delineation.lead("I") == ()
    assert res.delineation.lead("II")


def test_unknown_method():
    with pytest.raises(UsageError, match="openecg"):
        delineate(synthetic_ecg(), method="magic")  # type: ignore[arg-type]


def test_neurokit2_baseline_runs():
    d = delineate(synthetic_ecg(), method="neurokit2")
    assert d.source == "neurokit2"
    assert sum(w.kind == "QRS" for w in d.lead("II")) >= 8


def test_tokens_cover_the_lead():
    ecg = synthetic_ecg()
    tokens = tokenize_lead(ecg, "ii")
    assert tokens.lead == "II"
    total = sum(t.duration_ms for t in tokens.tokens)
    assert abs(total - 10_000) <= 4
    assert {"p", "t", "_"} <= {t.symbol for t in tokens.tokens}
    assert tokens.text.split()[0][0] in "_pqrstw*"
    assert tokens.beats and tokens.rhythm
    with pytest.raises(RecordError, match="V7"):
        tokenize_lead(ecg, "V7")


def test_ludb_record_matches_gold_roughly(ludb_dir):
    from ecgqa_tools.records import read_wfdb

    ecg = read_wfdb(str(ludb_dir / "data" / "1"))
    d = delineate(ecg)
    for lead in ("I", "II", "V5"):
        check_order([w for w in d.lead(lead)])


def test_cli_tokens_and_measure_on_a_bundled_example(capsys):
    import json

    from ecgqa_tools.cli import main
    from ecgqa_tools.records import example_path, list_examples

    path = str(example_path(list_examples()[0]))
    assert main(["tokens", path, "--lead", "II", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["lead"] == "II" and out["tokens"] and out["rhythm"]
    assert abs(sum(ms for _, ms in out["tokens"]) - 10_000) <= 4
    assert main(["tokens", path, "--lead", "V9"]) == 1
    assert "V9" in capsys.readouterr().err
    assert main(["measure", path]) == 0
    text = capsys.readouterr().out
    assert "qrs_duration" in text and "ECG-QA ranges" in text


def test_noisy_and_saturated_leads_are_reported():
    ecg = synthetic_ecg()
    sig = ecg.signal_mv.copy()
    rng = np.random.default_rng(1)
    sig[2] = rng.standard_normal(sig.shape[1])  # III: white noise
    t = np.arange(sig.shape[1]) / ecg.fs_hz
    sig[7] = np.clip(sig[7] + 3.0 * np.sin(2 * np.pi * 0.15 * t), -1.5, 1.5)  # V2: wander into the rails
    res = delineate_detailed(ecg.with_signal(sig))
    assert "noisy" in res.unusable_leads["III"]
    assert "saturated" in res.unusable_leads["V2"]
    assert "II" not in res.unusable_leads


def test_atrial_fibrillation_like_signal_has_no_p_in_measurements():
    from ecgqa_tools.grounding import measure

    ecg = synthetic_ecg(p_waves=False)
    m = measure(ecg)
    assert m.p_duration.value is None and m.p_duration.reason
    assert m.pr_interval.value is None
    assert m.qrs_duration.value is not None
