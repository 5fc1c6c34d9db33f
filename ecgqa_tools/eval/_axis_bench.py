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

Session 3 adds per-dataset *label conventions* fitted on development parts only
(``fit_axis_cuts``; protocol in docs/measurements.md, committed before the fit): the cut-offs
above stay available as the ``apriori`` convention, ``textbook`` is the AHA -30 / +90 that
``measure()`` uses, and ``ptbxl`` / ``ludb`` are the fitted ones (``grounding.AXIS_CONVENTIONS``).
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass

from ..encoders import AXIS_PTBXL_LABELS

PTBXL_AXIS_MAP: dict[str, str] = AXIS_PTBXL_LABELS
"""PTB-XL heart_axis code -> class; SAG and missing codes are not scored (the one table
``encoders.AXIS_PTBXL_LABELS`` the axis model trains on, under the name this benchmark exported first)."""
PTBXL_CUTS_DEG: tuple[float, float] = (30.0, 90.0)
LUDB_CUTS_DEG: tuple[float, float] = (0.0, 90.0)
LUDB_FIVE_CUTS_DEG: tuple[float, float, float, float] = (0.0, 30.0, 70.0, 90.0)
LUDB_AXIS_MAP3: dict[str, str] = {
    "normal": "normal", "vertical": "normal", "horizontal": "normal",
    "left axis deviation": "left", "right axis deviation": "right",
}
APRIORI_CUTS_DEG: dict[str, tuple[float, float]] = {"ptbxl": PTBXL_CUTS_DEG, "ludb": LUDB_CUTS_DEG}
"""Session 1's per-dataset (left, right) cut-offs, fixed before any result (the ``apriori`` convention)."""
LEFT_GRID_DEG: tuple[float, ...] = tuple(float(x) for x in range(-40, 41, 5))
"""Candidate left cut-offs of the session-3 calibration (protocol in docs/measurements.md)."""
RIGHT_GRID_DEG: tuple[float, ...] = tuple(float(x) for x in range(80, 121, 5))
"""Candidate right cut-offs of the session-3 calibration."""
TEXTBOOK_CUTS_DEG: tuple[float, float] = (-30.0, 90.0)
"""AHA/ACCF/HRS 2009 normal range; ties of the fit go to the pair closest to it."""
BENCH_CONVENTIONS = ("dataset", "apriori", "textbook", "ptbxl", "ludb")
"""Names ``--conventions`` accepts: ``dataset`` = the dataset's own fitted convention."""



def axis_fingerprint() -> str:
    """Hash of the code behind every cached axis value: the delineator (``encoders.delineate``'s
    module), the beat and angle code (``grounding.axis_from_beats``'s module) and this module's
    features, so a change to any of them recomputes."""
    import sys

    from ..encoders import delineate
    from ..grounding import axis_from_beats
    from ._delineation_bench import pipeline_fingerprint

    return pipeline_fingerprint(delineate, axis_from_beats, sys.modules[__name__])

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
    convention: str = ""
    """Label convention the classes were cut with (``apriori``, ``textbook``, ``ptbxl``, ``ludb``)."""
    cuts_deg: tuple[float, float] | None = None
    """(left, right) cut-offs of that convention in degrees."""

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


class _RecordCache:
    """Resumable per-record JSONL cache: one flushed line per record; rows whose ``match`` fields
    (code fingerprint, method...) differ from ours, and lines cut by an interruption, are ignored."""

    def __init__(self, path, match: dict) -> None:
        import json
        from pathlib import Path

        self.path = None if path is None else Path(path)
        self.match = match
        self.rows: dict[str, dict] = {}
        if self.path is not None and self.path.is_file():
            for line in self.path.read_text().splitlines():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:  # recomputed
                    continue
                if all(row.get(k) == v for k, v in match.items()):
                    self.rows[row["key"]] = row
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def add(self, key: str, **values) -> None:
        import json
        import os

        row = {"key": key, **self.match, **values}
        self.rows[key] = row
        if self.path is not None:
            with open(self.path, "a") as fh:
                fh.write(json.dumps(row) + "\n")
                fh.flush()
                os.fsync(fh.fileno())


