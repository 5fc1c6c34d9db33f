"""Beat-aligned normal-template IG baseline: QRS detection, placement, the shipped template."""

from __future__ import annotations

import numpy as np
import pytest

from ecgqa_tools.errors import UsageError
from ecgqa_tools.grounding._attribution import explain, make_baseline
from ecgqa_tools.grounding._baselines import (
    NormalTemplate,
    build_normal_template,
    detect_beats,
    load_normal_template,
    place_template,
)
from ecgqa_tools.records import ECG, STANDARD_LEADS

FS = 100.0


def _spiky(r_peaks: list[int], n: int = 1000) -> np.ndarray:
    """12 leads: narrow QRS spikes (triangle, 1 at the peak) at ``r_peaks``, a low T 30 samples later."""
    x = np.zeros((12, n), dtype=np.float32)
    for r in r_peaks:
        x[:, r - 2:r + 3] = np.array([0.2, 0.6, 1.0, 0.6, 0.2], dtype=np.float32)
        x[:, r + 25:r + 40] += 0.15
    return x


def _template() -> NormalTemplate:
    beat = np.zeros((12, 81), dtype=np.float32)
    beat[:, 30] = 5.0          # fiducial
    beat[:, 55] = 1.0          # "T wave" 250 ms later
    beat[:, 0] = beat[:, -1] = -0.5  # edges (TP level)
    return NormalTemplate(beat=beat, fs_hz=FS, pre_samples=30, n_records=1)


def test_detect_beats_finds_every_qrs_and_not_the_t_waves():
    peaks = [60, 150, 260, 340, 480, 560, 700, 790, 900]
    found = detect_beats(_spiky(peaks), FS)
    assert len(found) == len(peaks)
    assert np.all(np.abs(found - np.array(peaks)) <= 2)
    assert detect_beats(np.zeros((12, 500)), FS).size == 0
    with pytest.raises(UsageError):
        detect_beats(np.zeros(100), FS)


def test_template_is_placed_at_each_beat_and_cut_between_beats():
    peaks = [100, 180, 300, 500, 700, 900]
    x = _spiky(peaks)
    base = place_template(x, FS, _template())
    found = detect_beats(x, FS)
    assert base.shape == x.shape and base.dtype == np.float32
    assert np.allclose(base[:, found], 5.0)  # the template's fiducial on every detected QRS
    # RR 80 samples: the T of the first beat (25 samples after) is kept, the next beat takes the
    # last 40% (32 samples) of the RR interval
    assert np.allclose(base[:, found[0] + 25], 1.0)
    # RR 200 samples: longer than the template (81 samples), the gap is a straight line between
    # the template's edges (both -0.5)
    gap = slice(found[3] + 51, found[4] - 31)
    assert np.allclose(base[:, gap], -0.5)
    assert np.isfinite(base).all()
    # fewer than two beats: the flat baseline
    assert not place_template(np.zeros((12, 1000), dtype=np.float32), FS, _template()).any()


def test_make_baseline_normal_runs_ig_with_completeness():
    x = _spiky([100, 200, 300, 400, 500, 600, 700, 800, 900])
    base = make_baseline(x[None], "normal", FS)
    assert base.shape == (1, 12, 1000)
    ecg = ECG.from_array(x, FS)

    class Linear:
        fs_hz = FS

        def __init__(self) -> None:
            import torch

            torch.manual_seed(0)
            self.module = torch.nn.Sequential(torch.nn.Conv1d(12, 2, 5, padding=2), torch.nn.Tanh(),
                                              torch.nn.Conv1d(2, 1, 1), torch.nn.AdaptiveAvgPool1d(1),
                                              torch.nn.Flatten(0))

        def preprocess(self, e: ECG) -> np.ndarray:
            return e.signal_mv.astype(np.float32)

    attr = explain(ecg, "STTC", model=Linear(), baseline="normal", n_steps=64)
    assert attr.values.sum() == pytest.approx(attr.logit - attr.baseline_logit, abs=1e-3)
    assert "normal-beat template" in attr.baseline


def test_shipped_template_is_a_normal_beat():
    template = load_normal_template()
    assert template.beat.shape == (12, 81) and template.fs_hz == FS and template.n_records >= 100
    fiducial = template.beat[:, template.pre_samples - 2:template.pre_samples + 3]
    lead = {name: i for i, name in enumerate(STANDARD_LEADS)}
    assert fiducial[lead["II"]].max() > 2.0      # tall R in II
    assert fiducial[lead["V1"]].min() < -2.0     # rS in V1
    assert fiducial[lead["aVR"]].min() < -2.0    # negative QRS in aVR
    t_wave = slice(template.pre_samples + 15, template.pre_samples + 35)  # 150-350 ms after the QRS
    assert template.beat[lead["V5"], t_wave].max() > 0.5   # upright T in V5
    assert template.beat[lead["aVR"], t_wave].min() < -0.3  # inverted T in aVR


def test_build_normal_template_from_ptbxl(ptbxl_dir):
    template = build_normal_template(ptbxl_dir, limit=8, progress=False)
    assert template.beat.shape == (12, 81) and 1 <= template.n_records <= 8
    shipped = load_normal_template()
    lead2 = STANDARD_LEADS.index("II")
    assert np.corrcoef(template.beat[lead2], shipped.beat[lead2])[0, 1] > 0.9


def test_eval_xai_with_the_normal_baseline_on_ludb(ludb_dir):
    from ecgqa_tools.eval._xai import evaluate_xai

    report = evaluate_xai(ludb_root=ludb_dir, diseases=("STTC",), limit=3, baseline="normal",
                          compare_gradshap=False, progress=False)
    row = report.rows[0]
    assert report.method == "ig (normal baseline)" and row.n_labelled == 3
    scored = [r for r in report.records if r.positive]
    assert all(r.baseline == "normal" and r.baseline_probability is not None for r in scored)
    assert scored  # LUDB 1 and 3 are STTC true positives of the shipped head
    assert row.baseline_positive_share == 0.0  # the template is a normal ECG: the head calls it negative
    assert row.faithfulness is not None and row.faithfulness.n == len(scored)
