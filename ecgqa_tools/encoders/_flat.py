"""Saturated ("flat") disease heads seen from the output alone, without a gradient pass.

A shipped disease model is a mean-logit ensemble of ``LeadwiseNet`` members whose classifier head
ends in ReLU -> Dropout -> Linear(hidden -> 1). When every hidden ReLU unit of every member is
inactive at an ECG, each member's logit is exactly its final-layer bias and the ensemble's logit is
the mean of those biases: a constant, whatever the ECG near there (docs/grounding.md "Saturated
heads", docs/encoders.md "Flat heads"). ``head_constant`` computes that constant once per loaded
model from the very weights the backend runs (the ONNX initializers, read here without the ``onnx``
package, or the torch module's parameters), and ``is_flat_logit`` compares a predicted logit with it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ModelError

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


# ------------------------------------------------------------------ ONNX initializers, no onnx package

_WIRE_VARINT, _WIRE_64, _WIRE_LEN, _WIRE_32 = 0, 1, 2, 5
_GRAPH_FIELD, _INITIALIZER_FIELD = 7, 5  # ModelProto.graph, GraphProto.initializer
_T_DIMS, _T_TYPE, _T_FLOATS, _T_NAME, _T_RAW, _T_LOCATION = 1, 2, 4, 8, 9, 14  # TensorProto fields
_FLOAT = 1  # TensorProto.DataType.FLOAT


def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf):
            raise ModelError("truncated ONNX protobuf (varint)")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _fields(buf: memoryview):
    """The top-level fields of one protobuf message: length-delimited ones as memoryviews."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == _WIRE_VARINT:
            value, pos = _varint(buf, pos)
            yield number, wire, value
        elif wire == _WIRE_LEN:
            size, pos = _varint(buf, pos)
            if pos + size > len(buf):
                raise ModelError("truncated ONNX protobuf (length-delimited field)")
            yield number, wire, buf[pos:pos + size]
            pos += size
        elif wire == _WIRE_64:
            yield number, wire, buf[pos:pos + 8]
            pos += 8
        elif wire == _WIRE_32:
            yield number, wire, buf[pos:pos + 4]
            pos += 4
        else:
            raise ModelError(f"unsupported protobuf wire type {wire} in the ONNX file")


def _tensor(buf: memoryview, wanted: re.Pattern[str]) -> tuple[str, np.ndarray] | None:
    """(name, float32 values) of a TensorProto whose name matches ``wanted``, else None."""
    name, dtype, raw, floats, external = "", None, None, [], False
    for number, wire, value in _fields(buf):
        if number == _T_NAME and wire == _WIRE_LEN:
            name = bytes(value).decode("utf-8", "replace")
        elif number == _T_TYPE and wire == _WIRE_VARINT:
            dtype = value
        elif number == _T_RAW and wire == _WIRE_LEN:
            raw = value
        elif number == _T_FLOATS:
            floats.append(value)  # packed (LEN) or one float (32-bit)
        elif number == _T_LOCATION and wire == _WIRE_VARINT:
            external = value == 1
    if not wanted.match(name):
        return None
    if dtype != _FLOAT or external:
        raise ModelError(f"ONNX initializer {name}: expected float32 data stored in the file")
    data = bytes(raw) if raw is not None else b"".join(bytes(f) for f in floats)
    return name, np.frombuffer(data, dtype="<f4").copy()


def onnx_head_biases(path: str | Path) -> dict[str, np.ndarray]:
    """The head biases (``_HEAD_BIAS`` names) stored as initializers in the ONNX file ``path``,
    read from its protobuf directly (a few ms; importing ``onnx`` would cost ~0.2 s per process)."""
    try:
        data = memoryview(Path(path).read_bytes())
    except OSError as exc:
        raise ModelError(f"{path}: cannot read ONNX model ({exc})") from exc
    out: dict[str, np.ndarray] = {}
    for number, wire, graph in _fields(data):
        if number != _GRAPH_FIELD or wire != _WIRE_LEN:
            continue
        for g_number, g_wire, tensor in _fields(graph):
            if g_number == _INITIALIZER_FIELD and g_wire == _WIRE_LEN:
                found = _tensor(tensor, _HEAD_BIAS)
                if found is not None:
                    out[found[0]] = found[1]
    return out


def torch_head_biases(module) -> dict[str, np.ndarray]:
    """The head biases (``_HEAD_BIAS`` names) of a torch module's state dict."""
    return {name: value.detach().cpu().numpy().astype(np.float32)
            for name, value in module.state_dict().items() if _HEAD_BIAS.match(name)}