def cached_beats(keys: list, read, cache_path=None, desc: str = "delineate") -> dict:
    """Global QRS boundaries (``grounding.Beat``) of each record, from the OpenECG pipeline without
    the rhythm gate (the axis needs QRS only); ``read(key) -> ECG``. Resumable JSONL cache."""
    from tqdm import tqdm

    from ..encoders import DelineatorConfig, delineate
    from ..grounding import Beat, global_beats

    # values cached by other delineation/axis code are redone
    cache = _RecordCache(cache_path, {"pipeline": axis_fingerprint()})
    for k in tqdm([k for k in keys if str(k) not in cache.rows], desc=desc, file=sys.stderr, disable=None):
        d = delineate(read(k), config=DelineatorConfig(rhythm_gate=False))
        cache.add(str(k), beats=[[b.qrs_onset, b.qrs_offset] for b in global_beats(d)])
    return {k: [Beat(int(a), int(b)) for a, b in cache.rows[str(k)]["beats"]] for k in keys}


def _agreement(confusion: Counter) -> float:
    n = sum(confusion.values())
    return sum(v for (g, p), v in confusion.items() if g == p) / max(n, 1)


@dataclass(frozen=True)
class AxisRecord:
    """One labelled record of an axis benchmark with our angle."""

    key: str
    """Record id (PTB-XL ecg_id or LUDB record number) as text."""
    label: str
    """The dataset's label as a three-class word: left / normal / right."""
    axis_deg: float | None
    """Our frontal QRS axis in degrees, None when unmeasurable."""
    label_five: str | None = None
    """LUDB only: its own five-class word (normal, horizontal, vertical, left/right axis deviation)."""


@dataclass(frozen=True)
class AxisFit:
    """Result of ``fit_axis_cuts``: the chosen cut-offs and the whole accuracy grid."""

    left_deg: float
    right_deg: float
    n_correct: int
    """Development records the chosen cut-offs classify like the label."""
    n_scored: int
    """Development records with a measurable axis."""
    grid: dict[tuple[float, float], int]
    """(left, right) -> records classified like the label."""

    @property
    def accuracy(self) -> float:
        return self.n_correct / max(self.n_scored, 1)

    def n_tied(self) -> int:
        """How many grid pairs reach the best count (the tie rule chose among them)."""
        return sum(v == self.n_correct for v in self.grid.values())

    def table(self) -> str:
        """Accuracy of every grid pair: left cut-offs as rows, right cut-offs as columns."""
        lefts = sorted({k[0] for k in self.grid})
        rights = sorted({k[1] for k in self.grid})
        rows = ["left\\right " + "".join(f"{r:>7.0f}" for r in rights)]
        for left in lefts:
            rows.append(f"{left:>11.0f} " + "".join(
                f"{self.grid[(left, r)] / max(self.n_scored, 1):>7.3f}" for r in rights))
        return "\n".join(rows)


def fit_axis_cuts(records: list[AxisRecord], left_grid: tuple[float, ...] = LEFT_GRID_DEG,
                  right_grid: tuple[float, ...] = RIGHT_GRID_DEG,
                  textbook: tuple[float, float] = TEXTBOOK_CUTS_DEG) -> AxisFit:
    """The (left, right) cut-off pair with the highest three-class agreement (``three_class``) on
    ``records`` (a development part: never the records it is reported on). Ties go to the pair
    closest to ``textbook``: smallest |L - L0| + |R - R0|, then |L - L0|, then the lower L, then
    the lower R. Unmeasurable records are left out."""
    from ..errors import UsageError

    scored = [r for r in records if r.axis_deg is not None]
    if not scored:
        raise UsageError("no record with a measurable axis to fit cut-offs on")
    if not left_grid or not right_grid:
        raise UsageError("empty cut-off grid")
    grid: dict[tuple[float, float], int] = {}
    for left in left_grid:
        for right in right_grid:
            if not left < right:
                raise UsageError(f"left cut-off {left} is not below right cut-off {right}")
            grid[(float(left), float(right))] = sum(
                three_class(r.axis_deg, (left, right)) == r.label for r in scored)
    best = max(grid.values())
    l0, r0 = textbook
    left, right = min((k for k, v in grid.items() if v == best),
                      key=lambda k: (abs(k[0] - l0) + abs(k[1] - r0), abs(k[0] - l0), k[0], k[1]))
    return AxisFit(left, right, best, len(scored), grid)


