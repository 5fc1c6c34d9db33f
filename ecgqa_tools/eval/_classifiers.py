"""Evaluation of the encoder models: per-disease AUC on PTB-XL folds (with bootstrap CIs and the
leakage guard), zero-shot on CinC 2020/2021 directories, the attribute model on ECG-QA's test
ECGs, the age/sex model, and inference latency (torch vs onnxruntime).

Only public APIs of ``records``, ``qa`` and ``encoders`` are used.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from ..errors import DatasetError, RecordError, UsageError

Split = Literal["val", "test"]
SPLIT_FOLDS: dict[str, int] = {"val": 9, "test": 10}

# SNOMED CT codes of the CinC 2020/2021 challenges mapped a priori to the four PTB-XL diagnostic
# superclasses, by the meaning of each code (fixed before looking at any prediction). Codes not
# listed (rhythm statements, axis, low voltage, pacing, ...) do not count for any disease.
CINC_SNOMED_TO_DISEASE: dict[int, tuple[str, str]] = {
    # myocardial infarction
    164865005: ("MI", "myocardial infarction"),
    57054005: ("MI", "acute myocardial infarction"),
    164867002: ("MI", "old myocardial infarction"),
    54329005: ("MI", "anterior myocardial infarction"),
    # ST/T change (ischemia, ST and T abnormalities)
    164861001: ("STTC", "myocardial ischemia"),
    413444003: ("STTC", "acute myocardial ischemia"),
    413844008: ("STTC", "chronic myocardial ischemia"),
    426434006: ("STTC", "anterior ischemia"),
    425419005: ("STTC", "inferior ischaemia"),
    425623009: ("STTC", "lateral ischaemia"),
    164930006: ("STTC", "ST interval abnormal"),
    164931005: ("STTC", "ST elevation"),
    429622005: ("STTC", "ST depression"),
    55930002: ("STTC", "ST changes"),
    428750005: ("STTC", "nonspecific ST-T abnormality"),
    164934002: ("STTC", "T wave abnormal"),
    59931005: ("STTC", "T wave inversion"),
    # conduction disturbance
    6374002: ("CD", "bundle branch block"),
    164909002: ("CD", "left bundle branch block"),
    733534002: ("CD", "complete left bundle branch block"),
    251120003: ("CD", "incomplete left bundle branch block"),
    59118001: ("CD", "right bundle branch block"),
    713427006: ("CD", "complete right bundle branch block"),
    713426002: ("CD", "incomplete right bundle branch block"),
    445118002: ("CD", "left anterior fascicular block"),
    445211001: ("CD", "left posterior fascicular block"),
    698252002: ("CD", "nonspecific intraventricular conduction disorder"),
    270492004: ("CD", "1st degree AV block"),
    195042002: ("CD", "2nd degree AV block"),
    54016002: ("CD", "Mobitz type I Wenckebach AV block"),
    28189009: ("CD", "Mobitz type II AV block"),
    27885002: ("CD", "complete heart block"),
    233917008: ("CD", "atrioventricular block"),
    74390002: ("CD", "Wolff-Parkinson-White pattern"),
    # hypertrophy
    164873001: ("HYP", "left ventricular hypertrophy"),
    89792004: ("HYP", "right ventricular hypertrophy"),
    266249003: ("HYP", "ventricular hypertrophy"),
    67741000119109: ("HYP", "left atrial enlargement"),
    446813000: ("HYP", "left atrial hypertrophy"),
    446358003: ("HYP", "right atrial hypertrophy"),
}


@dataclass(frozen=True)
class ClassifierRow:
    """One disease's AUC on one set of records."""

    disease: str
    """Disease code (MI, STTC, CD, HYP)."""
    auc: float
    """ROC AUC (NaN when positives or negatives are missing)."""
    ci95: tuple[float, float]
    """Percentile bootstrap 95% CI of the AUC (1,000 resamples of positives and of negatives)."""
    n_pos: int
    """Positives scored."""
    n_neg: int
    """Negatives scored."""
    n_seen_dropped: int
    """Records dropped by the leakage guard (the model was trained or selected on them)."""
    model_version: str
    """Version of the model evaluated."""


