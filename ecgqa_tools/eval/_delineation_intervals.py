"""Interval sanity on PTB-XL: distributions of our measurements over the records with signals, and
agreement of our range attributes with the official ECG-QA numeric-feature comparison answers.

ECG-QA's numeric questions here are comparisons of two ECGs (templates 50-56 and 64-70: "which
numeric features of the second ECG became normal / abnormal / are still abnormal..."). For every
sample whose two ECGs have signals, both ECGs are measured, their range attributes go through the
qa answer engine (``answer_question``) and the answer is compared with the official one (exact
match of the answer set). Unmeasurable features count as ``within`` for answering (the engine needs
a state), and how often that happened is reported.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FEATURES: tuple[str, ...] = ("heart_rate", "rr_interval", "p_duration", "pr_interval", "qrs_duration",
                             "qt_interval", "qtc_bazett", "qtc_fridericia", "qrs_axis")


@dataclass(frozen=True)
class IntervalDistribution:
    """Percentiles of one measurement over a set of records."""

    name: str
    n_measured: int
    n_unmeasurable: int
    percentiles: dict[int, float]
    """5, 25, 50, 75, 95 -> value."""


def _measure_cached(ecg, cache: dict, key: str, p_gate: bool = True) -> dict:
    from ..encoders import DelineatorConfig, delineate
    from ..grounding import measure

    if key not in cache:
        m = measure(ecg) if p_gate else measure(ecg, delineate(ecg, config=DelineatorConfig(rhythm_gate=False)))
        cache[key] = {
            "values": {x.name: x.value for x in m.all()},
            "reasons": {x.name: x.reason for x in m.all()},
            "ranges": m.range_attributes(),
        }
    return cache[key]


def _load_cache(path: Path | None) -> dict:
    if path is None or not path.is_file():
        return {}
    out = {}
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:  # a line cut by an interruption: recomputed
            continue
        out[row["key"]] = row["m"]
    return out


def _append(path: Path | None, key: str, m: dict) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fh.write(json.dumps({"key": key, "m": m}) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def _measure_fingerprint() -> str:
    """Hash of the delineator's and the measurements' source: cached values made by other code
    (e.g. another axis method or P gate) are recomputed, never reused."""
    from ..encoders import delineate
    from ..grounding import measure
    from ._delineation_bench import pipeline_fingerprint

    return pipeline_fingerprint(delineate, measure)


def measure_ptbxl(root, ids, fs_hz: int, cache_path: Path | None, p_gate: bool = True) -> dict[int, dict]:
    """Measurements of PTB-XL records (resumable through a JSONL cache). ``p_gate=False`` skips
    the codec rhythm gate (enough for QRS-only facts such as the axis; P/PR then ignore AF)."""
    from tqdm import tqdm

    from ..records import PtbXl

    ptbxl = PtbXl(root)
    cache = _load_cache(cache_path)
    out = {}
    code = _measure_fingerprint()
    for i in tqdm(sorted(ids), desc=f"PTB-XL measure ({fs_hz} Hz)", file=sys.stderr, disable=None):
        key = f"{i}@{fs_hz}@{code}"
        fresh = key not in cache
        m = _measure_cached(ptbxl.read(i, fs_hz=fs_hz), cache, key, p_gate)
        if fresh:
            _append(cache_path, key, m)
        out[i] = m
    return out


def distributions(measured: dict[int, dict]) -> list[IntervalDistribution]:
    out = []
    for name in FEATURES:
        vals = np.array([m["values"][name] for m in measured.values() if m["values"][name] is not None])
        pct = {p: float(np.percentile(vals, p)) for p in (5, 25, 50, 75, 95)} if vals.size else {}
        out.append(IntervalDistribution(name, int(vals.size), len(measured) - int(vals.size), pct))
    return out


@dataclass(frozen=True)
class EcgqaAgreement:
    """Our answers vs the official ones on numeric comparison samples with signals here."""

    n_samples: int
    n_correct: int
    per_template: dict[int, tuple[int, int]]
    """template id -> (samples, correct)."""
    n_unmeasured_features: int
    """(ECG, feature) pairs answered as ``within`` because the feature was unmeasurable."""
    per_feature: dict[str, tuple[int, int]]
    """feature -> (samples mentioning it in either answer, agreeing on its membership)."""
    states: dict[str, dict[str, tuple[int, int]]] = None  # type: ignore[assignment]
    """split -> feature -> ((ECG, feature) pairs whose state the official answers determine,
    pairs where our range attribute agrees: abnormal = below or above)."""


# (state of the first ECG, state of the second) that a feature must have to be in the answer of
# each comparison template (ECG-QA templates 50-56 consecutive, 64-70 irrelevant pairs).
_TRANSITIONS: dict[int, tuple[str, str]] = {}
for _base in (50, 64):
    for _k, _st in enumerate((("abn", "within"), ("within", "abn"), ("abn", "abn"), ("within", "within"))):
        _TRANSITIONS[_base + _k] = _st
for _base in (54, 68):
    for _k, _st in enumerate((("abn", "within"), ("within", "abn"), ("abn", "abn"))):
        _TRANSITIONS[_base + _k] = _st


def inferred_states(samples, templates, slots_of_sample) -> dict[tuple[int, str], set[str]]:
    """(ecg_id, feature) -> states ('abn' / 'within') implied by official comparison answers."""
    states: dict[tuple[int, str], set[str]] = {}
    for s in samples:
        want = _TRANSITIONS.get(s.template_id)
        if want is None:
            continue
        tpl = templates[s.template_id]
        if tpl.kind == "verify":
            if s.answer != ("yes",):
                continue
            feats = [slots_of_sample(s, tpl)["numeric_feature"]]
        else:
            feats = [f for f in s.answer if f != "none"]
        for f in feats:
            states.setdefault((s.ecg_id[0], f), set()).add(want[0])
            states.setdefault((s.ecg_id[1], f), set()).add(want[1])
    return states


def ecgqa_agreement(ecgqa_root, ptbxl_root, fs_hz: int, cache_path: Path | None,
                    splits: tuple[str, ...] = ("train", "valid", "test"), numeric_convention: str = "clinical",
                    cache_dir: Path | None = None) -> EcgqaAgreement:
    """Agreement of one numeric convention (``clinical``: ``measure()``'s range attributes;
    ``ecgqa``: ``grounding.measure_ecgqa`` with its defaults) with the official answers."""
    from ..qa import TEMPLATES, EcgAttributes, answer_question, load_ecgqa, slots_of_sample
    from ..records import PtbXl

    present = PtbXl(ptbxl_root).present_ids(fs_hz=fs_hz)
    samples = []
    state_split: dict[str, dict[tuple[int, str], set[str]]] = {}
    for split in splits:
        try:
            numeric = [s for s in load_ecgqa(ecgqa_root, "ptbxl", "template", split).samples
                       if s.attribute_type == "numeric_feature" and len(s.ecg_id) == 2]
        except Exception as exc:  # a split absent from a partial copy: say so and go on
            print(f"warning: ECG-QA {split}: {exc}", file=sys.stderr)
            continue
        state_split[split] = {k: v for k, v in inferred_states(numeric, TEMPLATES, slots_of_sample).items()
                              if k[0] in present}
        samples += [s for s in numeric if all(e in present for e in s.ecg_id)]
    ids = {e for s in samples for e in s.ecg_id} | {e for st in state_split.values() for e, _ in st}
    if numeric_convention == "clinical":
        measured = measure_ptbxl(ptbxl_root, ids, fs_hz, cache_path)
    elif numeric_convention == "ecgqa":
        from ..grounding import ECGQA_FS_HZ

        clinical = measure_ptbxl(ptbxl_root, ids, fs_hz, cache_path)
        per_beat = measure_ecgqa_ptbxl(ptbxl_root, ids, fs_hz, None if cache_dir is None else
                                       cache_dir / f"ptbxl-ecgqa-{fs_hz}-{ECGQA_FS_HZ:g}.jsonl", ECGQA_FS_HZ)
        measured = {e: {"ranges": candidate_ranges("ecgqa", clinical[e], v)} for e, v in per_beat.items()}
    else:
        raise ValueError(f"unknown numeric convention {numeric_convention!r}")
    per_t: dict[int, list[int]] = {}
    per_f: dict[str, list[int]] = {}
    unmeasured = 0
    correct = 0
    features = ("p duration", "pr interval", "qrs duration", "qt corrected", "qt interval", "rr interval")
    for s in samples:
        atts = []
        for e in s.ecg_id:
            ranges = measured[e]["ranges"]
            unmeasured += sum(v is None for v in ranges.values())
            atts.append(EcgAttributes(numeric={k: (v or "within") for k, v in ranges.items()}))
        tpl = TEMPLATES[s.template_id]
        got = answer_question(s.template_id, slots_of_sample(s, tpl), atts[0], atts[1])
        ok = sorted(got) == sorted(s.answer)
        correct += ok
        row = per_t.setdefault(s.template_id, [0, 0])
        row[0] += 1
        row[1] += ok
        if tpl.kind != "verify":
            for f in features:
                if f in got or f in s.answer:
                    r = per_f.setdefault(f, [0, 0])
                    r[0] += 1
                    r[1] += (f in got) == (f in s.answer)
    per_state: dict[str, dict[str, tuple[int, int]]] = {}
    for split, states in state_split.items():
        rows: dict[str, list[int]] = {}
        for (e, f), st in states.items():
            ours = measured[e]["ranges"].get(f)
            if len(st) != 1 or ours is None:
                continue
            r = rows.setdefault(f, [0, 0])
            r[0] += 1
            r[1] += (ours != "within") == (st == {"abn"})
        per_state[split] = {f: (v[0], v[1]) for f, v in sorted(rows.items())}
    return EcgqaAgreement(len(samples), correct, {k: (v[0], v[1]) for k, v in sorted(per_t.items())},
                          unmeasured, {k: (v[0], v[1]) for k, v in sorted(per_f.items())}, per_state)


def reasons_summary(measured: dict[int, dict], name: str, top: int = 3) -> list[tuple[str, int]]:
    """Most common reasons a measurement was unmeasurable."""
    c = Counter(m["reasons"][name] for m in measured.values() if m["values"][name] is None)
    return c.most_common(top)


# --------------------------------------------------------------------------- numeric convention

CONVENTION_CANDIDATES: tuple[str, ...] = ("ecgqa-any", "ecgqa-max", "ecgqa-min", "ecgqa-median", "ecgqa-mean",
                                          "clinical+ecgqa-ranges", "clinical")
"""Candidates of the session-7 protocol (docs/measurements.md "ECG-QA numeric convention"), in
tie-break order (most faithful first)."""

def ecgqa_fingerprint(*code) -> str:
    """Digest of what the ECG-QA convention's values depend on: the source of ``measure_ecgqa``'s
    module and of ``code`` (modules or functions, ``pipeline_fingerprint``) plus the installed
    NeuroKit2 version (its delineator gives the lead-II beats; another version gives other beats)."""
    import hashlib
    from importlib.metadata import PackageNotFoundError, version

    from ..grounding import measure_ecgqa
    from ._delineation_bench import pipeline_fingerprint

    try:
        neurokit2 = version("neurokit2")
    except PackageNotFoundError:
        neurokit2 = "absent"
    text = f"{pipeline_fingerprint(measure_ecgqa, *code)} neurokit2 {neurokit2}"
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def measure_ecgqa_ptbxl(root, ids, fs_hz: int, cache_path: Path | None,
                        measure_fs_hz: float | None = 500.0) -> dict[int, dict[str, list[float]]]:
    """Per-beat ECG-QA-convention values (ms) of PTB-XL records read at ``fs_hz`` and measured at
    ``measure_fs_hz`` (``None``: as read), resumable through a JSONL cache."""
    from tqdm import tqdm

    from ..grounding import measure_ecgqa
    from ..records import PtbXl

    ptbxl = PtbXl(root)
    cache = _load_cache(cache_path)
    code = ecgqa_fingerprint()
    out = {}
    for i in tqdm(sorted(ids), desc=f"PTB-XL ECG-QA convention ({fs_hz} Hz)", file=sys.stderr, disable=None):
        key = f"{i}@{fs_hz}@{measure_fs_hz}@{code}"
        if key not in cache:
            m = measure_ecgqa(ptbxl.read(i, fs_hz=fs_hz), fs_hz=measure_fs_hz, per_beat_only=True)
            cache[key] = {f: list(v) for f, v in m.per_beat_ms.items()}
            _append(cache_path, key, cache[key])
        out[i] = cache[key]
    return out


def candidate_ranges(candidate: str, clinical: dict | None, per_beat: dict | None) -> dict[str, str | None]:
    """Feature -> state of one ECG under a convention candidate (``CONVENTION_CANDIDATES``, or
    ``ecgqa``: the shipped convention, ``grounding.ECGQA_FEATURE_SOURCES``) from its cached clinical
    measurement (``measure_ptbxl`` row) and/or per-beat ECG-QA values."""
    from ..grounding import ECGQA_CLINICAL_VALUE_NAMES, ecgqa_range_of, ecgqa_state

    if candidate == "ecgqa":
        from ..grounding import DEFAULT_ECGQA_AGGREGATION, ecgqa_convention_states

        return ecgqa_convention_states(per_beat, {f: clinical["values"][n] for f, n in ECGQA_CLINICAL_VALUE_NAMES.items()},
                                       DEFAULT_ECGQA_AGGREGATION)
    if candidate == "clinical":
        return dict(clinical["ranges"])
    if candidate == "clinical+ecgqa-ranges":
        return {f: ecgqa_range_of(f, clinical["values"][n]) for f, n in ECGQA_CLINICAL_VALUE_NAMES.items()}
    if candidate.startswith("ecgqa-"):
        return {f: ecgqa_state(f, per_beat[f], candidate.removeprefix("ecgqa-")) for f in ECGQA_CLINICAL_VALUE_NAMES}
    raise ValueError(f"unknown convention candidate {candidate!r}")


def split_states(ecgqa_root, present: frozenset[int] | set[int],
                 splits: tuple[str, ...]) -> dict[str, dict[tuple[int, str], set[str]]]:
    """Split -> (ecg_id, feature) -> states implied by the official comparison answers, ECGs in ``present``."""
    from ..qa import TEMPLATES, load_ecgqa, slots_of_sample

    out = {}
    for split in splits:
        numeric = [s for s in load_ecgqa(ecgqa_root, "ptbxl", "template", split).samples
                   if s.attribute_type == "numeric_feature" and len(s.ecg_id) == 2]
        out[split] = {k: v for k, v in inferred_states(numeric, TEMPLATES, slots_of_sample).items() if k[0] in present}
    return out


@dataclass(frozen=True)
class StateAgreement:
    """Agreement of one convention's states with the official implied states of one split."""

    n: int
    """Determined (ECG, feature) states with a signal."""
    ok: int
    """Agreeing, an unmeasurable feature counted as ``within``."""
    n_measured: int
    """Determined states whose feature was measurable."""
    ok_measured: int
    """Agreeing among those (the bench's older line)."""
    per_feature: dict[str, tuple[int, int]]
    """Feature -> (n, ok), unmeasurable as within."""


