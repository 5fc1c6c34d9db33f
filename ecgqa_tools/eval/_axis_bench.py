"""QRS-axis benchmark against PTB-XL ``heart_axis`` and LUDB ``Electric axis of the heart``.

The mappings and cut-offs below were fixed before any result was looked at, from what the
labels mean in their source's convention:

PTB-XL (German, Schiller devices; Cabrera "Lagetyp" names): ``MID`` Mittellagetyp /
normal; ``LAD`` Linkstyp, ``ALAD`` ueberdrehter Linkstyp (abnormal left), ``AXL`` axis to the left
-> left; ``RAD`` Rechtstyp, ``ARAD`` ueberdrehter Rechtstyp, ``AXR`` axis to the right -> right;
``SAG`` sagittal type (no frontal axis) is excluded. In that convention Linkstyp starts below
+30 degrees, so our angle is classed for this comparison as left < +30 <= normal <= +90 < right.

LUDB (Russian convention): ``left axis deviation`` is below 0 degrees, ``horizontal`` 0..+30,
``normal`` +30..+70, ``vertical`` +70..+90, ``right axis deviation`` above +90. Three-class
agreement (left < 0 <= normal/horizontal/vertical <= 90 < right) is the headline; the five-class
agreement with those cut-offs is also reported. Records with pacing (``none (pacemaker)``) are
excluded. LUDB's limb leads are read with one uniform gain (raw integers), since the per-lead
header gains break Einthoven's law.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass


PTBXL_AXIS_MAP: dict[str, str] = {
    "MID": "normal", "LAD": "left", "ALAD": "left", "AXL": "left",
    "RAD": "right", "ARAD": "right", "AXR": "right",
}
"""PTB-XL heart_axis code -> class; SAG and missing codes are not scored."""
PTBXL_CUTS_DEG: tuple[float, float] = (30.0, 90.0)
LUDB_CUTS_DEG: tuple[float, float] = (0.0, 90.0)
LUDB_FIVE_CUTS_DEG: tuple[float, float, float, float] = (0.0, 30.0, 70.0, 90.0)
LUDB_AXIS_MAP3: dict[str, str] = {
    "normal": "normal", "vertical": "normal", "horizontal": "normal",
    "left axis deviation": "left", "right axis deviation": "right",
}


def three_class(axis_deg: float, cuts: tuple[float, float]) -> str:
    """left / normal / right for an axis in (-180, 180] with the given (left, right) cut-offs.
    Axes beyond +180/-90 (the extreme quadrant) count as right when > +90 or < -150, else left."""
    a = (axis_deg + 180.0) % 360.0 - 180.0
    if cuts[0] <= a <= cuts[1]:
        return "normal"
    if a > cuts[1] or a < -150.0:
        return "right"
    return "left"


def ludb_five_class(axis_deg: float) -> str:
    a = (axis_deg + 180.0) % 360.0 - 180.0
    c0, c1, c2, c3 = LUDB_FIVE_CUTS_DEG
    if a > c3 or a < -150.0:
        return "right axis deviation"
    if a < c0:
        return "left axis deviation"
    if a < c1:
        return "horizontal"
    if a <= c2:
        return "normal"
    return "vertical"


@dataclass(frozen=True)
class AxisResult:
    """Agreement of our axis class with a dataset's labels."""

    dataset: str
    n_scored: int
    n_unmeasurable: int
    agreement: float
    confusion: dict[tuple[str, str], int]
    """(label class, our class) -> count."""
    agreement_five: float | None = None
    """LUDB only: five-class agreement."""

    def table(self) -> str:
        classes = sorted({k[0] for k in self.confusion} | {k[1] for k in self.confusion})
        head = f"{'label/ours':<14}" + "".join(f"{c[:12]:>14}" for c in classes)
        rows = [head]
        for g in classes:
            rows.append(f"{g[:14]:<14}" + "".join(f"{self.confusion.get((g, p), 0):>14d}" for p in classes))
        return "\n".join(rows)


def run_ptbxl_axis(root, fs_hz: int = 500, cache_path=None) -> AxisResult:
    """Our axis class vs PTB-XL heart_axis on every record with signals at ``fs_hz`` (the
    measurements are shared with ``bench intervals`` through the same resumable cache)."""
    from ..records import PtbXl
    from ._delineation_intervals import measure_ptbxl

    ptbxl = PtbXl(root)
    meta = ptbxl.metadata
    ids = [i for i in sorted(ptbxl.present_ids(fs_hz=fs_hz))
           if str(meta.loc[i, "heart_axis"]) in PTBXL_AXIS_MAP]
    # with the full pipeline's cache when it covers the records (bench intervals fills it), else
    # QRS-only measurements (the P gate does not move the axis)
    measured = measure_ptbxl(root, ids, fs_hz, cache_path, p_gate=fs_hz == 500)
    confusion: Counter = Counter()
    unmeasurable = 0
    for i in ids:
        axis = measured[i]["values"]["qrs_axis"]
        if axis is None:
            unmeasurable += 1
            continue
        confusion[(PTBXL_AXIS_MAP[str(meta.loc[i, "heart_axis"])], three_class(axis, PTBXL_CUTS_DEG))] += 1
    n = sum(confusion.values())
    agree = sum(v for (g, p), v in confusion.items() if g == p) / max(n, 1)
    return AxisResult(f"PTB-XL records{fs_hz}", n, unmeasurable, agree, dict(confusion))


def run_ludb_axis(root) -> AxisResult:
    """Our axis vs LUDB's electric axis (uniform-gain limb leads), all records without pacing."""
    from tqdm import tqdm

    from ..encoders import DelineatorConfig, delineate
    from ..grounding import measure
    from ..records import Ludb

    ludb = Ludb(root)
    confusion: Counter = Counter()
    five_ok = five_n = unmeasurable = 0
    for n in tqdm(sorted(ludb.present_ids()), desc="LUDB axis", file=sys.stderr, disable=None):
        label = ludb.diagnoses(n).electric_axis
        if label not in LUDB_AXIS_MAP3:
            continue
        ecg = ludb.read(n, gain="uniform")
        # the axis needs QRS boundaries only: the P gate (codec rhythm layer) is skipped
        axis = measure(ecg, delineate(ecg, config=DelineatorConfig(rhythm_gate=False))).qrs_axis.value
        if axis is None:
            unmeasurable += 1
            continue
        confusion[(LUDB_AXIS_MAP3[label], three_class(axis, LUDB_CUTS_DEG))] += 1
        five_n += 1
        five_ok += int(ludb_five_class(axis) == label)
    n_scored = sum(confusion.values())
    agree = sum(v for (g, p), v in confusion.items() if g == p) / max(n_scored, 1)
    return AxisResult("LUDB", n_scored, unmeasurable, agree, dict(confusion), five_ok / max(five_n, 1))