@dataclass(frozen=True)
class ClassifierReport:
    """Per-disease AUCs and what they were measured on."""

    rows: tuple[ClassifierRow, ...]
    """One row per disease, in ``DISEASES`` order."""
    dataset: str
    """What was scored (e.g. ``PTB-XL strat_fold 10``)."""
    n_records: int
    """Records read (before label exclusions and the leakage guard)."""
    notes: tuple[str, ...]
    """Label definition, sources, guard messages."""

    def table(self) -> str:
        """Plain-text table, one row per disease starting with its code then its AUC."""
        lines = ["disease\tAUC\t95% CI\tn_pos\tn_neg\tseen_dropped\tmodel"]
        for r in self.rows:
            lines.append(f"{r.disease}\t{r.auc:.4f}\t[{r.ci95[0]:.3f}, {r.ci95[1]:.3f}]\t{r.n_pos}\t{r.n_neg}\t"
                         f"{r.n_seen_dropped}\tv{r.model_version}")
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {"dataset": self.dataset, "n_records": self.n_records, "notes": list(self.notes),
                "rows": [{"disease": r.disease, "auc": r.auc, "ci95": list(r.ci95), "n_pos": r.n_pos,
                          "n_neg": r.n_neg, "n_seen_dropped": r.n_seen_dropped, "model_version": r.model_version}
                         for r in self.rows]}


def _bootstrap(labels: np.ndarray, scores: np.ndarray, n_boot: int) -> tuple[float, tuple[float, float]]:
    from ..encoders import roc_auc_ci

    auc, lo, hi = roc_auc_ci(labels, scores, n_boot)
    return auc, (lo, hi)


def _score_rows(inputs: np.ndarray, ids: np.ndarray, labels: Mapping[str, np.ndarray], backend: str,
                n_boot: int, notes: list[str]) -> tuple[ClassifierRow, ...]:
    from ..encoders import DISEASES, guard_unseen, load_disease_model

    rows = []
    for disease in DISEASES:
        model = load_disease_model(disease)
        y = labels[disease]
        labelled = ~np.isnan(y)
        unseen, seen = guard_unseen(model.card, ids[labelled], policy="drop")
        keep = labelled & np.isin(ids, unseen)
        if len(seen):
            notes.append(f"{disease}: leakage guard dropped {len(seen)} record(s) the model was trained or "
                         f"selected on; scored {int(keep.sum())} unseen record(s)")
        if keep.any():
            probs = model.predict_proba(inputs[keep], backend=backend)  # type: ignore[arg-type]
            auc, ci = _bootstrap(y[keep] > 0.5, probs, n_boot)
        else:
            auc, ci = float("nan"), (float("nan"), float("nan"))
        rows.append(ClassifierRow(disease, auc, ci, int((y[keep] > 0.5).sum()), int((y[keep] < 0.5).sum()),
                                  len(seen), model.card.version))
    return tuple(rows)


