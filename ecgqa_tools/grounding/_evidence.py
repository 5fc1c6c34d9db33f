"""``Evidence``: an attribution map turned into facts an answer can cite and a person can check.

Shares are of the *positive* attribution (evidence for the disease) over the whole map:
per lead, per wave segment (P, PR, QRS, ST, T, other; see ``_segments``), per beat (beats split at
the midpoints between consecutive QRS complexes of the reference lead, lead II when delineated).
Regions are the delineated segments of each lead (a P wave, a QRS complex, an ST segment...;
``other`` stretches are cut into pieces of at most 200 ms), ranked by their share.
The faithfulness check removes the top-ranked regions (set to the flat-line baseline in the
model's input) until at least ``faithfulness_fraction`` of the lead-time is removed, and compares
the probability drop with removing random regions of the same lengths (random lead and start).
When the IG baseline is a normal reference (``normal`` or ``expected``: IG then measures how the
ECG differs from a normal one), the same check is also run with the removed regions replaced by
the normal-beat template (``faithfulness_normal``): "removing" evidence then means making it
normal, which is what the map's baseline compares with. The flat-line check is always reported.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .. import DISCLAIMER as _PACKAGE_DISCLAIMER
from ..errors import UsageError
from ..records import Delineation
from ._attribution import METHOD_NAMES, Attribution, call_words, predict_logits, resolve_model
from ._segments import (
    SEGMENTS,
    clinical_description,
    clinical_mask,
    segment_label_map,
)
from ._validation import cas, peak_location

OTHER_CHUNK_MS = 200.0
DISCLAIMER = _PACKAGE_DISCLAIMER
"""Last sentence of every evidence text: the package's one disclaimer (``ecgqa_tools.DISCLAIMER``)."""


@dataclass(frozen=True)
class Region:
    """One delineated stretch of one lead and the share of positive attribution inside it."""

    lead: str
    """Canonical lead name."""
    start_ms: float
    """Start time from the beginning of the record, in ms."""
    end_ms: float
    """End time (exclusive), in ms."""
    segment: str
    """``P``, ``PR``, ``QRS``, ``ST``, ``T`` or ``other``."""
    share: float
    """Share of the map's total positive attribution inside this stretch (0-1)."""


@dataclass(frozen=True)
class BeatShare:
    """Share of positive attribution (all leads) inside one beat."""

    index: int
    """Beat number, from 0."""
    start_ms: float
    """Beat start (midpoint to the previous QRS, or record start), in ms."""
    end_ms: float
    """Beat end (exclusive), in ms."""
    share: float
    """Share of total positive attribution (0-1)."""


@dataclass(frozen=True)
class Peak:
    """Where the single largest attribution value lies."""

    lead: str
    """Lead of the peak."""
    time_ms: float
    """Time of the peak from the record start, in ms."""
    segment: str
    """Segment the peak falls in."""
    in_clinical_region: bool
    """Whether that point lies in the disease's expected region (the pointing game on this ECG)."""


@dataclass(frozen=True)
class Faithfulness:
    """Probability drop when the top-attributed regions are removed vs random regions of equal size."""

    probability: float
    """Probability on the untouched ECG."""
    probability_top_removed: float
    """Probability with the top regions set to the flat-line baseline."""
    probability_random_removed: float
    """Mean probability over ``n_random`` draws of random regions of the same lengths removed."""
    removed_fraction: float
    """Share of the model's lead-time removed (0-1)."""
    n_regions: int
    """How many top regions were removed."""
    n_random: int
    """Random draws averaged."""

    @property
    def drop_top(self) -> float:
        return self.probability - self.probability_top_removed

    @property
    def drop_random(self) -> float:
        return self.probability - self.probability_random_removed

    @property
    def faithful(self) -> bool:
        """The top regions matter more than random ones of the same size."""
        return self.drop_top > self.drop_random