def score_axis(records: list[AxisRecord], cuts: tuple[float, float], dataset: str, method: str = "",
               convention: str = "", five_class: bool = False) -> AxisResult:
    """Three-class agreement of ``records`` cut at ``cuts`` (and LUDB's five-class agreement with
    the a-priori cuts when ``five_class``)."""
    confusion: Counter = Counter()
    five_ok = five_n = 0
    for r in records:
        if r.axis_deg is None:
            continue
        confusion[(r.label, three_class(r.axis_deg, cuts))] += 1
        if five_class and r.label_five is not None:
            five_n += 1
            five_ok += int(ludb_five_class(r.axis_deg) == r.label_five)
    unmeasurable = sum(r.axis_deg is None for r in records)
    return AxisResult(dataset, sum(confusion.values()), unmeasurable, _agreement(confusion), dict(confusion),
                      five_ok / max(five_n, 1) if five_class else None, method=method,
                      convention=convention, cuts_deg=(float(cuts[0]), float(cuts[1])))


def convention_cuts(name: str, dataset: str) -> tuple[float, float]:
    """(left, right) cut-offs of a bench convention name for ``dataset`` (``ptbxl`` or ``ludb``):
    ``apriori`` = session 1's cut-offs of that dataset, ``dataset`` = its fitted convention, other
    names = ``grounding.AXIS_CONVENTIONS``."""
    from ..errors import UsageError
    from ..grounding import AXIS_CONVENTIONS

    if dataset not in APRIORI_CUTS_DEG:
        raise UsageError(f"unknown axis dataset {dataset!r}; expected ptbxl or ludb")
    if name == "apriori":
        return APRIORI_CUTS_DEG[dataset]
    key = dataset if name == "dataset" else name
    if key not in AXIS_CONVENTIONS:
        raise UsageError(f"unknown axis convention {name!r}; expected one of "
                         f"{', '.join(('dataset', 'apriori', *AXIS_CONVENTIONS))}")
    c = AXIS_CONVENTIONS[key]
    return (c.left_deg, c.right_deg)


def cached_axes(keys: list, read, fs_hz: float, method: str, beats_path=None, axes_path=None,
                desc: str = "axis") -> dict[str, float | None]:
    """Our axis in degrees (None: unmeasurable) of each record, ``read(key) -> ECG``. Resumable
    JSONL cache of the angles per (delineation pipeline, method), so fits and reports on the same
    records use the very same angles; missing angles come from ``cached_beats``."""
    from ..grounding import axis_from_beats

    cache = _RecordCache(axes_path, {"pipeline": axis_fingerprint(), "method": method})
    todo = [k for k in keys if str(k) not in cache.rows]
    if todo:
        beats = cached_beats(todo, read, beats_path, desc)
        for k in todo:
            axis = axis_from_beats(read(k), beats[k], fs_hz, method).value
            cache.add(str(k), axis_deg=None if axis is None else float(axis))
    return {str(k): cache.rows[str(k)]["axis_deg"] for k in keys}


def _cache_file(cache_dir, name: str):
    from pathlib import Path

    return None if cache_dir is None else Path(cache_dir) / name


def ptbxl_axis_records(root, fs_hz: int = 100, folds: tuple[int, ...] | None = None,
                       method: str | None = None, cache_dir=None) -> list[AxisRecord]:
    """PTB-XL records with a scored ``heart_axis`` and signals at ``fs_hz`` in ``folds``
    (strat_fold; None = all) with our angle (``method``; default ``DEFAULT_AXIS_METHOD``)."""
    from ..grounding import DEFAULT_AXIS_METHOD
    from ..records import PtbXl

    method = method or DEFAULT_AXIS_METHOD
    ptbxl = PtbXl(root)
    meta = ptbxl.metadata
    ids = [i for i in sorted(ptbxl.present_ids(fs_hz=fs_hz))
           if str(meta.loc[i, "heart_axis"]) in PTBXL_AXIS_MAP
           and (folds is None or int(meta.loc[i, "strat_fold"]) in folds)]
    axes = cached_axes(ids, lambda i: ptbxl.read(i, fs_hz=fs_hz), fs_hz, method,
                       _cache_file(cache_dir, f"ptbxl-axis-beats-{fs_hz}.jsonl"),
                       _cache_file(cache_dir, f"ptbxl-axis-deg-{fs_hz}.jsonl"), f"PTB-XL beats ({fs_hz} Hz)")
    return [AxisRecord(str(i), PTBXL_AXIS_MAP[str(meta.loc[i, "heart_axis"])], axes[str(i)]) for i in ids]


