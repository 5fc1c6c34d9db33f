"""10-fold out-of-fold cross-validation of the disease models over every record with a signal.

For test fold k (strat_fold, so patient-level), fold k-1 (cyclically) selects the checkpoint and the
other eight folds train, mirroring the shipped recipe (8 train / 1 selection / 1 test). Out-of-fold
predictions are appended to ``<work>/cv_<variant>.jsonl`` as each fold finishes, so an interrupted
run resumes at the next missing (disease, seed, fold).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UsageError
from ._jobs import (
    DEFAULT_DISEASE_CONFIG,
    MULTITASK_DISEASE_CONFIG,
    disease_targets,
    load_arrays,
    multitask_targets,
)
from ._metrics import roc_auc
from ._training import TrainConfig, predict_batches, train_model

STRONG_AUGMENT: dict[str, float] = {"p": 0.5, "amp_scale": 0.2, "wander_max": 0.15, "wander_hz_min": 0.05,
                                     "wander_hz_max": 0.5, "mask_max_s": 0.5}
"""The ``aug30`` package (``_training.augment_batch``): each transform with probability 0.5 per record;
lead gains in [0.8, 1.2]; a 0.05-0.5 Hz sinusoid of up to 0.15 z-score units per lead; one 0.01-0.5 s
stretch of all leads set to 0."""

AUX30_WEIGHTS: dict[str, float] = {"sex": 0.05, "device": 0.05}
"""The ``aux30`` heads and loss weights (``TrainConfig.aux_heads``), chosen before any run: the shipped
HYP v3 members' focal loss plateaus at 0.04-0.06, so 0.05 x (a sex BCE of ~0.5 and a 6-class device
cross-entropy of ~0.5-1) keeps the auxiliary terms at most about the disease term's size."""

VARIANTS: dict[str, TrainConfig] = {
    "baseline": DEFAULT_DISEASE_CONFIG,
    "wide": replace(DEFAULT_DISEASE_CONFIG, hparams={**DEFAULT_DISEASE_CONFIG.hparams, "channels": [16, 32, 64]}),
    "noaug": replace(DEFAULT_DISEASE_CONFIG, crop_samples=0, noise_std=0.0),
    "multitask": MULTITASK_DISEASE_CONFIG,
    # twice the shipped 15 epochs; the 1-epoch warm-up + cosine schedule stretches with config.epochs
    "epochs30": replace(DEFAULT_DISEASE_CONFIG, epochs=30),
    # epochs30 + per-lead amplitude scaling, baseline wander and time masking (session 6, MI)
    "aug30": replace(DEFAULT_DISEASE_CONFIG, epochs=30, augment=STRONG_AUGMENT),
    # epochs30 + an EMA of the weights (half-life one epoch), validated, selected and kept (session 7, MI)
    "ema30": replace(DEFAULT_DISEASE_CONFIG, epochs=30, ema_half_life_epochs=1.0),
    # baseline (15 epochs) + the same EMA: the EMA alone at the shipped STTC epoch count (session 8b, STTC)
    "ema15": replace(DEFAULT_DISEASE_CONFIG, ema_half_life_epochs=1.0),
    # epochs30 + training-only sex and device heads, each loss weight 0.05, fixed a priori (session 9, HYP)
    "aux30": replace(DEFAULT_DISEASE_CONFIG, epochs=30, aux_heads=dict(AUX30_WEIGHTS)),
    # ema30 (the shipped MI v4 recipe) + aux30's heads and weights, nothing tuned (session 10, MI)
    "emaaux30": replace(DEFAULT_DISEASE_CONFIG, epochs=30, ema_half_life_epochs=1.0, aux_heads=dict(AUX30_WEIGHTS)),
}
"""Named training configurations compared by cross-validation."""


def _done(path: Path) -> set[tuple[str, int, int]]:
    if not path.is_file():
        return set()
    return {(row["disease"], row["seed"], row["fold"]) for row in _load_rows(path)}