def evaluate_ptbxl(ptbxl_dir: str | Path, split: Split = "test", filtered: str | Path | None = None,
                   backend: str = "onnx", n_boot: int = 1000, progress: bool = True) -> ClassifierReport:
    """AUC of each disease model on PTB-XL ``strat_fold`` 9 (``val``) or 10 (``test``).

    Reads every record of the fold with a 100 Hz signal (and, when ``filtered`` names the filtered
    subset, its records of the fold not present raw). Labels are the pure labels of training.
    The leakage guard drops records a model saw: on the data here the whole validation fold was
    used for checkpoint selection, so ``val`` scores nothing and says so.
    """
    from tqdm import tqdm

    from ..encoders import DISEASES, load_disease_model, preprocess_ecg, pure_labels
    from ..records import PtbXl, PtbXlFiltered

    if split not in SPLIT_FOLDS:
        raise UsageError(f"unknown split {split!r}; expected one of {', '.join(SPLIT_FOLDS)}")
    ptbxl = PtbXl(ptbxl_dir)
    fold = SPLIT_FOLDS[split]
    meta = ptbxl.metadata
    in_fold = set(int(i) for i in meta.index[meta["strat_fold"] == fold])
    raw_ids = sorted(in_fold & set(ptbxl.present_ids(100)))
    subset = None
    if filtered is not None:
        subset = PtbXlFiltered(filtered)
    filtered_ids = sorted((in_fold & set(subset.present_ids())) - set(raw_ids)) if subset else []
    if not raw_ids and not filtered_ids:
        raise DatasetError(f"{ptbxl_dir}: no record of strat_fold {fold} has a signal here")
    inputs = []
    for ecg_id in tqdm(raw_ids, desc=f"read fold {fold}", file=None, disable=not progress, leave=False):
        inputs.append(preprocess_ecg(ptbxl.read(ecg_id, 100)))
    for ecg_id in filtered_ids:
        inputs.append(preprocess_ecg(subset.read(ecg_id)))  # type: ignore[union-attr]
    ids = np.array(raw_ids + filtered_ids, dtype=np.int64)
    x = np.stack(inputs)
    superclass_of = {str(c): str(s) for c, s in ptbxl.statements["diagnostic_class"].dropna().items()}
    codes = [meta.loc[int(i), "scp_codes"] for i in ids]
    labels = {d: pure_labels(codes, d, superclass_of) for d in DISEASES}
    notes = [
        f"PTB-XL strat_fold {fold} ({split}): {len(raw_ids)} records from records100"
        + (f" + {len(filtered_ids)} from the filtered subset" if filtered_ids else ""),
        "labels: positive = a statement of the superclass with likelihood 100; negative = none of its "
        "statements; likelihood 0-99 excluded",
    ]
    rows = _score_rows(x, ids, labels, backend, n_boot, notes)
    if split == "val":
        for disease in DISEASES:
            rec = load_disease_model(disease).card.metrics.get("val_fold9", {})
            if rec:
                notes.append(f"{disease}: AUC recorded at selection time on its {rec.get('n_pos')}+"
                             f"{rec.get('n_neg')} fold-9 records: {rec.get('auc', float('nan')):.4f} "
                             "(selection set; not an unbiased estimate)")
    return ClassifierReport(rows, f"PTB-XL strat_fold {fold} ({split})", len(ids), tuple(notes))


def cinc_labels(snomed_codes: tuple[int, ...] | list[int]) -> dict[str, float]:
    """1.0 for each disease with a mapped SNOMED CT code in ``snomed_codes``, else 0.0."""
    from ..encoders import DISEASES

    present = {CINC_SNOMED_TO_DISEASE[c][0] for c in snomed_codes if c in CINC_SNOMED_TO_DISEASE}
    return {d: 1.0 if d in present else 0.0 for d in DISEASES}


def evaluate_cinc(directory: str | Path, backend: str = "onnx", n_boot: int = 1000, limit: int | None = None,
                  progress: bool = True) -> ClassifierReport:
    """Zero-shot AUC of the disease models on a CinC 2020/2021 directory (``*.hea`` + ``*.mat``).

    Labels come from each header's ``#Dx`` SNOMED CT codes via ``CINC_SNOMED_TO_DISEASE``; a record
    is negative for a disease when none of its codes maps to it. Unreadable records are skipped and
    counted. Records shorter or longer than 10 s are centre-cropped / zero-padded.
    """
    from tqdm import tqdm

    from ..encoders import DISEASES, preprocess_ecg
    from ..errors import RecordError
    from ..records import read_cinc

    root = Path(directory)
    if not root.is_dir():
        raise DatasetError(f"{root}: not a directory")
    headers = sorted(root.rglob("*.hea"))[: limit or None]
    if not headers:
        raise DatasetError(f"{root}: no CinC records (*.hea with a .mat signal file) found")
    inputs, labels, ids, skipped = [], {d: [] for d in DISEASES}, [], []
    for n, header in enumerate(tqdm(headers, desc="read CinC", disable=not progress, leave=False)):
        try:
            ecg = read_cinc(header)
            x = preprocess_ecg(ecg)
        except RecordError as exc:
            skipped.append(f"{header.name}: {exc}")
            continue
        inputs.append(x)
        ids.append(-(n + 1))  # CinC records are never in PTB-XL: negative ids never collide with ecg_ids
        for d, v in cinc_labels(ecg.metadata.snomed_ct_codes).items():
            labels[d].append(v)
    if not inputs:
        raise DatasetError(f"{root}: none of {len(headers)} records could be read ({skipped[0]})")
    notes = [f"{len(inputs)} CinC records read from {root}; {len(skipped)} skipped",
             "labels: #Dx SNOMED CT codes mapped a priori (eval._classifiers.CINC_SNOMED_TO_DISEASE)"]
    notes += skipped[:5]
    rows = _score_rows(np.stack(inputs), np.array(ids), {d: np.array(v) for d, v in labels.items()},
                       backend, n_boot, notes)
    return ClassifierReport(rows, f"CinC directory {root} (zero-shot)", len(inputs), tuple(notes))


