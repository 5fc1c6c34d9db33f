"""Delineation benchmark on LUDB against the cardiologists' annotations (Martinez 2004 tolerances).

Scoring rule. For each record and lead, LUDB annotates only the beats between its first and last
annotated waves (``Delineation.scored_span``, [lo, hi]); leads without annotations are skipped. For
each of the six boundaries (P on/off, QRS on/off, T on/off), every gold boundary is matched to the
nearest still-unmatched predicted boundary of the same kind within the tolerance (P 50 ms, QRS 40 ms,
T onset 50 ms, T offset 100 ms), among predictions inside the span widened by that tolerance (so a
boundary just outside the span can still match a gold one at its edge). Matches are TP, unmatched
gold FN, unmatched predictions FP. Span rule ``widened`` (the default; it reproduces the reference
numbers the issue quotes for OpenECG) counts every unmatched prediction in the widened span as FP;
``strict`` counts only those inside [lo, hi]: outside it LUDB has no annotation, and most such FPs
are the P offset of the unannotated beat before a lead's first annotated QRS.
Counts are pooled over records and leads; F1 per boundary, ``macro-F1`` = mean of the six.
Timing error = predicted - gold over the matches (median and SD, ms).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..records import Delineation

SPAN_RULES: tuple[str, ...] = ("widened", "strict")
"""How unmatched predictions near the scored span count (module docstring); ``widened`` is the default."""

BOUNDARIES: tuple[str, ...] = ("P_on", "P_off", "QRS_on", "QRS_off", "T_on", "T_off")
TOLERANCE_MS: dict[str, float] = {"P_on": 50.0, "P_off": 50.0, "QRS_on": 40.0, "QRS_off": 40.0,
                                  "T_on": 50.0, "T_off": 100.0}
"""Martinez et al. 2004 (IEEE TBME 51:570) tolerances per boundary."""


@dataclass
class BoundaryCounts:
    """Pooled matching counts of one boundary."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    errors_ms: list[float] = field(default_factory=list)
    """Signed timing errors (prediction - gold) of the matches, ms."""

    @property
    def sensitivity(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def ppv(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def f1(self) -> float:
        s, p = self.sensitivity, self.ppv
        return 2 * s * p / (s + p) if s + p else 0.0

    def add(self, other: "BoundaryCounts") -> None:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.errors_ms.extend(other.errors_ms)


@dataclass
class DelineationScore:
    """Counts per boundary, pooled over records and leads."""

    counts: dict[str, BoundaryCounts] = field(default_factory=lambda: {b: BoundaryCounts() for b in BOUNDARIES})

    @property
    def macro_f1(self) -> float:
        return float(np.mean([self.counts[b].f1 for b in BOUNDARIES]))

    def add(self, other: "DelineationScore") -> None:
        for b in BOUNDARIES:
            self.counts[b].add(other.counts[b])

    def table(self) -> str:
        """A fixed-width table: F1, Se, PPV, median and SD of the timing error per boundary."""
        rows = [f"{'boundary':<9}{'F1':>7}{'Se':>7}{'PPV':>7}{'med ms':>8}{'SD ms':>7}{'n gold':>8}"]
        for b in BOUNDARIES:
            c = self.counts[b]
            e = np.asarray(c.errors_ms)
            med = float(np.median(e)) if e.size else float("nan")
            sd = float(np.std(e)) if e.size else float("nan")
            rows.append(f"{b:<9}{c.f1:>7.3f}{c.sensitivity:>7.3f}{c.ppv:>7.3f}{med:>8.1f}{sd:>7.1f}{c.tp + c.fn:>8d}")
        return "\n".join(rows)

    def to_json(self) -> dict:
        return {b: {"tp": c.tp, "fp": c.fp, "fn": c.fn, "errors_ms": [round(x, 2) for x in c.errors_ms]}
                for b, c in self.counts.items()}

    @classmethod
    def from_json(cls, data: dict) -> "DelineationScore":
        s = cls()
        for b in BOUNDARIES:
            d = data[b]
            s.counts[b] = BoundaryCounts(d["tp"], d["fp"], d["fn"], list(d["errors_ms"]))
        return s


def boundary_positions(waves: Iterable, boundary: str) -> np.ndarray:
    """Sample positions of one boundary kind among a lead's waves."""
    kind, edge = boundary.split("_")
    return np.array(sorted(w.onset if edge == "on" else w.offset for w in waves if w.kind == kind), dtype=float)


def match_boundaries(pred: np.ndarray, gold: np.ndarray, tol: float,
                     fp_eligible: np.ndarray | None = None) -> tuple[int, int, int, list[float]]:
    """Greedy nearest matching of gold to unmatched predictions within ``tol`` (same unit).

    ``fp_eligible`` (bool per prediction, default all): which unmatched predictions count as FP."""
    used = np.zeros(pred.size, dtype=bool)
    errors: list[float] = []
    for g in gold:
        if pred.size == 0:
            break
        d = np.abs(pred - g)
        d[used] = np.inf
        j = int(np.argmin(d))
        if d[j] <= tol:
            used[j] = True
            errors.append(float(pred[j] - g))
    tp = len(errors)
    eligible = np.ones(pred.size, dtype=bool) if fp_eligible is None else np.asarray(fp_eligible, dtype=bool)
    return tp, int(np.sum(~used & eligible)), int(gold.size - tp), errors


def score_delineation(pred: Delineation, gold: Delineation, leads: Sequence[str],
                      span_rule: str = "widened") -> DelineationScore:
    """Score ``pred`` against ``gold`` on ``leads`` with the rule in the module docstring."""
    if span_rule not in SPAN_RULES:
        from ..errors import UsageError

        raise UsageError(f"unknown span rule {span_rule!r}; expected one of {', '.join(SPAN_RULES)}")
    if abs(pred.fs_hz - gold.fs_hz) > 1e-9:
        pred = pred.rescaled(gold.fs_hz)
    ms = 1000.0 / gold.fs_hz
    score = DelineationScore()
    for lead in leads:
        gw = gold.lead(lead)
        if not gw or lead not in gold.scored_span:
            continue
        lo, hi = gold.scored_span[lead]
        pw = pred.lead(lead)
        for b in BOUNDARIES:
            tol = TOLERANCE_MS[b] / ms
            g = boundary_positions(gw, b)
            p = boundary_positions(pw, b)
            p = p[(p >= lo - tol) & (p <= hi + tol)]
            in_span = (p >= lo) & (p <= hi) if span_rule == "strict" else None
            tp, fp, fn, err = match_boundaries(p, g, tol, in_span)
            c = score.counts[b]
            c.tp += tp
            c.fp += fp
            c.fn += fn
            c.errors_ms.extend(e * ms for e in err)
    return score


def p_waves_reported(pred: Delineation, gold: Delineation, leads: Sequence[str]) -> int:
    """P waves predicted inside the scored spans (used on AF/flutter records, where none exist)."""
    n = 0
    for lead in leads:
        if lead not in gold.scored_span:
            continue
        lo, hi = gold.scored_span[lead]
        n += sum(1 for w in pred.lead(lead) if w.kind == "P" and lo <= w.onset <= hi)
    return n


# --------------------------------------------------------------------------- LUDB runner


@dataclass(frozen=True)
class LudbResult:
    """Scores of one delineation method on a set of LUDB records."""

    method: str
    records: tuple[int, ...]
    lead_ii: DelineationScore
    all_leads: DelineationScore
    af_records: tuple[int, ...]
    """Records whose rhythm is atrial fibrillation or flutter (ludb.csv)."""
    af_p_waves: int
    """P waves reported inside the scored spans of those records (all leads)."""
    af_records_with_p: int
    """AF/flutter records with at least one reported P wave."""


def _is_af_flutter(diagnoses) -> bool:
    return any("fibrillation" in r.lower() or "flutter" in r.lower() for r in diagnoses.rhythms)


def pipeline_fingerprint(*code) -> str:
    """Hash of the source files behind ``code`` (modules, or public functions: the module that
    defines each; default: ``encoders.delineate``, the delineator): cached per-record results made
    by other code are redone, never reused."""
    import hashlib
    import sys
    from pathlib import Path

    from ..encoders import delineate

    h = hashlib.sha1()
    for item in code or (delineate,):
        module = item if hasattr(item, "__file__") else sys.modules[item.__module__]
        h.update(Path(module.__file__).read_bytes())
    return h.hexdigest()[:12]


def ludb_record_ids(ludb, records: str = "heldout") -> list[int]:
    """Annotated LUDB record numbers of a set: ``heldout`` (the 41 OpenECG did not train on),
    ``train`` (the other 159) or ``all``."""
    from ..errors import DatasetError

    held = set(ludb.openecg_heldout_ids())
    ids = sorted(ludb.annotated_ids())
    if records in ("heldout", "train") and not held:
        raise DatasetError(f"{ludb.root}: openecg_heldout_records.txt is missing; use --records all")
    if records == "heldout":
        return [n for n in ids if n in held]
    if records == "train":
        return [n for n in ids if n not in held]
    if records != "all":
        raise DatasetError(f"unknown record set {records!r}; expected all, heldout or train")
    return ids


def run_ludb(root, method: str, records: str = "heldout", cache_path=None,
             span_rule: str = "widened") -> LudbResult:
    """Delineate LUDB records with ``method`` and score them (resumes from ``cache_path`` JSONL)."""
    import json
    import os
    import sys
    from pathlib import Path

    from tqdm import tqdm

    from ..encoders import delineate
    from ..records import STANDARD_LEADS, Ludb

    ludb = Ludb(root)
    ids = ludb_record_ids(ludb, records)
    done: dict[int, dict] = {}
    pipeline = pipeline_fingerprint()
    if cache_path is not None:
        cache_path = Path(cache_path)
        if cache_path.is_file():
            for line in cache_path.read_text().splitlines():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:  # a line cut by an interruption: recomputed
                    continue
                if (row.get("method") == method and row.get("pipeline") == pipeline
                        and row.get("span_rule", "widened") == span_rule):
                    done[int(row["record"])] = row
        cache_path.parent.mkdir(parents=True, exist_ok=True)
    lead_ii, all_leads = DelineationScore(), DelineationScore()
    af_ids, af_p, af_with_p = [], 0, 0
    for n in tqdm(ids, desc=f"LUDB {method}", file=sys.stderr, disable=None):
        row = done.get(n)
        if row is None:
            gold = ludb.delineation(n)
            pred = delineate(ludb.read(n), method=method)  # type: ignore[arg-type]
            row = {"method": method, "record": n, "pipeline": pipeline, "span_rule": span_rule,
                   "ii": score_delineation(pred, gold, ["II"], span_rule).to_json(),
                   "all": score_delineation(pred, gold, STANDARD_LEADS, span_rule).to_json(),
                   "p_waves": p_waves_reported(pred, gold, STANDARD_LEADS)}
            if cache_path is not None:
                with open(cache_path, "a") as fh:
                    fh.write(json.dumps(row) + "\n")
                    fh.flush()
                    os.fsync(fh.fileno())
        lead_ii.add(DelineationScore.from_json(row["ii"]))
        all_leads.add(DelineationScore.from_json(row["all"]))
        if _is_af_flutter(ludb.diagnoses(n)):
            af_ids.append(n)
            af_p += int(row["p_waves"])
            af_with_p += int(row["p_waves"] > 0)
    return LudbResult(method, tuple(ids), lead_ii, all_leads, tuple(af_ids), af_p, af_with_p)


# --------------------------------------------------------------------------- MIT-BIH QRS detection

BEAT_SYMBOLS = frozenset("NLRBAaJSVrFejnE/fQ?")
"""MIT-BIH annotation symbols that mark beats (non-beat marks such as + ~ | " are ignored)."""


@dataclass(frozen=True)
class QrsResult:
    record: str
    tp: int
    fp: int
    fn: int

    @property
    def sensitivity(self) -> float:
        return self.tp / max(self.tp + self.fn, 1)

    @property
    def ppv(self) -> float:
        return self.tp / max(self.tp + self.fp, 1)

    @property
    def f1(self) -> float:
        s, p = self.sensitivity, self.ppv
        return 2 * s * p / (s + p) if s + p else 0.0


def qrs_detections(ecg, method: str) -> np.ndarray:
    """QRS positions (samples at the record's rate): global beats over all leads."""
    from ..encoders import DelineatorConfig, delineate
    from ..grounding import global_beats

    cfg = DelineatorConfig(rhythm_gate=False)  # the AF gate changes P waves only
    d = delineate(ecg, method=method, config=cfg) if method != "neurokit2" else delineate(ecg, method=method)  # type: ignore[arg-type]
    beats = global_beats(d)
    return np.array([0.5 * (b.qrs_onset + b.qrs_offset) for b in beats])


def run_mitdb(root, records: Sequence[str], method: str = "openecg", tolerance_ms: float = 150.0) -> list[QrsResult]:
    """QRS detection against MIT-BIH ``.atr`` beat annotations (150 ms tolerance)."""
    import sys
    from pathlib import Path

    import wfdb
    from tqdm import tqdm

    from ..records import read_record

    out = []
    for rec in tqdm(records, desc=f"MIT-BIH {method}", file=sys.stderr, disable=None):
        base = str(Path(root) / rec)
        ecg = read_record(base)
        ann = wfdb.rdann(base, "atr")
        gold = np.array([s for s, sym in zip(ann.sample, ann.symbol) if sym in BEAT_SYMBOLS], dtype=float)
        pred = qrs_detections(ecg, method)
        tp, fp, fn, _ = match_boundaries(np.sort(pred), np.sort(gold), tolerance_ms * ecg.fs_hz / 1000.0)
        out.append(QrsResult(rec, tp, fp, fn))
    return out