def ludb_axis_records(root, records: str = "all", method: str | None = None, cache_dir=None) -> list[AxisRecord]:
    """LUDB records of a set (``all``, ``train`` = OpenECG's 159 training records, ``heldout`` =
    its 41 validation records) with an axis label (paced ones have none), with our angle from
    uniform-gain limb leads."""
    from ..grounding import DEFAULT_AXIS_METHOD
    from ..records import Ludb
    from ._delineation_bench import ludb_record_ids

    method = method or DEFAULT_AXIS_METHOD
    ludb = Ludb(root)
    ids = [n for n in ludb_record_ids(ludb, records) if ludb.diagnoses(n).electric_axis in LUDB_AXIS_MAP3]
    axes = cached_axes(ids, lambda n: ludb.read(n, gain="uniform"), 500.0, method,
                       _cache_file(cache_dir, "ludb-axis-beats.jsonl"), _cache_file(cache_dir, "ludb-axis-deg.jsonl"),
                       "LUDB beats")
    out = []
    for n in ids:
        label = ludb.diagnoses(n).electric_axis
        out.append(AxisRecord(str(n), LUDB_AXIS_MAP3[label], axes[str(n)], label))
    return out


def run_ptbxl_axis(root, fs_hz: int = 500, cache_path=None, folds: tuple[int, ...] | None = None,
                   methods: tuple[str, ...] | None = None, conventions: tuple[str, ...] = ("apriori",),
                   cache_dir=None) -> list[AxisResult]:
    """Our axis class vs PTB-XL heart_axis on every record with signals at ``fs_hz`` in ``folds``
    (strat_fold; None = all), one result per axis method (default: ``DEFAULT_AXIS_METHOD``) and
    label convention (``convention_cuts``). ``cache_dir`` keeps boundaries and angles; the older
    ``cache_path`` (a boundary file) is still accepted and puts both next to it."""
    from pathlib import Path

    from ..grounding import DEFAULT_AXIS_METHOD

    if cache_dir is None and cache_path is not None:
        cache_dir = Path(cache_path).parent
    name = f"PTB-XL records{fs_hz}" + ("" if folds is None else f" folds {_folds_text(folds)}")
    out = []
    for method in methods or (DEFAULT_AXIS_METHOD,):
        recs = ptbxl_axis_records(root, fs_hz, folds, method, cache_dir)
        for conv in conventions:
            out.append(score_axis(recs, convention_cuts(conv, "ptbxl"), name, method, _conv_name(conv, "ptbxl")))
    return out


def _conv_name(name: str, dataset: str) -> str:
    return dataset if name == "dataset" else name


def _folds_text(folds: tuple[int, ...]) -> str:
    if list(folds) == list(range(folds[0], folds[-1] + 1)) and len(folds) > 1:
        return f"{folds[0]}-{folds[-1]}"
    return ",".join(str(f) for f in folds)


def run_ludb_axis(root, cache_path=None, methods: tuple[str, ...] | None = None,
                  conventions: tuple[str, ...] = ("apriori",), records: str = "all",
                  cache_dir=None) -> list[AxisResult]:
    """Our axis vs LUDB's electric axis (uniform-gain limb leads) on a record set (``all``,
    ``train``, ``heldout``; records without an axis label, i.e. paced, excluded), one result per
    axis method and label convention; five-class agreement always with the a-priori cuts."""
    from pathlib import Path

    from ..grounding import DEFAULT_AXIS_METHOD

    if cache_dir is None and cache_path is not None:
        cache_dir = Path(cache_path).parent
    out = []
    for method in methods or (DEFAULT_AXIS_METHOD,):
        recs = ludb_axis_records(root, records, method, cache_dir)
        for conv in conventions:
            out.append(score_axis(recs, convention_cuts(conv, "ludb"), f"LUDB {records}", method,
                                  _conv_name(conv, "ludb"), five_class=True))
    return out


