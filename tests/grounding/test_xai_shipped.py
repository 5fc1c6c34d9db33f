"""Attributions and evidence on the real shipped disease models and a bundled PTB-XL record."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ecgqa_tools.encoders import load_disease_model
from ecgqa_tools.grounding import build_evidence, explain
from ecgqa_tools.records import load_example


@pytest.fixture(scope="module")
def ecg():
    return load_example("ptbxl-00473")  # 500 Hz, 10 s, test fold


@pytest.fixture(scope="module")
def mi_ig(ecg):
    return explain(ecg, "MI", "ig", n_steps=32)


def test_ig_on_shipped_model_is_complete_and_at_the_input_rate(ecg, mi_ig):
    import torch

    attribution = mi_ig
    assert attribution.values.shape == (12, ecg.n_samples) and attribution.fs_hz == ecg.fs_hz
    expected = attribution.logit - attribution.baseline_logit
    assert attribution.values.sum() == pytest.approx(expected, abs=0.05 * max(1.0, abs(expected)))
    model = load_disease_model("MI")
    logit = float(model.module(torch.from_numpy(model.preprocess(ecg))[None]).detach()[0])
    assert attribution.logit == pytest.approx(logit, abs=1e-4)


def test_evidence_on_shipped_model(mi_ig):
    evidence = build_evidence(mi_ig)
    assert sum(evidence.lead_share.values()) == pytest.approx(1.0, abs=1e-6)
    assert evidence.faithfulness is not None and 0 <= evidence.faithfulness.removed_fraction < 0.2
    assert evidence.top_regions and all(r.lead in mi_ig.lead_names for r in evidence.top_regions)
    assert "MI probability" in evidence.text
    json.dumps(evidence.to_dict())


def test_gradshap_and_ig_agree_in_direction(ecg, mi_ig):
    from ecgqa_tools.grounding import cosine_similarity

    ig = mi_ig
    gs = explain(ecg, "MI", "gradshap")
    assert cosine_similarity(ig, gs) > 0.3
    assert np.isfinite(gs.values).all()
