"""Training targets derived from PTB-XL labels: pure per-superclass labels, age and sex.

Labels are ground truth for training and evaluation only; predictions never read them.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

DISEASES: tuple[str, ...] = ("MI", "STTC", "CD", "HYP")
"""The four diagnostic superclasses with one binary model each."""

DISEASE_NAMES: dict[str, str] = {
    "MI": "myocardial infarction",
    "STTC": "ST/T change",
    "CD": "conduction disturbance",
    "HYP": "hypertrophy",
}


def pure_label(scp_codes: Mapping[str, float], disease: str, superclass_of: Mapping[str, str]) -> int | None:
    """1 when a statement of ``disease``'s class has likelihood 100, 0 when none of its statements
    is present, ``None`` (excluded) when only statements with likelihood 0-99 are."""
    likelihoods = [float(v) for code, v in scp_codes.items() if superclass_of.get(code) == disease]
    if not likelihoods:
        return 0
    if any(v >= 100.0 for v in likelihoods):
        return 1
    return None


def pure_labels(scp_codes: list[Mapping[str, float]], disease: str,
                superclass_of: Mapping[str, str]) -> np.ndarray:
    """Per record: 1.0, 0.0 or NaN (excluded), shape (records,)."""
    out = np.full(len(scp_codes), np.nan, dtype=np.float32)
    for i, codes in enumerate(scp_codes):
        label = pure_label(codes, disease, superclass_of)
        if label is not None:
            out[i] = label
    return out


AGE_CAP_YEARS = 90.0
"""PTB-XL stores ages over 89 as 300; targets are capped here."""


def age_target(age: float | None) -> float:
    """Age in years capped at 90, NaN when unknown."""
    if age is None or not np.isfinite(age):
        return float("nan")
    return float(min(age, AGE_CAP_YEARS))