# --------------------------------------------------------------------------- session 3b: learned class rule
# Protocol (committed before any of this ran): docs/measurements.md, "Session 3b: a learned PTB-XL
# class rule - protocol". A multinomial logistic regression on QRS features of the limb leads,
# compared with the fitted cut-offs by leave-one-strat-fold-out on PTB-XL folds 1-8 only.

AXIS_CLASSES3: tuple[str, ...] = ("left", "normal", "right")
"""The three classes the learned rule predicts (PTB-XL has no extreme class)."""
WAVE_LEADS: tuple[str, ...] = ("I", "II", "III", "aVR", "aVL", "aVF")
SOFTMAX_C_GRID: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0)
"""Inverse L2 strengths of the candidates (objective: NLL sum + ||W||^2 / (2C))."""


def _angle_names() -> list[str]:
    from ..grounding import AXIS_METHODS

    return [f"{f}({m})" for m in AXIS_METHODS for f in ("sin", "cos")]


def _wave_names() -> list[str]:
    return [f"{k}_{lead}" for lead in WAVE_LEADS for k in ("R", "S", "area")]


def feature_sets() -> dict[str, tuple[str, ...]]:
    """Candidate feature sets by name, in the protocol's order (fewest features first)."""
    angles = tuple(_angle_names())
    return {"angle": ("sin(peak-I-aVF)", "cos(peak-I-aVF)"), "waves": tuple(_wave_names()),
            "angles9": angles, "angles9+waves": angles + tuple(_wave_names())}


def qrs_wave_features(ecg, beats: list, beats_fs_hz: float) -> dict[str, float] | None:
    """Scale-free QRS shape of the six limb leads (derived from I and II): per lead the R amplitude
    (max(0, largest positive deflection)) and S amplitude (min(0, largest negative deflection)) over
    the largest peak-to-peak amplitude of the six leads, and the net QRS area over the
    root-sum-square of the six areas; medians over the global beats (baseline = median of the 20 ms
    before onset). None when leads I/II are missing or no complete QRS lies inside the signal."""
    import numpy as np

    from ..grounding import limb_leads, qrs_windows

    rows = {n: ecg.signal_mv[k] for k, n in enumerate(ecg.lead_names)}
    if "I" not in rows or "II" not in rows or not beats:
        return None
    limb = limb_leads(rows["I"].astype(float), rows["II"].astype(float))
    fs = float(ecg.fs_hz)
    windows = qrs_windows(limb, beats, beats_fs_hz, fs)
    if not windows:
        return None
    per_beat = {k: [] for k in _wave_names()}
    for on, off, pre in windows:
        for lead in WAVE_LEADS:
            seg = limb[lead][on:off] - np.median(limb[lead][pre])
            per_beat[f"R_{lead}"].append(max(0.0, float(seg.max())))
            per_beat[f"S_{lead}"].append(min(0.0, float(seg.min())))
            per_beat[f"area_{lead}"].append(float(seg.sum()) / fs)
    med = {k: float(np.median(v)) for k, v in per_beat.items()}
    p2p = max(med[f"R_{lead}"] - med[f"S_{lead}"] for lead in WAVE_LEADS)
    norm = float(np.sqrt(sum(med[f"area_{lead}"] ** 2 for lead in WAVE_LEADS)))
    if p2p <= 0 or norm <= 0:
        return None
    out = {}
    for lead in WAVE_LEADS:
        out[f"R_{lead}"] = med[f"R_{lead}"] / p2p
        out[f"S_{lead}"] = med[f"S_{lead}"] / p2p
        out[f"area_{lead}"] = med[f"area_{lead}"] / norm
    return out


def record_axis_features(ecg, beats: list, beats_fs_hz: float) -> dict[str, float] | None:
    """Every candidate feature of one record (``feature_sets()``), or None when the default
    (``peak-I-aVF``) angle or the wave features are unmeasurable; another method's unmeasurable
    angle takes the default angle (protocol)."""
    import numpy as np

    from ..grounding import AXIS_METHODS, DEFAULT_AXIS_METHOD, axis_from_beats

    angles = {m: axis_from_beats(ecg, beats, beats_fs_hz, m).value for m in AXIS_METHODS}
    if angles[DEFAULT_AXIS_METHOD] is None:
        return None
    waves = qrs_wave_features(ecg, beats, beats_fs_hz)
    if waves is None:
        return None
    out: dict[str, float] = {}
    for m in AXIS_METHODS:
        a = np.radians(angles[m] if angles[m] is not None else angles[DEFAULT_AXIS_METHOD])
        out[f"sin({m})"], out[f"cos({m})"] = float(np.sin(a)), float(np.cos(a))
    out.update(waves)
    return out