def run_cv(data_dir: Path, work_dir: Path, variant: str = "baseline", diseases: tuple[str, ...] = ("MI", "STTC", "CD", "HYP"),
           seeds: tuple[int, ...] = (0, 1, 2), folds: tuple[int, ...] = tuple(range(1, 11)), epochs: int | None = None,
           progress: bool = True) -> Path:
    """Run (or resume) the cross-validation; returns the JSONL file of out-of-fold predictions."""
    from ._nets import build_network

    if variant not in VARIANTS:
        raise UsageError(f"unknown variant {variant!r}; expected one of {', '.join(VARIANTS)}")
    config = VARIANTS[variant] if epochs is None else replace(VARIANTS[variant], epochs=epochs)
    arrays = load_arrays(data_dir, work_dir, progress=progress)
    aux = None
    if config.aux_heads:
        from ._aux import aux_targets

        aux = aux_targets(data_dir, arrays.ecg_ids)
    out = work_dir / f"cv_{variant}{'' if epochs is None else f'_e{epochs}'}.jsonl"
    done = _done(out)
    if config.task == "diseases":
        _run_cv_multitask(data_dir, work_dir, arrays, variant, config, seeds, folds, out, done, progress)
        return out
    for seed in seeds:
        for disease in diseases:
            labels, strat = disease_targets(data_dir, arrays, disease)
            for fold in folds:
                if (disease, seed, fold) in done:
                    continue
                val_fold, train_idx, val_idx, test_idx = cv_split(strat, ~np.isnan(labels), fold)
                work = work_dir / f"cv_{variant}_{disease}_s{seed}_f{fold}"
                if progress:
                    print(f"cv {variant}: {disease} seed {seed} fold {fold} ({len(train_idx)} train, "
                          f"{len(val_idx)} selection, {len(test_idx)} test)", file=sys.stderr)
                result = train_model(replace(config, seed=seed), arrays.signals, np.nan_to_num(labels),
                                     train_idx, val_idx, work, progress=progress, aux_targets=aux)
                net = build_network(config.network, config.hparams)
                net.load_state_dict(result.state_dict)
                logits = predict_batches(net, arrays.signals[test_idx])
                row = {"variant": variant, "disease": disease, "seed": seed, "fold": fold, "val_fold": val_fold,
                       "best_epoch": result.best_epoch, "seconds": result.train_seconds,
                       "ecg_ids": [int(i) for i in arrays.ecg_ids[test_idx]],
                       "labels": [int(v) for v in labels[test_idx]], "logits": [float(v) for v in logits]}
                _append_rows(out, [row])
                shutil.rmtree(work, ignore_errors=True)  # the OOF predictions are what is kept
    return out


def _append_rows(out: Path, rows: list[dict]) -> None:
    """Append JSON rows in one write, never glued to a line cut by an interruption."""
    cut = out.is_file() and out.stat().st_size > 0 and not out.read_bytes().endswith(b"\n")
    with open(out, "a") as fh:
        fh.write(("\n" if cut else "") + "".join(json.dumps(row) + "\n" for row in rows))
        fh.flush()
        os.fsync(fh.fileno())


