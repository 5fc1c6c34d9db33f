"""XAI evaluation: pointing game and CAS of the disease heads' attributions against clinical masks.

Records scored, per disease head (``MI``, ``STTC``, ``CD``, ``HYP``):

- **PTB-XL**: the test fold (``strat_fold`` 10) records present at 100 Hz whose labels contain the
  superclass (any SCP statement whose ``diagnostic_class`` is the disease, as in PTB-XL's own
  aggregation) **and** that the model calls positive (probability >= the model's threshold, chosen
  by its trainer on the validation fold): the true positives.
  Masks come from the delineator (``ecgqa_tools.encoders.delineate``), since PTB-XL+ fiducials are
  not on this machine (``--ptbxl-plus DIR`` uses them when a user has them).
- **LUDB**: records whose cardiologist diagnoses match the disease (see ``ludb_diseases``) and that
  the model calls positive; masks from LUDB's gold per-lead annotations, scored only inside each
  lead's annotated span.

CD masks add P and PR for records labelled with an AV block (PTB-XL 1AVB/2AVB/3AVB, LUDB
"AV block"). Records the model was trained or selected on (its card's ``seen_ids``) are excluded.
Per-record results are appended to a JSONL file as they are produced, so a run resumes.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DatasetError, UsageError
from .._io import write_bytes_atomic

DISEASES_DEFAULT: tuple[str, ...] = ("MI", "STTC", "CD", "HYP")
AV_BLOCK_CODES = frozenset({"1AVB", "2AVB", "3AVB"})
ANCHORS: dict[str, dict[str, float]] = {
    "pointing_game": {"MI": 0.980, "CD": 0.968, "HYP": 0.965},
    "cas": {"MI": 0.752, "STTC": 0.403, "CD": 0.540, "HYP": 0.716},
}
"""XAND-ECG (Integrated Gradients) values the issue sets as anchors."""


@dataclass(frozen=True)
class XaiRecordResult:
    """Scores of one true-positive ECG for one disease head."""

    dataset: str
    """``ptbxl`` or ``ludb``."""
    record_id: str
    """PTB-XL ecg_id or LUDB record number."""
    disease: str
    """Disease head."""
    probability: float
    """The head's probability on the ECG."""
    positive: bool
    """Called positive by the model (probability >= its threshold): a true positive."""
    hit: bool
    """Pointing game: the IG peak lies in the clinical mask."""
    cas: float
    """Share of positive IG attribution inside the mask (NaN when none is positive)."""
    coverage: float
    """Share of the scored region the mask covers (the chance level)."""
    cosine_ig_gradshap: float | None
    """Cosine similarity of the IG and GradientSHAP maps (None when not computed)."""
    av_block: bool
    """Whether the CD mask included P and PR (AV block label)."""
    hit_gradshap: bool | None
    """Pointing game of the GradientSHAP map (None when not computed)."""
    cas_gradshap: float | None
    """CAS of the GradientSHAP map."""
    hit_saliency: bool | None
    """Pointing game of the saliency map."""
    cas_saliency: float | None
    """CAS of the saliency map."""
    mask_source: str
    """Delineation source of the mask (``openecg``, ``ludb-gold``, ``ptbxl-plus``...)."""
    model_version: str
    """Version of the disease model."""
    baseline: str = "flat"
    """IG baseline or path variant (``grounding._attribution.IG_VARIANTS``) of ``hit`` and ``cas``."""
    probability_top_removed: float | None = None
    """Faithfulness check of the IG map (``grounding.faithfulness_check``, as in ``Evidence``):
    probability with the top-ranked IG regions (>= 5% of the model's lead-time) set to the flat
    line; None when not computed."""
    probability_random_removed: float | None = None
    """Mean probability over 8 draws of random regions of the same lengths set to the flat line."""
    removed_fraction: float | None = None
    """Share of the model's lead-time removed by the check (0-1)."""
    probability_top_normalized: float | None = None
    """Variant of the check: probability with the same top regions replaced by the beat-aligned
    normal template (``faithfulness_check(fill="normal")``) instead of the flat line."""
    probability_random_normalized: float | None = None
    """Mean probability with the same-size random regions replaced by the normal template."""
    n_steps: int | None = None
    """IG integration steps requested for ``hit``/``cas``: where ``explain``'s adaptive completeness
    loop starts (part of the resume key; None in older files). The steps of the scored map are
    ``n_steps_used``."""
    baseline_probability: float | None = None
    """The head's probability on the IG baseline itself (a neutral reference should be called
    negative: IG explains ``logit(ECG) - logit(baseline)``)."""
    pipeline: str = ""
    """Fingerprint of the delineator code (``pipeline_fingerprint``) that made the masks and the
    beat-aligned baselines; part of the resume key, so a changed delineator is never reused."""
    gradshap_background: str | None = None
    """IG baseline key whose references GradientSHAP drew its background from (part of the resume
    key; since session 4b the same as ``baseline``; None when GradientSHAP was not computed).
    Rows of files written before the field existed that carry GradientSHAP scores are read as
    ``"flat"`` (GradientSHAP then drew around the flat line)."""
    variant: str = ""
    """Fingerprint of the IG-variant constants and shipped normal-beat references
    (``grounding.variant_fingerprint``);
    part of the resume key ("" in older files, which are therefore scored again)."""
    n_steps_used: int | None = None
    """IG steps of the scored map after the adaptive completeness loop (``Attribution.n_steps``;
    docs/grounding.md "IG completeness"). None for a miss and in files written before session 10's
    review fix (their rows are read and reused as they are)."""
    completeness_error: float | None = None
    """Relative completeness error of the scored IG map (``Attribution.completeness_error``; None
    when not recorded or not finite)."""
    completeness_abs_error: float | None = None
    """Absolute completeness error, logit units (``Attribution.completeness_abs_error``)."""
    completeness_met: bool | None = None
    """Whether the scored map meets the completeness tolerance (``Attribution.completeness_met``;
    None when not recorded or when the map was made without the loop)."""