def cached_axis_features(keys: list, read, fs_hz: float, beats_path=None, features_path=None,
                         desc: str = "axis features") -> dict[str, dict[str, float] | None]:
    """``record_axis_features`` of each record (``read(key) -> ECG``), with a resumable JSONL
    cache per delineation pipeline; QRS boundaries from ``cached_beats``."""
    from tqdm import tqdm

    cache = _RecordCache(features_path, {"pipeline": axis_fingerprint()})
    todo = [k for k in keys if str(k) not in cache.rows]
    if todo:
        beats = cached_beats(todo, read, beats_path, desc)
        for k in tqdm(todo, desc=desc, file=sys.stderr, disable=None):
            cache.add(str(k), features=record_axis_features(read(k), beats[k], fs_hz))
    return {str(k): cache.rows[str(k)]["features"] for k in keys}


@dataclass(frozen=True)
class SoftmaxAxisRule:
    """A fitted multinomial logistic regression of the three axis classes (``AXIS_CLASSES3``)."""

    features: tuple[str, ...]
    """Feature names (``feature_sets()``), the column order of the arrays below."""
    mean: tuple[float, ...]
    """Training mean of each feature (standardisation)."""
    scale: tuple[float, ...]
    """Training SD of each feature (1 where the SD is 0)."""
    weights: tuple[tuple[float, ...], ...]
    """(3 classes, n features) weights on standardised features."""
    intercepts: tuple[float, ...]
    """One intercept per class."""
    c: float
    """Inverse L2 strength it was fitted with."""

    def scores(self, x):
        """Class scores (n, 3) of feature rows ``x`` (n, n features)."""
        import numpy as np

        z = (np.asarray(x, float) - np.asarray(self.mean)) / np.asarray(self.scale)
        return z @ np.asarray(self.weights).T + np.asarray(self.intercepts)

    def predict(self, x) -> list[str]:
        """Class names of feature rows ``x``."""
        import numpy as np

        return [AXIS_CLASSES3[i] for i in np.argmax(self.scores(x), axis=1)]


def fit_softmax(x, labels: list[str], features: tuple[str, ...], c: float) -> SoftmaxAxisRule:
    """Multinomial logistic regression (L-BFGS; L2 on the weights, not the intercepts) on
    standardised ``x`` (n, d) with class names ``labels`` (``AXIS_CLASSES3``)."""
    import numpy as np
    from scipy.optimize import minimize

    from ..errors import UsageError

    x = np.asarray(x, float)
    if x.ndim != 2 or x.shape[0] != len(labels) or x.shape[1] != len(features):
        raise UsageError(f"feature matrix {x.shape} does not match {len(labels)} labels x {len(features)} features")
    if not c > 0:
        raise UsageError(f"C must be positive, got {c}")
    y = np.array([AXIS_CLASSES3.index(lab) for lab in labels])
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    z = (x - mean) / scale
    d = z.shape[1]
    k = len(AXIS_CLASSES3)
    onehot = np.eye(k)[y]

    def objective(theta):
        w, b = theta[: k * d].reshape(k, d), theta[k * d:]
        s = z @ w.T + b
        s = s - s.max(axis=1, keepdims=True)
        logp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
        p = np.exp(logp)
        loss = -float((onehot * logp).sum()) + float((w ** 2).sum()) / (2 * c)
        g = p - onehot
        grad_w = g.T @ z + w / c
        return loss, np.concatenate([grad_w.ravel(), g.sum(axis=0)])

    res = minimize(objective, np.zeros(k * d + k), jac=True, method="L-BFGS-B",
                   options={"maxiter": 2000, "gtol": 1e-8})
    w, b = res.x[: k * d].reshape(k, d), res.x[k * d:]
    return SoftmaxAxisRule(tuple(features), tuple(map(float, mean)), tuple(map(float, scale)),
                           tuple(tuple(map(float, row)) for row in w), tuple(map(float, b)), float(c))


