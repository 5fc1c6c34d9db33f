"""Model cards: what each shipped weight file is, what it was trained and selected on, and how
well it did. The card travels with the weights (``<name>.json`` next to ``<name>.onnx``/``.pt``)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ModelError, UsageError
from .._io import write_text_atomic
from ._flat import HeadConstant


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
    head_constant: HeadConstant | None = None
    """The logit the network gives when every hidden unit of every ensemble member's head is
    inactive (mean of the members' final-layer biases, with its flat tolerance), computed from the
    parameters by ``save_model``; what ``DiseaseModel.flat_logits`` compares a logit with on both
    backends (docs/encoders.md "Flat heads"). None for a network without one single-output
    ``head`` (resnet12, multi-output models; ``null`` in the JSON) and for cards written before
    session 10 (key absent), whose constant ``DiseaseModel`` then computes from the ``.pt``
    parameters; ``head_constant_computed`` tells the two apart."""
    head_constant_computed: bool = False
    """``head_constant`` was computed from the parameters when the model was saved (``save_model``,
    since session 10; the JSON has the key, ``null`` when there is no constant), so a None is final
    and the weights need not be read. False for cards written before (no key): their constant is
    unknown. Not written to the JSON itself (the key's presence is what records it)."""

    @property
    def seen_ids(self) -> frozenset[int]:
        """Every record the model was trained or selected on (the leakage guard refuses these)."""
        return frozenset(self.train_ids) | frozenset(self.selection_ids)

    def class_thresholds(self) -> dict[str, float] | None:
        """Output name -> probability cut-off in force, or ``None`` when the card has no per-class
        thresholds. ``metrics['thresholds']`` holds the cut-offs tuned on the selection ECGs;
        ``metrics['threshold_rule']`` (``{"rule": ..., "selection_positives": {name: n}}``), when
        present, turns them into the ones used (``_thresholds.apply_threshold_rule``)."""
        from ._thresholds import apply_threshold_rule

        tuned = self.metrics.get("thresholds")
        if not isinstance(tuned, (list, tuple)) or not tuned:
            return None
        if len(tuned) != len(self.outputs):
            raise ModelError(f"card {self.name}: {len(tuned)} thresholds for {len(self.outputs)} outputs")
        rule = self.metrics.get("threshold_rule")
        if not rule:
            return {name: float(t) for name, t in zip(self.outputs, tuned)}
        try:
            positives = [int(rule["selection_positives"][name]) for name in self.outputs]
            values = apply_threshold_rule(str(rule["rule"]), tuned, positives)
        except (KeyError, TypeError, ValueError, UsageError) as exc:
            raise ModelError(f"card {self.name}: malformed threshold_rule ({type(exc).__name__}: {exc})") from exc
        return dict(zip(self.outputs, values))

    def _threshold_lines(self) -> list[str]:
        """One line per output: threshold used, the tuned one and selection positives when a rule applies."""
        used = self.class_thresholds()
        if used is None:
            return []
        rule = self.metrics.get("threshold_rule") or {}
        tuned = dict(zip(self.outputs, self.metrics["thresholds"]))
        if not rule:
            return [f"  {used[name]:.3f}  {name}" for name in self.outputs]
        positives = rule["selection_positives"]
        return [f"  {used[name]:.3f}  {name}  (tuned {tuned[name]:.3f}, {positives[name]} selection positives)"
                for name in self.outputs]

    def _threshold_heading(self) -> str:
        rule = self.metrics.get("threshold_rule") or {}
        if rule:
            return f"per-class thresholds (rule {rule['rule']} on the F1-tuned cut-offs; {rule.get('note', '')}):"
        return "per-class thresholds (F1-tuned on the selection ECGs):"

    def to_json(self) -> str:
        raw = asdict(self)
        computed = raw.pop("head_constant_computed") or raw["head_constant"] is not None
        if not computed:  # cards written before session 10 keep their form (no key)
            del raw["head_constant"]
        return json.dumps(raw, indent=1, default=float)

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
            raw.pop("head_constant_computed", None)  # recorded by the key's presence, never stored
            raw["head_constant_computed"] = "head_constant" in raw
            if raw.get("head_constant") is not None:
                raw["head_constant"] = HeadConstant.from_dict(raw["head_constant"])
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
        lines += [f"- {k}: {json.dumps(v, default=float)}" for k, v in self.metrics.items()
                  if k not in ("thresholds", "threshold_rule")]
        if self.class_thresholds() is not None:
            lines += ["", "## Decision thresholds", "", self._threshold_heading(), ""]
            lines += [f"- {line.strip()}" for line in self._threshold_lines()]
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
            if key not in ("thresholds", "threshold_rule"):
                lines.append(f"{key}: {textwrap.shorten(json.dumps(value, default=float), 200, placeholder=' ...')}")
        if self.class_thresholds() is not None:
            lines += [self._threshold_heading(), *self._threshold_lines()]
        return "\n".join(lines)