@dataclass(frozen=True)
class XaiRow:
    """Aggregate over the true positives of one disease in one dataset."""

    dataset: str
    """``ptbxl`` or ``ludb``."""
    disease: str
    """Disease head."""
    n_labelled: int
    """Records with the disease label that were scored by the model."""
    n_true_positive: int
    """Of those, called positive by the model (the ECGs scored)."""
    pointing_game: float
    """Share of hits (NaN when no true positive)."""
    cas: float
    """Mean CAS over true positives with any positive attribution."""
    chance: float
    """Mean mask coverage (what a uniform map would score)."""
    cosine_ig_gradshap: float
    """Mean IG-vs-GradientSHAP cosine similarity (NaN when not computed)."""
    pointing_game_gradshap: float
    """Pointing game of GradientSHAP on the same true positives."""
    cas_gradshap: float
    """CAS of GradientSHAP."""
    pointing_game_saliency: float
    """Pointing game of saliency (|gradient|)."""
    cas_saliency: float
    """CAS of saliency."""
    faithfulness: "FaithfulnessSummary | None" = None
    """Faithfulness check of the IG maps aggregated over the true positives (None when none)."""
    faithfulness_normal_fill: "FaithfulnessSummary | None" = None
    """The same check with removed regions replaced by the normal-beat template (variant)."""
    baseline_probability: float = float("nan")
    """Median probability of the head on the IG baselines of the true positives."""
    baseline_positive_share: float = float("nan")
    """Share of those baselines the head itself calls positive (>= its threshold)."""


@dataclass(frozen=True)
class FaithfulnessSummary:
    """The per-ECG faithfulness check (remove top IG regions vs random ones) over a set of ECGs."""

    n: int
    """True positives with a check (a map with positive attribution)."""
    drop_top: float
    """Mean probability drop when the top-attributed regions are removed."""
    drop_random: float
    """Mean probability drop when random regions of the same lengths are removed (8 draws each)."""
    difference: float
    """Mean of the per-ECG ``drop_top - drop_random`` (paired)."""
    ci_low: float
    """Lower end of the 95% t-interval of ``difference`` (NaN when n < 2)."""
    ci_high: float
    """Upper end of that interval."""
    faithful_share: float
    """Share of ECGs with ``drop_top > drop_random``."""
    removed_fraction: float
    """Mean share of the model's lead-time removed."""


def summarize_faithfulness(results: Iterable[XaiRecordResult], fill: str = "flat") -> FaithfulnessSummary | None:
    """Aggregate the per-record faithfulness checks (those that have one); None when none.

    ``fill``: ``flat`` (the documented check) or ``normal`` (regions replaced by the normal template).
    """
    names = (("probability_top_removed", "probability_random_removed") if fill == "flat"
             else ("probability_top_normalized", "probability_random_normalized"))
    checked = [r for r in results if getattr(r, names[0]) is not None and getattr(r, names[1]) is not None]
    if not checked:
        return None
    top = np.array([r.probability - getattr(r, names[0]) for r in checked], dtype=np.float64)
    rand = np.array([r.probability - getattr(r, names[1]) for r in checked], dtype=np.float64)
    diff = top - rand
    n = len(checked)
    low = high = float("nan")
    if n >= 2:
        from scipy.stats import t

        half = float(t.ppf(0.975, n - 1) * diff.std(ddof=1) / np.sqrt(n))
        low, high = float(diff.mean() - half), float(diff.mean() + half)
    return FaithfulnessSummary(
        n=n, drop_top=float(top.mean()), drop_random=float(rand.mean()), difference=float(diff.mean()),
        ci_low=low, ci_high=high, faithful_share=float(np.mean(diff > 0)),
        removed_fraction=float(np.mean([r.removed_fraction or 0.0 for r in checked])),
    )


