"""Auxiliary training targets of the ``aux30`` variant: sex and recording device from PTB-XL metadata.

Training targets only (like the disease labels): the auxiliary heads that learn them exist during
training and are dropped from the saved network, which still maps (batch, 12, samples) to one disease
logit. Every record with a signal here (raw ``records100`` or the filtered subset) is a row of
``ptbxl_database.csv``, so both get their sex and device from the metadata by ``ecg_id``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

AUX_HEADS: tuple[str, ...] = ("sex", "device")
"""Auxiliary heads that can be trained, in the column order of :func:`aux_targets_from_metadata`."""

DEVICE_CLASSES: tuple[str, ...] = ("CS100 3", "CS-12", "AT-6 C 5.5", "CS-12 E", "AT-6 6")
"""The five most frequent ``device`` values of PTB-XL's ``ptbxl_database.csv`` (all 21,799 rows:
6,140 / 4,048 / 3,950 / 2,878 / 2,273), runs of whitespace collapsed; fixed before any ``aux30`` run.
Any other device (AT-60 3, AT-6 C 5.8, AT-6 C, AT-6 C 5.0 / 5.3 / 5.6) is class 5, ``other``."""

AUX_HEAD_SIZES: dict[str, int] = {"sex": 1, "device": len(DEVICE_CLASSES) + 1}
"""Outputs per head: one logit for sex (BCE), one per device class plus ``other`` (cross-entropy)."""


def device_class(device: Any) -> float:
    """Index of ``device`` in :data:`DEVICE_CLASSES` (whitespace-insensitive), 5 for any other device,
    NaN when missing."""
    if device is None or (isinstance(device, float) and np.isnan(device)):
        return float("nan")
    name = " ".join(str(device).split())
    if not name:
        return float("nan")
    return float(DEVICE_CLASSES.index(name)) if name in DEVICE_CLASSES else float(len(DEVICE_CLASSES))


def aux_targets_from_metadata(metadata: Any) -> np.ndarray:
    """(records, 2) float32 targets in :data:`AUX_HEADS` order from PTB-XL metadata rows: sex (PTB-XL's
    0 = male, 1 = female) and the device class (:func:`device_class`); NaN where unknown (masked out of
    the loss)."""
    from ..errors import DatasetError

    for column in AUX_HEADS:
        if column not in metadata.columns:
            raise DatasetError(f"PTB-XL metadata has no {column!r} column (needed for the auxiliary heads)")
    sex = np.array([float(v) if v in (0, 1, 0.0, 1.0) else np.nan for v in metadata["sex"]], dtype=np.float32)
    device = np.array([device_class(v) for v in metadata["device"]], dtype=np.float32)
    return np.stack([sex, device], axis=1)


def aux_targets(data_dir: Path, ecg_ids: np.ndarray) -> np.ndarray:
    """:func:`aux_targets_from_metadata` for ``ecg_ids`` (aligned), from ``<data_dir>/ptb-xl``."""
    from ._ptbxl_arrays import load_ptbxl_table

    from ..errors import DatasetError

    table = load_ptbxl_table(data_dir / "ptb-xl")
    missing = np.setdiff1d(np.asarray(ecg_ids), table.metadata.index.to_numpy())
    if missing.size:
        shown = ", ".join(str(int(i)) for i in missing[:10]) + (" ..." if missing.size > 10 else "")
        raise DatasetError(f"{missing.size} record(s) have no row in {data_dir / 'ptb-xl'}'s ptbxl_database.csv "
                           f"(ecg_id {shown}): the auxiliary heads need their sex and device")
    return aux_targets_from_metadata(table.metadata.loc[ecg_ids])