@dataclass(frozen=True)
class Evidence:
    """What a disease head's attribution shows on one ECG, as citable numbers plus a short text."""

    disease: str
    """Disease head explained."""
    method: str
    """Attribution method (``ig``, ``gradshap``, ``saliency``)."""
    probability: float
    """The head's probability on this ECG."""
    threshold: float | None
    """The head's cut-off for calling the disease (``None`` when the model has none)."""
    lead_share: dict[str, float]
    """Share of positive attribution per lead (sums to 1 when there is any)."""
    segment_share: dict[str, float]
    """Share per segment over all leads (P, PR, QRS, ST, T, other)."""
    lead_segment_share: dict[str, dict[str, float]]
    """Share per lead and segment (each value a share of the whole map)."""
    beats: tuple[BeatShare, ...]
    """Share per beat."""
    top_regions: tuple[Region, ...]
    """The highest-share delineated stretches, best first."""
    peak: Peak | None
    """The single largest attribution value (``None`` when nothing is positive)."""
    clinical_region: str
    """Words for the region expected for this disease."""
    clinical_share: float
    """Share of positive attribution inside the clinical region (CAS on this ECG; NaN if none)."""
    faithfulness: Faithfulness | None
    """Removal check, when a model was available."""
    delineation_source: str
    """Who delineated the waves (``ludb-gold``, ``openecg``...)."""
    record_id: str
    """The ECG's record id."""
    faithfulness_normal: Faithfulness | None = None
    """The removal check with the regions replaced by the normal-beat template instead of the flat
    line; computed when the IG baseline is a normal reference (``normal``, ``expected``)."""
    locally_flat: bool | None = None
    """The head's output is flat at this ECG (``Attribution.locally_flat``); the text then says so
    (``flat_head_text``) instead of reading a zero saliency map as "no evidence". ``None``: not checked."""
    flat_check: str | None = None
    """How ``locally_flat`` was decided (``Attribution.flat_check``: ``head-constant`` or
    ``zero-gradient``; ``None``: not checked)."""
    n_steps: int | None = None
    """IG steps of the map (``Attribution.n_steps``, after the adaptive completeness loop); ``None``
    for GradientSHAP and saliency."""
    completeness_error: float | None = None
    """IG relative completeness error of the map (``Attribution.completeness_error``)."""
    completeness_abs_error: float | None = None
    """IG absolute completeness error of the map, logit units (``Attribution.completeness_abs_error``):
    a map also meets the tolerance when this is at most ``COMPLETENESS_ABS_TOLERANCE`` (0.01 logit),
    whatever its relative error."""
    completeness_tolerance: float | None = None
    """The relative tolerance the map was held to (``Attribution.completeness_tolerance``)."""
    completeness_met: bool | None = None
    """Whether the map meets it (``Attribution.completeness_met``); when ``False`` the text says so."""
    text: str = field(default="")
    """A short rendering for a clinician reader."""

    @property
    def peak_in_clinical_region(self) -> bool:
        return bool(self.peak is not None and self.peak.in_clinical_region)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN becomes ``None``)."""
        data = asdict(self)
        for name in ("faithfulness", "faithfulness_normal"):
            check = getattr(self, name)
            if check is not None:
                data[name].update(drop_top=check.drop_top, drop_random=check.drop_random,
                                  faithful=check.faithful)
        data["peak_in_clinical_region"] = self.peak_in_clinical_region
        return _clean(data)


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return None if not np.isfinite(value) else round(float(value), 6)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def _runs(labels: np.ndarray, fs_hz: float) -> list[tuple[int, int, int]]:
    """(start, stop, label) runs of one lead, ``other`` runs cut into <= 200 ms pieces."""
    if labels.size == 0:
        return []
    change = np.flatnonzero(np.diff(labels)) + 1
    starts = np.concatenate(([0], change))
    stops = np.concatenate((change, [labels.size]))
    chunk = max(1, int(round(OTHER_CHUNK_MS * fs_hz / 1000.0)))
    runs: list[tuple[int, int, int]] = []
    for a, b in zip(starts.tolist(), stops.tolist()):
        label = int(labels[a])
        if label == 0:
            runs.extend((s, min(b, s + chunk), 0) for s in range(a, b, chunk))
        else:
            runs.append((a, b, label))
    return runs


def rank_regions(positive: np.ndarray, labels: np.ndarray, lead_names: tuple[str, ...],
                 fs_hz: float) -> list[tuple[int, int, int, int, float]]:
    """All regions as (lead row, start, stop, label, positive sum), largest sum first."""
    regions = []
    for row in range(positive.shape[0]):
        cumulative = np.concatenate(([0.0], np.cumsum(positive[row], dtype=np.float64)))
        for a, b, label in _runs(labels[row], fs_hz):
            regions.append((row, a, b, label, float(cumulative[b] - cumulative[a])))
    regions.sort(key=lambda r: -r[4])
    return regions


def _beats(delineation: Delineation, n: int, fs_hz: float) -> list[tuple[int, int]]:
    d = delineation if abs(delineation.fs_hz - fs_hz) < 1e-9 else delineation.rescaled(fs_hz)
    candidates = ["II"] + sorted(d.waves, key=lambda lead: -sum(w.kind == "QRS" for w in d.lead(lead)))
    for lead in candidates:
        centres = [(w.onset + w.offset) // 2 for w in d.lead(lead) if w.kind == "QRS"]
        if centres:
            break
    else:
        return []
    centres = sorted(centres)
    bounds = [0] + [(a + b) // 2 for a, b in zip(centres, centres[1:])] + [n]
    return [(bounds[i], bounds[i + 1]) for i in range(len(centres)) if bounds[i + 1] > bounds[i]]


FILLS = ("flat", "normal")
"""What removed regions are set to: the flat line (the documented check) or the beat-aligned
normal template (``_baselines.place_template``; a variant where "removed" means "made normal")."""

NORMAL_REFERENCE_BASELINES = frozenset({"normal", "expected", "expected-16", "expected-smooth", "expected-normal"})
"""IG baselines made of normal beats: their evidence also gets the normal-fill removal check."""


def faithfulness_check(attribution: Attribution, regions: list[tuple[int, int, int, int, float]],
                       model: Any, fraction: float = 0.05, n_random: int = 8,
                       seed: int = 0, fill: str = "flat") -> Faithfulness | None:
    """Remove top regions (ranked list from ``rank_regions``) vs random regions of equal lengths.

    ``fill``: ``flat`` sets removed samples to zero in the model's input space (a flat line at the
    lead's mean); ``normal`` replaces them with the normal-beat template placed at the ECG's QRS.
    """
    if not 0 < fraction < 1:
        raise UsageError(f"faithfulness fraction must be in (0, 1), got {fraction}")
    if fill not in FILLS:
        raise UsageError(f"unknown faithfulness fill {fill!r}; expected one of {', '.join(FILLS)}")
    x = np.asarray(model.preprocess(attribution.ecg), dtype=np.float32)
    if fill == "normal":
        from ._baselines import place_template

        replacement = place_template(x, attribution.model_fs_hz)
    else:
        replacement = np.zeros_like(x)
    n_leads, n_model = x.shape
    budget = fraction * n_leads * n_model
    removed = np.zeros_like(x, dtype=bool)
    lengths: list[int] = []
    for row, a, b, _label, value in regions:
        if removed.sum() >= budget or value <= 0:
            break
        lo = max(0, attribution.model_index(a))
        hi = min(n_model, attribution.model_index(max(a, b - 1)) + 1)
        if hi <= lo:
            continue
        removed[row, lo:hi] = True
        lengths.append(hi - lo)
    if not lengths:
        return None
    rng = np.random.default_rng(seed)
    batch = [x, np.where(removed, replacement, x)]
    for _ in range(n_random):
        random_mask = np.zeros_like(removed)
        for length in lengths:
            row = int(rng.integers(0, n_leads))
            start = int(rng.integers(0, max(1, n_model - length + 1)))
            random_mask[row, start:start + length] = True
        batch.append(np.where(random_mask, replacement, x))
    probs = 1.0 / (1.0 + np.exp(-predict_logits(model, np.stack(batch).astype(np.float32))))
    return Faithfulness(
        probability=float(probs[0]), probability_top_removed=float(probs[1]),
        probability_random_removed=float(probs[2:].mean()),
        removed_fraction=float(removed.sum() / removed.size), n_regions=len(lengths),
        n_random=n_random,
    )


def build_evidence(attribution: Attribution, delineation: Delineation | None = None, *,
                   model: Any = None, faithfulness: bool = True, top_k: int = 5,
                   av_block: bool = False, faithfulness_fraction: float = 0.05,
                   n_random: int = 8, seed: int = 0) -> Evidence:
    """Turn an attribution map into ``Evidence`` (with ``.text``).

    ``delineation``: wave boundaries of the same ECG (gold or ``encoders.delineate``; delineated
    here when omitted). ``model``: the model the map came from, for the faithfulness check
    (default: the shipped model of the disease); ``faithfulness=False`` skips the check.
    """
    if not isinstance(attribution, Attribution):
        raise UsageError(f"build_evidence takes an Attribution (from grounding.explain), got "
                         f"{type(attribution).__name__}")
    if delineation is not None and not isinstance(delineation, Delineation):
        raise UsageError(f"build_evidence takes delineation=None or a records.Delineation, got "
                         f"{type(delineation).__name__}")
    if delineation is None:
        from ..encoders import delineate  # type: ignore[attr-defined]

        delineation = delineate(attribution.ecg)
    n, fs = attribution.n_samples, attribution.fs_hz
    leads = attribution.lead_names
    labels = segment_label_map(delineation, n, fs, leads)
    positive = attribution.positive.astype(np.float64)
    total = float(positive.sum())
    scale = 1.0 / total if total > 0 else 0.0

    lead_share = {lead: float(positive[i].sum() * scale) for i, lead in enumerate(leads)}
    segment_share = {name: float(positive[labels == k].sum() * scale) for k, name in enumerate(SEGMENTS)}
    lead_segment_share = {
        lead: {name: float(positive[i][labels[i] == k].sum() * scale) for k, name in enumerate(SEGMENTS)}
        for i, lead in enumerate(leads)
    }
    beats = tuple(
        BeatShare(i, a * 1000.0 / fs, b * 1000.0 / fs, float(positive[:, a:b].sum() * scale))
        for i, (a, b) in enumerate(_beats(delineation, n, fs))
    )
    ranked = rank_regions(positive, labels, leads, fs)
    top = tuple(
        Region(leads[row], a * 1000.0 / fs, b * 1000.0 / fs, SEGMENTS[label], value * scale)
        for row, a, b, label, value in ranked[:top_k] if value > 0
    )
    mask = clinical_mask(delineation, attribution.disease, n_samples=n, fs_hz=fs, av_block=av_block,
                         lead_names=leads) if attribution.disease in ("MI", "STTC", "CD", "HYP") else None
    location = peak_location(attribution.values)
    peak = None
    if location is not None:
        row, sample = location
        peak = Peak(leads[row], sample * 1000.0 / fs, SEGMENTS[int(labels[row, sample])],
                    bool(mask is not None and mask[row, sample]))
    faith = faith_normal = None
    if faithfulness and total > 0:
        resolved = resolve_model(attribution.disease, model)
        faith = faithfulness_check(attribution, ranked, resolved, faithfulness_fraction, n_random, seed)
        if attribution.method == "ig" and attribution.baseline_kind in NORMAL_REFERENCE_BASELINES:
            faith_normal = faithfulness_check(attribution, ranked, resolved, faithfulness_fraction,
                                              n_random, seed, fill="normal")
    evidence = Evidence(
        disease=attribution.disease, method=attribution.method, probability=attribution.probability,
        threshold=attribution.threshold, lead_share=lead_share, segment_share=segment_share, lead_segment_share=lead_segment_share,
        beats=beats, top_regions=top, peak=peak,
        clinical_region=clinical_description(attribution.disease, av_block)
        if mask is not None else "not defined for this head",
        clinical_share=cas(attribution.values, mask) if mask is not None else float("nan"),
        faithfulness=faith, delineation_source=delineation.source,
        record_id=attribution.ecg.record_id, faithfulness_normal=faith_normal,
        locally_flat=attribution.locally_flat, flat_check=attribution.flat_check,
        n_steps=attribution.n_steps, completeness_error=attribution.completeness_error,
        completeness_abs_error=attribution.completeness_abs_error,
        completeness_tolerance=attribution.completeness_tolerance, completeness_met=attribution.completeness_met,
    )
    return _with_text(evidence)


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


_IG_ADVICE = "method ig, the default"
"""How the flat-saliency sentence names Integrated Gradients: neutral between the API
(``method="ig"``) and the CLI (``--method ig``), so one text serves the evidence, the plot and its
``note:`` line."""


def flat_head_text(disease: str, method: str, probability: float, flat_check: str | None = None) -> str:
    """What a locally flat head (``Attribution.locally_flat``) means for a map of ``method``; the
    same text in the evidence, on the figure and in ``ecgqa plot``'s ``note:`` line.

    It starts with ``encoders.flat_head_note`` (what ``classify`` and ``ask`` say with the
    probability) when ``flat_check`` is ``head-constant``, the only check that establishes that the
    logit is the head's constant output with every hidden unit inactive; for a model without that
    check (``zero-gradient``, or ``None`` for a hand-built attribution) it says only what was
    checked, that the input gradient is exactly zero. Then the attribution-specific part: a saliency
    map (the gradient) is zero and shows nothing, so use Integrated Gradients; IG and GradientSHAP
    take their gradients between baseline and ECG."""
    if flat_check == "head-constant":
        from ..encoders import flat_head_note

        text = flat_head_note(disease, probability) + "."
    else:
        text = (f"{disease}: the head's output is flat at this ECG (its input gradient is exactly zero there), so "
                f"small changes of the signal do not move the probability {probability:.2f}.")
    if method == "saliency":
        return text + (" Saliency is the input gradient, which is exactly zero here, so its map is zero everywhere "
                       f"and shows no evidence either way; use Integrated Gradients ({_IG_ADVICE}), which integrates "
                       "the gradient along a path from a baseline, to see which parts of the signal brought the head "
                       "to this output.")
    return text + (" This map takes its gradients at points between its baseline and this ECG, not at the ECG "
                   "itself: it shows what moved the logit from the baseline to here, not how the probability "
                   "responds to small changes of this signal.")


def completeness_text(evidence: Evidence) -> str | None:
    """One sentence when an IG map missed its completeness tolerance after the adaptive loop
    (``completeness_met`` False), else ``None`` (nothing is said about a map that meets it)."""
    if evidence.completeness_met is not False:
        return None
    error, absolute = evidence.completeness_error, evidence.completeness_abs_error
    if error is None or np.isnan(error) or (absolute is not None and not np.isfinite(absolute)):
        return (f"Completeness undefined: the model's output is not a number on this map's path ({evidence.n_steps} "
                "integration steps, not redone), so the map's total cannot be compared with the change of the "
                "logit it explains and its shares may mean nothing.")
    size = "more than the change itself, which is zero" if not np.isfinite(error) else _pct(error)
    tolerance = _pct(evidence.completeness_tolerance) if evidence.completeness_tolerance is not None else "its tolerance"
    return (f"Completeness not reached within the step budget: the map kept ({evidence.n_steps} integration steps, "
            f"the closest of the passes tried) still differs from the change of the logit it explains by {size} "
            f"(tolerance {tolerance}), so its shares are approximate.")


def render_text(evidence: Evidence) -> str:
    """A few sentences for a clinician reader."""
    method = METHOD_NAMES.get(evidence.method, evidence.method)
    lines = [f"{evidence.disease} {call_words(evidence.probability, evidence.threshold)}, explained with {method}."]
    if evidence.locally_flat:
        lines.append(flat_head_text(evidence.disease, evidence.method, evidence.probability, evidence.flat_check))
    incomplete = completeness_text(evidence)
    if incomplete:
        lines.append(incomplete)
    if evidence.peak is None:
        if not (evidence.locally_flat and evidence.method == "saliency"):  # a zero gradient is not "no evidence"
            lines.append("No part of the signal pushes this head towards the diagnosis.")
        lines.append(DISCLAIMER)
        return " ".join(lines)
    leads = sorted(evidence.lead_share.items(), key=lambda kv: -kv[1])[:3]
    segments = sorted(((k, v) for k, v in evidence.segment_share.items() if k != "other"),
                      key=lambda kv: -kv[1])[:3]
    lines.append("Evidence concentrates in " + ", ".join(f"{lead} ({_pct(v)})" for lead, v in leads)
                 + "; by segment " + ", ".join(f"{k} {_pct(v)}" for k, v in segments)
                 + f" (outside delineated waves {_pct(evidence.segment_share.get('other', 0.0))}).")
    if evidence.top_regions:
        r = evidence.top_regions[0]
        lines.append(f"Strongest region: {r.segment} in {r.lead} at {r.start_ms:.0f}-{r.end_ms:.0f} ms "
                     f"({_pct(r.share)}).")
    where = "inside" if evidence.peak.in_clinical_region else "outside"
    lines.append(f"The peak ({evidence.peak.segment} in {evidence.peak.lead} at {evidence.peak.time_ms:.0f} ms) "
                 f"lies {where} the expected region for {evidence.disease} ({evidence.clinical_region}); "
                 f"{_pct(evidence.clinical_share) if np.isfinite(evidence.clinical_share) else 'n/a'} "
                 "of the evidence falls there.")
    f = evidence.faithfulness
    if f is not None:
        def change(drop: float) -> str:
            return f"lowers it by {drop:.2f}" if drop >= 0 else f"raises it by {-drop:.2f}"

        verdict = "a larger drop than" if f.faithful else "no larger drop than"
        lines.append(f"Setting the top regions ({_pct(f.removed_fraction)} of the signal) to a flat line "
                     f"{change(f.drop_top).replace('it', 'the probability', 1)}: {verdict} for random "
                     f"regions of the same size, which {change(f.drop_random)}.")
        g = evidence.faithfulness_normal
        if g is not None:
            verdict = "a larger drop than" if g.faithful else "no larger drop than"
            lines.append("Making the same regions normal (the normal-beat template; this map's baseline is "
                         f"made of normal beats) {change(g.drop_top).replace('it', 'the probability', 1)}: {verdict} for "
                         f"random regions made normal, which {change(g.drop_random)}.")
    lines.append(DISCLAIMER)
    return " ".join(lines)


def _with_text(evidence: Evidence) -> Evidence:
    from dataclasses import replace

    return replace(evidence, text=render_text(evidence))

