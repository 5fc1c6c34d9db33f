"""Model cards: what each shipped weight file is, what it was trained and selected on, and how
well it did. The card travels with the weights (``<name>.json`` next to ``<name>.onnx``/``.pt``)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ModelError
from .._io import write_text_atomic


@dataclass(frozen=True)
class ModelCard:
    """Provenance and measured performance of one shipped model."""

    name: str
    """File stem of the model, e.g. ``disease_MI``, ``attributes``, ``age_sex``."""
    version: str
    """Version of the weights (bumped whenever they are retrained)."""
    task: str
    """``disease``, ``attributes`` or ``age_sex``."""
    outputs: tuple[str, ...]
    """Names of the output units in order (one disease code, attribute classes, or age/sex)."""
    network: str
    """Network kind (``leadwise`` or ``resnet12``)."""
    hparams: dict[str, Any]
    """Network hyper-parameters."""
    train_config: dict[str, Any]
    """The full ``TrainConfig`` of the run."""
    preprocessing: str
    """How a raw ECG becomes the model input."""
    input_shape: tuple[int, int]
    """(leads, samples) of one input."""
    train_ids: tuple[int, ...]
    """PTB-XL ecg_ids the weights were fitted on."""
    selection_ids: tuple[int, ...]
    """PTB-XL ecg_ids used to choose the epoch (validation)."""
    data: dict[str, Any]
    """Data description: sources, splits, label definition, counts of positives/negatives."""
    training_command: str
    """The exact command that reproduces these weights."""
    metrics: dict[str, Any]
    """Measured numbers (validation at the selected epoch, test), with what they were measured on."""
    train_seconds: float
    """Wall-clock training time on the machine named in ``data['machine']``."""
    history: list[dict[str, float]] = field(default_factory=list)
    """Per-epoch training loss and validation metrics."""

    @property
    def seen_ids(self) -> frozenset[int]:
        """Every record the model was trained or selected on (the leakage guard refuses these)."""
        return frozenset(self.train_ids) | frozenset(self.selection_ids)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, default=float)

    def save(self, path: str | Path) -> None:
        """Write atomically as JSON."""
        write_text_atomic(path, self.to_json())

    @classmethod
    def load(cls, path: str | Path) -> "ModelCard":
        """Read a card; ``ModelError`` when missing or malformed."""
        source = Path(path)
        if not source.is_file():
            raise ModelError(f"{source}: model card missing")
        try:
            raw = json.loads(source.read_text())
            raw["outputs"] = tuple(raw["outputs"])
            raw["input_shape"] = tuple(raw["input_shape"])
            raw["train_ids"] = tuple(int(i) for i in raw["train_ids"])
            raw["selection_ids"] = tuple(int(i) for i in raw["selection_ids"])
            return cls(**raw)
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"{source}: malformed model card ({type(exc).__name__}: {exc})") from exc

    def with_metrics(self, **metrics: Any) -> "ModelCard":
        from dataclasses import replace

        return replace(self, metrics={**self.metrics, **metrics})

    def to_markdown(self) -> str:
        """The card as a Markdown page (ids summarised by count and range; the JSON has them all)."""
        def ids(values: tuple[int, ...]) -> str:
            return f"{len(values)} records (ecg_id {min(values)}-{max(values)})" if values else "none"

        lines = [
            f"# Model card: {self.name} (version {self.version})", "",
            "Research software, not for clinical use.", "",
            f"- task: {self.task}; network: {self.network} {json.dumps(self.hparams)}",
            f"- outputs: {', '.join(self.outputs[:12])}{' ...' if len(self.outputs) > 12 else ''} ({len(self.outputs)})",
            f"- input: {self.input_shape[0]} leads x {self.input_shape[1]} samples; preprocessing: {self.preprocessing}",
            f"- trained on: {ids(self.train_ids)}; selected on: {ids(self.selection_ids)} (exact ids in "
            f"`ecgqa_tools/encoders/weights/{self.name}.json` and the ONNX metadata)",
            f"- training: {json.dumps({k: v for k, v in self.train_config.items() if k != 'hparams'})}",
            f"- training time: {self.train_seconds / 60:.1f} min",
            f"- reproduce: `{self.training_command}`", "", "## Data", "",
        ]
        lines += [f"- {k}: {json.dumps(v) if not isinstance(v, str) else v}" for k, v in self.data.items()]
        lines += ["", "## Measured", ""]
        lines += [f"- {k}: {json.dumps(v, default=float)}" for k, v in self.metrics.items() if k != "thresholds"]
        return "\n".join(lines) + "\n"

    def summary(self) -> str:
        """A few human-readable lines (long metrics shortened at a word boundary)."""
        import textwrap

        lines = [
            f"{self.name} v{self.version} ({self.task}, {self.network}), outputs: {', '.join(self.outputs[:8])}"
            + (" ..." if len(self.outputs) > 8 else ""),
            f"trained on {len(self.train_ids)} records, selected on {len(self.selection_ids)}, "
            f"{self.train_seconds / 60:.1f} min",
            f"reproduce: {self.training_command}",
        ]
        for key, value in self.metrics.items():
            lines.append(f"{key}: {textwrap.shorten(json.dumps(value, default=float), 200, placeholder=' ...')}")
        return "\n".join(lines)
