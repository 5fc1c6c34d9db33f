"""Training jobs for the shipped models, from the dataset folders to packaged weights + card."""

from __future__ import annotations

import datetime
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DatasetError, UsageError
from ._cards import ModelCard
from ._install import card_train_config
from ._labels import DISEASES, age_target, pure_labels
from ._preprocess import MODEL_SAMPLES
from ._ptbxl_arrays import TrainingArrays, build_training_arrays, load_ptbxl_table
from ._thresholds import ATTRIBUTE_THRESHOLD_RULE
from ._training import TrainConfig, TrainResult, predict_batches, score_outputs, train_model

PREPROCESSING = (
    "12 standard leads; resample to 500 Hz (polyphase); 4th-order Butterworth band-pass 0.5-40 Hz "
    "applied forward-backward; z-score per lead; every 5th sample (100 Hz); centre-crop/zero-pad to "
    "1000 samples (10 s). The filtered PTB-XL subset was made the same way and is used as is."
)
MACHINE = "2-core shared CPU, no GPU, torch 2.13.0"

DEFAULT_DISEASE_CONFIG = TrainConfig(
    task="disease", network="leadwise",
    hparams={"channels": [8, 16, 32], "kernel": 7, "hidden": 64, "dropout": 0.1, "head_dropout": 0.3},
    epochs=15, batch_size=64, lr=3e-3, crop_samples=500, noise_std=0.05,
)

MULTITASK_DISEASE_CONFIG = replace(DEFAULT_DISEASE_CONFIG, task="diseases",
                                   hparams={**DEFAULT_DISEASE_CONFIG.hparams, "n_outputs": len(DISEASES)})
"""The ``multitask`` variant: the same recipe, one network with a logit per disease (order ``DISEASES``),
masked focal loss, checkpoint selection per disease (docs/encoders.md, session 4)."""


def load_arrays(data_dir: Path, cache_dir: Path, use_500hz: bool = False, progress: bool = True) -> TrainingArrays:
    """The preprocessed PTB-XL arrays (cached under ``cache_dir``)."""
    ptbxl = data_dir / "ptb-xl"
    filtered = data_dir / "ptb-xl-filtered-subset"
    if not ptbxl.is_dir():
        raise DatasetError(f"{ptbxl}: PTB-XL folder not found under the data folder {data_dir}")
    cache = cache_dir / ("arrays_500.npz" if use_500hz else "arrays_100.npz")
    return build_training_arrays(ptbxl, filtered if filtered.is_dir() else None, use_500hz, cache, progress)


def disease_targets(data_dir: Path, arrays: TrainingArrays, disease: str) -> tuple[np.ndarray, np.ndarray]:
    """(labels with NaN for excluded, strat_fold) aligned with ``arrays.ecg_ids``."""
    if disease not in DISEASES:
        raise UsageError(f"unknown disease {disease!r}; expected one of {', '.join(DISEASES)}")
    table = load_ptbxl_table(data_dir / "ptb-xl")
    meta = table.metadata.loc[arrays.ecg_ids]
    labels = pure_labels(list(meta["scp_codes"]), disease, table.superclass_of)
    return labels, meta["strat_fold"].to_numpy()


def multitask_targets(data_dir: Path, arrays: TrainingArrays) -> tuple[np.ndarray, np.ndarray]:
    """((records, 4) pure labels in ``DISEASES`` order with NaN for excluded, strat_fold)."""
    columns = [disease_targets(data_dir, arrays, d) for d in DISEASES]
    return np.stack([c[0] for c in columns], axis=1), columns[0][1]


def youden_threshold(labels: np.ndarray, probs: np.ndarray) -> float:
    """Probability threshold maximising sensitivity + specificity - 1 on ``labels``."""
    y = labels > 0.5
    best_t, best_j = 0.5, -1.0
    for t in np.unique(probs):
        pred = probs >= t
        j = pred[y].mean() + (~pred[~y]).mean() - 1
        if j > best_j:
            best_t, best_j = float(t), float(j)
    return best_t