@dataclass(frozen=True)
class AttributeReport:
    """The attribute model on ECG-QA's test ECGs."""

    macro_auc: float
    """Mean AUROC over the classes with positives and negatives among the scored ECGs."""
    per_class: tuple[tuple[str, float, int], ...]
    """(class, AUROC or NaN, positives) in the model's class order."""
    n_records: int
    """ECG-QA test ECGs scored (those with signals here, minus any the model saw)."""
    n_seen_dropped: int
    """Test ECGs dropped because the model was trained or selected on them (should be 0)."""

    def table(self) -> str:
        lines = [f"macro AUROC {self.macro_auc:.4f} over {sum(np.isfinite(a) for _, a, _ in self.per_class)} "
                 f"scorable classes, {self.n_records} ECG-QA test ECGs ({self.n_seen_dropped} dropped as seen)",
                 "class\tAUROC\tpositives"]
        lines += [f"{c}\t{a:.4f}\t{n}" for c, a, n in self.per_class]
        return "\n".join(lines)


def evaluate_attributes(data_dir: str | Path, backend: str = "onnx", progress: bool = True) -> AttributeReport:
    """Macro and per-class AUROC of the attribute model on ECG-QA's PTB-XL test ECGs with signals."""
    from tqdm import tqdm

    from ..encoders import guard_unseen, load_attribute_model, macro_auc, preprocess_ecg
    from ..qa import attributes_from_ptbxl, attributes_to_multihot, grounding_classes
    from ..records import PtbXl, PtbXlFiltered

    root = Path(data_dir)
    tsv = root / "ecg-qa" / "ptbxl" / "test_ecgs.tsv"
    if not tsv.is_file():
        raise DatasetError(f"{tsv}: missing (ECG-QA's PTB-XL test ECG list)")
    test_ids = sorted({int(line.split("\t")[-1]) for line in tsv.read_text().splitlines() if line.strip()})
    ptbxl = PtbXl(root / "ptb-xl")
    filtered_path = root / "ptb-xl-filtered-subset"
    subset = PtbXlFiltered(filtered_path) if filtered_path.is_dir() else None
    raw = set(ptbxl.present_ids(100))
    extra = set(subset.present_ids()) if subset else set()
    model = load_attribute_model()
    ids = np.array([i for i in test_ids if i in raw or i in extra], dtype=np.int64)
    unseen, seen = guard_unseen(model.card, ids, policy="drop")
    classes = grounding_classes("ptbxl")
    keep = [classes.index(c) for c in model.classes]
    x, y = [], []
    for ecg_id in tqdm(unseen, desc="ECG-QA test ECGs", disable=not progress, leave=False):
        ecg = ptbxl.read(int(ecg_id), 100) if int(ecg_id) in raw else subset.read(int(ecg_id))  # type: ignore[union-attr]
        x.append(preprocess_ecg(ecg))
        y.append(attributes_to_multihot(attributes_from_ptbxl(ptbxl, int(ecg_id)), "ptbxl")[keep])
    if not x:
        raise DatasetError("no ECG-QA test ECG with a signal here is unseen by the attribute model")
    logits = model.predict_logits(np.stack(x), backend=backend)  # type: ignore[arg-type]
    labels = np.stack(y)
    macro, per = macro_auc(labels, 1 / (1 + np.exp(-logits)))
    rows = tuple((c, float(a), int(labels[:, j].sum())) for j, (c, a) in enumerate(zip(model.classes, per)))
    return AttributeReport(macro, rows, len(unseen), len(seen))


@dataclass(frozen=True)
class LatencyRow:
    """Inference time of one model and engine at one batch size."""

    model: str
    """Model name (``disease_MI``...)."""
    backend: str
    """``torch`` or ``onnx`` (onnxruntime)."""
    batch: int
    """ECGs per call."""
    ms_per_call: float
    """Median wall-clock milliseconds per call."""
    ms_per_ecg: float
    """``ms_per_call / batch``."""