def state_agreement(states: dict[tuple[int, str], set[str]], ranges_by_id: dict[int, dict]) -> StateAgreement:
    n = ok = nm = okm = 0
    per: dict[str, list[int]] = {}
    for (e, f), st in states.items():
        if len(st) != 1:
            continue
        ours = ranges_by_id[e].get(f)
        agree = ((ours or "within") != "within") == (st == {"abn"})
        n += 1
        ok += agree
        row = per.setdefault(f, [0, 0])
        row[0] += 1
        row[1] += agree
        if ours is not None:
            nm += 1
            okm += agree
    return StateAgreement(n, ok, nm, okm, {f: (v[0], v[1]) for f, v in sorted(per.items())})


def convention_agreement(ecgqa_root, ptbxl_root, fs_hz: int, cache_dir: Path | None,
                         splits: tuple[str, ...], candidates: tuple[str, ...] = CONVENTION_CANDIDATES,
                         measure_fs_hz: float | None = 500.0,
                         same_ecgs_as_fs_hz: int | None = None) -> dict[str, dict[str, StateAgreement]]:
    """Candidate -> split -> agreement with the implied states (records read at ``fs_hz``; the
    ECG-QA-convention candidates measured at ``measure_fs_hz``). ``same_ecgs_as_fs_hz``: only the
    ECGs that also have a signal at that rate (the protocol's 100 Hz choice uses the 500 Hz ECGs)."""
    from ..records import PtbXl

    present = set(PtbXl(ptbxl_root).present_ids(fs_hz=fs_hz))
    if same_ecgs_as_fs_hz is not None:
        present &= set(PtbXl(ptbxl_root).present_ids(fs_hz=same_ecgs_as_fs_hz))
    states = split_states(ecgqa_root, present, splits)
    ids = sorted({e for st in states.values() for e, _ in st})
    clinical = per_beat = None
    if any(c.startswith("clinical") for c in candidates):
        clinical = measure_ptbxl(ptbxl_root, ids, fs_hz,
                                 None if cache_dir is None else cache_dir / f"ptbxl-measure-{fs_hz}.jsonl")
    if any(c.startswith("ecgqa-") for c in candidates):
        tag = "native" if measure_fs_hz is None else f"{measure_fs_hz:g}"
        per_beat = measure_ecgqa_ptbxl(ptbxl_root, ids, fs_hz,
                                       None if cache_dir is None else cache_dir / f"ptbxl-ecgqa-{fs_hz}-{tag}.jsonl",
                                       measure_fs_hz)
    out: dict[str, dict[str, StateAgreement]] = {}
    for c in candidates:
        ranges = {e: candidate_ranges(c, None if clinical is None else clinical.get(e),
                                      None if per_beat is None else per_beat.get(e)) for e in ids}
        out[c] = {split: state_agreement(st, ranges) for split, st in states.items()}
    return out


