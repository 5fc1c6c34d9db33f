"""Expected-gradients IG baseline over several beat-aligned normal references, and the per-head
default baseline table."""

from __future__ import annotations

import numpy as np
import pytest

from ecgqa_tools.errors import UsageError
from ecgqa_tools.grounding._attribution import (DEFAULT_BASELINE, DEFAULT_BASELINE_BY_DISEASE, default_baseline,
                                                explain, integrated_gradients, make_references,
                                                multi_reference_ig)
from ecgqa_tools.grounding._baselines import (N_REFERENCES, NormalReferences, detect_beats,
                                              load_normal_references, normal_reference_baselines)
from ecgqa_tools.records import ECG, STANDARD_LEADS

from .conftest import TanhModel

FS = 100.0
PEAKS = [100, 190, 280, 370, 460, 550, 640, 730, 820, 910]


def _spiky(peaks: list[int] = PEAKS, n: int = 1000) -> np.ndarray:
    x = np.zeros((12, n), dtype=np.float32)
    for r in peaks:
        x[:, r - 2:r + 3] = np.array([0.2, 0.6, 1.0, 0.6, 0.2], dtype=np.float32)
        x[:, r + 25:r + 40] += 0.15
    return x


def _references() -> NormalReferences:
    """Two references: fiducial value 3 (first) and 7 (second), a "T" of 1 / 2 25 samples later."""
    beats = np.zeros((2, 12, 81), dtype=np.float32)
    beats[0, :, 30], beats[1, :, 30] = 3.0, 7.0
    beats[0, :, 55], beats[1, :, 55] = 1.0, 2.0
    return NormalReferences(beats=beats, fs_hz=FS, pre_samples=30, record_ids=(1, 2))


def test_each_reference_is_placed_at_every_detected_qrs():
    x = _spiky()
    refs = normal_reference_baselines(np.stack([x, x[:, ::-1].copy()]), FS, _references())
    assert refs.shape == (2, 2, 12, 1000) and refs.dtype == np.float32
    found = detect_beats(x, FS)
    assert np.allclose(refs[0, 0][:, found], 3.0) and np.allclose(refs[0, 1][:, found], 7.0)
    assert np.allclose(refs[0, 0][:, found + 25], 1.0) and np.allclose(refs[0, 1][:, found + 25], 2.0)
    # the second input (time-reversed) gets the references at its own QRS complexes
    assert np.allclose(refs[1, 1][:, detect_beats(x[:, ::-1].copy(), FS)], 7.0)
    with pytest.raises(UsageError, match="leads"):
        normal_reference_baselines(x[None, :6], FS, _references())
    with pytest.raises(UsageError, match="batch"):
        normal_reference_baselines(x, FS, _references())


def test_multi_reference_ig_is_the_mean_of_single_reference_ig():
    import torch

    model = TanhModel()
    x = torch.from_numpy(_spiky()[None])
    refs = torch.from_numpy(normal_reference_baselines(x.numpy(), FS, _references()))
    mean = multi_reference_ig(model.module, x, refs, 16)
    singles = [integrated_gradients(model.module, x, refs[:, k], 16) for k in range(2)]
    assert torch.allclose(mean, (singles[0] + singles[1]) / 2, atol=1e-6)


def test_linear_head_gets_weight_times_distance_to_the_mean_reference():
    """For logit = sum(w * x), IG from reference r is w * (x - r): the average over references is
    w * (x - mean reference), exactly, whatever the step count."""
    import torch

    w = torch.linspace(-1.0, 1.0, 12 * 1000).reshape(1, 12, 1000)

    class Linear(torch.nn.Module):
        def forward(self, v):
            return (v * w).sum(dim=(1, 2))

    x = torch.from_numpy(_spiky()[None])
    refs = torch.from_numpy(normal_reference_baselines(x.numpy(), FS, _references()))
    attr = multi_reference_ig(Linear(), x, refs, 2)
    assert torch.allclose(attr, w * (x - refs.mean(dim=1)), atol=1e-5)


def test_explain_with_expected_gradients_keeps_completeness_over_the_mean_reference_logit():
    ecg = ECG.from_array(_spiky(), FS)
    attr = explain(ecg, "STTC", model=TanhModel(), baseline="expected", n_steps=32)
    refs = make_references(TanhModel().preprocess(ecg)[None], "expected", FS)
    assert refs.shape == (1, N_REFERENCES, 12, 1000)
    assert attr.baseline_kind == "expected" and "expected gradients" in attr.baseline
    assert attr.values.sum() == pytest.approx(attr.logit - attr.baseline_logit, abs=1e-3)
    assert abs(attr.convergence_delta) < 1e-3


