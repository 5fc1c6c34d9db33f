"""A head whose hidden ReLU units are all inactive at an ECG is locally flat there: its input gradient
is exactly zero, the probability is the head's constant output and saliency is all zero.
``Attribution.locally_flat`` says so, and the evidence text and ``ecgqa plot`` say it plainly
instead of "No part of the signal pushes this head towards the diagnosis" (docs/grounding.md,
"Saturated heads"). A model with the encoders' output-only check (``head_constant`` /
``flat_logits``: the shipped models) is checked from the logit ``explain`` already has
(``flat_check`` ``head-constant``, no extra backward pass, text from ``encoders.flat_head_note``);
any other module by its input gradient (``zero-gradient``, and the text claims no cause). A small
dead-head module runs without data; PTB Diagnostic s0010_re is such an ECG for the shipped MI v4
head."""

from __future__ import annotations

import numpy as np
import pytest

from ecgqa_tools.cli import main
from ecgqa_tools.encoders import HeadConstant, flat_head_note
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


class DeadHeadWithConstant(DeadHeadModel):
    """The same module with the encoders' output-only interface (a fake of ``DiseaseModel``'s
    ``head_constant`` / ``flat_logits``): the constant is the final bias."""

    def head_constant(self, backend: str = "onnx") -> HeadConstant:
        return HeadConstant(FINAL_BIAS, 2 * float(np.finfo(np.float32).eps) * FINAL_BIAS, 1)

    def flat_logits(self, logits: np.ndarray, backend: str = "onnx") -> np.ndarray:
        constant = self.head_constant(backend)
        return np.abs(np.asarray(logits, dtype=float).reshape(-1) - constant.logit) <= constant.tolerance


class GradientOnly:
    """A shipped model seen without its output-only check (a custom model): the same module."""

    def __init__(self, model) -> None:  # noqa: ANN001 - encoders.DiseaseModel
        self.module, self.preprocess, self.threshold, self.fs_hz = model.module, model.preprocess, model.threshold, model.fs_hz


class Counts:
    """Counts ``zero_input_gradient`` calls and backward passes (``torch.autograd.grad``) while active."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import torch

        from ecgqa_tools.grounding import _attribution

        self.checks = self.backward = 0
        real_check, real_grad = _attribution.zero_input_gradient, torch.autograd.grad

        def check(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            self.checks += 1
            return real_check(*args, **kwargs)

        def grad(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            self.backward += 1
            return real_grad(*args, **kwargs)

        monkeypatch.setattr(_attribution, "zero_input_gradient", check)
        monkeypatch.setattr(torch.autograd, "grad", grad)

    def reset(self) -> None:
        self.checks = self.backward = 0


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
    assert attribution.locally_flat is True and attribution.flat_check == "zero-gradient"
    assert not attribution.values.any()
    evidence = build_evidence(attribution, _delineation(), model=model)
    assert evidence.locally_flat is True and evidence.to_dict()["locally_flat"] is True
    assert evidence.to_dict()["flat_check"] == "zero-gradient"
    text = evidence.text
    assert text.startswith("MI probability 0.56 (at or above the head's threshold 0.30)")
    assert ("MI: the head's output is flat at this ECG (its input gradient is exactly zero there), so small "
            "changes of the signal do not move the probability 0.56.") in text
    assert "use Integrated Gradients (method ig, the default)" in text and 'method "ig"' not in text
    # a custom module: only the zero gradient was checked, so no cause is claimed (review s9 N3)
    assert "hidden unit" not in text and "constant output" not in text
    assert NO_EVIDENCE not in text


def test_output_check_is_used_when_the_model_has_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both checks agree on the dead-head module (flat at mean 2, live at 0, in one batch too), and
    the output-only one adds no backward pass; its text starts with ``encoders.flat_head_note``."""
    from ecgqa_tools.grounding import explain_batch

    counts = Counts(monkeypatch)
    ecgs = [_ecg(2.0), _ecg(0.0)]
    for method in ("ig", "gradshap", "saliency"):
        baseline = "flat" if method != "saliency" else None
        counts.reset()
        by_gradient = explain_batch(ecgs, "MI", method, model=DeadHeadModel(), baseline=baseline, n_samples=4)
        gradient_counts = (counts.checks, counts.backward)
        counts.reset()
        by_output = explain_batch(ecgs, "MI", method, model=DeadHeadWithConstant(), baseline=baseline, n_samples=4)
        assert [a.locally_flat for a in by_gradient] == [a.locally_flat for a in by_output] == [True, False]
        assert {a.flat_check for a in by_gradient} == {"zero-gradient"}
        assert {a.flat_check for a in by_output} == {"head-constant"}
        assert counts.checks == 0
        if method == "saliency":  # the gradient path reads the map itself: no extra pass either way
            assert gradient_counts[0] == 0 and counts.backward == gradient_counts[1]
        else:
            assert gradient_counts[0] == 1 and counts.backward == gradient_counts[1] - 1
        for a, b in zip(by_gradient, by_output):
            np.testing.assert_array_equal(a.values, b.values)
    text = build_evidence(by_output[0], _delineation(), model=DeadHeadWithConstant()).text
    assert flat_head_note("MI", by_output[0].probability) + ". Saliency is the input gradient" in text