def split_indices(folds: np.ndarray, labels: np.ndarray | None, train_folds: set[int], val_folds: set[int]
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Indices of labelled records in the training and validation folds."""
    known = np.ones(len(folds), bool) if labels is None else ~np.isnan(labels)
    train = np.nonzero(known & np.isin(folds, list(train_folds)))[0]
    val = np.nonzero(known & np.isin(folds, list(val_folds)))[0]
    return train, val


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


DISEASE_SPLITS: tuple[str, ...] = ("ptbxl-folds", "ecgqa")
"""How the disease models' records are split: PTB-XL strat_fold 1-8 / 9 / 10 (the shipped
``disease_<code>`` models) or ECG-QA's ptbxl train / valid / test ECGs (``disease_<code>_ecgqa``,
the weights the ECG-QA benchmark uses: they never saw an ECG-QA test ECG)."""


def disease_model_name(disease: str, split: str = "ptbxl-folds") -> str:
    """File stem of the disease model trained with ``split``: ``disease_MI`` or ``disease_MI_ecgqa``."""
    if split not in DISEASE_SPLITS:
        raise UsageError(f"unknown split {split!r}; expected one of {', '.join(DISEASE_SPLITS)}")
    return f"disease_{disease}" if split == "ptbxl-folds" else f"disease_{disease}_ecgqa"


def disease_split_indices(data_dir: Path, ecg_ids: np.ndarray, folds: np.ndarray, labels: np.ndarray,
                          split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, selection, test) indices of the labelled records under ``split`` (see ``DISEASE_SPLITS``)."""
    disease_model_name("MI", split)
    if split == "ptbxl-folds":
        train_idx, val_idx = split_indices(folds, labels, set(range(1, 9)), {9})
        _, test_idx = split_indices(folds, labels, set(), {10})
        return train_idx, val_idx, test_idx
    known = ~np.isnan(labels)
    parts = []
    for name in ("train", "valid", "test"):
        ids = ecgqa_split_ids(data_dir, name)
        parts.append(np.nonzero(known & np.isin(ecg_ids, sorted(ids)))[0])
    return parts[0], parts[1], parts[2]


def train_disease(disease: str, data_dir: Path, work_dir: Path, config: TrainConfig = DEFAULT_DISEASE_CONFIG,
                  seeds: tuple[int, ...] = (0,), out_dir: Path | None = None, command: str = "",
                  version: str = "1", progress: bool = True, split: str = "ptbxl-folds") -> ModelCard:
    """Train the ``disease`` model (one member per seed) and save it with its card.

    ``split="ptbxl-folds"``: train on folds 1-8, select on fold 9, measure on fold 10, saved as
    ``disease_<code>``. ``split="ecgqa"``: train on ECG-QA's ptbxl train ECGs, select on its valid
    ECGs, measure on its test ECGs, saved as ``disease_<code>_ecgqa``.
    """
    from ._nets import build_network

    name = disease_model_name(disease, split)
    arrays = load_arrays(data_dir, work_dir, progress=progress)
    labels, folds = disease_targets(data_dir, arrays, disease)
    train_idx, val_idx, test_idx = disease_split_indices(data_dir, arrays.ecg_ids, folds, labels, split)
    members, results = [], []
    aux = None
    if config.aux_heads:  # training-only targets of the aux30 heads (sex, device), from the metadata
        from ._aux import aux_targets

        aux = aux_targets(data_dir, arrays.ecg_ids)
    for seed in seeds:
        run_config = replace(config, task="disease", seed=seed)
        result = train_model(run_config, arrays.signals, np.nan_to_num(labels), train_idx, val_idx,
                             work_dir / f"{name}_seed{seed}", progress=progress, aux_targets=aux)
        net = build_network(config.network, config.hparams)
        net.load_state_dict(result.state_dict)
        members.append(net)
        results.append(result)
    return _save_disease_model(
        disease, split, arrays, labels, (train_idx, val_idx, test_idx), members, config, seeds,
        [r.best_epoch for r in results], [h for r in results for h in r.history],
        float(sum(r.train_seconds for r in results)), out_dir, command, version, progress)