def cv_split(strat: np.ndarray, known: np.ndarray, fold: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """(selection fold, train, selection, test indices) for test fold ``fold``: fold k-1 (fold 10 for
    test fold 1) selects, the other eight train; only records where ``known`` is true."""
    val_fold = 10 if fold == 1 else fold - 1
    train_idx = np.nonzero(known & ~np.isin(strat, [fold, val_fold]))[0]
    val_idx = np.nonzero(known & (strat == val_fold))[0]
    test_idx = np.nonzero(known & (strat == fold))[0]
    return val_fold, train_idx, val_idx, test_idx


def _run_cv_multitask(data_dir: Path, work_dir: Path, arrays: Any, variant: str, config: TrainConfig,
                      seeds: tuple[int, ...], folds: tuple[int, ...], out: Path, done: set[tuple[str, int, int]],
                      progress: bool) -> None:
    """One multi-task network per (seed, test fold); one row per disease, from that disease's own
    checkpoint selection, over the test-fold records labelled for it (the records a per-disease run
    scores)."""
    from ._labels import DISEASES
    from ._nets import build_network

    labels, strat = multitask_targets(data_dir, arrays)
    any_known = ~np.isnan(labels).all(axis=1)
    for seed in seeds:
        for fold in folds:
            if all((d, seed, fold) in done for d in DISEASES):
                continue
            val_fold, train_idx, val_idx, _ = cv_split(strat, any_known, fold)
            work = work_dir / f"cv_{variant}_s{seed}_f{fold}"
            if progress:
                print(f"cv {variant}: seed {seed} fold {fold} ({len(train_idx)} train, {len(val_idx)} selection)",
                      file=sys.stderr)
            result = train_model(replace(config, seed=seed), arrays.signals, labels, train_idx, val_idx, work,
                                 progress=progress)
            rows = []
            for j, disease in enumerate(DISEASES):
                _, _, _, test_idx = cv_split(strat, ~np.isnan(labels[:, j]), fold)
                net = build_network(config.network, {**config.hparams, "select_output": j})
                net.load_state_dict(result.per_output[j].state_dict)
                logits = predict_batches(net, arrays.signals[test_idx])
                rows.append({"variant": variant, "disease": disease, "seed": seed, "fold": fold, "val_fold": val_fold,
                             "best_epoch": result.per_output[j].best_epoch, "seconds": result.train_seconds,
                             "ecg_ids": [int(i) for i in arrays.ecg_ids[test_idx]],
                             "labels": [int(v) for v in labels[test_idx, j]], "logits": [float(v) for v in logits]})
            _append_rows(out, [r for r in rows if (r["disease"], seed, fold) not in done])
            shutil.rmtree(work, ignore_errors=True)


def _load_rows(path: Path) -> list[dict]:
    """Rows of a CV predictions file; a line cut by an interruption is skipped (that fold reruns)."""
    rows = []
    for line in Path(path).read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def ensemble_oof(rows: list[dict], disease: str, seeds: list[int]) -> dict | None:
    """Out-of-fold AUC of the seeds' ensemble for one disease: per record, the mean of the seeds' logits
    (the rule the shipped ensembles use) and, for comparison, the mean of their probabilities; over the
    records that every seed predicted. None with fewer than two seeds."""
    from ._metrics import bootstrap_auc_ci

    if len(seeds) < 2:
        return None
    logits: dict[int, dict[int, float]] = {}
    labels: dict[int, int] = {}
    for row in rows:
        if row["disease"] != disease or row["seed"] not in seeds:
            continue
        for ecg_id, label, logit in zip(row["ecg_ids"], row["labels"], row["logits"]):
            if labels.setdefault(ecg_id, label) != label:
                raise UsageError(f"record {ecg_id} has two different {disease} labels in the predictions")
            logits.setdefault(ecg_id, {})[row["seed"]] = logit
    ids = sorted(i for i, by_seed in logits.items() if len(by_seed) == len(seeds))
    if not ids:
        return None
    y = np.array([labels[i] for i in ids]) > 0
    z = np.array([[logits[i][s] for s in seeds] for i in ids], dtype=np.float64)
    mean_logit = z.mean(axis=1)
    lo, hi = bootstrap_auc_ci(y, mean_logit)
    return {"seeds": list(seeds), "n_records": len(ids), "n_pos": int(y.sum()), "n_neg": int((~y).sum()),
            "oof_auc_mean_logit": roc_auc(y, mean_logit), "ci_mean_logit": [lo, hi],
            "oof_auc_mean_prob": roc_auc(y, (1.0 / (1.0 + np.exp(-z))).mean(axis=1))}


def summarize_cv(path: Path) -> list[dict]:
    """Per (disease, seed): pooled out-of-fold AUC over the folds done, with a percentile bootstrap 95%
    CI (positives and negatives resampled separately); then, over the complete seeds (those with as
    many folds as the disease's most advanced seed; a seed still running is listed but left out), the
    mean and the sample standard deviation (ddof=1; 0 with one seed) and ``ensemble`` (see
    :func:`ensemble_oof`; None with fewer than two complete seeds)."""
    from ._metrics import bootstrap_auc_ci

    rows = _load_rows(path)
    by_key: dict[tuple[str, int], list[dict]] = {}
    for row in rows:
        by_key.setdefault((row["disease"], row["seed"]), []).append(row)
    per_seed = {}
    for (disease, seed), parts in by_key.items():
        y = np.concatenate([p["labels"] for p in parts]) > 0
        s = np.concatenate([p["logits"] for p in parts])
        per_seed[(disease, seed)] = (roc_auc(y, s), len(parts), int(y.sum()), int((~y).sum()),
                                     list(bootstrap_auc_ci(y, s)))
    summary = []
    for disease in sorted({d for d, _ in per_seed}, key=["MI", "STTC", "CD", "HYP"].index):
        seeds = sorted(s for d, s in per_seed if d == disease)
        most = max(per_seed[(disease, s)][1] for s in seeds)
        complete = [s for s in seeds if per_seed[(disease, s)][1] == most]
        aucs = [per_seed[(disease, s)][0] for s in complete]
        summary.append({"disease": disease, "seeds": seeds, "folds_per_seed": [per_seed[(disease, s)][1] for s in seeds],
                        "complete_seeds": complete, "oof_auc_mean": float(np.mean(aucs)),
                        "oof_auc_sd": float(np.std(aucs, ddof=1)) if len(aucs) > 1 else 0.0,
                        "oof_auc_per_seed": [per_seed[(disease, s)][0] for s in seeds],
                        "oof_auc_ci_per_seed": [per_seed[(disease, s)][4] for s in seeds],
                        "n_pos": per_seed[(disease, complete[0])][2], "n_neg": per_seed[(disease, complete[0])][3],
                        "ensemble": ensemble_oof(rows, disease, complete)})
    return summary