def test_dead_head_ig_still_has_a_map_and_says_where_its_gradients_come_from() -> None:
    model, ecg = DeadHeadModel(), _ecg(2.0)
    attribution = explain(ecg, "MI", "ig", model=model, baseline="flat", n_steps=64)
    assert attribution.locally_flat is True and attribution.flat_check == "zero-gradient"
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
    from ecgqa_tools.grounding._evidence import flat_head_text

    model, ecg = DeadHeadModel(), _ecg(2.0)
    attribution = explain(ecg, "MI", "saliency", model=model)
    fig = plot_ecg(ecg, attribution, path=tmp_path / "flat.png")
    # the evidence text's sentence, wrapped, not a wording of its own (review s9 N1)
    shown = [" ".join(t.get_text().split("\n")) for t in fig.texts if "flat at this ECG" in t.get_text()]
    assert shown == [flat_head_text("MI", "saliency", attribution.probability, "zero-gradient")]
    assert shown[0] in build_evidence(attribution, _delineation(), model=model).text
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
    assert saliency.locally_flat is True and saliency.flat_check == "head-constant" and not saliency.values.any()
    assert saliency.probability >= saliency.threshold  # the positive call is the flat region's
    delineation = delineate(s0010)
    text = build_evidence(saliency, delineation, faithfulness=False).text
    assert "MI probability 0.50 (at or above the head's threshold" in text
    # the same words classify and ask show with the probability (encoders.flat_head_note)
    assert flat_head_note("MI", saliency.probability) + ". Saliency is the input gradient" in text
    assert "use Integrated Gradients (method ig, the default)" in text and NO_EVIDENCE not in text
    ig = explain(s0010, "MI", "ig")
    assert ig.locally_flat is True and ig.positive.sum() > 0
    assert "This map takes its gradients at points between its baseline" in build_evidence(ig, delineation, faithfulness=False).text
    assert explain(s0010, "HYP", "saliency").locally_flat is False


def test_s0010_re_output_check_agrees_with_the_gradient_and_adds_no_backward_pass(
        s0010, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped models' output-only check and the zero input gradient (the same model seen as a
    custom one) give the same ``locally_flat`` on s0010_re: MI flat, HYP live; the shipped path
    calls no ``zero_input_gradient`` and makes one backward pass fewer per default IG map."""
    from ecgqa_tools.encoders import load_disease_model

    counts = Counts(monkeypatch)
    for disease, flat in (("MI", True), ("HYP", False)):
        model = load_disease_model(disease)
        counts.reset()
        shipped = explain(s0010, disease, "ig", model=model)
        shipped_counts = (counts.checks, counts.backward)
        counts.reset()
        custom = explain(s0010, disease, "ig", model=GradientOnly(model))
        assert (shipped.locally_flat, shipped.flat_check) == (flat, "head-constant")
        assert (custom.locally_flat, custom.flat_check) == (flat, "zero-gradient")
        assert shipped_counts[0] == 0 and counts.checks == 1
        assert shipped_counts[1] == counts.backward - 1
        np.testing.assert_array_equal(shipped.values, custom.values)


def test_plot_cli_says_the_head_is_flat(ptbdb_dir, tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s0010.png"
    assert main(["plot", str(ptbdb_dir / "s0010_re"), "--explain", "MI", "--method", "saliency", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    note = [line for line in err.splitlines() if "flat at this ECG" in line]
    assert len(note) == 1 and note[0].startswith("note: " + flat_head_note("MI", 0.4996) + ". ")
    assert "use Integrated Gradients (method ig, the default)" in note[0] and out.exists()


def test_plot_cli_evidence_says_it_once_without_the_api_spelling(ptbdb_dir, tmp_path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s0010.png"
    assert main(["plot", str(ptbdb_dir / "s0010_re"), "--explain", "MI", "--method", "saliency", "--evidence",
                 "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert "flat at this ECG" not in captured.err  # the evidence text on stdout carries it
    assert captured.out.count(flat_head_note("MI", 0.4996)) == 1
    assert 'method "ig"' not in captured.out and "(method ig, the default)" in captured.out  # review s9 N2