@dataclass(frozen=True)
class XaiReport:
    """Everything ``ecgqa eval xai`` prints."""

    rows: tuple[XaiRow, ...]
    """One row per (dataset, disease)."""
    records: tuple[XaiRecordResult, ...]
    """Per-ECG results."""
    method: str
    """Attribution method scored (``ig``)."""
    explain_seconds_per_ecg: float
    """Mean wall time of one IG map in batched runs (this machine)."""
    excluded_seen: int
    """Records skipped because the model was trained/selected on them."""
    fold: int = 10
    """PTB-XL fold scored (10 = test; 9 = the models' selection fold, for choosing a method)."""
    n_steps: int | None = None
    """IG integration steps used (None: not recorded)."""

    def table(self) -> str:
        """Plain-text table: disease, pointing game, CAS, then counts and context."""
        lines = []
        for dataset in dict.fromkeys(r.dataset for r in self.rows):
            title = {"ptbxl": f"PTB-XL {'test ' if self.fold == 10 else ''}fold {self.fold} "
                              f"(true positives, delineator masks; {self.method})",
                     "ludb": f"LUDB (true positives, gold masks; {self.method})"}.get(dataset, dataset)
            lines.append(title)
            lines.append(f"{'disease':<8}{'pointing':>9}{'CAS':>8}{'TP':>5}{'labelled':>9}"
                         f"{'chance':>8}{'cos(IG,GS)':>11}{'anchor PG':>10}{'anchor CAS':>11}")
            for row in (r for r in self.rows if r.dataset == dataset):
                pg_anchor = ANCHORS["pointing_game"].get(row.disease)
                cas_anchor = ANCHORS["cas"].get(row.disease)
                lines.append(
                    f"{row.disease:<8}{_fmt(row.pointing_game):>9}{_fmt(row.cas):>8}"
                    f"{row.n_true_positive:>5}{row.n_labelled:>9}{_fmt(row.chance):>8}"
                    f"{_fmt(row.cosine_ig_gradshap):>11}{_fmt(pg_anchor):>10}{_fmt(cas_anchor):>11}"
                )
            lines.append("IG baseline as the head sees it: " + "; ".join(
                f"{r.disease} median probability {_fmt(r.baseline_probability)}, called positive "
                f"{_fmt(r.baseline_positive_share)}" for r in self.rows if r.dataset == dataset))
            lines.append("other methods on the same true positives: pointing game / CAS")
            lines.append(f"{'disease':<8}{'GradientSHAP':>16}{'saliency':>16}")
            for row in (r for r in self.rows if r.dataset == dataset):
                lines.append(f"{row.disease:<8}{_fmt(row.pointing_game_gradshap) + ' / ' + _fmt(row.cas_gradshap):>16}"
                             f"{_fmt(row.pointing_game_saliency) + ' / ' + _fmt(row.cas_saliency):>16}")
            lines.append("faithfulness of IG (remove the top regions, >= 5% of the lead-time, vs random regions "
                         "of the same lengths; probability drop)")
            lines.append(f"{'disease':<8}{'n':>5}{'drop top':>10}{'drop random':>13}{'difference [95% CI]':>28}"
                         f"{'top > random':>14}")
            for row, f in ((r, s) for r in self.rows if r.dataset == dataset
                           for s in (r.faithfulness, r.faithfulness_normal_fill)):
                if f is row.faithfulness_normal_fill:
                    if f is None:
                        continue
                    row = replace(row, disease=f"{row.disease}*")
                if f is None:
                    lines.append(f"{row.disease:<8}{0:>5}{'-':>10}{'-':>13}{'-':>28}{'-':>14}")
                    continue
                interval = f"{f.difference:+.3f} [{f.ci_low:+.3f}, {f.ci_high:+.3f}]"
                lines.append(f"{row.disease:<8}{f.n:>5}{f.drop_top:>10.3f}{f.drop_random:>13.3f}{interval:>28}"
                             f"{f.faithful_share:>14.3f}")
            if any(r.faithfulness_normal_fill for r in self.rows if r.dataset == dataset):
                lines.append("* variant: removed regions replaced by the normal-beat template instead of the flat line")
            lines.append("")
        timing = (f"IG: {self.explain_seconds_per_ecg * 1000:.0f} ms per ECG (batched, this machine)"
                  if np.isfinite(self.explain_seconds_per_ecg)
                  else "IG timing: none in this run (every result came from the results file)")
        steps = f"; IG steps {self.n_steps}" if self.n_steps else ""
        steps += self._completeness_words() if self.n_steps else ""
        lines.append(f"{timing}{steps}; excluded as seen in training/selection: {self.excluded_seen}")
        return "\n".join(lines)

    def completeness_summary(self) -> dict[str, Any]:
        """How the scored IG maps (true positives) ended in ``explain``'s adaptive completeness loop:
        ``maps``, ``recorded`` (rows with a record; older results files have none), ``steps_used_median``
        / ``steps_used_max`` and ``met`` over the recorded ones (None when there are none)."""
        scored = [r for r in self.records if r.positive]
        known = [r for r in scored if r.n_steps_used is not None]
        used = [int(r.n_steps_used) for r in known]
        return {"maps": len(scored), "recorded": len(known),
                "steps_used_median": float(np.median(used)) if used else None,
                "steps_used_max": max(used) if used else None,
                "met": sum(r.completeness_met is True for r in known) if known else None}

    def _completeness_words(self) -> str:
        summary = self.completeness_summary()
        if not summary["maps"]:
            return ""
        if not summary["recorded"]:
            return f" (start; steps used not recorded for the {summary['maps']} scored maps: older results file)"
        older = summary["maps"] - summary["recorded"]
        return (f" (start; adaptive: steps used median {summary['steps_used_median']:g}, max "
                f"{summary['steps_used_max']}; completeness met on {summary['met']} of {summary['recorded']} maps"
                + (f"; {older} older rows without a record" if older else "") + ")")

    def to_dict(self) -> dict[str, Any]:
        return _clean({"rows": [asdict(r) for r in self.rows], "method": self.method,
                       "explain_seconds_per_ecg": self.explain_seconds_per_ecg,
                       "excluded_seen": self.excluded_seen, "fold": self.fold, "n_steps": self.n_steps,
                       "n_records": len(self.records), "completeness": self.completeness_summary()})