def test_shipped_references_are_normal_beats_of_different_ecgs():
    refs = load_normal_references()
    assert refs.beats.shape == (N_REFERENCES, 12, 81) and refs.fs_hz == FS
    assert len(set(refs.record_ids)) == N_REFERENCES
    lead = {name: i for i, name in enumerate(STANDARD_LEADS)}
    qrs = refs.beats[:, :, refs.pre_samples - 3:refs.pre_samples + 4]
    assert (np.abs(qrs).max(axis=2).max(axis=1) > 2.0).all()  # every reference has a clear QRS
    assert (refs.beats[:, lead["aVR"], refs.pre_samples - 3:refs.pre_samples + 4].min(axis=1) < -1.0).all()
    assert not np.allclose(refs.beats[0], refs.beats[1])


def test_shipped_references_are_normal_training_records(ptbxl_dir):
    from ecgqa_tools.records._ptbxl import PtbXl

    meta = PtbXl(ptbxl_dir).metadata
    for ecg_id in load_normal_references().record_ids:
        row = meta.loc[ecg_id]
        assert 1 <= int(row["strat_fold"]) <= 8
        assert row["scp_codes"].get("NORM", 0) >= 100


def test_per_head_default_baseline_is_used_when_none_is_given():
    ecg = ECG.from_array(_spiky(), FS)
    for disease, kind in DEFAULT_BASELINE_BY_DISEASE.items():
        assert default_baseline(disease) == kind
        attr = explain(ecg, disease, model=TanhModel(), n_steps=4)
        assert attr.baseline_kind == kind
    assert default_baseline("CUSTOM") == DEFAULT_BASELINE
    assert explain(ecg, "CUSTOM", model=TanhModel(), n_steps=4).baseline_kind == DEFAULT_BASELINE
    assert explain(ecg, "MI", model=TanhModel(), n_steps=4, baseline="flat").baseline_kind == "flat"
    # GradientSHAP draws from the head's IG references (session 4b; was always the flat line)
    assert explain(ecg, "MI", "gradshap", model=TanhModel(), n_samples=2).baseline_kind == default_baseline("MI")
    assert explain(ecg, "MI", "saliency", model=TanhModel()).baseline_kind is None
    assert set(DEFAULT_BASELINE_BY_DISEASE) == {"MI", "STTC", "CD", "HYP"}


def test_eval_xai_scores_each_head_with_its_default_baseline(ludb_dir):
    from ecgqa_tools.eval._xai import evaluate_xai

    report = evaluate_xai(ludb_root=ludb_dir, diseases=("MI", "STTC"), limit=2, compare_gradshap=False,
                          progress=False)
    assert report.method == ("ig (per-head default baselines: "
                             f"MI {default_baseline('MI')}, STTC {default_baseline('STTC')})")
    assert report.records
    for record in report.records:
        assert record.baseline == default_baseline(record.disease)
    assert "per-head default baselines" in report.table().splitlines()[0]


def test_references_and_template_survive_a_save_and_load(tmp_path):
    from ecgqa_tools.grounding._baselines import (NormalTemplate, load_normal_references, load_normal_template,
                                                  save_normal_references, save_normal_template)

    refs = NormalReferences(beats=np.arange(2 * 12 * 5, dtype=np.float32).reshape(2, 12, 5), fs_hz=500.0,
                            pre_samples=2, record_ids=(82, 897))
    back = load_normal_references(save_normal_references(refs, tmp_path / "refs.npz"))
    assert np.array_equal(back.beats, refs.beats) and (back.fs_hz, back.pre_samples, back.record_ids) == (
        500.0, 2, (82, 897))
    template = NormalTemplate(beat=np.ones((12, 5), dtype=np.float32), fs_hz=500.0, pre_samples=2, n_records=620)
    again = load_normal_template(save_normal_template(template, tmp_path / "template.npz"))
    assert np.array_equal(again.beat, template.beat) and again.n_records == 620
    assert sorted(p.name for p in tmp_path.iterdir()) == ["refs.npz", "template.npz"]  # no temp files left
