"""One training loop for every shipped model: seeded, resumable (a checkpoint each epoch), with
progress on stderr, AdamW + cosine decay, checkpoint selection on a validation metric."""

from __future__ import annotations

import copy
import json
import os
import sys
import time
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..errors import UsageError
from .._io import atomic_output
from ._metrics import macro_auc, roc_auc

Task = Literal["disease", "diseases", "attributes", "age_sex"]


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run (saved in the checkpoint and the model card)."""

    task: Task
    """``disease`` (binary, focal loss), ``diseases`` (one network, one logit per disease, masked focal
    loss, checkpoint selection per disease), ``attributes`` (multi-label BCE) or ``age_sex``."""
    network: str = "leadwise"
    """``leadwise`` (shared per-lead encoder) or ``resnet12`` (leads as channels)."""
    hparams: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of the network."""
    epochs: int = 15
    """Passes over the training records."""
    batch_size: int = 64
    """Records per optimisation step."""
    lr: float = 3e-3
    """Peak AdamW learning rate (linear warm-up over the first epoch, then cosine decay to 0)."""
    weight_decay: float = 1e-2
    """AdamW weight decay."""
    focal_gamma: float = 2.0
    """Focal-loss focusing parameter (disease task)."""
    crop_samples: int = 500
    """Training inputs are random windows of this many samples (augmentation; 0 = full 10 s)."""
    noise_std: float = 0.05
    """Std of Gaussian noise added to the z-scored training inputs."""
    seed: int = 0
    """Seed of numpy and torch (initialisation, batches, augmentation)."""
    augment: dict[str, float] = field(default_factory=dict)
    """Extra training augmentation after the crop and before the noise (empty = none, the shipped
    recipes); keys of :func:`augment_batch`: ``p``, ``amp_scale``, ``wander_max``, ``wander_hz_min``,
    ``wander_hz_max``, ``mask_max_s``."""
    ema_half_life_epochs: float = 0.0
    """Half-life, in epochs, of an exponential moving average (EMA) of the network's floating-point
    state (weights and BatchNorm running statistics), updated after every optimisation step; when > 0
    the EMA network is the one validated, selected and returned (:func:`ema_decay`). 0 = no EMA (the
    shipped recipes)."""
    aux_heads: dict[str, float] = field(default_factory=dict)
    """Training-only auxiliary heads on the lead-wise network's concatenated lead embeddings, head
    name -> loss weight: ``sex`` (BCE) and/or ``device`` (cross-entropy over ``_aux.DEVICE_CLASSES``
    + other); their weighted losses are added to the disease loss, targets from PTB-XL metadata
    (``train_model(aux_targets=...)``). The heads are not part of the returned weights. Empty = none
    (the shipped recipes)."""


def train_config_defaults() -> dict[str, Any]:
    """Every :class:`TrainConfig` field with a default, mapped to that default."""
    out: dict[str, Any] = {}
    for f in fields(TrainConfig):
        if f.default is not MISSING:
            out[f.name] = f.default
        elif f.default_factory is not MISSING:
            out[f.name] = f.default_factory()
    return out


def _same_config(saved: dict[str, Any], current: dict[str, Any]) -> bool:
    """Whether a checkpoint's saved config is ``current``; a key missing on one side (a field added
    after the checkpoint was written) counts as its default."""
    defaults = train_config_defaults()
    keys = set(saved) | set(current)
    filled = [{k: d.get(k, defaults.get(k)) for k in keys} for d in (saved, current)]
    return json.dumps(filled[0], sort_keys=True, default=str) == json.dumps(filled[1], sort_keys=True, default=str)


def ema_decay(half_life_epochs: float, steps_per_epoch: int) -> float:
    """Per-step EMA decay ``d`` whose half-life is ``half_life_epochs`` epochs of ``steps_per_epoch``
    steps: ``d ** (half_life_epochs * steps_per_epoch) = 0.5``. 0 when ``half_life_epochs`` is 0."""
    if half_life_epochs < 0 or steps_per_epoch < 1:
        raise UsageError(f"EMA half-life must be >= 0 epochs and an epoch >= 1 step, got {half_life_epochs} "
                         f"and {steps_per_epoch}")
    if half_life_epochs == 0:
        return 0.0
    return float(0.5 ** (1.0 / (half_life_epochs * steps_per_epoch)))


