"""A head whose hidden ReLU units are all inactive at an ECG is locally flat there: its input gradient
is exactly zero, the probability is the head's constant output and saliency is all zero.
``Attribution.locally_flat`` says so, and the evidence text and ``ecgqa plot`` say it plainly
instead of "No part of the signal pushes this head towards the diagnosis" (docs/grounding.md,
"Saturated heads"). A small dead-head module runs without data; PTB Diagnostic s0010_re is such
an ECG for the shipped MI v4 head."""

from __future__ import annotations

import numpy as np
import pytest

from ecgqa_tools.cli import main
from ecgqa_tools.grounding import (
    build_evidence,
    explain,
    plot_ecg,
    predict_logits,
    zero_input_gradient,
)
from ecgqa_tools.records import ECG, STANDARD_LEADS, Delineation, Wave

FS = 100.0
N = 1000
FINAL_BIAS = 0.25
NO_EVIDENCE = "No part of the signal pushes"


class DeadHeadModel:
    """logit = out(ReLU(hidden(mean of the input))): hidden weight -1, bias +1, out weight -1. The
    hidden units are active while the input's mean is below 1 and all inactive above it, where the
    logit is the constant ``FINAL_BIAS`` (like a LeadwiseNet head, Linear -> ReLU -> Linear)."""

    fs_hz = FS
    threshold = 0.3

    def __init__(self) -> None:
        import torch

        class Net(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.hidden = torch.nn.Linear(1, 8)
                self.out = torch.nn.Linear(8, 1)

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                feature = x.mean(dim=(1, 2)).unsqueeze(1)
                return self.out(torch.relu(self.hidden(feature))).squeeze(1)

        self.module = Net().eval()
        with torch.no_grad():
            self.module.hidden.weight.fill_(-1.0)
            self.module.hidden.bias.fill_(1.0)
            self.module.out.weight.fill_(-1.0)
            self.module.out.bias.fill_(FINAL_BIAS)

    def preprocess(self, ecg: ECG) -> np.ndarray:
        return ecg.signal_mv.astype(np.float32)


def _ecg(offset_mv: float) -> ECG:
    t = np.arange(N) / FS
    signal = offset_mv + 0.5 * np.sin(2 * np.pi * 1.2 * t) + np.linspace(0, 0.1, 12)[:, None]
    return ECG.from_array(signal.astype(np.float32), FS)


def _delineation() -> Delineation:
    waves = tuple(w for r in range(50, N, 100) for w in (Wave("QRS", r - 5, r + 5, r), Wave("T", r + 20, r + 40, r + 30)))
    return Delineation(FS, N, {lead: waves for lead in STANDARD_LEADS}, "synthetic")


def test_dead_head_is_flat_and_saliency_text_says_so() -> None:
    model, ecg = DeadHeadModel(), _ecg(2.0)  # mean 2 mV: every hidden unit inactive
    x = model.preprocess(ecg)[None]
    noise = 0.01 * np.random.default_rng(0).standard_normal(x.shape).astype(np.float32)
    logits = predict_logits(model, np.concatenate([x, x + noise]))
    assert logits[0] == logits[1] == pytest.approx(FINAL_BIAS)  # flat: small changes do not move the logit
    attribution = explain(ecg, "MI", "saliency", model=model)
    assert attribution.locally_flat is True
    assert not attribution.values.any()
    evidence = build_evidence(attribution, _delineation(), model=model)
    assert evidence.locally_flat is True and evidence.to_dict()["locally_flat"] is True
    text = evidence.text
    assert text.startswith("MI probability 0.56 (at or above the head's threshold 0.30)")
    assert "output is flat at this ECG: its input gradient is exactly zero" in text
    assert "the probability 0.56 is the head's constant output there" in text
    assert 'use Integrated Gradients (method "ig")' in text
    assert NO_EVIDENCE not in text


def test_dead_head_ig_still_has_a_map_and_says_where_its_gradients_come_from() -> None:
    model, ecg = DeadHeadModel(), _ecg(2.0)
    attribution = explain(ecg, "MI", "ig", model=model, baseline="flat", n_steps=64)
    assert attribution.locally_flat is True
    # the path from the flat line (mean 0, hidden units active) crosses into the flat region
    assert attribution.baseline_logit == pytest.approx(FINAL_BIAS - 8.0)
    assert attribution.values.sum() > 0 and abs(attribution.convergence_delta) < 0.05 * 8.0
    text = build_evidence(attribution, _delineation(), model=model).text
    assert "output is flat at this ECG" in text
    assert "This map takes its gradients at points between its baseline and this ECG" in text
    assert "Evidence concentrates in" in text and NO_EVIDENCE not in text


def test_live_head_is_not_flat() -> None:
    model, ecg = DeadHeadModel(), _ecg(0.0)  # mean about 0: hidden units active
    for method in ("saliency", "ig"):
        attribution = explain(ecg, "MI", method, model=model, baseline="flat" if method == "ig" else None)
        assert attribution.locally_flat is False and attribution.values.any()
        assert "flat at this ECG" not in build_evidence(attribution, _delineation(), model=model).text


def test_zero_input_gradient_per_item() -> None:
    import torch

    model = DeadHeadModel()
    x = np.stack([model.preprocess(_ecg(2.0)), model.preprocess(_ecg(0.0))])
    with torch.no_grad():  # works inside no_grad too
        assert zero_input_gradient(model.module, torch.from_numpy(x)).tolist() == [True, False]


def test_plot_of_a_flat_saliency_map_says_so(tmp_path) -> None:
    model, ecg = DeadHeadModel(), _ecg(2.0)
    attribution = explain(ecg, "MI", "saliency", model=model)
    fig = plot_ecg(ecg, attribution, path=tmp_path / "flat.png")
    texts = [t.get_text() for t in fig.texts]
    assert any("The MI head's output is flat at this ECG (input gradient exactly zero)" in t
               and "the saliency map is all zero and shows no evidence, use Integrated Gradients" in t for t in texts)
    live = plot_ecg(_ecg(0.0), explain(_ecg(0.0), "MI", "saliency", model=model))
    assert not any("flat at this ECG" in t.get_text() for t in live.texts)


@pytest.fixture(scope="module")
def s0010(ptbdb_dir):
    from ecgqa_tools.records import read_record, to_standard_leads

    ecg = to_standard_leads(read_record(ptbdb_dir / "s0010_re"))
    return ecg.with_signal(ecg.signal_mv[:, :10_000])  # the first 10 s (what ``ecgqa plot`` explains)


def test_s0010_re_mi_head_is_flat(s0010) -> None:
    from ecgqa_tools.encoders import delineate, load_disease_model

    model = load_disease_model("MI")
    x = np.asarray(model.preprocess(s0010), dtype=np.float32)[None]
    noise = 1e-3 * np.random.default_rng(0).standard_normal(x.shape).astype(np.float32)
    logits = predict_logits(model, np.concatenate([x, x + noise]))
    assert logits[0] == logits[1]  # the head's constant output
    saliency = explain(s0010, "MI", "saliency")
    assert saliency.locally_flat is True and not saliency.values.any()
    assert saliency.probability >= saliency.threshold  # the positive call is the flat region's
    delineation = delineate(s0010)
    text = build_evidence(saliency, delineation, faithfulness=False).text
    assert "MI probability 0.50 (at or above the head's threshold" in text
    assert "output is flat at this ECG" in text and "use Integrated Gradients" in text and NO_EVIDENCE not in text
    ig = explain(s0010, "MI", "ig")
    assert ig.locally_flat is True and ig.positive.sum() > 0
    assert "This map takes its gradients at points between its baseline" in build_evidence(ig, delineation, faithfulness=False).text
    assert explain(s0010, "HYP", "saliency").locally_flat is False


def test_plot_cli_says_the_head_is_flat(ptbdb_dir, tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s0010.png"
    assert main(["plot", str(ptbdb_dir / "s0010_re"), "--explain", "MI", "--method", "saliency", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "note: The MI head's output is flat at this ECG: its input gradient is exactly zero" in err
    assert "use Integrated Gradients (--method ig)" in err and out.exists()