def train_diseases_multitask(diseases: tuple[str, ...], data_dir: Path, work_dir: Path,
                             config: TrainConfig = MULTITASK_DISEASE_CONFIG, seeds: tuple[int, ...] = (0,),
                             out_dir: Path | None = None, command: str = "", version: str = "1",
                             progress: bool = True, fit_only: bool = False) -> list[ModelCard]:
    """Train ONE multi-task network per seed on PTB-XL folds 1-8 (every record labelled for at least one
    disease; masked focal loss), select on fold 9 per disease, and save ``disease_<code>`` for each of
    ``diseases``: the mean-logit ensemble over seeds of the network restricted to that disease's logit,
    each member with that disease's own selected epoch. ``fit_only`` trains (or resumes) the networks and
    returns no card, scoring nothing on fold 10 (to have the members ready before a decision).

    The card's ``train_ids`` are every record the network trained on (including those excluded for
    this disease, whose other labels it learned from) and ``selection_ids`` every fold-9 record used
    for selection by any disease, so the leakage guard never scores a record the network saw."""
    from ._nets import build_network

    if config.task != "diseases":
        raise UsageError(f"multi-task training needs task 'diseases', got {config.task!r}")
    for disease in diseases:
        if disease not in DISEASES:
            raise UsageError(f"unknown disease {disease!r}; expected one of {', '.join(DISEASES)}")
    arrays = load_arrays(data_dir, work_dir, progress=progress)
    labels, folds = multitask_targets(data_dir, arrays)
    train_any, val_any = split_indices(folds, None, set(range(1, 9)), {9})
    any_known = ~np.isnan(labels).all(axis=1)
    train_any, val_any = train_any[any_known[train_any]], val_any[any_known[val_any]]
    results = [train_model(replace(config, seed=seed), arrays.signals, labels, train_any, val_any,
                           work_dir / f"disease_multitask_seed{seed}", progress=progress) for seed in seeds]
    if fit_only:
        return []
    cards = []
    for disease in diseases:
        j = DISEASES.index(disease)
        members = []
        for result in results:
            net = build_network(config.network, {**config.hparams, "select_output": j})
            net.load_state_dict(result.per_output[j].state_dict)
            members.append(net)
        _, _, test_idx = disease_split_indices(data_dir, arrays.ecg_ids, folds, labels[:, j], "ptbxl-folds")
        _, val_idx = split_indices(folds, labels[:, j], set(), {9})
        history = [{"epoch": h["epoch"], "train_loss": h["train_loss"], "auc": h[f"auc_{j}"], "seconds": h["seconds"]}
                   for r in results for h in r.history]
        cards.append(_save_disease_model(
            disease, "ptbxl-folds", arrays, labels[:, j], (train_any, val_any, test_idx), members,
            replace(config, hparams={**config.hparams, "select_output": j}), seeds,
            [r.per_output[j].best_epoch for r in results], history,
            float(sum(r.train_seconds for r in results)), out_dir, command, version, progress, score_val_idx=val_idx))
    return cards


