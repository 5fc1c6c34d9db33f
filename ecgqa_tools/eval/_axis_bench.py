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
    method: str = ""
    """Axis method (``grounding.AXIS_METHODS``) the angles were computed with."""

    def table(self) -> str:
        classes = sorted({k[0] for k in self.confusion} | {k[1] for k in self.confusion})
        head = f"{'label/ours':<14}" + "".join(f"{c[:12]:>14}" for c in classes)
        rows = [head]
        for g in classes:
            rows.append(f"{g[:14]:<14}" + "".join(f"{self.confusion.get((g, p), 0):>14d}" for p in classes))
        return "\n".join(rows)


def parse_folds(spec: str | None) -> tuple[int, ...] | None:
    """``"1-8"``, ``"9,10"`` or ``"all"``/None -> the PTB-XL strat_folds to score (None = all)."""
    from ..errors import UsageError

    if spec is None or spec.strip().lower() in ("", "all"):
        return None
    folds: list[int] = []
    try:
        for part in spec.split(","):
            part = part.strip()
            if "-" in part:
                a, b = part.split("-")
                folds += list(range(int(a), int(b) + 1))
            elif part:
                folds.append(int(part))
    except ValueError:
        raise UsageError(f"bad --folds {spec!r}; expected e.g. 1-8, 9,10 or all") from None
    if not folds or any(f < 1 or f > 10 for f in folds):
        raise UsageError(f"bad --folds {spec!r}: PTB-XL strat_folds are 1-10")
    return tuple(sorted(set(folds)))


def cached_beats(keys: list, read, cache_path=None, desc: str = "delineate") -> dict:
    """Global QRS boundaries (``grounding.Beat``) of each record, from the OpenECG pipeline without
    the rhythm gate (the axis needs QRS only); ``read(key) -> ECG``. Resumable JSONL cache."""
    import json
    import os
    from pathlib import Path

    from tqdm import tqdm

    from ..encoders import DelineatorConfig, delineate
    from ..grounding import Beat, global_beats
    from ._delineation_bench import pipeline_fingerprint

    done: dict = {}
    pipeline = pipeline_fingerprint()  # boundaries cached by another delineator are redone
    path = None if cache_path is None else Path(cache_path)
    if path is not None and path.is_file():
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:  # a line cut by an interruption: recomputed
                continue
            if row.get("pipeline") == pipeline:
                done[row["key"]] = [Beat(int(a), int(b)) for a, b in row["beats"]]
    todo = [k for k in keys if str(k) not in done]
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    for k in tqdm(todo, desc=desc, file=sys.stderr, disable=None):
        d = delineate(read(k), config=DelineatorConfig(rhythm_gate=False))
        beats = [Beat(b.qrs_onset, b.qrs_offset) for b in global_beats(d)]
        done[str(k)] = beats
        if path is not None:
            with open(path, "a") as fh:
                fh.write(json.dumps({"key": str(k), "pipeline": pipeline,
                                     "beats": [[b.qrs_onset, b.qrs_offset] for b in beats]}) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
    return {k: done[str(k)] for k in keys}


def _agreement(confusion: Counter) -> float:
    n = sum(confusion.values())
    return sum(v for (g, p), v in confusion.items() if g == p) / max(n, 1)


def run_ptbxl_axis(root, fs_hz: int = 500, cache_path=None, folds: tuple[int, ...] | None = None,
                   methods: tuple[str, ...] | None = None) -> list[AxisResult]:
    """Our axis class vs PTB-XL heart_axis on every record with signals at ``fs_hz`` in ``folds``
    (strat_fold; None = all), one result per axis method (default: ``DEFAULT_AXIS_METHOD``)."""
    from ..grounding import DEFAULT_AXIS_METHOD, axis_from_beats
    from ..records import PtbXl

    methods = methods or (DEFAULT_AXIS_METHOD,)
    ptbxl = PtbXl(root)
    meta = ptbxl.metadata
    ids = [i for i in sorted(ptbxl.present_ids(fs_hz=fs_hz))
           if str(meta.loc[i, "heart_axis"]) in PTBXL_AXIS_MAP
           and (folds is None or int(meta.loc[i, "strat_fold"]) in folds)]
    beats = cached_beats(ids, lambda i: ptbxl.read(i, fs_hz=fs_hz), cache_path, f"PTB-XL beats ({fs_hz} Hz)")
    ecgs = {i: ptbxl.read(i, fs_hz=fs_hz) for i in ids}
    out = []
    for method in methods:
        confusion: Counter = Counter()
        unmeasurable = 0
        for i in ids:
            axis = axis_from_beats(ecgs[i], beats[i], fs_hz, method).value
            if axis is None:
                unmeasurable += 1
                continue
            confusion[(PTBXL_AXIS_MAP[str(meta.loc[i, "heart_axis"])], three_class(axis, PTBXL_CUTS_DEG))] += 1
        name = f"PTB-XL records{fs_hz}" + ("" if folds is None else f" folds {_folds_text(folds)}")
        out.append(AxisResult(name, sum(confusion.values()), unmeasurable, _agreement(confusion),
                              dict(confusion), method=method))
    return out


def _folds_text(folds: tuple[int, ...]) -> str:
    if list(folds) == list(range(folds[0], folds[-1] + 1)) and len(folds) > 1:
        return f"{folds[0]}-{folds[-1]}"
    return ",".join(str(f) for f in folds)


def run_ludb_axis(root, cache_path=None, methods: tuple[str, ...] | None = None) -> list[AxisResult]:
    """Our axis vs LUDB's electric axis (uniform-gain limb leads), all records without pacing,
    one result per axis method."""
    from ..grounding import DEFAULT_AXIS_METHOD, axis_from_beats
    from ..records import Ludb

    methods = methods or (DEFAULT_AXIS_METHOD,)
    ludb = Ludb(root)
    ids = [n for n in sorted(ludb.present_ids()) if ludb.diagnoses(n).electric_axis in LUDB_AXIS_MAP3]
    beats = cached_beats(ids, lambda n: ludb.read(n, gain="uniform"), cache_path, "LUDB beats")
    ecgs = {n: ludb.read(n, gain="uniform") for n in ids}
    out = []
    for method in methods:
        confusion: Counter = Counter()
        five_ok = five_n = unmeasurable = 0
        for n in ids:
            label = ludb.diagnoses(n).electric_axis
            axis = axis_from_beats(ecgs[n], beats[n], 500.0, method).value
            if axis is None:
                unmeasurable += 1
                continue
            confusion[(LUDB_AXIS_MAP3[label], three_class(axis, LUDB_CUTS_DEG))] += 1
            five_n += 1
            five_ok += int(ludb_five_class(axis) == label)
        out.append(AxisResult("LUDB", sum(confusion.values()), unmeasurable, _agreement(confusion),
                              dict(confusion), five_ok / max(five_n, 1), method=method))
    return out