def measure_latency(models: tuple[str, ...] = ("disease_MI",), batches: tuple[int, ...] = (1, 64),
                    repeats: int = 20, threads: int = 1) -> tuple[LatencyRow, ...]:
    """Median latency of torch vs onnxruntime (``threads`` intra-op threads each) on random inputs."""
    import os

    import torch

    from ..encoders import MODEL_SAMPLES, LoadedModel

    torch.set_num_threads(threads)
    os.environ["ECGQA_ORT_THREADS"] = str(threads)
    rows = []
    rng = np.random.default_rng(0)
    for name in models:
        model = LoadedModel(name)
        for batch in batches:
            x = rng.standard_normal((batch, 12, MODEL_SAMPLES)).astype(np.float32)
            for backend in ("torch", "onnx"):
                model.predict_logits(x, backend=backend, batch_size=batch)  # warm-up
                times = []
                for _ in range(repeats if batch == 1 else max(3, repeats // 4)):
                    t0 = time.perf_counter()
                    model.predict_logits(x, backend=backend, batch_size=batch)
                    times.append((time.perf_counter() - t0) * 1000)
                ms = float(np.median(times))
                rows.append(LatencyRow(name, backend, batch, ms, ms / batch))
    return tuple(rows)


def evaluate_age_sex(ptbxl_dir: str | Path, filtered: str | Path | None = None, progress: bool = True) -> dict:
    """Age MAE (years) and sex AUC of the age/sex model on PTB-XL fold 10 (unseen records only).

    A record the model refuses (``RecordError``: every lead flat) is not scored: counted in
    ``unscorable`` and listed in ``unscorable_ids`` (ecg_ids); ``DatasetError`` when no record is left
    to score."""
    from tqdm import tqdm

    from ..encoders import estimate_age_sex, guard_unseen, load_age_sex_model, roc_auc_ci
    from ..records import PtbXl, PtbXlFiltered

    ptbxl = PtbXl(ptbxl_dir)
    meta = ptbxl.metadata
    fold = set(int(i) for i in meta.index[meta["strat_fold"] == 10])
    raw = sorted(fold & set(ptbxl.present_ids(100)))
    subset = PtbXlFiltered(filtered) if filtered is not None else None
    extra = sorted((fold & set(subset.present_ids())) - set(raw)) if subset else []
    unseen, seen = guard_unseen(load_age_sex_model().card, raw + extra, policy="drop")
    ages, pred_ages, sexes, female_p = [], [], [], []
    unscorable: list[str] = []
    unscorable_ids: list[int] = []
    for ecg_id in tqdm(unseen, desc="fold 10", disable=not progress, leave=False):
        ecg = ptbxl.read(int(ecg_id), 100) if int(ecg_id) in set(raw) else subset.read(int(ecg_id))  # type: ignore[union-attr]
        try:
            est = estimate_age_sex(ecg)
        except RecordError as exc:  # e.g. every lead flat: no signal to estimate from
            unscorable.append(f"{ecg_id}: {exc}")
            unscorable_ids.append(int(ecg_id))
            continue
        age, sex = meta.loc[int(ecg_id), "age"], meta.loc[int(ecg_id), "sex"]
        if np.isfinite(age):
            ages.append(min(float(age), 90.0))
            pred_ages.append(est.age_years)
        if np.isfinite(sex):
            sexes.append(int(sex) == 1)
            female_p.append(est.female_probability)
    if len(unseen) and len(unscorable) == len(unseen):  # unseen may be a numpy array
        raise DatasetError(f"none of the {len(unseen)} fold-10 records could be scored ({unscorable[0]})")
    auc, lo, hi = roc_auc_ci(np.array(sexes), np.array(female_p))
    return {"records": len(unseen) - len(unscorable), "seen_dropped": len(seen), "unscorable": len(unscorable),
            "unscorable_ids": unscorable_ids,
            "age_mae_years": float(np.mean(np.abs(np.array(ages) - np.array(pred_ages)))) if ages else float("nan"),
            "sex_auc": auc, "sex_auc_ci95": [lo, hi], "n_female": int(np.sum(sexes)), "n_male": int(len(sexes) - np.sum(sexes))}