def _fmt(value: float | None) -> str:
    return "-" if value is None or not np.isfinite(value) else f"{value:.3f}"


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


# ---------------------------------------------------------------------------------- labels
def ptbxl_superclasses(scp_codes: dict[str, float], statements) -> set[str]:  # noqa: ANN001
    """Diagnostic superclasses of a record's SCP codes (PTB-XL's aggregation, any likelihood)."""
    out: set[str] = set()
    for code in scp_codes:
        if code in statements.index:
            cls = statements.loc[code].get("diagnostic_class")
            if isinstance(cls, str) and cls:
                out.add(cls)
    return out


def ludb_diseases(diagnoses: Any) -> tuple[set[str], bool]:
    """Superclasses matching one LUDB row, and whether it has an AV block.

    MI: STEMI or scar formation ("undefined ischemia/scar/supp.NSTEMI" is ambiguous: not
    mapped); STTC: "Ischemia: ..." or
    non-specific repolarization abnormalities; CD: any conduction abnormality except sinoatrial
    block; HYP: left/right ventricular hypertrophy (atrial enlargement alone is a P-wave finding
    and is not scored against a QRS mask).
    """
    found: set[str] = set()
    ischemia = [s.lower() for s in diagnoses.ischemia]
    if any(s.startswith(("stemi", "scar formation")) for s in ischemia):
        found.add("MI")
    if any(s.startswith("ischemia") for s in ischemia) or diagnoses.repolarization:
        found.add("STTC")
    conduction = [s.lower() for s in diagnoses.conduction_abnormalities if "sinoatrial" not in s.lower()]
    if conduction:
        found.add("CD")
    if any("ventricular hypertrophy" in s.lower() for s in diagnoses.hypertrophies):
        found.add("HYP")
    av_block = any("av block" in s or "av-block" in s for s in conduction)
    return found, av_block


# ---------------------------------------------------------------------------------- scoring
@dataclass(frozen=True)
class Case:
    """One labelled ECG to score: where it comes from and how to get its signal and masks."""

    dataset: str
    record_id: str
    diseases: frozenset[str]
    av_block: bool
    load: Callable[[], Any]
    """() -> ECG."""
    delineation: Callable[[Any], Any]
    """(ECG) -> Delineation used for the masks."""


def _model_version(model: Any) -> str:
    card = getattr(model, "card", None)
    return str(getattr(card, "version", "unknown"))


def _seen_ids(model: Any, training_only: bool = False) -> frozenset[int]:
    card = getattr(model, "card", None)
    seen = getattr(card, "train_ids" if training_only else "seen_ids", None)
    return frozenset(seen) if seen is not None else frozenset()