@dataclass(frozen=True)
class LearnedRow:
    """One development record of the learned-rule comparison."""

    key: str
    fold: int
    """PTB-XL strat_fold (the CV group)."""
    label: str
    axis_deg: float
    features: dict
    """``record_axis_features`` of the record."""


def _matrix(rows: list[LearnedRow], features: tuple[str, ...]):
    import numpy as np

    return np.array([[r.features[f] for f in features] for r in rows], float)


def lofo_correct(rows: list[LearnedRow], features: tuple[str, ...], c: float) -> int:
    """Correct predictions pooled over leave-one-fold-out (fold = strat_fold) of one candidate."""
    correct = 0
    for k in sorted({r.fold for r in rows}):
        train = [r for r in rows if r.fold != k]
        test = [r for r in rows if r.fold == k]
        rule = fit_softmax(_matrix(train, features), [r.label for r in train], features, c)
        correct += sum(p == r.label for p, r in zip(rule.predict(_matrix(test, features)), test))
    return correct


def select_softmax(rows: list[LearnedRow]) -> tuple[str, float, dict[tuple[str, float], int]]:
    """(feature set, C, all candidates' LOFO correct counts): the candidate with the most correct
    leave-one-fold-out predictions on ``rows``; ties to fewer features, then smaller C."""
    sets = feature_sets()
    counts = {(name, c): lofo_correct(rows, feats, c) for name, feats in sets.items() for c in SOFTMAX_C_GRID}
    best = max(counts.values())
    name, c = min((k for k, v in counts.items() if v == best), key=lambda k: (len(sets[k[0]]), k[1]))
    return name, c, counts


@dataclass(frozen=True)
class LearnedComparison:
    """Nested leave-one-strat-fold-out comparison of the learned rule with the fitted cut-offs."""

    n_records: int
    n_cut: int
    """Records the cut-offs fitted on the other folds classify like the label."""
    n_learned: int
    """Records the nested learned procedure classifies like the label."""
    cut_pairs: dict[int, tuple[float, float]]
    """Held-out fold -> cut-offs fitted on the other folds."""
    chosen: dict[int, tuple[str, float]]
    """Held-out fold -> (feature set, C) chosen on the other folds."""
    cut_predictions: dict[str, str]
    learned_predictions: dict[str, str]

    @property
    def adopt(self) -> bool:
        """The committed decision rule: strictly more development records right."""
        return self.n_learned > self.n_cut


def compare_learned(rows: list[LearnedRow], progress: bool = True) -> LearnedComparison:
    """Cut-offs (``fit_axis_cuts``) vs the nested softmax selection, both by leave-one-fold-out."""
    from tqdm import tqdm

    sets = feature_sets()
    cut_pred: dict[str, str] = {}
    lr_pred: dict[str, str] = {}
    cut_pairs: dict[int, tuple[float, float]] = {}
    chosen: dict[int, tuple[str, float]] = {}
    for k in tqdm(sorted({r.fold for r in rows}), desc="outer folds", file=sys.stderr, disable=not progress or None):
        train = [r for r in rows if r.fold != k]
        test = [r for r in rows if r.fold == k]
        fit = fit_axis_cuts([AxisRecord(r.key, r.label, r.axis_deg) for r in train])
        cut_pairs[k] = (fit.left_deg, fit.right_deg)
        for r in test:
            cut_pred[r.key] = three_class(r.axis_deg, cut_pairs[k])
        name, c, _ = select_softmax(train)
        chosen[k] = (name, c)
        rule = fit_softmax(_matrix(train, sets[name]), [r.label for r in train], sets[name], c)
        for r, p in zip(test, rule.predict(_matrix(test, sets[name]))):
            lr_pred[r.key] = p
    n_cut = sum(cut_pred[r.key] == r.label for r in rows)
    n_lr = sum(lr_pred[r.key] == r.label for r in rows)
    return LearnedComparison(len(rows), n_cut, n_lr, cut_pairs, chosen, cut_pred, lr_pred)