def _save_disease_model(disease: str, split: str, arrays: TrainingArrays, labels: np.ndarray,
                        indices: tuple[np.ndarray, np.ndarray, np.ndarray], members: list[Any], config: TrainConfig,
                        seeds: tuple[int, ...], best_epochs: list[int], history: list[dict[str, float]],
                        train_seconds: float, out_dir: Path | None, command: str, version: str, progress: bool,
                        score_val_idx: np.ndarray | None = None) -> ModelCard:
    """Ensemble ``members``, score the selection and test records, write the weights, ONNX and card.
    ``indices`` = (records trained on, records used for selection, test records); the selection AUC
    is measured on ``score_val_idx`` (default: the selection records)."""
    from ._metrics import bootstrap_auc_ci
    from ._package import make_ensemble, save_model

    train_idx, sel_idx, test_idx = indices
    val_idx = sel_idx if score_val_idx is None else score_val_idx
    name = disease_model_name(disease, split)
    module = make_ensemble(members).eval()
    val_logits = predict_batches(module, arrays.signals[val_idx])
    test_logits = predict_batches(module, arrays.signals[test_idx])
    val_metrics = score_outputs("disease", val_logits, labels[val_idx])
    test_metrics = score_outputs("disease", test_logits, labels[test_idx])

    def measured(idx: np.ndarray, logits: np.ndarray, metrics: dict[str, float], what: str) -> dict[str, Any]:
        lo, hi = bootstrap_auc_ci(labels[idx] > 0.5, logits)
        return {"auc": metrics["auc"], "ci95": [lo, hi], "n_pos": int((labels[idx] > 0.5).sum()),
                "n_neg": int((labels[idx] < 0.5).sum()), "records": what}

    folds_split = split == "ptbxl-folds"
    multitask = config.task == "diseases"
    val_key, test_key = ("val_fold9", "test_fold10") if folds_split else ("val_ecgqa_valid", "test_ecgqa_test")
    card = ModelCard(
        name=name, version=version, task="disease", outputs=(disease,),
        network=config.network, hparams=dict(config.hparams), train_config=card_train_config(config, tuple(seeds)),
        preprocessing=PREPROCESSING, input_shape=(12, MODEL_SAMPLES),
        train_ids=tuple(int(i) for i in arrays.ecg_ids[train_idx]),
        selection_ids=tuple(int(i) for i in arrays.ecg_ids[sel_idx]),
        data={
            "sources": "PTB-XL v1.0.3 records100 (1,987 records, ecg_id 1-1999) + ptb-xl-filtered-subset (1,819; "
                       "158 overlap, taken from the raw files)",
            "labels": f"pure: positive = an SCP statement of diagnostic_class {disease} with likelihood 100; "
                      "negative = no statement of that class; likelihood 0-99 excluded",
            "splits": ("strat_fold 1-8 train, 9 selection (best validation AUC per seed), 10 test" if folds_split else
                       "ECG-QA ptbxl train_ecgs.tsv (training), valid_ecgs.tsv (selection: best validation AUC per "
                       "seed), test_ecgs.tsv (test), each intersected with the labelled records with signals here"),
            **({"multitask": "one lead-wise network per seed with a logit per disease (MI, STTC, CD, HYP), trained on "
                             "every fold 1-8 record labelled for at least one disease (focal loss per disease over "
                             "its labelled records, mean over diseases); this model is the network restricted to "
                             f"the {disease} logit, with the epoch of best fold-9 {disease} AUC per seed; train_ids "
                             "= every record trained on, selection_ids = every fold-9 record with a label"}
               if multitask else {}),
            "train_pos": int((labels[train_idx] > 0.5).sum()), "train_neg": int((labels[train_idx] < 0.5).sum()),
            "excluded": int(np.isnan(labels).sum()), "machine": MACHINE,
            "trained_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        },
        training_command=command, train_seconds=train_seconds,
        metrics={
            val_key: measured(val_idx, val_logits, val_metrics, "PTB-XL strat_fold 9 with signals here" if folds_split
                              else "ECG-QA ptbxl valid ECGs with signals here, pure labels"),
            test_key: measured(test_idx, test_logits, test_metrics, "PTB-XL strat_fold 10 with signals here"
                               if folds_split else "ECG-QA ptbxl test ECGs with signals here, pure labels"),
            "threshold": youden_threshold(labels[val_idx], _sigmoid(val_logits)),
            "best_epochs": best_epochs,
        },
        history=history,
    )
    save_model(module, card, out_dir)
    if progress:
        print(f"{card.name}: val AUC {val_metrics['auc']:.4f}, test AUC {test_metrics['auc']:.4f} "
              f"({card.train_seconds / 60:.1f} min)", file=sys.stderr)
    return card


DEFAULT_ATTRIBUTE_CONFIG = TrainConfig(
    task="attributes", network="resnet12",
    hparams={"channels": [48, 64, 96, 128], "kernel": 7, "dropout": 0.2, "n_outputs": 66},
    epochs=40, batch_size=64, lr=3e-3, crop_samples=500, noise_std=0.05,
)

DEFAULT_AGE_SEX_CONFIG = TrainConfig(
    task="age_sex", network="resnet12",
    hparams={"channels": [32, 48, 64, 96], "kernel": 7, "dropout": 0.2, "n_outputs": 2},
    epochs=20, batch_size=64, lr=3e-3, crop_samples=500, noise_std=0.05,
)


def signal_attribute_classes() -> tuple[str, ...]:
    """The ECG-QA PTB-XL grounding classes learned from the signal: all but the numeric-feature ranges."""
    from ..qa import grounding_classes

    return tuple(c for c in grounding_classes("ptbxl") if "the normal range of" not in c)


def attribute_targets(data_dir: Path, ecg_ids: np.ndarray) -> np.ndarray:
    """(records, classes) 0/1 targets from ECG-QA's attribute derivation of the PTB-XL labels."""
    from ..qa import attributes_from_ptbxl, attributes_to_multihot, grounding_classes
    from ..records import PtbXl

    ptbxl = PtbXl(data_dir / "ptb-xl")
    classes = grounding_classes("ptbxl")
    keep = [classes.index(c) for c in signal_attribute_classes()]
    rows = []
    for ecg_id in ecg_ids:
        attrs = attributes_from_ptbxl(ptbxl, int(ecg_id))
        rows.append(attributes_to_multihot(attrs, "ptbxl")[keep])
    return np.stack(rows).astype(np.float32)


def ecgqa_split_ids(data_dir: Path, split: str) -> set[int]:
    """PTB-XL ecg_ids of ECG-QA's ``train``/``valid``/``test`` split (``ecg-qa/ptbxl/<split>_ecgs.tsv``)."""
    path = data_dir / "ecg-qa" / "ptbxl" / f"{split}_ecgs.tsv"
    if not path.is_file():
        raise DatasetError(f"{path}: missing; the ECG-QA folder needs ptbxl/{{train,valid,test}}_ecgs.tsv")
    ids = set()
    for line in path.read_text().splitlines():
        parts = line.strip().split("\t")
        if len(parts) >= 2 and parts[-1].strip().isdigit():
            ids.add(int(parts[-1]))
    return ids


def best_f1_thresholds(labels: np.ndarray, probs: np.ndarray) -> list[float]:
    """Per class, the probability cut-off with the best F1 on ``labels`` (0.5 without positives)."""
    out = []
    for j in range(labels.shape[1]):
        y = labels[:, j] > 0.5
        if not y.any():
            out.append(0.5)
            continue
        best_t, best_f = 0.5, -1.0
        for t in np.unique(probs[:, j]):
            pred = probs[:, j] >= t
            tp = (pred & y).sum()
            f1 = 2 * tp / (pred.sum() + y.sum())
            if f1 > best_f:
                best_t, best_f = float(t), float(f1)
        out.append(best_t)
    return out


def _fit_and_card_base(config: TrainConfig, arrays: TrainingArrays, targets: np.ndarray, train_idx: np.ndarray,
                       val_idx: np.ndarray, work: Path, seed: int, progress: bool) -> tuple[Any, TrainResult]:
    from ._nets import build_network

    result = train_model(replace(config, seed=seed), arrays.signals, targets, train_idx, val_idx, work, progress=progress)
    net = build_network(config.network, config.hparams)
    net.load_state_dict(result.state_dict)
    return net.eval(), result


def train_attributes(data_dir: Path, work_dir: Path, config: TrainConfig = DEFAULT_ATTRIBUTE_CONFIG, seed: int = 0,
                     out_dir: Path | None = None, command: str = "", version: str = "1",
                     progress: bool = True) -> ModelCard:
    """Train the attribute model on ECG-QA's train ECGs, select on its valid ECGs, measure on its test ECGs."""
    from ._metrics import macro_auc
    from ._package import save_model

    arrays = load_arrays(data_dir, work_dir, progress=progress)
    classes = signal_attribute_classes()
    if config.hparams.get("n_outputs") != len(classes):
        raise UsageError(f"attribute network needs n_outputs={len(classes)}, got {config.hparams.get('n_outputs')}")
    targets = attribute_targets(data_dir, arrays.ecg_ids)
    split = {s: ecgqa_split_ids(data_dir, s) for s in ("train", "valid", "test")}
    index = {s: np.array([i for i, e in enumerate(arrays.ecg_ids) if int(e) in ids]) for s, ids in split.items()}
    net, result = _fit_and_card_base(config, arrays, targets, index["train"], index["valid"],
                                     work_dir / f"attributes_seed{seed}", seed, progress)
    val_probs = _sigmoid(predict_batches(net, arrays.signals[index["valid"]]))
    test_probs = _sigmoid(predict_batches(net, arrays.signals[index["test"]]))
    val_macro, _ = macro_auc(targets[index["valid"]], val_probs)
    test_macro, test_per_class = macro_auc(targets[index["test"]], test_probs)
    train_pos = targets[index["train"]].sum(axis=0)
    test_pos = targets[index["test"]].sum(axis=0)
    card = ModelCard(
        name="attributes", version=version, task="attributes", outputs=classes, network=config.network,
        hparams=dict(config.hparams), train_config=card_train_config(config, (seed,)), preprocessing=PREPROCESSING,
        input_shape=(12, MODEL_SAMPLES), train_ids=tuple(int(i) for i in arrays.ecg_ids[index["train"]]),
        selection_ids=tuple(int(i) for i in arrays.ecg_ids[index["valid"]]),
        data={
            "sources": "PTB-XL records with signals here (records100 + filtered subset) that are in ECG-QA's splits",
            "labels": "ECG-QA attribute classes of PTB-XL (llm_modeling/metadata/ptbxl/grounding_class.csv) minus the "
                      "17 numeric-feature range classes; targets from qa.attributes_from_ptbxl + attributes_to_multihot",
            "splits": "ECG-QA ptbxl train_ecgs.tsv (training), valid_ecgs.tsv (selection: best macro AUROC), "
                      "test_ecgs.tsv (test)",
            "counts": {s: int(len(index[s])) for s in index},
            "train_positives": {c: int(n) for c, n in zip(classes, train_pos)}, "machine": MACHINE,
            "trained_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        },
        training_command=command, train_seconds=result.train_seconds,
        metrics={
            "valid_macro_auc": val_macro,
            "test": {"macro_auc": test_macro, "n_records": int(len(index["test"])),
                     "n_scorable_classes": int(np.isfinite(test_per_class).sum()),
                     "per_class_auc": {c: (None if not np.isfinite(a) else float(a)) for c, a in zip(classes, test_per_class)},
                     "per_class_positives": {c: int(n) for c, n in zip(classes, test_pos)},
                     "records": "ECG-QA ptbxl test ECGs with signals here"},
            "thresholds": best_f1_thresholds(targets[index["valid"]], val_probs),
            "threshold_rule": {
                "rule": ATTRIBUTE_THRESHOLD_RULE,
                "selection_positives": {c: int(n) for c, n in zip(classes, (targets[index["valid"]] > 0.5).sum(axis=0))},
                "note": "rule chosen on ECG-QA valid by cross-fitting (docs/encoders.md 'Attribute thresholds')",
            },
            "best_epochs": [result.best_epoch],
        },
        history=result.history,
    )
    save_model(net, card, out_dir)
    if progress:
        print(f"attributes: valid macro AUC {val_macro:.4f}, test macro AUC {test_macro:.4f}", file=sys.stderr)
    return card


def age_sex_targets(data_dir: Path, ecg_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """((records, 2) [age capped at 90, female 0/1], strat_fold) from the PTB-XL labels."""
    table = load_ptbxl_table(data_dir / "ptb-xl")
    meta = table.metadata.loc[ecg_ids]
    ages = np.array([age_target(a) for a in meta["age"].to_numpy(dtype=float)], dtype=np.float32)
    female = meta["sex"].to_numpy(dtype=float).astype(np.float32)  # PTB-XL: 0 male, 1 female
    return np.stack([ages, female], axis=1), meta["strat_fold"].to_numpy()


def train_age_sex(data_dir: Path, work_dir: Path, config: TrainConfig = DEFAULT_AGE_SEX_CONFIG, seed: int = 0,
                  out_dir: Path | None = None, command: str = "", version: str = "1",
                  progress: bool = True) -> ModelCard:
    """Train the age/sex model on folds 1-8, select on fold 9, measure on fold 10."""
    from ._package import save_model

    arrays = load_arrays(data_dir, work_dir, progress=progress)
    targets, folds = age_sex_targets(data_dir, arrays.ecg_ids)
    train_idx, val_idx = split_indices(folds, None, set(range(1, 9)), {9})
    _, test_idx = split_indices(folds, None, set(), {10})
    net, result = _fit_and_card_base(config, arrays, targets, train_idx, val_idx,
                                     work_dir / f"age_sex_seed{seed}", seed, progress)
    val = score_outputs("age_sex", predict_batches(net, arrays.signals[val_idx]), targets[val_idx])
    test_out = predict_batches(net, arrays.signals[test_idx])
    test = score_outputs("age_sex", test_out, targets[test_idx])
    from ._metrics import bootstrap_auc_ci

    sex_known = ~np.isnan(targets[test_idx, 1])
    lo, hi = bootstrap_auc_ci(targets[test_idx][sex_known, 1] > 0.5, test_out[sex_known, 1])
    card = ModelCard(
        name="age_sex", version=version, task="age_sex", outputs=("age_standardised", "female_logit"),
        network=config.network, hparams=dict(config.hparams), train_config=card_train_config(config, (seed,)),
        preprocessing=PREPROCESSING, input_shape=(12, MODEL_SAMPLES),
        train_ids=tuple(int(i) for i in arrays.ecg_ids[train_idx]),
        selection_ids=tuple(int(i) for i in arrays.ecg_ids[val_idx]),
        data={
            "sources": "PTB-XL records100 + filtered subset", "labels": "age (capped at 90; PTB-XL codes >89 as 300) "
            "and sex (0 male, 1 female) from ptbxl_database.csv", "age_output": "age_years = 60 + 20 * output[0]",
            "splits": "strat_fold 1-8 train, 9 selection (score = sex AUC - age MAE / 50), 10 test",
            "machine": MACHINE,
            "trained_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        },
        training_command=command, train_seconds=result.train_seconds,
        metrics={
            "val_fold9": {"age_mae_years": val["age_mae_years"], "sex_auc": val["sex_auc"], "n": int(len(val_idx))},
            "test_fold10": {"age_mae_years": test["age_mae_years"], "sex_auc": test["sex_auc"], "sex_auc_ci95": [lo, hi],
                            "n": int(len(test_idx)), "n_female": int((targets[test_idx, 1] > 0.5).sum()),
                            "records": "PTB-XL strat_fold 10 with signals here"},
            "best_epochs": [result.best_epoch],
        },
        history=result.history,
    )
    save_model(net, card, out_dir)
    if progress:
        print(f"age_sex: test MAE {test['age_mae_years']:.2f} years, sex AUC {test['sex_auc']:.4f}", file=sys.stderr)
    return card
