"""The training arrays: every PTB-XL record with a signal here, preprocessed once and cached.

Sources (through ``records.PtbXl`` / ``records.PtbXlFiltered``): raw WFDB records (``records100``;
with ``use_500hz`` the ``records500`` version where it exists) and the filtered subset
``signals100.npz`` (already band-passed and z-scored). A record present in both is taken from the
raw files so it goes through the inference preprocessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DatasetError
from .._io import atomic_output
from ._preprocess import preprocess_ecg


@dataclass(frozen=True)
class PtbXlTable:
    """The PTB-XL label tables needed for training (all 21,799 rows, signals or not)."""

    metadata: "object"
    """pandas DataFrame indexed by ecg_id with ``scp_codes`` parsed to dicts."""
    superclass_of: dict[str, str]
    """Diagnostic SCP code -> its diagnostic superclass (NORM, MI, STTC, CD, HYP)."""


def load_ptbxl_table(ptbxl_dir: str | Path) -> PtbXlTable:
    """The metadata and statement superclasses of a PTB-XL folder (via ``records.PtbXl``)."""
    from ..records import PtbXl

    ptbxl = PtbXl(ptbxl_dir)
    superclass = {str(code): str(cls) for code, cls in ptbxl.statements["diagnostic_class"].dropna().items()}
    return PtbXlTable(metadata=ptbxl.metadata, superclass_of=superclass)


@dataclass(frozen=True)
class TrainingArrays:
    """Preprocessed signals of every record with a signal, in ecg_id order."""

    ecg_ids: np.ndarray
    """int64 PTB-XL ecg_ids, shape (records,)."""
    signals: np.ndarray
    """float16 model inputs, shape (records, 12, 1000)."""
    sources: np.ndarray
    """Per record where its signal came from: ``records100``, ``records500`` or ``filtered``."""


def build_training_arrays(ptbxl_dir: str | Path, filtered_dir: str | Path | None,
                          use_500hz: bool = False, cache_path: str | Path | None = None,
                          progress: bool = True) -> TrainingArrays:
    """Preprocess every record with a signal (raw first, then the filtered subset); cached as npz."""
    from tqdm import tqdm

    from ..records import PtbXl, PtbXlFiltered

    if cache_path is not None and Path(cache_path).is_file():
        cached = np.load(cache_path, allow_pickle=False)
        return TrainingArrays(cached["ecg_ids"], cached["signals"], cached["sources"])
    ptbxl = PtbXl(ptbxl_dir)
    raw100 = sorted(ptbxl.present_ids(100))
    raw500 = set(ptbxl.present_ids(500)) if use_500hz else set()
    signals: dict[int, np.ndarray] = {}
    sources: dict[int, str] = {}
    for ecg_id in tqdm(raw100, desc="preprocess raw PTB-XL", disable=not progress):
        fs = 500 if ecg_id in raw500 else 100
        signals[ecg_id] = preprocess_ecg(ptbxl.read(ecg_id, fs)).astype(np.float16)
        sources[ecg_id] = f"records{fs}"
    if filtered_dir is not None:
        subset = PtbXlFiltered(filtered_dir)
        listed = set(int(i) for i in ptbxl.metadata.index)
        for ecg_id, signal in zip(subset.ecg_ids, subset.signals()):
            if ecg_id not in signals and ecg_id in listed:
                signals[ecg_id] = signal.astype(np.float16)
                sources[ecg_id] = "filtered"
    if not signals:
        raise DatasetError(f"{ptbxl_dir}: no PTB-XL record with a signal found (records100/ or the filtered subset)")
    ids = np.array(sorted(signals), dtype=np.int64)
    arrays = TrainingArrays(ids, np.stack([signals[i] for i in ids]), np.array([sources[i] for i in ids]))
    if cache_path is not None:
        with atomic_output(cache_path) as tmp, tmp.open("wb") as handle:
            np.savez(handle, ecg_ids=arrays.ecg_ids, signals=arrays.signals, sources=arrays.sources)
    return arrays
