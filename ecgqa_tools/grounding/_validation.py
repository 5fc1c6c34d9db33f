"""Agreement of an attribution map with a clinical mask: pointing game and CAS.

Both take a (leads, samples) map ``A``, a boolean clinical mask ``M`` of the same shape and an
optional boolean ``valid`` region ``V`` (where the fiducials are complete; default everywhere):

- **pointing game**: hit when the single largest value of ``A`` inside ``V`` (the peak, over all
  leads and samples, no smoothing; when the maximum is a plateau of equal values, as in a map
  carried up from a slower model, its middle sample) lies inside ``M``. A map with no positive value in ``V`` is a
  miss. Over a set of ECGs, the pointing-game score is the share of hits.
- **CAS** (clinical attribution score): the share of positive attribution inside the mask,
  ``sum(max(A,0) * M * V) / sum(max(A,0) * V)``; undefined (NaN) when ``A`` has no positive
  value in ``V``. Over a set of ECGs, the mean of the defined values.

The chance level of both is ``mask_coverage``: the share of ``V`` that ``M`` covers (what a
uniform or randomly placed map scores on average).
"""

from __future__ import annotations

import numpy as np

from ..errors import UsageError


def _check(values: np.ndarray, mask: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
    if values.shape != mask.shape:
        raise UsageError(f"map shape {values.shape} differs from mask shape {mask.shape}")
    if valid is None:
        return np.ones(mask.shape, dtype=bool)
    if valid.shape != mask.shape:
        raise UsageError(f"valid-region shape {valid.shape} differs from mask shape {mask.shape}")
    return valid.astype(bool)


def peak_location(values: np.ndarray, valid: np.ndarray | None = None) -> tuple[int, int] | None:
    """(lead row, sample) of the largest value inside ``valid``; ``None`` if none is positive."""
    region = np.ones(values.shape, dtype=bool) if valid is None else valid.astype(bool)
    masked = np.where(region, values, -np.inf)
    flat = int(np.argmax(masked))
    lead, sample = np.unravel_index(flat, values.shape)
    top = masked[lead, sample]
    if not np.isfinite(top) or top <= 0:
        return None
    end = int(sample)  # a map carried up from a slower model is constant over each model sample:
    while end + 1 < values.shape[1] and masked[lead, end + 1] == top:  # take the middle of the plateau
        end += 1
    return int(lead), (int(sample) + end) // 2


def pointing_game(values: np.ndarray, mask: np.ndarray, valid: np.ndarray | None = None) -> bool:
    """True when the map's peak inside ``valid`` falls inside the clinical ``mask``."""
    region = _check(values, mask, valid)
    peak = peak_location(values, region)
    return bool(peak is not None and mask[peak])


def cas(values: np.ndarray, mask: np.ndarray, valid: np.ndarray | None = None) -> float:
    """Share of positive attribution (inside ``valid``) that falls inside ``mask``; NaN if none."""
    region = _check(values, mask, valid)
    positive = np.clip(values.astype(np.float64), 0.0, None) * region
    total = float(positive.sum())
    if total <= 0:
        return float("nan")
    return float(positive[mask.astype(bool)].sum() / total)


def mask_coverage(mask: np.ndarray, valid: np.ndarray | None = None) -> float:
    """Share of the valid region that the mask covers (the chance level of both scores)."""
    region = _check(mask.astype(float), mask, valid)
    total = int(region.sum())
    return float((mask.astype(bool) & region).sum() / total) if total else float("nan")
