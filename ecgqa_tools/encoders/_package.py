"""Shipped weights: saving a trained network (torch state dict + ONNX + card), loading it back,
and running it with onnxruntime (default) or torch. Also the leakage guard."""

from __future__ import annotations

import json
import os
import warnings
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..errors import LeakageError, ModelError
from ._cards import ModelCard

WEIGHTS_DIR = Path(__file__).parent / "weights"
"""Where the shipped models live inside the package."""

Backend = Literal["onnx", "torch"]
BACKENDS: tuple[str, ...] = ("onnx", "torch")


def weights_dir() -> Path:
    """The folder models are loaded from: ``ECGQA_WEIGHTS_DIR`` if set, else the package's."""
    override = os.environ.get("ECGQA_WEIGHTS_DIR")
    return Path(override) if override else WEIGHTS_DIR


def with_head_constant(card: ModelCard, module: Any) -> ModelCard:
    """``card`` with ``head_constant`` computed from ``module``'s parameters (``encoders._flat``;
    None for a network without one single-output ``head``, e.g. resnet12 or several outputs) and
    ``head_constant_computed`` set, so that a None is written as ``null`` and read as final."""
    from dataclasses import replace

    from ._flat import module_head_constant

    return replace(card, head_constant=module_head_constant(module, card.hparams.get("select_output")),
                   head_constant_computed=True)


def save_model(module: Any, card: ModelCard, directory: str | Path | None = None) -> Path:
    """Write ``<name>.pt`` (state dict, architecture, seen ids), ``<name>.onnx`` and ``<name>.json``
    (the card, with the head's flat constant computed from ``module``: ``with_head_constant``)."""
    import torch

    card = with_head_constant(card, module)
    out = Path(directory) if directory is not None else weights_dir()
    out.mkdir(parents=True, exist_ok=True)
    module.eval()
    pt_path = out / f"{card.name}.pt"
    tmp = pt_path.with_name(pt_path.name + ".tmp")
    torch.save({
        "state_dict": {k: v.detach().cpu() for k, v in module.state_dict().items()},
        "network": card.network, "hparams": card.hparams, "outputs": list(card.outputs),
        "version": card.version, "train_ids": list(card.train_ids), "selection_ids": list(card.selection_ids),
        "ensemble": getattr(module, "n_members", 0),
    }, tmp)
    os.replace(tmp, pt_path)
    export_onnx(module, card, out / f"{card.name}.onnx")
    card.save(out / f"{card.name}.json")
    return pt_path


LEGACY_EXPORT_WARNINGS: tuple[str, ...] = (
    r"You are using the legacy TorchScript-based ONNX export",
    r"The feature will be removed\. Please remove usage of this function",
)
"""Start of the two DeprecationWarnings torch 2.13's TorchScript ONNX exporter gives on every export
(the second from its internal ``setup_onnx_logging``); ``export_onnx`` silences exactly these."""


def export_onnx(module: Any, card: ModelCard, path: str | Path) -> Path:
    """Export to ONNX (dynamic batch, fixed 12 x 1000 input) with the seen ids in its metadata."""
    import torch

    from ..errors import require

    onnx = require("onnx", "onnx")
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp.onnx")
    module.eval()
    dummy = torch.zeros(1, *card.input_shape)
    with warnings.catch_warnings():
        # The TorchScript ("legacy") exporter is kept on purpose and its two DeprecationWarnings are
        # silenced here only. Tried 2026-11-22 (session 9) with torch 2.13: the dynamo exporter needs
        # onnxscript + onnx-ir (not installed), took 12.6 s instead of 0.8 s for the MI ensemble (every
        # training run and the tests that save a model export), still printed a FutureWarning from
        # torch internals and torchvision log lines, and wrote a 22% larger file; its outputs did
        # agree with torch (4.8e-7). The shipped .onnx files were made by this exporter.
        for message in LEGACY_EXPORT_WARNINGS:
            warnings.filterwarnings("ignore", message=message, category=DeprecationWarning)
        torch.onnx.export(
            module, (dummy,), str(tmp), input_names=["ecg"], output_names=["logits"],
            dynamic_axes={"ecg": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17, dynamo=False,
        )
    proto = onnx.load(str(tmp))  # type: ignore[attr-defined]
    for key, value in {"name": card.name, "version": card.version,
                       "train_ids": json.dumps(list(card.train_ids)),
                       "selection_ids": json.dumps(list(card.selection_ids)),
                       "outputs": json.dumps(list(card.outputs))}.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(tmp))  # type: ignore[attr-defined]
    os.replace(tmp, target)
    return target


def _ensemble_class() -> Any:
    import torch
    from torch import nn

    class MeanLogitEnsemble(nn.Module):
        """Mean of the members' logits (members share the input)."""

        def __init__(self, members: list[nn.Module]) -> None:
            super().__init__()
            self.members = nn.ModuleList(members)
            self.n_members = len(members)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.stack([m(x) for m in self.members]).mean(dim=0)

    return MeanLogitEnsemble