@dataclass(frozen=True)
class FeatureChoice:
    """The candidate chosen for one numeric feature by the session-7b per-feature rule."""

    feature: str
    """ECG-QA numeric feature (``rr interval`` ... ``qt corrected``)."""
    candidate: str
    """Chosen candidate (``CONVENTION_CANDIDATES``)."""
    n: int
    """Determined train + valid states of the feature."""
    ok: int
    """Agreeing states of the chosen candidate (unmeasurable as within)."""
    counts: dict[str, int]
    """Candidate -> agreeing states of the feature, every candidate."""


def per_feature_choice(res: dict[str, dict[str, StateAgreement]],
                       preferred: str = "ecgqa-median") -> dict[str, FeatureChoice]:
    """Session-7b rule (docs/measurements.md): per feature, the candidate of ``res`` (candidate ->
    split -> agreement, in ``CONVENTION_CANDIDATES`` order) with the most agreeing states pooled over
    the splits; a tie goes to ``preferred`` when it is among the tied, else to the earlier candidate."""
    pooled: dict[str, dict[str, list[int]]] = {}
    for cand, per_split in res.items():
        for a in per_split.values():
            for f, (fn, fok) in a.per_feature.items():
                row = pooled.setdefault(f, {}).setdefault(cand, [0, 0])
                row[0] += fn
                row[1] += fok
    out = {}
    for f, by_cand in sorted(pooled.items()):
        top = max(v[1] for v in by_cand.values())
        tied = [c for c in res if c in by_cand and by_cand[c][1] == top]
        pick = preferred if preferred in tied else tied[0]
        out[f] = FeatureChoice(f, pick, by_cand[pick][0], by_cand[pick][1], {c: v[1] for c, v in by_cand.items()})
    return out
