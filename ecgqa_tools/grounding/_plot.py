"""The clinical 12-lead plot: 3 x 4 layout plus a lead II rhythm strip on ECG paper, with the trace
coloured by attribution intensity, an ATTR strip under each lead and a CLIN strip marking the
clinical mask.

Layout (as printed by electrocardiographs, 25 mm/s): columns show consecutive quarters of the
record, rows are I/II/III, aVR/aVL/aVF, V1/V2/V3, V4/V5/V6; the bottom row is lead II over the
whole record (at most the first 10 s). Each lead has its own vertical scale (its panel fits its
amplitude), so the paper grid keeps its meaning (small squares 40 ms x 0.1 mV, large squares
200 ms x 0.5 mV) and a calibration pulse of 1 mV at the start of each panel shows the scale.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .. import DISCLAIMER as _PACKAGE_DISCLAIMER
from .._io import atomic_output
from ..errors import UsageError
from ..records import ECG, STANDARD_LEADS, require_ecg, to_standard_leads
from ._attribution import METHOD_NAMES, Attribution, call_words

LAYOUT: tuple[tuple[str, ...], ...] = (
    ("I", "aVR", "V1", "V4"),
    ("II", "aVL", "V2", "V5"),
    ("III", "aVF", "V3", "V6"),
)
RHYTHM_LEAD = "II"
MAX_SECONDS = 10.0
MIN_DPI, MAX_DPI = 50, 600
"""Resolution ``plot_ecg`` accepts (dpi 0 was matplotlib's ValueError; 100000 a std::bad_alloc)."""
SMOOTH_MS = 40.0
PAPER = "#fff7f5"
GRID_MINOR = "#f6c9c4"
GRID_MAJOR = "#e58f88"
CLIN_COLOUR = "#2b6cb0"
PLAIN_DISCLAIMER = _PACKAGE_DISCLAIMER
"""Footer of a plot without attributions: the package's one disclaimer (``ecgqa_tools.DISCLAIMER``)."""
DISCLAIMER = f"{_PACKAGE_DISCLAIMER} Attributions are model explanations, not a diagnosis."
"""Footer of an explained plot: the package's disclaimer and what an attribution is."""
FORMATS = ("png", "svg")


def _colormaps():  # noqa: ANN202
    from matplotlib.colors import LinearSegmentedColormap

    trace = LinearSegmentedColormap.from_list(
        "ecg_attr_trace", ["#111111", "#6b1a14", "#b8221c", "#e8291c"])
    strip = LinearSegmentedColormap.from_list(
        "ecg_attr_strip", ["#ffffff", "#fdd0a2", "#f16913", "#e8291c"])
    return trace, strip


def attribution_intensity(attribution: Attribution, max_samples: int | None = None) -> np.ndarray:
    """Positive attribution smoothed over 40 ms, scaled to [0, 1] by its 99.5th percentile."""
    from scipy.ndimage import uniform_filter1d

    positive = attribution.positive[:, :max_samples].astype(np.float64)
    width = max(1, int(round(SMOOTH_MS * attribution.fs_hz / 1000.0)))
    smooth = uniform_filter1d(positive, size=width, axis=1, mode="nearest")
    scale = float(np.percentile(smooth, 99.5)) if smooth.size else 0.0
    if scale <= 0:
        scale = float(smooth.max()) if smooth.size else 0.0
    return np.clip(smooth / scale, 0.0, 1.0) if scale > 0 else np.zeros_like(smooth)


MM_PER_S = 25.0
PANEL_MM = 38.0
"""Height of each lead's trace panel in paper millimetres."""
STRIP_MM = 3.2
GAP_MM = 2.6
CAL_MM = 9.0
"""Width of the calibration column left of each row."""
GAINS_MM_PER_MV = (10.0, 5.0, 2.5)
"""Standard gains, preferred in this order (never magnified above the standard 10 mm/mV)."""


def lead_gain(y_mv: np.ndarray, room_mm: float = PANEL_MM - 4.0) -> float:
    """Largest standard gain (10, 5, 2.5 mm/mV) at which the lead fits its panel."""
    span = float(np.ptp(y_mv)) if y_mv.size else 0.0
    for gain in GAINS_MM_PER_MV:
        if span * gain <= room_mm:
            return gain
    return GAINS_MM_PER_MV[-1]


def _paper(ax: Any, x0: float, x1: float, y0: float, y1: float) -> None:
    """ECG paper in millimetres: 1 mm minor and 5 mm major squares."""
    ax.set_facecolor(PAPER)
    from matplotlib.collections import LineCollection

    def lines(step: float, colour: str, width: float) -> None:
        xs = np.arange(np.ceil(x0 / step) * step, x1 + 1e-9, step)
        ys = np.arange(np.ceil(y0 / step) * step, y1 + 1e-9, step)
        segs = [((x, y0), (x, y1)) for x in xs] + [((x0, y), (x1, y)) for y in ys]
        # autolim=False: the limits are set below (scanning every path for data limits is wasted)
        ax.add_collection(LineCollection(segs, colors=colour, linewidths=width, zorder=0), autolim=False)

    lines(1.0, GRID_MINOR, 0.25)
    lines(5.0, GRID_MAJOR, 0.55)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def _trace(ax: Any, x: np.ndarray, y: np.ndarray, intensity: np.ndarray | None, cmap: Any, lw: float) -> None:
    if intensity is None:
        ax.plot(x, y, color="#111111", lw=lw, zorder=3, solid_joinstyle="round")
        return
    from matplotlib.collections import LineCollection

    points = np.column_stack([x, y]).reshape(-1, 1, 2)
    segments = np.concatenate([points[:-1], points[1:]], axis=1)
    level = 0.5 * (intensity[:-1] + intensity[1:])
    collection = LineCollection(segments, cmap=cmap, linewidths=lw + 1.3 * level, zorder=3,
                                capstyle="round", joinstyle="round")
    collection.set_array(level)
    collection.set_clim(0.0, 1.0)
    # one styled path per sample pair made the SVG ~4 MB: vector formats embed this collection as
    # an image at the save dpi instead (the PNG, drawn by Agg, is unchanged)
    collection.set_rasterized(True)
    ax.add_collection(collection, autolim=False)  # the panel's limits are already set by _paper


def _strip(ax: Any, cell: Any, x0: float, x1: float, values: np.ndarray, cmap: Any, zorder: float,
           binary: bool = False) -> None:
    """An ATTR/CLIN strip filling the figure cell ``cell`` (a Bbox in figure fraction), drawn by the
    lead's trace axes ``ax`` after all of that axes' own artists (``zorder`` above theirs): a white
    box, ``values`` over [x0, x1] as a nearest-neighbour image and a grey frame - the artists,
    transforms and drawing order of the axes of its own each strip used to have, without building
    26 axes and their ticks per explained plot (the same pixels)."""
    import matplotlib as mpl
    from matplotlib.colors import ListedColormap, Normalize
    from matplotlib.image import AxesImage
    from matplotlib.patches import PathPatch, Rectangle
    from matplotlib.path import Path as DrawPath
    from matplotlib.transforms import Bbox, BboxTransformFrom, BboxTransformTo, TransformedBbox

    box = BboxTransformTo(TransformedBbox(cell, ax.figure.transSubfigure))  # (0, 0)-(1, 1): the cell
    background = Rectangle((0.0, 0.0), 1.0, 1.0, facecolor=mpl.rcParams["axes.facecolor"], edgecolor="none",
                           linewidth=0, transform=box, zorder=zorder)
    image = np.where(values, 1.0, 0.0) if binary else values
    colours = ListedColormap(["white", CLIN_COLOUR]) if binary else cmap
    picture = AxesImage(ax, cmap=colours, norm=Normalize(0.0, 1.0), interpolation="nearest",
                        extent=(x0, x1, 0, 1), zorder=zorder + 0.01)
    picture.set_data(image[None, :])
    picture.set_transform(BboxTransformFrom(Bbox([[x0, 0.0], [x1, 1.0]])) + box)
    sides = (((0.0, 0.0), (0.0, 1.0)), ((1.0, 0.0), (1.0, 1.0)), ((0.0, 0.0), (1.0, 0.0)), ((0.0, 1.0), (1.0, 1.0)))
    frame = [PathPatch(DrawPath(side), facecolor="none", edgecolor="#9a9a9a", linewidth=0.4, capstyle="projecting",
                       transform=box, zorder=zorder + 0.02) for side in sides]  # left, right, bottom, top
    for artist in (background, picture, *frame):
        ax.add_artist(artist)
        artist.set_clip_path(None)
        artist.set_clip_on(False)
    picture.set_clip_on(True)
    picture.set_clip_path(background)  # a rectangle: clips to the cell's box, as in an axes


FLAT_LINE_MM = 2.9
"""Height of one line of the flat-head text (6.5 pt) on the figure."""
FLAT_CHAR_MM = 1.3
"""Width of an average character of that text, for wrapping it to the figure's width."""


def _flat_lines(attribution: Attribution | None, text_width_mm: float) -> list[str]:
    """The flat-head text (``flat_head_text``, as in the evidence) wrapped to the figure, or []."""
    if attribution is None or not attribution.locally_flat:
        return []
    import textwrap

    from ._evidence import flat_head_text

    text = flat_head_text(attribution.disease, attribution.method, attribution.probability, attribution.flat_check)
    return textwrap.wrap(text, max(40, int(text_width_mm / FLAT_CHAR_MM)))


def plot_ecg(ecg: ECG, attribution: Attribution | None = None, *, mask: np.ndarray | None = None,
             path: str | Path | None = None, title: str | None = None, dpi: int = 200,
             record_name: str | None = None) -> Any:
    """Draw the clinical 12-lead plot; returns the matplotlib Figure (saved when ``path`` is given).

    ``attribution``: colours the trace and fills the ATTR strips (the head and its probability go
    in the title). ``mask``: boolean (12, samples) clinical mask at the ECG's rate for the CLIN
    strips (``clinical_mask(delineation, disease, n_samples=..., fs_hz=...)``). ``path`` ending in
    ``.png`` or ``.svg`` writes the file atomically. Paper speed 25 mm/s; each lead gets the
    largest standard gain (10, 5 or 2.5 mm/mV) at which it fits its panel, shown by the
    calibration pulse left of each row (first lead of the row) and next to any lead that differs.
    ``record_name``: how the footer names the record (default ``<record_id> (<source>)``; the CLI
    passes the canonical name, ``records.record_display_name``).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.gridspec import GridSpec

    require_ecg(ecg, "plot_ecg")
    if isinstance(dpi, bool) or not isinstance(dpi, (int, float)) or not MIN_DPI <= dpi <= MAX_DPI:
        raise UsageError(f"dpi must be a number from {MIN_DPI} to {MAX_DPI}, got {dpi!r}")
    fmt = None
    if path is not None:
        fmt = Path(path).suffix.lower().lstrip(".")
        if fmt not in FORMATS:
            raise UsageError(f"plot file must end in .png or .svg, got {Path(path).name!r}")
    ecg = to_standard_leads(ecg)
    fs = ecg.fs_hz
    n = min(ecg.n_samples, int(round(MAX_SECONDS * fs)))
    signal = ecg.signal_mv[:, :n]
    if attribution is not None and attribution.values.shape[1] != ecg.n_samples:
        raise UsageError(f"attribution has {attribution.values.shape[1]} samples, the ECG {ecg.n_samples}")
    if mask is not None and mask.shape != (12, ecg.n_samples):
        raise UsageError(f"mask must have shape (12, {ecg.n_samples}), got {mask.shape}")
    intensity = attribution_intensity(attribution, n) if attribution is not None else None
    clin = mask[:, :n] if mask is not None else None
    trace_cmap, strip_cmap = _colormaps()
    duration = n / fs
    quarter = duration / 4.0
    col_mm = quarter * MM_PER_S

    strips = (1 if intensity is not None else 0) + (1 if clin is not None else 0)
    row_mm = [PANEL_MM] + [STRIP_MM] * strips + [GAP_MM]
    heights = row_mm * 4
    margin_l, margin_r, top_mm, bottom_mm = 6.0, 6.0, 17.0, 9.0
    width_mm = margin_l + CAL_MM + 4 * col_mm + margin_r
    flat_lines = _flat_lines(attribution, width_mm - margin_l - margin_r)
    top_mm += FLAT_LINE_MM * max(len(flat_lines) - 1, 0)  # room for a wrapped flat-head text
    height_mm = top_mm + sum(heights) + bottom_mm
    fig = plt.figure(figsize=(width_mm / 25.4, height_mm / 25.4), facecolor="white")
    grid = GridSpec(len(heights), 5, figure=fig, height_ratios=heights, width_ratios=[CAL_MM] + [col_mm] * 4,
                    hspace=0.0, wspace=0.0, left=margin_l / width_mm, right=1 - margin_r / width_mm,
                    top=1 - top_mm / height_mm, bottom=bottom_mm / height_mm)
    per_row = len(row_mm)

    def draw(row: int, first_col: int, last_col: int, lead: str, a: int, b: int, row_gain: float) -> float:
        index = STANDARD_LEADS.index(lead)
        y_mv = signal[index, a:b]
        gain = lead_gain(y_mv)
        x = np.arange(a, b) / fs * MM_PER_S
        x0, x1 = a / fs * MM_PER_S, b / fs * MM_PER_S
        centre = 0.5 * (float(y_mv.max()) + float(y_mv.min())) * gain if y_mv.size else 0.0
        y0, y1 = centre - PANEL_MM / 2, centre + PANEL_MM / 2
        ax = fig.add_subplot(grid[row * per_row, first_col + 1:last_col + 2])
        _paper(ax, x0, x1, y0, y1)
        _trace(ax, x, y_mv * gain, intensity[index, a:b] if intensity is not None else None, trace_cmap, 0.6)
        label = lead if gain == row_gain else f"{lead}  {gain:g} mm/mV"
        ax.text(x0 + 1.5, y1 - 1.5, label, fontsize=8, fontweight="bold", va="top", ha="left", zorder=5,
                bbox=dict(facecolor=PAPER, edgecolor="none", pad=0.5, alpha=0.8))
        if first_col > 0:  # lead-change mark
            ax.plot([x0, x0], [centre - 3, centre + 3], color="#111111", lw=0.9, zorder=4)
        k = 1
        if intensity is not None:
            _strip(ax, grid[row * per_row + k, first_col + 1:last_col + 2].get_position(fig), x0, x1,
                   intensity[index, a:b], strip_cmap, 10.0)
            k += 1
        if clin is not None:
            _strip(ax, grid[row * per_row + k, first_col + 1:last_col + 2].get_position(fig), x0, x1,
                   clin[index, a:b], strip_cmap, 11.0, binary=True)
        return gain

    def calibration(row: int, gain: float) -> None:
        ax = fig.add_subplot(grid[row * per_row, 0])
        _paper(ax, 0.0, CAL_MM, -PANEL_MM / 2, PANEL_MM / 2)
        base = -gain / 2
        ax.plot([0.5, 2.0, 2.0, 7.0, 7.0, 8.5], [base, base, base + gain, base + gain, base, base],
                color="#111111", lw=0.8, zorder=3)
        ax.text(CAL_MM / 2, -PANEL_MM / 2 + 1.0, f"{gain:g} mm/mV", fontsize=4.5, ha="center", va="bottom")
        k = 1
        for name in (["ATTR"] if intensity is not None else []) + (["CLIN"] if clin is not None else []):
            # placed on the figure where an invisible axes' (0.95, 0.5) would be: same pixels, one
            # axes (and its ticks) less to build per label
            cell = grid[row * per_row + k, 0].get_position(fig)
            fig.text(cell.x0 + 0.95 * cell.width, cell.y0 + 0.5 * cell.height, name, fontsize=5, ha="right",
                     va="center")
            k += 1

    rows = [list(leads) for leads in LAYOUT] + [[RHYTHM_LEAD]]
    for r, leads in enumerate(rows):
        first_gain = lead_gain(signal[STANDARD_LEADS.index(leads[0])], PANEL_MM - 4.0) if r == 3 else lead_gain(
            signal[STANDARD_LEADS.index(leads[0]), : int(round(quarter * fs))])
        calibration(r, first_gain)
        if r == 3:
            draw(3, 0, 3, RHYTHM_LEAD, 0, n, first_gain)
            continue
        for c, lead in enumerate(leads):
            a, b = int(round(c * quarter * fs)), int(round((c + 1) * quarter * fs))
            draw(r, c, c, lead, a, b, first_gain)

    if title is None:
        title = (f"{attribution.disease} head: {call_words(attribution.probability, attribution.threshold)}"
                 if attribution is not None else f"12-lead ECG {record_name or ecg.record_id}")
    fig.text(margin_l / width_mm, 1 - 4.0 / height_mm, title, fontsize=10, fontweight="bold", va="top")
    info = (f"record {record_name or f'{ecg.record_id} ({ecg.source})'}   {fs:g} Hz, {duration:.1f} s shown   "
            "25 mm/s, gain per lead (calibration pulse)   grid: 1 mm = 40 ms")
    if attribution is not None:
        method = METHOD_NAMES.get(attribution.method, attribution.method)
        info += f"   |   trace colour and ATTR: {method}, positive attribution"
        if clin is not None:
            info += "   |   CLIN: expected region"
    fig.text(margin_l / width_mm, 1 - 10.5 / height_mm, info, fontsize=6.5, va="top", color="#333333")
    if flat_lines:  # Attribution.locally_flat: the evidence text's sentence, on the figure
        fig.text(margin_l / width_mm, 1 - 13.5 / height_mm, "\n".join(flat_lines), fontsize=6.5, va="top",
                 color="#8b0000", linespacing=1.15)
    fig.text(margin_l / width_mm, 3.0 / height_mm, DISCLAIMER if attribution is not None else PLAIN_DISCLAIMER,
             fontsize=7, va="bottom", color="#8b0000")
    if intensity is not None:  # colour key: low -> high positive attribution
        key = fig.add_axes((1 - (margin_r + 50.0) / width_mm, 1 - 7.5 / height_mm, 40.0 / width_mm, 2.2 / height_mm))
        key.imshow(np.linspace(0, 1, 256)[None, :], aspect="auto", cmap=strip_cmap, extent=(0, 1, 0, 1))
        key.set_xticks([])
        key.set_yticks([])
        key.text(-0.03, 0.5, "attribution: low", fontsize=6, ha="right", va="center", transform=key.transAxes)
        key.text(1.03, 0.5, "high", fontsize=6, ha="left", va="center", transform=key.transAxes)
    if path is not None:
        _save(fig, Path(path), fmt or "png", dpi)
        plt.close(fig)
    return fig


def _save(fig: Any, path: Path, fmt: str, dpi: int) -> None:
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=dpi, facecolor="white")
