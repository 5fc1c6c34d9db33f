"""Saturated ("flat") disease heads seen from the output alone, without a gradient pass.

A shipped disease model is a mean-logit ensemble of ``LeadwiseNet`` members whose classifier head
ends in ReLU -> Dropout -> Linear(hidden -> 1). When every hidden ReLU unit of every member is
inactive at an ECG, each member's logit is exactly its final-layer bias and the ensemble's logit is
the mean of those biases: a constant, whatever the ECG near there (docs/grounding.md "Saturated
heads", docs/encoders.md "Flat heads"). ``head_constant`` computes that constant from the network's
parameters when a model is saved (``encoders._package.save_model`` stores it in the model card,
``ModelCard.head_constant``), so inference on either backend reads it from the card without touching
the weights; ``is_flat_logit`` compares a predicted logit with it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

_HEAD_BIAS = re.compile(r"^(?:members\.(\d+)\.)?head\.(\d+)\.bias$")
"""Names of a ``LeadwiseNet`` head's Linear biases in a state dict and in the exported ONNX graph
(``members.<i>.`` inside a ``MeanLogitEnsemble``); the last layer of each member is the one with
the largest index."""

FLAT_TOLERANCE_EPS = 2.0
"""``HeadConstant.tolerance`` = this x float32 machine epsilon x the sum of the members' absolute
final biases. On an all-inactive head each member's logit is its bias exactly (0 x weight sums to
0, + bias), so the only rounding left is the float32 mean over members, whose error is at most
about 1 x eps x that sum (n-1 additions at half an ulp each, then the division); the factor 2 is
a margin for the backends' different summation orders. It is 1.0e-8 to 1.2e-7 for the shipped heads, so
a live head's logit matching it by chance is negligible (checked: no false positive on 1,987
PTB-XL + 200 LUDB records x 4 heads x 2 backends, docs/encoders.md "Flat heads")."""


@dataclass(frozen=True)
class HeadConstant:
    """The constant output of a disease head whose hidden units are all inactive."""

    logit: float
    """Mean of the members' final-layer biases (computed in float64 from the float32 weights)."""
    tolerance: float
    """Largest |logit - constant| still called flat (``FLAT_TOLERANCE_EPS``)."""
    members: int
    """Number of ensemble members (1 for a single network)."""

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> HeadConstant:
        """From its JSON form in a model card (``dataclasses.asdict``); ``ValueError``/``KeyError``/
        ``TypeError`` when malformed (``ModelCard.load`` turns them into ``ModelError``)."""
        if not isinstance(raw, Mapping):
            raise TypeError(f"head_constant must be an object, got {type(raw).__name__}")
        return cls(float(raw["logit"]), float(raw["tolerance"]), int(raw["members"]))


def head_constant(biases: Mapping[str, np.ndarray], select_output: int | None = None) -> HeadConstant | None:
    """The flat-head constant from named parameters (``_HEAD_BIAS`` names; other names are
    ignored), or None when there is no ``head.<i>.bias`` (not a ``LeadwiseNet``) or the last layer
    has several outputs and ``select_output`` does not pick one."""
    last: dict[int, tuple[int, np.ndarray]] = {}
    for name, value in biases.items():
        match = _HEAD_BIAS.match(name)
        if match is None:
            continue
        member, layer = int(match.group(1) or 0), int(match.group(2))
        if member not in last or layer > last[member][0]:
            last[member] = (layer, np.asarray(value, dtype=np.float32).reshape(-1))
    if not last:
        return None
    picked = []
    for _, bias in last.values():
        if select_output is None and bias.size != 1:
            return None
        index = 0 if select_output is None else int(select_output)
        if not 0 <= index < bias.size:
            return None
        picked.append(float(bias[index]))
    values = np.asarray(picked, dtype=np.float64)
    eps = float(np.finfo(np.float32).eps)
    return HeadConstant(float(values.mean()), FLAT_TOLERANCE_EPS * eps * float(np.abs(values).sum()), len(picked))


def is_flat_logit(logit: float, constant: HeadConstant | None) -> bool:
    """True when ``logit`` is the head's constant output (within ``constant.tolerance``)."""
    return constant is not None and bool(abs(float(logit) - constant.logit) <= constant.tolerance)


def flat_head_note(disease: str, probability: float) -> str:
    """The note shown with a flat head's probability (``DiseasePrediction.flat_heads``), worded like
    grounding's locally-flat evidence text: the probability is the head's constant output."""
    return (f"{disease}: the head's output is flat at this ECG (its logit is the head's constant output, "
            "which it gives when every hidden unit of its classifier head is inactive in every ensemble "
            f"member), so the probability {probability:.2f} is that constant, not a graded response to this "
            "signal")


def torch_head_biases(module: Any) -> dict[str, np.ndarray]:
    """The head biases (``_HEAD_BIAS`` names) of a torch module's state dict."""
    return {name: value.detach().cpu().numpy().astype(np.float32)
            for name, value in module.state_dict().items() if _HEAD_BIAS.match(name)}


def module_head_constant(module: Any, select_output: int | None = None) -> HeadConstant | None:
    """``head_constant`` of a torch module's parameters (what ``save_model`` writes into the card)."""
    return head_constant(torch_head_biases(module), select_output)