def make_ensemble(members: list[Any]) -> Any:
    """An ``nn.Module`` averaging the logits of ``members`` (one member is returned as is)."""
    if len(members) == 1:
        return members[0]
    return _ensemble_class()(members)


class LoadedModel:
    """A shipped model: its card, its torch module (built on first use) and an ONNX session.

    ``predict_logits`` runs onnxruntime by default (``backend="torch"`` for the torch module).
    """

    def __init__(self, name: str, directory: str | Path | None = None) -> None:
        self.name = name
        self.directory = Path(directory) if directory is not None else weights_dir()
        self.card = ModelCard.load(self._path(".json"))

    def _path(self, suffix: str) -> Path:
        path = self.directory / f"{self.name}{suffix}"
        if not path.is_file():
            raise ModelError(
                f"{path}: model file missing; shipped models are "
                f"{', '.join(sorted(p.stem for p in self.directory.glob('*.json'))) or 'none'} "
                "(retrain with `ecgqa train ...`)"
            )
        return path

    @cached_property
    def module(self) -> Any:
        """The torch ``nn.Module`` in eval mode, input (batch, 12, 1000) -> logits."""
        import torch

        from ._nets import build_network

        try:
            blob = torch.load(self._path(".pt"), weights_only=False, map_location="cpu")
        except Exception as exc:
            raise ModelError(f"{self._path('.pt')}: cannot read weights ({type(exc).__name__}: {exc})") from exc
        missing = ({"network", "hparams", "state_dict"} - blob.keys()) if isinstance(blob, dict) else None
        if missing is None or missing:
            found = f"a dict without {', '.join(sorted(missing))}" if missing else f"a {type(blob).__name__}"
            raise ModelError(f"{self._path('.pt')}: not a model weights file (expected a dict with network, hparams "
                             f"and state_dict as save_model writes; found {found})")
        try:
            n_members = int(blob.get("ensemble") or 0)
            if n_members:
                module = make_ensemble([build_network(blob["network"], blob["hparams"]) for _ in range(n_members)])
            else:
                module = build_network(blob["network"], blob["hparams"])
        except (TypeError, ValueError, AttributeError) as exc:
            raise ModelError(f"{self._path('.pt')}: cannot build its network ({type(exc).__name__}: {exc})") from exc
        try:
            module.load_state_dict(blob["state_dict"])
        except (RuntimeError, TypeError, AttributeError) as exc:
            raise ModelError(f"{self._path('.pt')}: weights do not match the network ({exc})") from exc
        module.eval()
        return module

    @cached_property
    def session(self) -> Any:
        """The onnxruntime ``InferenceSession`` (one thread per call by default)."""
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = int(os.environ.get("ECGQA_ORT_THREADS", "1"))
        options.log_severity_level = 3
        try:
            return ort.InferenceSession(str(self._path(".onnx")), options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise ModelError(f"{self._path('.onnx')}: cannot load ONNX model ({type(exc).__name__}: {exc})") from exc

    def predict_logits(self, inputs: np.ndarray, backend: Backend = "onnx", batch_size: int = 64) -> np.ndarray:
        """Logits for preprocessed inputs (records, 12, 1000): (records,) or (records, outputs)."""
        x = np.asarray(inputs, dtype=np.float32)
        if x.ndim == 2:
            x = x[None]
        expected = tuple(self.card.input_shape)
        if x.ndim != 3 or x.shape[1:] != expected:
            raise ModelError(f"{self.name}: input must be (records, {expected[0]}, {expected[1]}), got {x.shape}")
        if backend not in BACKENDS:
            raise ModelError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
        outs = []
        for start in range(0, len(x), batch_size):
            chunk = x[start:start + batch_size]
            if backend == "onnx":
                outs.append(self.session.run(None, {"ecg": chunk})[0])
            else:
                import torch

                with torch.no_grad():
                    outs.append(self.module(torch.from_numpy(chunk)).numpy())
        return np.concatenate(outs)


def guard_unseen(card: ModelCard, ecg_ids: list[int] | np.ndarray, policy: Literal["refuse", "drop"] = "drop",
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The leakage guard: split ``ecg_ids`` into (unseen, seen) by ``card``'s training/selection ids.

    With ``policy="refuse"`` any seen id raises ``LeakageError``; with ``"drop"`` the caller scores
    only the unseen ones and must report how many were dropped.
    """
    ids = np.asarray(ecg_ids, dtype=np.int64)
    seen_set = card.seen_ids
    seen_mask = np.array([int(i) in seen_set for i in ids], dtype=bool)
    if policy == "refuse" and seen_mask.any():
        raise LeakageError(
            f"{card.name}: {int(seen_mask.sum())} of {len(ids)} records were used to train or select it "
            f"(e.g. ecg_id {', '.join(str(i) for i in ids[seen_mask][:5])}); refusing to evaluate on them"
        )
    return ids[~seen_mask], ids[seen_mask]
