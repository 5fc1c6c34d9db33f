"""The upper-bound label space of ECG-QA: 83 (PTB-XL) / 164 (MIMIC-IV-ECG) attribute classes.

The classes are the official ``llm_modeling/metadata/*/grounding_class.csv`` (shipped in
``ecgqa_tools/qa/data``). ``attributes_to_multihot`` turns an ``EcgAttributes`` into the 0/1 vector
a classifier is trained on; ``multihot_to_attributes`` turns (thresholded) predictions back.

Class semantics (the same rules the answer engine uses):
- a statement name (``"left ventricular hypertrophy"``, MIMIC's ``"first degree AV block"``...) is 1
  when the statement is present, certain or uncertain (case-insensitive name match);
- ``"normal ecg"``: the NORM statement is present;
- ``"any diagnostic symptoms"`` / ``"any form-related symptoms"`` / ``"any rhythm-related symptoms"``:
  at least one such statement (uncertain ones included; PTB-XL statements ECG-QA never names count
  too); ``"any kind of abnormal symptoms"``: any statement other than normal ECG and sinus rhythm;
- ``"conduction disturbance"``, ``"hypertrophy"``, ``"myocardial infarction"``, ``"st/t change"``:
  a diagnostic statement of that PTB-XL superclass; ``"ischemic"`` / ``"subendocardial injury"``:
  any located ischemia / injury statement (``"ischemic in ... leads"``...);
- noise kinds, ``"any kind of noises"``; extra systoles, ``"any kind of extra systoles"``;
  infarction stages; heart axes; ``"<below|within|above> the normal range of <feature>"``.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from typing import TYPE_CHECKING, Callable

from ..errors import UsageError
from ._attributes import (
    EXTRA_SYSTOLES,
    HEART_AXES,
    INFARCTION_STAGES,
    NOISE_KINDS,
    SCP_DIAGNOSTIC,
    SCP_SUPERCLASSES,
    EcgAttributes,
)
from ._templates import LEADS, NUMERIC_FEATURES, _data_text

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "GROUNDING_CLASSES",
    "grounding_classes",
    "attributes_to_multihot",
    "multihot_to_attributes",
    "class_is_present",
]

_FILES = {"ptbxl": "ptbxl_grounding_class.csv", "mimic-iv-ecg": "mimic_grounding_class.csv"}


@lru_cache(maxsize=None)
def grounding_classes(dataset: str = "ptbxl") -> tuple[str, ...]:
    """The upper-bound classes of ``dataset`` (``ptbxl``: 83, ``mimic-iv-ecg``: 164), official order."""
    if dataset not in _FILES:
        raise UsageError(f"unknown dataset {dataset!r}; expected one of {', '.join(_FILES)}")
    rows = csv.DictReader(_data_text(_FILES[dataset]).splitlines())
    return tuple(row["class"] for row in rows)


GROUNDING_CLASSES: dict[str, tuple[str, ...]] = {name: grounding_classes(name) for name in _FILES}
"""Dataset name (``ptbxl``, ``mimic-iv-ecg``) -> its upper-bound classes in official index order."""


def _special_predicates() -> dict[str, Callable[[EcgAttributes], bool]]:
    preds: dict[str, Callable[[EcgAttributes], bool]] = {
        "normal ecg": lambda a: a.has("normal ecg"),
        "any diagnostic symptoms": lambda a: a.has_any("diagnostic"),
        "any form-related symptoms": lambda a: a.has_any("form"),
        "any rhythm-related symptoms": lambda a: a.has_any("rhythm"),
        "any kind of abnormal symptoms": lambda a: a.has_any("abnormal"),
        "any kind of noises": lambda a: bool(a.noise_kinds()),
        "any kind of extra systoles": lambda a: a.has_extra_systole(),
        "ischemic": lambda a: any(s.startswith("ischemic in") for s in a.present(SCP_DIAGNOSTIC)),
        "subendocardial injury": lambda a: any(s.startswith("subendocardial injury") for s in a.present(SCP_DIAGNOSTIC)),
    }
    for sup in SCP_SUPERCLASSES:
        preds[sup] = lambda a, sup=sup: sup in a.superclasses()
    for kind in NOISE_KINDS:
        preds[kind] = lambda a, kind=kind: bool(a.noise.get(kind))
    for kind in EXTRA_SYSTOLES:
        preds[kind] = lambda a, kind=kind: kind in a.extra_systoles
    for stage in INFARCTION_STAGES:
        preds[stage] = lambda a, stage=stage: stage in a.infarction_stages
    for axis in HEART_AXES:
        preds[axis] = lambda a, axis=axis: a.heart_axis == axis
    for feature in NUMERIC_FEATURES:
        for word in ("below", "within", "above"):
            preds[f"{word} the normal range of {feature}"] = (
                lambda a, f=feature, w=word: a.numeric.get(f) == w
            )
    return preds


_PREDICATES = _special_predicates()


def class_is_present(attrs: EcgAttributes, name: str) -> bool:
    """Whether upper-bound class ``name`` holds for ``attrs`` (rules in the module docstring)."""
    pred = _PREDICATES.get(name)
    if pred is not None:
        return pred(attrs)
    low = name.lower()
    return any(s.lower() == low for s in attrs.statements)


def attributes_to_multihot(attrs: EcgAttributes, dataset: str = "ptbxl") -> "np.ndarray":
    """The 0/1 float32 vector ``(n_classes,)`` of ``attrs`` over ``grounding_classes(dataset)``."""
    import numpy as np

    classes = grounding_classes(dataset)
    return np.array([1.0 if class_is_present(attrs, c) else 0.0 for c in classes], dtype=np.float32)


def multihot_to_attributes(
    vector: "np.ndarray", dataset: str = "ptbxl", threshold: float = 0.5, ecg_id: int | None = None
) -> EcgAttributes:
    """``EcgAttributes`` from a vector ``(n_classes,)`` of 0/1 labels or probabilities (>= threshold).

    Statement classes become certain statements (likelihood 100). Aggregate classes ("any ...",
    superclasses, "ischemic") are implied by statements and not stored. A noise class has no lead
    information in this label space: the kind is recorded in every lead. Numeric ranges: when more
    than one range of a feature passes, the highest-scoring one is kept.
    """
    import numpy as np

    classes = grounding_classes(dataset)
    values = np.asarray(vector, dtype=np.float64).reshape(-1)
    if values.shape[0] != len(classes):
        raise UsageError(
            f"multi-hot vector for {dataset} must have {len(classes)} entries; got shape {np.shape(vector)}"
        )
    on = {c: float(v) for c, v in zip(classes, values) if v >= threshold}
    aggregate = {
        "any diagnostic symptoms", "any form-related symptoms", "any rhythm-related symptoms",
        "any kind of abnormal symptoms", "any kind of noises", "any kind of extra systoles",
        "ischemic", "subendocardial injury", *SCP_SUPERCLASSES,
    }
    statements: dict[str, float] = {}
    noise: dict[str, frozenset[str]] = {}
    systoles: set[str] = set()
    stages: set[str] = set()
    axis_scores: dict[str, float] = {}
    numeric_scores: dict[str, tuple[float, str]] = {}
    for name, score in on.items():
        if name in aggregate:
            continue
        if name in NOISE_KINDS:
            noise[name] = frozenset(LEADS)
        elif name in EXTRA_SYSTOLES:
            systoles.add(name)
        elif name in INFARCTION_STAGES:
            stages.add(name)
        elif name in HEART_AXES:
            axis_scores[name] = score
        elif " the normal range of " in name:
            word, feature = name.split(" the normal range of ")
            if feature not in numeric_scores or numeric_scores[feature][0] < score:
                numeric_scores[feature] = (score, word)
        else:
            statements[name] = 100.0
    axis = max(axis_scores, key=axis_scores.__getitem__) if axis_scores else None
    return EcgAttributes(
        statements=statements,
        noise=noise,
        extra_systoles=frozenset(systoles),
        infarction_stages=frozenset(stages),
        heart_axis=axis,
        numeric={f: w for f, (_, w) in numeric_scores.items()},
        ecg_id=ecg_id,
    )
