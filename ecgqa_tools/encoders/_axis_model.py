"""A learned classifier of PTB-XL's ``heart_axis`` label words (left / normal / right) from the six
limb leads, and the job that trains and evaluates it (protocol: docs/measurements.md, "Session 7: a
learned PTB-XL axis classifier - protocol").

The network is the lead-wise CNN of the disease models (``LeadwiseNet``) on the six limb leads of
``preprocess_ecg``'s output with a three-unit head, trained by ``train_model`` (task ``attributes``:
one-hot targets, per-class binary cross-entropy) with three seeds. Its probabilities are the mean over
the seeds of the per-class sigmoids, normalised to sum 1; the class is the largest. It says what a
PTB-XL report would call the axis (PTB-XL's labels follow the Schiller device / cardiologist wording,
whose left border lies near +5 degrees), not the textbook class of a measured angle
(``grounding.measure`` gives that).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError, UsageError
from ..records import ECG, read_note_kind
from ._training import TrainConfig

AXIS_MODEL_NAME = "axis_ptbxl"
"""File stem of the shipped weights and card (``encoders/weights/axis_ptbxl.*``)."""
AXIS_CLASSES: tuple[str, ...] = ("left", "normal", "right")
"""Output order of the network."""
AXIS_LEAD_COUNT = 6
"""Input rows: I, II, III, aVR, aVL, aVF (the first six rows of ``preprocess_ecg``)."""
AXIS_PTBXL_LABELS: dict[str, str] = {
    "MID": "normal", "LAD": "left", "ALAD": "left", "AXL": "left",
    "RAD": "right", "ARAD": "right", "AXR": "right",
}
"""PTB-XL ``heart_axis`` code -> class (fixed a priori in session 1); SAG and empty are excluded."""
AXIS_SEEDS: tuple[int, ...] = (0, 1, 2)
"""Seeds of the three ensemble members."""
DEV_FOLDS: tuple[int, ...] = tuple(range(1, 9))
"""PTB-XL strat_folds the model may learn from (9-10 are the report part)."""
AXIS_CONFIG = TrainConfig(
    task="attributes", network="leadwise",
    hparams={"n_leads": AXIS_LEAD_COUNT, "channels": [8, 16, 32], "kernel": 7, "hidden": 64, "dropout": 0.1,
             "head_dropout": 0.3, "n_outputs": len(AXIS_CLASSES)},
    epochs=20, batch_size=64, lr=3e-3, weight_decay=1e-2, crop_samples=500, noise_std=0.05,
)
"""The committed recipe (seed replaced per member)."""
AXIS_VERSION = "1"
"""Version of the shipped weights."""
TRAIN_COMMAND = "ecgqa train axis-ptbxl --data-dir ../shared/data"
"""The command that reproduces the shipped weights (and the development comparison)."""
CUTOFF_LOFO_CORRECT = 319
"""The baseline of the committed decision rule: the fitted +5 / +90 cut-offs' leave-one-strat-fold-out
count on the 339 records100 development records (session 3b; rerun in session 7 with delineation
pipeline ``7f4f5275af03``: ``ecgqa bench axis --ptbxl ../shared/data/ptb-xl --learned --skip-ludb``)."""


def selection_fold(held_out: int | None) -> int:
    """The epoch-selection fold when ``held_out`` (1-8, or None for the final model) is left out:
    8, or 7 when fold 8 is the held-out one."""
    return 7 if held_out == 8 else 8


@dataclass(frozen=True)
class AxisClassPrediction:
    """The PTB-XL-label-convention axis class of one ECG, from its limb-lead signals."""

    axis_class: str
    """``left``, ``normal`` or ``right`` (what a PTB-XL report would most likely call the axis)."""
    probabilities: dict[str, float]
    """Class -> probability (mean of the members' per-class sigmoids, normalised to sum 1)."""
    model_version: str
    """Version of the ``axis_ptbxl`` weights."""
    convention: str = "ptbxl-labels"
    """What the classes mean: PTB-XL's ``heart_axis`` words (left border near +5 degrees), not the
    AHA textbook -30 / +90 cut-offs ``grounding.measure`` uses."""
    warnings: tuple[str, ...] = ()
    """Why the class may be wrong (a record shorter than ``MIN_MODEL_SECONDS``, zero-padded to 10 s)."""
    notes: tuple[str, ...] = ()
    """How the record was read, where that puts nothing in doubt (an ignored ``--fs``:
    ``model_input_notes``, ``reading <record>: ...`` as ``DiseasePrediction.notes``); ``summary``
    prints them as ``note:`` lines."""

    def summary(self) -> str:
        probs = ", ".join(f"{c} {self.probabilities[c]:.3f}" for c in AXIS_CLASSES)
        line = f"heart axis (PTB-XL label convention, {AXIS_MODEL_NAME} v{self.model_version}): {self.axis_class} ({probs})"
        return "\n".join([line, *(f"Warning: {w}" for w in self.warnings), *(f"note: {n}" for n in self.notes)])


def member_probabilities(members: list[Any], inputs: np.ndarray, batch_size: int = 128) -> np.ndarray:
    """(records, 6, samples) preprocessed limb leads -> (records, 3) probabilities: the mean over the
    members of the sigmoid of their logits, normalised to sum 1 per record."""
    import torch

    x = np.asarray(inputs, dtype=np.float32)
    if x.ndim != 3 or x.shape[1] != AXIS_LEAD_COUNT:
        raise ModelError(f"{AXIS_MODEL_NAME}: input must be (records, {AXIS_LEAD_COUNT}, samples), got {x.shape}")
    if not members:
        raise ModelError(f"{AXIS_MODEL_NAME}: no ensemble member")
    total = np.zeros((len(x), len(AXIS_CLASSES)), dtype=np.float64)
    with torch.no_grad():
        for member in members:
            member.eval()
            for start in range(0, len(x), batch_size):
                logits = member(torch.from_numpy(x[start:start + batch_size])).numpy()
                total[start:start + batch_size] += 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
    return total / total.sum(axis=1, keepdims=True)


class AxisModel:
    """The shipped ``axis_ptbxl`` ensemble: its card and members (torch, CPU)."""

    def __init__(self, directory: str | Path | None = None) -> None:
        from ._package import LoadedModel

        self._loaded = LoadedModel(AXIS_MODEL_NAME, directory)
        self.card = self._loaded.card
        if tuple(self.card.outputs) != AXIS_CLASSES:
            raise ModelError(f"{AXIS_MODEL_NAME}: card outputs {self.card.outputs} are not {AXIS_CLASSES}")

    @property
    def members(self) -> list[Any]:
        module = self._loaded.module
        return list(getattr(module, "members", [module]))

    @staticmethod
    def preprocess(ecg: ECG) -> np.ndarray:
        """(6, 1000) float32: the limb leads of ``preprocess_ecg`` (100 Hz, band-passed, z-scored, 10 s)."""
        from ._preprocess import preprocess_ecg

        return preprocess_ecg(ecg)[:AXIS_LEAD_COUNT]

    def predict_proba(self, inputs: np.ndarray) -> np.ndarray:
        """(records, 6, samples) -> (records, 3) probabilities in ``AXIS_CLASSES`` order."""
        return member_probabilities(self.members, inputs)


@lru_cache(maxsize=1)
def load_axis_model() -> AxisModel:
    """The shipped ``axis_ptbxl`` model (loaded once per process); ``ModelError`` when missing."""
    return AxisModel()


def predict_axis_ptbxl(ecg: ECG) -> AxisClassPrediction:
    """PTB-XL-label-convention heart-axis class of ``ecg`` from its six limb leads.

    Any rate and length (resampled and fitted to 10 s at 100 Hz as in training: a record shorter
    than ``MIN_MODEL_SECONDS`` is zero-padded and its prediction carries a warning; a 3 s record gave
    'normal' 0.995, confidence the padding does not justify); ``RecordError`` when a standard lead is
    missing or the signal is too short to filter (under 30 samples); a record whose limb leads are all
    flat raises ``RecordError`` too (no axis can be read from it).
    """
    from ..errors import RecordError
    from ._inference import model_input_notes
    from ._preprocess import short_record_warning

    model = load_axis_model()
    x = model.preprocess(ecg)
    if not np.any(np.abs(x) > 0):
        raise RecordError(f"{ecg.record_id or 'record'}: every limb lead is flat; no heart axis can be read")
    probs = model.predict_proba(x[None])[0]
    quality = ecg.quality()
    return AxisClassPrediction(
        axis_class=AXIS_CLASSES[int(np.argmax(probs))],
        probabilities={c: float(p) for c, p in zip(AXIS_CLASSES, probs)},
        model_version=model.card.version,
        warnings=tuple(w for w in [*quality.amplitude_problems(),  # e.g. a negative gain inverting the leads
                                   short_record_warning(ecg.record_id or "record", ecg.duration_s,
                                                        "the axis model's three members read")]
                       if w and read_note_kind(w) != "info"),
        notes=model_input_notes(ecg),
    )


# ---------------------------------------------------------------- training and the development comparison


@dataclass(frozen=True)
class AxisData:
    """The labelled PTB-XL records with a signal, aligned with the training arrays."""

    ecg_ids: np.ndarray
    """int64 ecg_ids of every record with a signal (the arrays' order)."""
    signals: np.ndarray
    """float16 limb leads, shape (records, 6, 1000)."""
    sources: np.ndarray
    """``records100`` / ``records500`` / ``filtered`` per record."""
    targets: np.ndarray
    """float32 one-hot (records, 3) in ``AXIS_CLASSES`` order; NaN rows for unlabelled records."""
    labels: np.ndarray
    """Class name per record, ``""`` when excluded (SAG or no heart_axis)."""
    folds: np.ndarray
    """PTB-XL strat_fold per record."""

    def indices(self, folds: tuple[int, ...] | set[int]) -> np.ndarray:
        """Labelled records of the given folds."""
        return np.nonzero((self.labels != "") & np.isin(self.folds, list(folds)))[0]


def load_axis_data(data_dir: Path, work_dir: Path, progress: bool = True) -> AxisData:
    """Training arrays (cached in ``work_dir``) with the heart_axis targets of PTB-XL."""
    from ._jobs import load_arrays
    from ._ptbxl_arrays import load_ptbxl_table

    arrays = load_arrays(data_dir, work_dir, False, progress)
    meta = load_ptbxl_table(data_dir / "ptb-xl").metadata.loc[arrays.ecg_ids]
    codes = [str(c) for c in meta["heart_axis"]]
    labels = np.array([AXIS_PTBXL_LABELS.get(c, "") for c in codes])
    targets = np.full((len(labels), len(AXIS_CLASSES)), np.nan, dtype=np.float32)
    for k, cls in enumerate(AXIS_CLASSES):
        known = labels != ""
        targets[known, k] = (labels[known] == cls).astype(np.float32)
    return AxisData(arrays.ecg_ids, np.ascontiguousarray(arrays.signals[:, :AXIS_LEAD_COUNT]), arrays.sources,
                    targets, labels, meta["strat_fold"].to_numpy().astype(int))


def _config(seed: int, epochs: int | None) -> TrainConfig:
    return replace(AXIS_CONFIG, seed=seed, epochs=epochs or AXIS_CONFIG.epochs)


def train_members(data: AxisData, train_folds: tuple[int, ...], select_fold: int, work_dir: Path,
                  seeds: tuple[int, ...] = AXIS_SEEDS, epochs: int | None = None, progress: bool = True
                  ) -> tuple[list[Any], list[dict[str, Any]]]:
    """Train one member per seed on ``train_folds``, epoch chosen on ``select_fold`` (resumable per
    member under ``work_dir/s<seed>``). Returns (torch modules, per-member run facts)."""
    from ._nets import build_network
    from ._training import train_model

    train_idx, val_idx = data.indices(train_folds), data.indices((select_fold,))
    members, facts = [], []
    for seed in seeds:
        config = _config(seed, epochs)
        if progress:
            print(f"axis member seed {seed}: train folds {','.join(map(str, train_folds))} "
                  f"({len(train_idx)} records), selection fold {select_fold} ({len(val_idx)})", file=sys.stderr)
        result = train_model(config, data.signals, data.targets, train_idx, val_idx, work_dir / f"s{seed}", progress)
        module = build_network(config.network, config.hparams)
        module.load_state_dict(result.state_dict)
        module.eval()
        members.append(module)
        facts.append({"seed": seed, "best_epoch": result.best_epoch, "selection_macro_auc": result.best_score,
                      "train_seconds": result.train_seconds, "history": result.history})
    return members, facts


@dataclass(frozen=True)
class AxisDevelopment:
    """Leave-one-strat-fold-out predictions of the recipe on folds 1-8."""

    ecg_ids: np.ndarray
    """Labelled development records (folds 1-8)."""
    sources: np.ndarray
    """Their signal source (``records100`` or ``filtered``)."""
    labels: np.ndarray
    """Their label class."""
    predicted: np.ndarray
    """The class predicted by the ensemble that neither trained nor selected on the record's fold."""
    train_seconds: float
    """Training time summed over the 24 members."""

    def count(self, source: str) -> tuple[int, int]:
        """(correct, records) for one source."""
        sel = self.sources == source
        return int((self.labels[sel] == self.predicted[sel]).sum()), int(sel.sum())

    def confusion(self, source: str) -> dict[str, dict[str, int]]:
        """label -> predicted -> count for one source."""
        sel = self.sources == source
        return {g: {p: int(((self.labels == g) & (self.predicted == p) & sel).sum()) for p in AXIS_CLASSES}
                for g in AXIS_CLASSES}


def run_axis_development(data: AxisData, work_dir: Path, epochs: int | None = None,
                         progress: bool = True) -> AxisDevelopment:
    """The committed leave-one-fold-out comparison on folds 1-8; each outer fold's predictions are
    written to ``work_dir/dev/fold<k>.json`` as soon as it is done (a rerun skips finished folds)."""
    from .._io import write_text_atomic

    rows: dict[int, str] = {}
    seconds = 0.0
    for k in DEV_FOLDS:
        path = work_dir / "dev" / f"fold{k}.json"
        if path.is_file():
            done = json.loads(path.read_text())
        else:
            select = selection_fold(k)
            train = tuple(f for f in DEV_FOLDS if f not in (k, select))
            members, facts = train_members(data, train, select, work_dir / "dev" / f"fold{k}", epochs=epochs,
                                           progress=progress)
            idx = data.indices((k,))
            probs = member_probabilities(members, data.signals[idx])
            done = {"fold": k, "selection_fold": select, "train_folds": list(train),
                    "members": [{key: v for key, v in f.items() if key != "history"} for f in facts],
                    "predictions": {str(int(data.ecg_ids[i])): [float(p) for p in pr] for i, pr in zip(idx, probs)}}
            write_text_atomic(path, json.dumps(done, indent=1))
        seconds += sum(m["train_seconds"] for m in done["members"])
        for key, pr in done["predictions"].items():
            rows[int(key)] = AXIS_CLASSES[int(np.argmax(pr))]
    idx = data.indices(DEV_FOLDS)
    missing = [int(data.ecg_ids[i]) for i in idx if int(data.ecg_ids[i]) not in rows]
    if missing:
        raise UsageError(f"{work_dir / 'dev'}: no prediction for {len(missing)} development records (e.g. "
                         f"{missing[:5]}); remove the dev/ folder and rerun")
    return AxisDevelopment(data.ecg_ids[idx], data.sources[idx], data.labels[idx],
                           np.array([rows[int(data.ecg_ids[i])] for i in idx]), seconds)


def train_final_axis_model(data: AxisData, work_dir: Path, out_dir: Path, development: AxisDevelopment,
                           command: str = TRAIN_COMMAND, version: str = AXIS_VERSION, epochs: int | None = None,
                           progress: bool = True) -> Path:
    """Train the shipped model (folds 1-7, selection fold 8, three seeds) and write
    ``axis_ptbxl.{pt,onnx,json}`` to ``out_dir`` with the development counts in its card (``command``:
    the reproducing command recorded in the card)."""
    from ._cards import ModelCard
    from ._install import card_train_config
    from ._jobs import MACHINE, PREPROCESSING
    from ._package import make_ensemble, save_model

    select = selection_fold(None)
    train = tuple(f for f in DEV_FOLDS if f != select)
    members, facts = train_members(data, train, select, work_dir / "final", epochs=epochs, progress=progress)
    config = _config(AXIS_SEEDS[0], epochs)
    train_idx, val_idx = data.indices(train), data.indices((select,))
    counts = {s: development.count(s) for s in ("records100", "filtered")}
    card = ModelCard(
        name=AXIS_MODEL_NAME, version=version, task="axis_ptbxl", outputs=AXIS_CLASSES,
        network=config.network, hparams=dict(config.hparams),
        train_config=card_train_config(config, AXIS_SEEDS),
        preprocessing=PREPROCESSING + " Only the six limb leads (I, II, III, aVR, aVL, aVF) are used.",
        input_shape=(AXIS_LEAD_COUNT, 1000),
        train_ids=tuple(int(i) for i in data.ecg_ids[train_idx]),
        selection_ids=tuple(int(i) for i in data.ecg_ids[val_idx]),
        data={
            "labels": "PTB-XL heart_axis: MID -> normal; LAD, ALAD, AXL -> left; RAD, ARAD, AXR -> right; "
                      "SAG and empty excluded",
            "train": f"strat_folds {','.join(map(str, train))}: {len(train_idx)} labelled records "
                     "(records100 + filtered subset)",
            "selection": f"strat_fold {select}: {len(val_idx)} labelled records (epoch per member by macro AUC)",
            "ensemble": "mean over seeds 0, 1, 2 of the per-class sigmoids, normalised to sum 1",
            "protocol": "docs/measurements.md, Session 7: a learned PTB-XL axis classifier",
            "machine": MACHINE,
        },
        training_command=command,
        metrics={
            "development_lofo_records100": {"correct": counts["records100"][0], "records": counts["records100"][1],
                                            "note": "leave-one-strat-fold-out on folds 1-8"},
            "decision": {"rule": f"adopt iff development_lofo_records100 correct > {CUTOFF_LOFO_CORRECT} (the fitted "
                                 "+5/+90 cut-offs' leave-one-fold-out count on the same 339 records)",
                         "adopted": counts["records100"][0] > CUTOFF_LOFO_CORRECT},
            "development_lofo_filtered": {"correct": counts["filtered"][0], "records": counts["filtered"][1]},
            "development_confusion_records100": development.confusion("records100"),
            "members": [{key: v for key, v in f.items() if key != "history"} for f in facts],
            "report": "folds 9-10, once: docs/measurements.md (ecgqa bench axis --axis-model)",
        },
        train_seconds=float(sum(f["train_seconds"] for f in facts)),
        history=[h for f in facts for h in f["history"]],
    )
    return save_model(make_ensemble(members), card, out_dir)