def ema_update(ema_state: dict[str, Any], live_state: dict[str, Any], decay: float) -> None:
    """In place: ``ema = decay * ema + (1 - decay) * live`` for every floating-point entry of a state
    dict (weights, BatchNorm running mean / variance); other entries (``num_batches_tracked``) are
    copied from ``live_state``."""
    import torch

    with torch.no_grad():
        for key, ema in ema_state.items():
            live = live_state[key].detach()
            if ema.dtype.is_floating_point:
                ema.mul_(decay).add_(live, alpha=1.0 - decay)
            else:
                ema.copy_(live)


@dataclass(frozen=True)
class OutputSelection:
    """Checkpoint selection for one output of a multi-task run (task ``diseases``)."""

    state_dict: dict[str, Any]
    """Weights of the whole network at the epoch with this output's best validation AUC."""
    best_epoch: int
    """1-based epoch whose weights were kept for this output."""
    best_score: float
    """This output's validation AUC at that epoch."""


@dataclass(frozen=True)
class TrainResult:
    """The selected weights and what the run measured."""

    state_dict: dict[str, Any]
    """Weights at the epoch with the best validation score."""
    best_epoch: int
    """1-based epoch whose weights were kept."""
    best_score: float
    """Validation score at that epoch (AUC, macro AUC, or the age/sex score)."""
    history: list[dict[str, float]]
    """Per epoch: train loss, validation score(s), seconds."""
    train_seconds: float
    """Wall-clock seconds spent training (summed over resumed sessions)."""
    per_output: tuple[OutputSelection, ...] = ()
    """Task ``diseases``: one selection per output (column of the targets), else empty."""


def _focal_bce(logits: "Any", targets: "Any", gamma: float) -> "Any":
    import torch
    import torch.nn.functional as F

    bce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = torch.exp(-bce)
    return ((1 - p_t) ** gamma * bce).mean()


def masked_focal_loss(logits: "Any", targets: "Any", gamma: float) -> "Any":
    """Multi-task focal loss: per column, the focal loss over the rows whose target is known (not NaN);
    the mean over the columns that have a known target in the batch (a row excluded for a column
    contributes nothing to it). (batch, outputs) logits and targets; 0 when nothing is known."""
    import torch

    losses = []
    for j in range(targets.shape[1]):
        known = ~torch.isnan(targets[:, j])
        if bool(known.any()):
            losses.append(_focal_bce(logits[known, j], targets[known, j], gamma))
    if not losses:
        return logits.sum() * 0.0
    return sum(losses) / len(losses)


def aux_loss(outputs: dict[str, "Any"], targets: "Any", weights: dict[str, float]) -> "Any":
    """Weighted sum of the auxiliary losses: per head in ``weights``, BCE (``sex``) or cross-entropy
    (``device``) over the batch rows whose target (column of ``targets`` in ``_aux.AUX_HEADS`` order) is
    known (not NaN); a head with no known target in the batch adds 0."""
    import torch.nn.functional as F

    from ._aux import AUX_HEADS

    total = targets.new_zeros(())
    for name, weight in weights.items():
        y = targets[:, AUX_HEADS.index(name)]
        known = ~y.isnan()
        if not bool(known.any()):
            continue
        out = outputs[name][known]
        if name == "sex":
            total = total + weight * F.binary_cross_entropy_with_logits(out[:, 0], y[known])
        else:
            total = total + weight * F.cross_entropy(out, y[known].long())
    return total