def ptbxl_learned_rows(root, fs_hz: int, folds: tuple[int, ...], cache_dir=None) -> list[LearnedRow]:
    """PTB-XL records with a scored ``heart_axis`` at ``fs_hz`` in ``folds`` with their
    ``peak-I-aVF`` angle and features (records whose features are unmeasurable are left out)."""
    from ..records import PtbXl

    ptbxl = PtbXl(root)
    meta = ptbxl.metadata
    recs = ptbxl_axis_records(root, fs_hz, folds, None, cache_dir)
    keys = [int(r.key) for r in recs if r.axis_deg is not None]
    feats = cached_axis_features(keys, lambda i: ptbxl.read(i, fs_hz=fs_hz), fs_hz,
                                 _cache_file(cache_dir, f"ptbxl-axis-beats-{fs_hz}.jsonl"),
                                 _cache_file(cache_dir, f"ptbxl-axis-features-{fs_hz}.jsonl"),
                                 f"PTB-XL axis features ({fs_hz} Hz)")
    return [LearnedRow(r.key, int(meta.loc[int(r.key), "strat_fold"]), r.label, r.axis_deg, feats[r.key])
            for r in recs if r.axis_deg is not None and feats.get(r.key) is not None]


# ---------------------------------------------------------------- session 7: the learned axis model


def wilson_interval(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion ``correct / n`` ((0, 1) when ``n`` is 0).

    Kept on purpose beside ``eval.bootstrap_ci``: the axis protocols named it before their runs, and
    on small sets it does not collapse as the percentile bootstrap does (38/38 -> [1, 1]); see
    docs/measurements.md "Why Wilson intervals here"."""
    if n <= 0:
        return (0.0, 1.0)
    p = correct / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * (p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5 / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def _model_result(name: str, labels: list[str], predicted: list[str], version: str) -> AxisResult:
    confusion = Counter(zip(labels, predicted))
    return AxisResult(name, len(labels), 0, _agreement(confusion), dict(confusion),
                      method=f"axis_ptbxl v{version}", convention="ptbxl-labels")


def run_axis_model_ptbxl(root, fs_hz: int = 100, folds: tuple[int, ...] | None = (9, 10),
                         filtered=None, progress: bool = True) -> list[AxisResult]:
    """The shipped ``axis_ptbxl`` model vs PTB-XL ``heart_axis`` (``PTBXL_AXIS_MAP``) on the raw records
    at ``fs_hz`` of ``folds`` and, with ``filtered`` (the filtered subset's folder or npz), on the
    subset's records of those folds that have no ``records100`` signal (z-scored; no angle can be
    measured on them). Refuses (``LeakageError``) any record the model was trained or selected on."""
    import numpy as np
    from tqdm import tqdm

    from ..encoders import AXIS_CLASSES, guard_unseen, load_axis_model
    from ..records import PtbXl, PtbXlFiltered

    model = load_axis_model()
    ptbxl = PtbXl(root)
    meta = ptbxl.metadata

    def labelled(i: int) -> bool:
        return str(meta.loc[i, "heart_axis"]) in PTBXL_AXIS_MAP and (
            folds is None or int(meta.loc[i, "strat_fold"]) in folds)

    parts = [(f"PTB-XL records{fs_hz}" + ("" if folds is None else f" folds {_folds_text(folds)}"),
              [i for i in sorted(ptbxl.present_ids(fs_hz=fs_hz)) if labelled(i)], lambda i: ptbxl.read(i, fs_hz=fs_hz))]
    if filtered is not None:
        subset = PtbXlFiltered(filtered)
        raw100 = set(ptbxl.present_ids(fs_hz=100))
        ids = [i for i in subset.ecg_ids if i not in raw100 and i in meta.index and labelled(i)]
        parts.append((f"PTB-XL filtered-only" + ("" if folds is None else f" folds {_folds_text(folds)}"),
                      sorted(ids), subset.read))
    out = []
    for name, ids, read in parts:
        guard_unseen(model.card, ids, "refuse")
        x = np.stack([model.preprocess(read(i)) for i in tqdm(ids, desc=name, file=sys.stderr, disable=not progress)]) \
            if ids else np.zeros((0, 6, 1000), dtype=np.float32)
        probs = model.predict_proba(x) if ids else np.zeros((0, 3))
        predicted = [AXIS_CLASSES[int(k)] for k in np.argmax(probs, axis=1)]
        out.append(_model_result(name, [PTBXL_AXIS_MAP[str(meta.loc[i, "heart_axis"])] for i in ids], predicted,
                                 model.card.version))
    return out