_Key = tuple[str, str, str, str, str, int | None, str, str]
"""Resume key: dataset, record, disease, model version, baseline, IG steps, delineator pipeline,
IG-variant fingerprint (the GradientSHAP background is matched separately, ``_Results.find``)."""


def _key(result: XaiRecordResult) -> _Key:
    return (result.dataset, result.record_id, result.disease, result.model_version, result.baseline,
            result.n_steps, result.pipeline, result.variant)


_GRADSHAP_FIELDS = {"cosine_ig_gradshap": None, "hit_gradshap": None, "cas_gradshap": None,
                    "gradshap_background": None}
"""A reused row without its GradientSHAP scores (a run with ``compare_gradshap=False``)."""


class _Results:
    """Append-only JSONL of per-record results (resume: already scored keys are skipped)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.done: dict[_Key, dict[str | None, XaiRecordResult]] = {}
        if path is not None and path.is_file():
            for line in path.read_text().splitlines():
                try:
                    raw = json.loads(line)
                    for name in ("cas", "coverage", "cas_gradshap", "cas_saliency"):
                        raw[name] = float("nan") if raw[name] is None else raw[name]
                    if raw.get("gradshap_background") is None and (raw["cosine_ig_gradshap"] is not None
                                                                   or raw["hit_gradshap"] is not None):
                        raw["gradshap_background"] = "flat"  # written before the field: flat-line GradientSHAP
                    result = XaiRecordResult(**raw)
                except (ValueError, TypeError, KeyError):
                    continue  # a line cut by an interruption
                self.done.setdefault(_key(result), {})[result.gradshap_background] = result

    def find(self, key: _Key, gradshap_background: str | None) -> XaiRecordResult | None:
        """The stored row of ``key`` whose GradientSHAP drew from ``gradshap_background``; with
        None (GradientSHAP not wanted) any stored row of ``key``, its GradientSHAP scores dropped."""
        rows = self.done.get(key, {})
        if gradshap_background is not None:
            return rows.get(gradshap_background)
        row = rows.get(None) or next(iter(rows.values()), None)
        return None if row is None else replace(row, **_GRADSHAP_FIELDS)

    def add(self, result: XaiRecordResult) -> None:
        self.done.setdefault(_key(result), {})[result.gradshap_background] = result
        if self.path is not None:
            with self.path.open("a") as handle:
                handle.write(json.dumps(_clean(asdict(result))) + "\n")
                handle.flush()
                os.fsync(handle.fileno())


class _DelineationCache:
    """Delineations kept on disk next to the results (they do not depend on the model weights),
    one file per record and delineator version."""

    def __init__(self, folder: Path | None, pipeline: str) -> None:
        self.folder = folder
        self.pipeline = pipeline

    def _path(self, key: tuple[str, str]) -> Path | None:
        return None if self.folder is None else self.folder / f"{key[0]}_{key[1]}_{self.pipeline}.pkl"

    def get(self, key: tuple[str, str]) -> Any:
        import pickle

        path = self._path(key)
        if path is None or not path.is_file():
            return None
        try:
            return pickle.loads(path.read_bytes())
        except Exception:  # a file cut by an interruption: delineate again
            return None

    def put(self, key: tuple[str, str], delineation: Any) -> Any:
        import pickle

        path = self._path(key)
        if path is not None:
            write_bytes_atomic(path, pickle.dumps(delineation))
        return delineation


def score_cases(cases: list[Case], models: dict[str, Any], *, results_path: Path | None = None,
                compare_gradshap: bool = True, threshold: float | None = None, batch_size: int = 8,
                n_steps: int | None = None, progress: bool = True, baseline: str | None = "flat",
                training_only: bool = False, faithfulness: bool = True) -> tuple[list[XaiRecordResult], dict[tuple[str, str], int], float, int]:
    """Score every case for every disease it carries; returns results, labelled counts, s/ECG, excluded.

    A case is a true positive when the model's probability reaches ``threshold`` (default: the
    model's own ``.threshold``, chosen on the validation fold, else 0.5). ``baseline``: the IG
    baseline scored (None: each head's default, ``grounding.default_baseline``); ``n_steps``: IG
    steps (default: ``explain_batch``'s). ``faithfulness``: run
    the removal check of ``Evidence`` on each true positive's IG map. Records in the model card's
    ``seen_ids`` (training + selection) are skipped; with ``training_only`` only its ``train_ids``
    (for method selection on the selection fold).
    """
    from tqdm import tqdm

    from ..grounding import (cas, clinical_mask, cosine_similarity, default_baseline, explain_batch,
                             faithfulness_check, mask_coverage, pointing_game, predict_logits, rank_regions,
                             scored_mask, segment_label_map, variant_fingerprint)

    from ._delineation_bench import pipeline_fingerprint

    pipeline = pipeline_fingerprint()
    variant = variant_fingerprint()
    store = _Results(results_path)
    disk = _DelineationCache(results_path.with_name(results_path.name + ".delineations")
                             if results_path is not None else None, pipeline)
    labelled: dict[tuple[str, str], int] = {}
    results: list[XaiRecordResult] = []
    excluded = 0
    timings: list[float] = []
    ecg_cache: dict[tuple[str, str], Any] = {}
    delineation_cache: dict[tuple[str, str], Any] = {}

    def ecg_of(case: Case) -> Any:
        key = (case.dataset, case.record_id)
        if key not in ecg_cache:
            ecg_cache[key] = case.load()
        return ecg_cache[key]

    steps = default_n_steps() if n_steps is None else int(n_steps)
    per_head = baseline
    for disease, model in models.items():
        baseline = per_head or default_baseline(disease)
        gs_background = baseline if compare_gradshap else None  # GradientSHAP draws from IG's references
        version = _model_version(model)
        seen = _seen_ids(model, training_only)
        cut = float(threshold if threshold is not None else getattr(model, "threshold", 0.5))
        todo = [c for c in cases if disease in c.diseases]
        fresh = []
        for case in todo:
            if case.dataset == "ptbxl" and int(case.record_id) in seen:
                excluded += 1
                continue
            labelled[(case.dataset, disease)] = labelled.get((case.dataset, disease), 0) + 1
            reused = store.find((case.dataset, case.record_id, disease, version, baseline, steps, pipeline, variant),
                                gs_background)
            if reused is not None:
                results.append(reused)
            else:
                fresh.append(case)
        bar = tqdm(total=len(fresh), desc=f"xai {disease}", file=None, disable=not progress, unit="ecg")
        for start in range(0, len(fresh), batch_size):
            chunk = fresh[start:start + batch_size]
            ecgs = [ecg_of(c) for c in chunk]
            x = np.stack([np.asarray(model.preprocess(e), dtype=np.float32) for e in ecgs])
            probs = 1.0 / (1.0 + np.exp(-predict_logits(model, x)))
            positive = [(c, e, float(p)) for c, e, p in zip(chunk, ecgs, probs) if p >= cut]
            if positive:
                t0 = time.perf_counter()
                igs = explain_batch([e for _, e, _ in positive], disease, "ig", model=model,
                                    batch_size=batch_size, baseline=baseline, n_steps=steps)
                timings.append((time.perf_counter() - t0) / len(positive))
                gss = (explain_batch([e for _, e, _ in positive], disease, "gradshap", model=model,
                                     batch_size=batch_size, baseline=baseline)
                       if compare_gradshap else [None] * len(positive))
                sals = explain_batch([e for _, e, _ in positive], disease, "saliency", model=model,
                                     batch_size=batch_size)
                for (case, ecg, prob), ig, gs, sal in zip(positive, igs, gss, sals):
                    dkey = (case.dataset, case.record_id)
                    if dkey not in delineation_cache:
                        delineation_cache[dkey] = disk.get(dkey) or disk.put(dkey, case.delineation(ecg))
                    delineation = delineation_cache[dkey]
                    kwargs = dict(n_samples=ig.n_samples, fs_hz=ig.fs_hz)
                    mask = clinical_mask(delineation, disease, av_block=case.av_block, **kwargs)
                    valid = scored_mask(delineation, **kwargs)
                    faith = faith_normal = None
                    if faithfulness and float(ig.positive.sum()) > 0:
                        labels = segment_label_map(delineation, ig.n_samples, ig.fs_hz, ig.lead_names)
                        ranked = rank_regions(ig.positive.astype(np.float64), labels, ig.lead_names, ig.fs_hz)
                        faith = faithfulness_check(ig, ranked, model)
                        faith_normal = faithfulness_check(ig, ranked, model, fill="normal")
                    result = XaiRecordResult(
                        dataset=case.dataset, record_id=case.record_id, disease=disease, probability=prob,
                        positive=True, hit=pointing_game(ig.values, mask, valid), cas=cas(ig.values, mask, valid),
                        coverage=mask_coverage(mask, valid),
                        cosine_ig_gradshap=cosine_similarity(ig, gs) if gs is not None else None,
                        av_block=case.av_block,
                        hit_gradshap=pointing_game(gs.values, mask, valid) if gs is not None else None,
                        cas_gradshap=cas(gs.values, mask, valid) if gs is not None else None,
                        hit_saliency=pointing_game(sal.values, mask, valid), cas_saliency=cas(sal.values, mask, valid),
                        mask_source=delineation.source, model_version=version, baseline=baseline,
                        n_steps=steps, pipeline=pipeline, gradshap_background=gs_background, variant=variant,
                        probability_top_removed=None if faith is None else faith.probability_top_removed,
                        probability_random_removed=None if faith is None else faith.probability_random_removed,
                        removed_fraction=None if faith is None else faith.removed_fraction,
                        baseline_probability=(None if ig.baseline_logit is None
                                              else float(1.0 / (1.0 + np.exp(-ig.baseline_logit)))),
                        probability_top_normalized=None if faith_normal is None else faith_normal.probability_top_removed,
                        probability_random_normalized=None if faith_normal is None else faith_normal.probability_random_removed,
                        n_steps_used=ig.n_steps, completeness_error=ig.completeness_error,
                        completeness_abs_error=ig.completeness_abs_error, completeness_met=ig.completeness_met,
                    )
                    store.add(result)
                    results.append(result)
            for case, _e, p in zip(chunk, ecgs, probs):
                if p < cut:  # record the miss so a resumed run does not recompute it
                    miss = XaiRecordResult(case.dataset, case.record_id, disease, float(p), False, False,
                                           float("nan"), float("nan"), None, case.av_block, None, None, None,
                                           None, "none", version, baseline, n_steps=steps,
                                           pipeline=pipeline, gradshap_background=gs_background,
                                           variant=variant)
                    store.add(miss)
                    results.append(miss)
            bar.update(len(chunk))
        bar.close()
    seconds = float(np.mean(timings)) if timings else float("nan")
    return results, labelled, seconds, excluded


def _mean(values: list) -> float:
    kept = [float(v) for v in values if v is not None and np.isfinite(float(v))]
    return float(np.mean(kept)) if kept else float("nan")


def aggregate(results: Iterable[XaiRecordResult], labelled: dict[tuple[str, str], int],
              cuts: dict[str, float] | None = None) -> tuple[XaiRow, ...]:
    """One row per (dataset, disease) from per-record results (true positives only).

    ``cuts``: each head's threshold, for the share of IG baselines called positive (default 0.5).
    """
    cuts = cuts or {}
    rows = []
    for (dataset, disease), n in labelled.items():
        tp = [r for r in results if r.dataset == dataset and r.disease == disease and r.positive]
        cas_values = [r.cas for r in tp if np.isfinite(r.cas)]
        cos = [r.cosine_ig_gradshap for r in tp if r.cosine_ig_gradshap is not None]
        base = [r.baseline_probability for r in tp if r.baseline_probability is not None]
        rows.append(XaiRow(
            dataset=dataset, disease=disease, n_labelled=n, n_true_positive=len(tp),
            pointing_game=float(np.mean([r.hit for r in tp])) if tp else float("nan"),
            cas=float(np.mean(cas_values)) if cas_values else float("nan"),
            chance=float(np.nanmean([r.coverage for r in tp])) if tp else float("nan"),
            cosine_ig_gradshap=float(np.mean(cos)) if cos else float("nan"),
            pointing_game_gradshap=_mean([r.hit_gradshap for r in tp]),
            cas_gradshap=_mean([r.cas_gradshap for r in tp]),
            pointing_game_saliency=_mean([r.hit_saliency for r in tp]),
            cas_saliency=_mean([r.cas_saliency for r in tp]),
            faithfulness=summarize_faithfulness(tp),
            faithfulness_normal_fill=summarize_faithfulness(tp, "normal"),
            baseline_probability=float(np.median(base)) if base else float("nan"),
            baseline_positive_share=float(np.mean(np.array(base) >= cuts.get(disease, 0.5))) if base else float("nan"),
        ))
    order = {d: i for i, d in enumerate(DISEASES_DEFAULT)}
    return tuple(sorted(rows, key=lambda r: (r.dataset != "ptbxl", order.get(r.disease, 9), r.disease)))


# ---------------------------------------------------------------------------------- datasets
def ptbxl_cases(root: str | Path, diseases: tuple[str, ...], fold: int = 10,
                plus_root: str | Path | None = None, limit: int | None = None) -> list[Case]:
    """Labelled test-fold PTB-XL records present at 100 Hz, with delineator (or PTB-XL+) masks."""
    from ..records import PtbXl

    data = PtbXl(root)
    meta, statements = data.metadata, data.statements
    present = data.present_ids(100)
    ids = sorted(i for i in meta.index[meta["strat_fold"] == fold] if int(i) in present)
    if not ids:
        raise DatasetError(f"{root}: no fold-{fold} PTB-XL records present at 100 Hz")
    cases = []
    for ecg_id in ids:
        codes = meta.loc[ecg_id, "scp_codes"]
        found = ptbxl_superclasses(codes, statements) & set(diseases)
        if not found:
            continue
        cases.append(Case(
            dataset="ptbxl", record_id=str(int(ecg_id)), diseases=frozenset(found),
            av_block=bool(AV_BLOCK_CODES & set(codes)),
            load=(lambda i=int(ecg_id): data.read(i, 100)),
            delineation=_ptbxl_plus_delineation(plus_root, int(ecg_id)) if plus_root else _delineate,
        ))
    return cases[:limit] if limit else cases


def _delineate(ecg: Any) -> Any:
    from ..encoders import delineate

    return delineate(ecg)


def _ptbxl_plus_delineation(plus_root: str | Path, ecg_id: int) -> Callable[[Any], Any]:
    def load(_ecg: Any) -> Any:
        from ..grounding import read_ptbxl_plus_fiducials

        return read_ptbxl_plus_fiducials(plus_root, ecg_id)

    return load


def ludb_cases(root: str | Path, diseases: tuple[str, ...], limit: int | None = None) -> list[Case]:
    """LUDB records whose diagnoses match a disease, with gold masks."""
    from ..records import Ludb

    data = Ludb(root)
    cases = []
    for n in sorted(data.annotated_ids()):
        found, av_block = ludb_diseases(data.diagnoses(n))
        found &= set(diseases)
        if not found:
            continue
        cases.append(Case(
            dataset="ludb", record_id=str(n), diseases=frozenset(found), av_block=av_block,
            load=(lambda k=n: data.read(k)), delineation=(lambda _e, k=n: data.delineation(k)),
        ))
    return cases[:limit] if limit else cases


def evaluate_xai(ptbxl_root: str | Path | None = None, ludb_root: str | Path | None = None, *,
                 diseases: tuple[str, ...] = DISEASES_DEFAULT, ptbxl_plus_root: str | Path | None = None,
                 results_path: str | Path | None = None, models: dict[str, Any] | None = None,
                 compare_gradshap: bool = True, limit: int | None = None,
                 progress: bool = True, baseline: str | None = None, fold: int = 10,
                 n_steps: int | None = None) -> XaiReport:
    """Pointing game and CAS per disease on PTB-XL fold 10 and/or LUDB (see module docstring).

    ``baseline``: IG baseline scored for every head (default None: each head's default,
    ``grounding.DEFAULT_BASELINE_BY_DISEASE``). ``fold``: PTB-XL fold; any other fold than 10 is only for
    choosing a method (fold 9 is the models' selection fold: only training ids are excluded).
    """
    if ptbxl_root is None and ludb_root is None:
        raise UsageError("give at least one of ptbxl_root and ludb_root")
    from ..grounding import IG_VARIANTS, default_baseline

    if n_steps is not None and n_steps < 2:
        raise UsageError(f"IG needs at least 2 steps, got {n_steps}")
    if baseline is not None and baseline not in IG_VARIANTS:
        raise UsageError(f"unknown IG baseline {baseline!r}; expected one of {', '.join(IG_VARIANTS)}")
    if models is None:
        from ..encoders import load_disease_model  # type: ignore[attr-defined]

        models = {d: load_disease_model(d) for d in diseases}
    cases: list[Case] = []
    if ptbxl_root is not None:
        cases += ptbxl_cases(ptbxl_root, diseases, fold=fold, plus_root=ptbxl_plus_root, limit=limit)
    if ludb_root is not None:
        cases += ludb_cases(ludb_root, diseases, limit=limit)
    results, labelled, seconds, excluded = score_cases(
        cases, {d: models[d] for d in diseases}, results_path=Path(results_path) if results_path else None,
        compare_gradshap=compare_gradshap, progress=progress, baseline=baseline, n_steps=n_steps,
        training_only=fold != 10,
    )
    cuts = {d: float(getattr(models[d], "threshold", 0.5) or 0.5) for d in diseases}
    method = (f"ig ({baseline} baseline)" if baseline is not None else "ig (per-head default baselines: "
              + ", ".join(f"{d} {default_baseline(d)}" for d in diseases) + ")")
    return XaiReport(rows=aggregate(results, labelled, cuts), records=tuple(results), method=method,
                     explain_seconds_per_ecg=seconds, excluded_seen=excluded, fold=fold,
                     n_steps=n_steps or default_n_steps())


def default_n_steps() -> int:
    """IG steps ``explain_batch`` uses by default (the evaluation runs with them)."""
    from ..grounding import DEFAULT_IG_STEPS

    return DEFAULT_IG_STEPS