def _check_aux(config: TrainConfig, aux_targets: np.ndarray | None, n_records: int) -> None:
    from ._aux import AUX_HEADS

    if not config.aux_heads:
        return
    unknown = sorted(set(config.aux_heads) - set(AUX_HEADS))
    if unknown:
        raise UsageError(f"unknown auxiliary head(s) {', '.join(unknown)}; expected some of {', '.join(AUX_HEADS)}")
    if config.task != "disease" or config.network != "leadwise":
        raise UsageError(f"auxiliary heads need task 'disease' and network 'leadwise', got {config.task!r} / "
                         f"{config.network!r}")
    if any(w < 0 for w in config.aux_heads.values()):
        raise UsageError(f"auxiliary loss weights must be >= 0, got {config.aux_heads}")
    if aux_targets is None or np.shape(aux_targets) != (n_records, len(AUX_HEADS)):
        raise UsageError(f"auxiliary heads {sorted(config.aux_heads)} need aux_targets of shape ({n_records}, "
                         f"{len(AUX_HEADS)}), got {None if aux_targets is None else np.shape(aux_targets)}")


def aux_validation(model: "Any", heads: "Any", signals: np.ndarray, targets: np.ndarray,
                   batch_size: int = 128) -> dict[str, float]:
    """For information (not selection): the auxiliary heads on validation records, ``aux_sex_auc`` and
    ``aux_device_acc`` (accuracy over the records with a known device) for the heads trained."""
    import torch

    model.eval()
    outs: dict[str, list[np.ndarray]] = {}
    with torch.no_grad():
        for start in range(0, len(signals), batch_size):
            x = torch.from_numpy(np.asarray(signals[start:start + batch_size], dtype=np.float32))
            for name, out in heads(model.forward_with_embedding(x)[1]).items():
                outs.setdefault(name, []).append(out.numpy())
    metrics = {}
    if "sex" in outs:
        known = ~np.isnan(targets[:, 0])
        metrics["aux_sex_auc"] = roc_auc(targets[known, 0] > 0.5, np.concatenate(outs["sex"])[known, 0])
    if "device" in outs:
        known = ~np.isnan(targets[:, 1])
        pred = np.concatenate(outs["device"]).argmax(axis=1)
        metrics["aux_device_acc"] = float((pred[known] == targets[known, 1]).mean()) if known.any() else float("nan")
    return metrics


AGE_SCALE_YEARS = 20.0
"""Age targets are standardised as (age - 60) / 20 for training."""


def _loss(task: Task, out: "Any", y: "Any", gamma: float) -> "Any":
    import torch
    import torch.nn.functional as F

    if task == "disease":
        return _focal_bce(out, y, gamma)
    if task == "diseases":
        return masked_focal_loss(out, y, gamma)
    if task == "attributes":
        known = ~torch.isnan(y)
        return F.binary_cross_entropy_with_logits(out[known], y[known])
    age_known = ~torch.isnan(y[:, 0])
    sex_known = ~torch.isnan(y[:, 1])
    loss = out.new_zeros(())
    if age_known.any():
        loss = loss + F.smooth_l1_loss(out[age_known, 0], (y[age_known, 0] - 60.0) / AGE_SCALE_YEARS)
    if sex_known.any():
        loss = loss + F.binary_cross_entropy_with_logits(out[sex_known, 1], y[sex_known, 1])
    return loss


