"""The training arrays: every PTB-XL record with a signal here, preprocessed once and cached.

Sources: raw WFDB records (``records100``; with ``use_500hz`` the ``records500`` version where it
exists) and the filtered subset ``signals100.npz`` (already band-passed and z-scored). A record
present in both is taken from the raw files so it goes through the inference preprocessing.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DatasetError
from ._preprocess import MODEL_SAMPLES, bandpass_zscore, fit_length

FILTERED_NPZ = "signals100.npz"


@dataclass(frozen=True)
class PtbXlTable:
    """The PTB-XL label tables needed for training (all 21,799 rows, signals or not)."""

    metadata: "object"
    """pandas DataFrame indexed by ecg_id with ``scp_codes`` parsed to dicts."""
    superclass_of: dict[str, str]
    """Diagnostic SCP code -> its diagnostic superclass (NORM, MI, STTC, CD, HYP)."""


def load_ptbxl_table(ptbxl_dir: str | Path) -> PtbXlTable:
    """Read ``ptbxl_database.csv`` and ``scp_statements.csv`` of a PTB-XL folder."""
    import pandas as pd

    root = Path(ptbxl_dir)
    database, statements = root / "ptbxl_database.csv", root / "scp_statements.csv"
    for path in (database, statements):
        if not path.is_file():
            raise DatasetError(f"{path}: missing; a PTB-XL folder needs ptbxl_database.csv and scp_statements.csv")
    try:
        meta = pd.read_csv(database, index_col="ecg_id")
        meta["scp_codes"] = meta["scp_codes"].map(ast.literal_eval)
        stat = pd.read_csv(statements, index_col=0)
    except Exception as exc:
        raise DatasetError(f"{root}: cannot parse PTB-XL tables ({type(exc).__name__}: {exc})") from exc
    superclass = {str(code): str(cls) for code, cls in stat["diagnostic_class"].dropna().items()}
    return PtbXlTable(metadata=meta, superclass_of=superclass)


@dataclass(frozen=True)
class TrainingArrays:
    """Preprocessed signals of every record with a signal, in ecg_id order."""

    ecg_ids: np.ndarray
    """int64 PTB-XL ecg_ids, shape (records,)."""
    signals: np.ndarray
    """float16 model inputs, shape (records, 12, 1000)."""
    sources: np.ndarray
    """Per record where its signal came from: ``records100``, ``records500`` or ``filtered``."""


def _raw_path(ptbxl_dir: Path, ecg_id: int, fs_hz: int) -> Path:
    folder = "records100" if fs_hz == 100 else "records500"
    suffix = "lr" if fs_hz == 100 else "hr"
    return ptbxl_dir / folder / f"{ecg_id // 1000 * 1000:05d}" / f"{ecg_id:05d}_{suffix}"


def present_raw_ids(ptbxl_dir: Path, fs_hz: int, ids: np.ndarray) -> list[int]:
    """ecg_ids whose raw WFDB files at ``fs_hz`` exist."""
    found = []
    for ecg_id in ids:
        base = _raw_path(ptbxl_dir, int(ecg_id), fs_hz)
        if base.with_suffix(".hea").is_file() and base.with_suffix(".dat").is_file():
            found.append(int(ecg_id))
    return found


def _preprocess_raw(path: Path) -> np.ndarray:
    from ..records import read_wfdb, resample, to_standard_leads

    ecg = to_standard_leads(read_wfdb(path))
    at_500 = resample(ecg, 500.0)
    return fit_length(bandpass_zscore(at_500.signal_mv, 500.0)[:, ::5], MODEL_SAMPLES)


def build_training_arrays(ptbxl_dir: str | Path, filtered_dir: str | Path | None,
                          use_500hz: bool = False, cache_path: str | Path | None = None,
                          progress: bool = True) -> TrainingArrays:
    """Preprocess every record with a signal (raw first, then the filtered subset); cached as npz."""
    from tqdm import tqdm

    if cache_path is not None and Path(cache_path).is_file():
        cached = np.load(cache_path, allow_pickle=False)
        return TrainingArrays(cached["ecg_ids"], cached["signals"], cached["sources"])
    root = Path(ptbxl_dir)
    table = load_ptbxl_table(root)
    all_ids = np.asarray(table.metadata.index, dtype=np.int64)
    raw100 = present_raw_ids(root, 100, all_ids)
    raw500 = set(present_raw_ids(root, 500, all_ids)) if use_500hz else set()
    signals: dict[int, np.ndarray] = {}
    sources: dict[int, str] = {}
    for ecg_id in tqdm(raw100, desc="preprocess raw PTB-XL", disable=not progress, file=None):
        fs = 500 if ecg_id in raw500 else 100
        signals[ecg_id] = _preprocess_raw(_raw_path(root, ecg_id, fs)).astype(np.float16)
        sources[ecg_id] = f"records{fs}"
    if filtered_dir is not None:
        npz_path = Path(filtered_dir) / FILTERED_NPZ
        if not npz_path.is_file():
            raise DatasetError(f"{npz_path}: missing; expected the filtered PTB-XL subset's signals100.npz")
        data = np.load(npz_path)
        for ecg_id, signal in zip(data["ecg_id"], data["signal"]):
            if int(ecg_id) not in signals and int(ecg_id) in table.metadata.index:
                signals[int(ecg_id)] = np.ascontiguousarray(signal.T).astype(np.float16)
                sources[int(ecg_id)] = "filtered"
    if not signals:
        raise DatasetError(f"{root}: no PTB-XL record with a signal found (records100/ or the filtered subset)")
    ids = np.array(sorted(signals), dtype=np.int64)
    arrays = TrainingArrays(ids, np.stack([signals[i] for i in ids]), np.array([sources[i] for i in ids]))
    if cache_path is not None:
        cache = Path(cache_path)
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(cache.name + ".tmp.npz")
        np.savez(tmp, ecg_ids=arrays.ecg_ids, signals=arrays.signals, sources=arrays.sources)
        os.replace(tmp, cache)
    return arrays
