"""The clinical 12-lead plot: PNG and SVG files, strips, bad arguments, and the CLI."""

from __future__ import annotations

import numpy as np
import pytest

from ecgqa_tools.cli import main
from ecgqa_tools.errors import UsageError
from ecgqa_tools.grounding._attribution import Attribution
from ecgqa_tools.grounding._plot import attribution_intensity, lead_gain, plot_ecg
from ecgqa_tools.records import ECG, STANDARD_LEADS


def _ecg(fs: float = 250.0) -> ECG:
    t = np.arange(int(10 * fs)) / fs
    beat = np.exp(-(((t % 0.8) - 0.3) ** 2) / 0.0004)  # an R wave every 800 ms
    return ECG.from_array(np.stack([beat * (0.5 + 0.2 * i) for i in range(12)]).astype(np.float32), fs)


def _attribution(ecg: ECG) -> Attribution:
    values = np.zeros((12, ecg.n_samples), dtype=np.float32)
    values[STANDARD_LEADS.index("V2"), 70:80] = 1.0
    return Attribution(values, STANDARD_LEADS, ecg.fs_hz, "MI", "ig", 0.83, 1.6, 0.0, 0.0,
                       values[:, ::2], 125.0, 0, "flat line", ecg)


def test_png_and_svg_with_attribution_and_mask(tmp_path):
    ecg = _ecg()
    mask = np.zeros((12, ecg.n_samples), dtype=bool)
    mask[:, 60:90] = True
    fig = plot_ecg(ecg, _attribution(ecg), mask=mask, path=tmp_path / "e.png")
    assert (tmp_path / "e.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    texts = " ".join(t.get_text() for t in fig.texts)
    assert "MI head: probability 0.83" in texts and "not for clinical use" in texts
    # an ATTR and a CLIN strip under each of the 13 traces (drawn by the trace's axes), plus the colour key
    from matplotlib.image import AxesImage

    images = [a for ax in fig.axes for a in ax.get_children() if isinstance(a, AxesImage)]
    assert len(images) == 13 * 2 + 1
    clin = [im.get_array() for im in images if set(np.unique(im.get_array())) <= {0.0, 1.0}]
    assert any(strip.max() == 1.0 for strip in clin)  # the mask (samples 60-90) shows in the first column
    plot_ecg(ecg, path=tmp_path / "e.svg")
    assert "<svg" in (tmp_path / "e.svg").read_text()[:2000]
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind


def test_intensity_and_gain():
    ecg = _ecg()
    intensity = attribution_intensity(_attribution(ecg))
    assert intensity.shape == (12, ecg.n_samples) and intensity.max() == pytest.approx(1.0)
    assert intensity[STANDARD_LEADS.index("V2")].argmax() in range(60, 90)
    assert lead_gain(np.array([0.0, 1.0])) == 10.0
    assert lead_gain(np.array([0.0, 5.0])) == 5.0
    assert lead_gain(np.array([0.0, 30.0])) == 2.5


def test_bad_arguments_raise_usage_errors(tmp_path):
    ecg = _ecg()
    with pytest.raises(UsageError, match=".png or .svg"):
        plot_ecg(ecg, path=tmp_path / "e.pdf")
    with pytest.raises(UsageError, match="mask must have shape"):
        plot_ecg(ecg, mask=np.zeros((12, 5), dtype=bool))


def test_cli_plots_a_bundled_example(tmp_path, capsys):
    out = tmp_path / "ex.png"
    assert main(["plot", "ptbxl-00473", "-o", str(out)]) == 0
    assert out.is_file() and str(out) in capsys.readouterr().out
    assert main(["plot", "ptbxl-00473", "-o", str(tmp_path / "ex.jpg")]) == 1
    assert "error:" in capsys.readouterr().err


def test_svg_embeds_the_attribution_coloured_trace_as_an_image(tmp_path):
    """The coloured trace (one segment per sample pair) is rasterized inside the SVG, so an
    explained 500 Hz plot stays small; the grid, text and calibration stay vector."""
    ecg = _ecg(500.0)
    attribution = Attribution(np.tile(np.linspace(0, 1, ecg.n_samples, dtype=np.float32), (12, 1)),
                              STANDARD_LEADS, ecg.fs_hz, "MI", "ig", 0.83, 1.6, 0.0, 0.0,
                              np.zeros((12, 1000), np.float32), 100.0, 0, "flat line", ecg)
    plot_ecg(ecg, attribution, path=tmp_path / "e.svg")
    text = (tmp_path / "e.svg").read_text()
    assert text.count("<image") >= 13 * 2  # trace image + ATTR strip per panel
    assert text.count("<path") < 5000       # was one path per sample pair (~20k) before
    assert len(text) < 1_500_000            # ~4 MB before