def score_outputs(task: Task, outputs: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """Validation metrics; ``score`` is the one used for checkpoint selection (higher is better)."""
    if task == "disease":
        auc = roc_auc(targets > 0.5, outputs)
        return {"score": auc, "auc": auc}
    if task == "diseases":
        aucs = {}
        for j in range(targets.shape[1]):
            known = ~np.isnan(targets[:, j])
            aucs[f"auc_{j}"] = roc_auc(targets[known, j] > 0.5, outputs[known, j])
        finite = [v for v in aucs.values() if np.isfinite(v)]
        return {"score": float(np.mean(finite)) if finite else float("nan"), **aucs}
    if task == "attributes":
        macro, _ = macro_auc(targets, outputs)
        return {"score": macro, "macro_auc": macro}
    age = outputs[:, 0] * AGE_SCALE_YEARS + 60.0
    known = ~np.isnan(targets[:, 0])
    mae = float(np.abs(age[known] - targets[known, 0]).mean())
    sex_known = ~np.isnan(targets[:, 1])
    auc = roc_auc(targets[sex_known, 1] > 0.5, outputs[sex_known, 1])
    return {"score": auc - mae / 50.0, "age_mae_years": mae, "sex_auc": auc}


AUGMENT_FS_HZ = 100.0
"""Sampling rate of the training arrays (10 s = 1000 samples), used by :func:`augment_batch`."""


def augment_batch(batch: np.ndarray, rng: np.random.Generator, params: dict[str, float],
                  fs_hz: float = AUGMENT_FS_HZ) -> np.ndarray:
    """Per-record random transforms of a (records, leads, samples) z-scored training batch.

    Each transform is applied to each record independently with probability ``p`` (default 0.5), in
    this order: (1) per-lead amplitude scaling, every lead multiplied by its own factor drawn
    uniformly from [1 - amp_scale, 1 + amp_scale]; (2) baseline wander, a sinusoid of one frequency
    drawn uniformly from [wander_hz_min, wander_hz_max] Hz and one phase per record, with a per-lead
    amplitude drawn uniformly from [0, wander_max] (z-score units), added to every lead; (3) time
    masking, one contiguous stretch of 1 to ``mask_max_s`` seconds set to 0 (the z-scored mean) in
    all leads. A missing key (or 0) disables that transform. The same number of random draws is made
    whatever is applied, so a seeded ``rng`` gives the same batches; empty ``params`` returns the
    batch unchanged without touching ``rng`` (the shipped recipes' random streams are unaffected).
    """
    if not params:
        return batch
    n, leads, samples = batch.shape
    p = float(params.get("p", 0.5))
    out = np.array(batch, dtype=np.float32, copy=True)
    scale = float(params.get("amp_scale", 0.0))
    use = rng.random(n) < p
    factors = rng.uniform(1.0 - scale, 1.0 + scale, (n, leads))
    if scale > 0:
        out *= np.where(use[:, None], factors, 1.0)[:, :, None].astype(np.float32)
    wander = float(params.get("wander_max", 0.0))
    use = rng.random(n) < p
    freq = rng.uniform(params.get("wander_hz_min", 0.05), params.get("wander_hz_max", 0.5), n)
    phase = rng.uniform(0.0, 2 * np.pi, n)
    amps = rng.uniform(0.0, wander, (n, leads))
    if wander > 0:
        t = np.arange(samples) / fs_hz
        wave = np.sin(2 * np.pi * freq[:, None] * t[None, :] + phase[:, None])
        out += (np.where(use[:, None], amps, 0.0)[:, :, None] * wave[:, None, :]).astype(np.float32)
    max_len = min(int(round(float(params.get("mask_max_s", 0.0)) * fs_hz)), samples)
    use = rng.random(n) < p
    lengths = rng.integers(1, max(max_len, 1) + 1, n)
    starts = rng.integers(0, samples - lengths + 1)
    if max_len > 0:
        for k in np.nonzero(use)[0]:
            out[k, :, starts[k]:starts[k] + lengths[k]] = 0.0
    return out


def predict_batches(module: "Any", signals: np.ndarray, batch_size: int = 128) -> np.ndarray:
    """Run ``module`` in eval mode over (records, 12, samples) inputs; returns numpy outputs."""
    import torch

    module.eval()
    outs = []
    with torch.no_grad():
        for start in range(0, len(signals), batch_size):
            x = torch.from_numpy(np.asarray(signals[start:start + batch_size], dtype=np.float32))
            outs.append(module(x).numpy())
    return np.concatenate(outs) if outs else np.zeros((0,), dtype=np.float32)


def _atomic_torch_save(obj: Any, path: Path) -> None:
    import torch

    with atomic_output(path) as tmp:
        torch.save(obj, tmp)


def train_model(config: TrainConfig, signals: np.ndarray, targets: np.ndarray,
                train_idx: np.ndarray, val_idx: np.ndarray, work_dir: str | Path,
                progress: bool = True, threads: int | None = None,
                aux_targets: np.ndarray | None = None) -> TrainResult:
    """Train ``config.network`` on ``signals[train_idx]`` and keep the epoch best on ``val_idx``.

    With ``config.aux_heads``, ``aux_targets`` ((records, 2), ``_aux.AUX_HEADS`` order, NaN = unknown)
    are learned by training-only heads (:class:`_nets.AuxHeads`) whose weighted loss is added; selection
    and the returned weights are the disease network's alone.
    ``work_dir/checkpoint.pt`` is written after every epoch; calling again with the same config
    resumes from it (a different config raises ``UsageError``).
    """
    import torch
    from tqdm import tqdm

    from ._nets import build_network

    if len(train_idx) == 0 or len(val_idx) == 0:
        raise UsageError(f"need training and validation records, got {len(train_idx)} and {len(val_idx)}")
    _check_aux(config, aux_targets, len(signals))
    # One thread by default: on a busy shared CPU two OpenMP threads were measured 5x slower.
    torch.set_num_threads(threads or int(os.environ.get("ECGQA_TRAIN_THREADS", "1")))
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    ckpt_path = work / "checkpoint.pt"
    config_dict = asdict(config)

    torch.manual_seed(config.seed)
    model = build_network(config.network, config.hparams)
    aux_heads = None
    params = list(model.parameters())
    if config.aux_heads:  # built after the network: the no-aux recipes' random stream is untouched
        from ._aux import AUX_HEAD_SIZES
        from ._nets import AuxHeads

        aux_heads = AuxHeads(model.n_leads * model.encoder.out_dim,
                             {name: AUX_HEAD_SIZES[name] for name in config.aux_heads})
        params += list(aux_heads.parameters())
        aux_all = torch.from_numpy(np.asarray(aux_targets, dtype=np.float32))
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = int(np.ceil(len(train_idx) / config.batch_size))
    total_steps = steps_per_epoch * config.epochs

    def lr_at(step: int) -> float:
        if step < steps_per_epoch:
            return (step + 1) / steps_per_epoch
        progress_frac = (step - steps_per_epoch) / max(1, total_steps - steps_per_epoch)
        return 0.5 * (1 + np.cos(np.pi * progress_frac))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)
    decay = ema_decay(config.ema_half_life_epochs, steps_per_epoch)
    # the EMA copy (config.ema_half_life_epochs > 0) starts as the initial weights and is what is validated
    ema_model = copy.deepcopy(model).eval() if decay > 0 else None
    scored = ema_model if ema_model is not None else model
    start_epoch, best_score, best_epoch, best_state, history, seconds = 0, -np.inf, 0, None, [], 0.0
    n_selected = np.asarray(targets).shape[1] if config.task == "diseases" else 0
    # task "diseases": per output [best AUC, best epoch, state at that epoch]
    per_output: list[list[Any]] = [[-np.inf, 0, None] for _ in range(n_selected)]
    rng = np.random.default_rng(config.seed)
    if ckpt_path.is_file():
        ckpt = torch.load(ckpt_path, weights_only=False)
        if not _same_config(ckpt["config"], config_dict):
            raise UsageError(f"{ckpt_path} was written by a different training config; remove it or use another --work-dir")
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        if ema_model is not None:
            ema_model.load_state_dict(ckpt["ema"])
        if aux_heads is not None:
            aux_heads.load_state_dict(ckpt["aux"])
        start_epoch, best_score, best_epoch = ckpt["epoch"], ckpt["best_score"], ckpt["best_epoch"]
        best_state, history, seconds = ckpt["best_state"], ckpt["history"], ckpt["seconds"]
        per_output = [list(entry) for entry in ckpt.get("per_output", per_output)]
        rng.bit_generator.state = ckpt["numpy_rng"]
        torch.set_rng_state(ckpt["torch_rng"])
        if progress:
            print(f"resuming from {ckpt_path} after epoch {start_epoch}", file=sys.stderr)

    y_all = torch.from_numpy(np.asarray(targets, dtype=np.float32))
    n_samples = signals.shape[-1]
    crop = config.crop_samples if 0 < config.crop_samples < n_samples else n_samples
    for epoch in range(start_epoch, config.epochs):
        t0 = time.time()
        model.train()
        order = rng.permutation(train_idx)
        losses: list[float] = []
        aux_losses: list[float] = []
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{config.epochs}", disable=not progress,
                   file=sys.stderr, leave=False)
        for step in bar:
            idx = np.sort(order[step * config.batch_size:(step + 1) * config.batch_size])
            batch = np.asarray(signals[idx], dtype=np.float32)
            if crop < n_samples:
                starts = rng.integers(0, n_samples - crop + 1, len(idx))
                batch = np.stack([b[:, s:s + crop] for b, s in zip(batch, starts)])
            if config.augment:
                batch = augment_batch(batch, rng, config.augment)
            if config.noise_std > 0:
                batch = batch + rng.normal(0, config.noise_std, batch.shape).astype(np.float32)
            if aux_heads is None:
                out = model(torch.from_numpy(batch))
                loss = _loss(config.task, out, y_all[idx], config.focal_gamma)
            else:
                out, emb = model.forward_with_embedding(torch.from_numpy(batch))
                disease_loss = _loss(config.task, out, y_all[idx], config.focal_gamma)
                extra = aux_loss(aux_heads(emb), aux_all[idx], config.aux_heads)
                aux_losses.append(float(extra.detach()))
                loss = disease_loss + extra
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            if ema_model is not None:
                ema_update(ema_model.state_dict(), model.state_dict(), decay)
            losses.append(float(loss.detach()))
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}")
        val_out = predict_batches(scored, signals[val_idx])
        metrics = score_outputs(config.task, val_out, np.asarray(targets)[val_idx])
        if ema_model is not None:  # for information: the live network's validation metrics
            live = score_outputs(config.task, predict_batches(model, signals[val_idx]), np.asarray(targets)[val_idx])
            metrics = {**metrics, **{f"live_{k}": v for k, v in live.items() if k != "score"}}
        if aux_heads is not None:  # for information: what the auxiliary heads learned (live network)
            metrics = {**metrics, "aux_loss": float(np.mean(aux_losses)),
                       **aux_validation(model, aux_heads, signals[val_idx], np.asarray(aux_targets)[val_idx])}
        seconds += time.time() - t0
        history.append({"epoch": epoch + 1, "train_loss": float(np.mean(losses)), **metrics,
                        "seconds": time.time() - t0})
        if metrics["score"] > best_score:
            best_score, best_epoch = metrics["score"], epoch + 1
            best_state = {k: v.detach().clone() for k, v in scored.state_dict().items()}
        for j, entry in enumerate(per_output):
            if metrics[f"auc_{j}"] > entry[0]:
                per_output[j] = [metrics[f"auc_{j}"], epoch + 1,
                                 {k: v.detach().clone() for k, v in scored.state_dict().items()}]
        if progress:
            shown = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if k != "score")
            print(f"epoch {epoch + 1}/{config.epochs}: loss {np.mean(losses):.4f}, val {shown} "
                  f"({time.time() - t0:.0f} s){' *' if best_epoch == epoch + 1 else ''}", file=sys.stderr)
        _atomic_torch_save({
            "config": config_dict, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(), "epoch": epoch + 1, "best_score": best_score,
            "best_epoch": best_epoch, "best_state": best_state, "history": history, "seconds": seconds,
            "per_output": per_output, "ema": None if ema_model is None else ema_model.state_dict(),
            "aux": None if aux_heads is None else aux_heads.state_dict(),
            "numpy_rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
        }, ckpt_path)
    if best_state is None or any(entry[2] is None for entry in per_output):
        raise UsageError(f"{ckpt_path}: no epoch was trained (epochs={config.epochs}) or an output never had "
                         "a finite validation AUC (its selection records need positives and negatives)")
    selections = tuple(OutputSelection(state, int(epoch), float(score)) for score, epoch, state in per_output)
    return TrainResult(best_state, best_epoch, float(best_score), history, seconds, selections)
