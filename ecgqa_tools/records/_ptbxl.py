"""PTB-XL (Wagner et al. 2020): metadata, statements, records at 100 and 500 Hz, and the
pre-filtered z-scored subset (``ptb-xl-filtered-subset/signals100.npz``)."""

from __future__ import annotations

import ast
import os
import threading
from pathlib import Path
from typing import Literal

import numpy as np

from ..errors import DatasetError, RecordNotFound, UsageError
from ._ecg import ECG, ECGMetadata
from ._leads import STANDARD_LEADS

PtbXlRate = Literal[100, 500]
PTBXL_RATES: tuple[int, ...] = (100, 500)
_FILENAME_COLUMN = {100: "filename_lr", 500: "filename_hr"}
# PTB-XL anonymisation stores ages above 89 as 300.
_PTBXL_AGE_OVER_89 = 300.0

# Parsed metadata shared by every PtbXl object on the same file: (path, mtime, size) -> frames.
_METADATA_CACHE: dict[tuple[str, float, int], tuple[object, object]] = {}
_CACHE_LOCK = threading.Lock()


def split_of_fold(fold: int) -> str:
    """PTB-XL's recommended split of a ``strat_fold``: 1-8 train, 9 validation, 10 test."""
    if fold in range(1, 9):
        return "train"
    if fold == 9:
        return "validation"
    if fold == 10:
        return "test"
    raise DatasetError(f"strat_fold {fold} is not one of 1-10")


def _check_rate(fs_hz: int) -> int:
    if fs_hz not in PTBXL_RATES:
        raise UsageError(f"PTB-XL records exist at 100 or 500 Hz, got fs_hz={fs_hz!r} (resample after reading)")
    return int(fs_hz)


class PtbXl:
    """A PTB-XL folder (PhysioNet layout), complete or partial.

    ``metadata`` is ``ptbxl_database.csv`` indexed by ``ecg_id`` with every column, ``scp_codes``
    parsed to ``dict[str, float]`` (statement -> likelihood), ``recording_date`` as datetime and
    ``patient_id``/``strat_fold`` as integers. Parsing is cached per file for the process.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser()
        database = self.root / "ptbxl_database.csv"
        if not database.is_file():
            raise DatasetError(f"{self.root}: not a PTB-XL folder (ptbxl_database.csv not found)")
        self._database = database
        self._present: dict[int, frozenset[int]] = {}

    def __repr__(self) -> str:
        return f"PtbXl({str(self.root)!r})"

    # ------------------------------------------------------------------ metadata
    @property
    def metadata(self):  # -> pandas.DataFrame
        """``ptbxl_database.csv`` indexed by ``ecg_id`` (all 28 columns; see class docstring)."""
        return self._frames()[0]

    @property
    def statements(self):  # -> pandas.DataFrame
        """``scp_statements.csv`` indexed by statement code (``NORM``, ``IMI``...)."""
        return self._frames()[1]

    def _frames(self):  # noqa: ANN202
        stat = self._database.stat()
        key = (str(self._database.resolve()), stat.st_mtime, stat.st_size)
        with _CACHE_LOCK:
            if key not in _METADATA_CACHE:
                _METADATA_CACHE[key] = (_parse_database(self._database), _parse_statements(self.root))
            return _METADATA_CACHE[key]

    @property
    def ecg_ids(self) -> tuple[int, ...]:
        """Every ``ecg_id`` the metadata lists, ascending."""
        return tuple(int(i) for i in self.metadata.index)

    def fold(self, ecg_id: int) -> int:
        """``strat_fold`` (1-10) of a listed record."""
        return int(self._row(ecg_id)["strat_fold"])

    def scp_codes(self, ecg_id: int) -> dict[str, float]:
        """SCP-ECG statements of a record with their likelihoods (labels: for training/evaluation)."""
        return dict(self._row(ecg_id)["scp_codes"])

    def _row(self, ecg_id: int):  # noqa: ANN202
        try:
            return self.metadata.loc[int(ecg_id)]
        except (KeyError, ValueError, TypeError):
            raise RecordNotFound(
                f"ecg_id {ecg_id!r} is not listed in {self._database} (ids run 1-{self.metadata.index.max()})"
            ) from None

    # ------------------------------------------------------------------ presence
    def present_ids(self, fs_hz: int = 100) -> frozenset[int]:
        """Listed records whose header and signal files both exist at ``fs_hz``."""
        rate = _check_rate(fs_hz)
        if rate not in self._present:
            self._present[rate] = self._scan(rate)
        return self._present[rate]

    def missing_ids(self, fs_hz: int = 100) -> frozenset[int]:
        """Listed records whose files are absent at ``fs_hz``."""
        return frozenset(self.ecg_ids) - self.present_ids(fs_hz)

    def is_present(self, ecg_id: int, fs_hz: int = 100) -> bool:
        return int(ecg_id) in self.present_ids(fs_hz)

    def _scan(self, rate: int) -> frozenset[int]:
        column = self.metadata[_FILENAME_COLUMN[rate]]
        files_by_dir: dict[str, set[str]] = {}
        present: set[int] = set()
        for ecg_id, relative in column.items():
            folder, _, stem = str(relative).rpartition("/")
            if folder not in files_by_dir:
                directory = self.root / folder
                try:
                    files_by_dir[folder] = {entry.name for entry in os.scandir(directory)}
                except (FileNotFoundError, NotADirectoryError):
                    files_by_dir[folder] = set()
            names = files_by_dir[folder]
            if f"{stem}.hea" in names and f"{stem}.dat" in names:
                present.add(int(ecg_id))
        return frozenset(present)

    def path(self, ecg_id: int, fs_hz: int = 100) -> Path:
        """Base path (no extension) of a record's WFDB files, whether or not they exist."""
        rate = _check_rate(fs_hz)
        return self.root / str(self._row(ecg_id)[_FILENAME_COLUMN[rate]])

    # ------------------------------------------------------------------ reading
    def read(self, ecg_id: int, fs_hz: int = 100) -> ECG:
        """One record at 100 or 500 Hz with patient facts in ``metadata`` (no diagnostic labels).

        Raises ``RecordNotFound`` naming the id when it is not listed or its files are absent.
        """
        rate = _check_rate(fs_hz)
        row = self._row(ecg_id)
        base = self.root / str(row[_FILENAME_COLUMN[rate]])
        if int(ecg_id) not in self.present_ids(rate):
            other = [r for r in PTBXL_RATES if r != rate and int(ecg_id) in self.present_ids(r)]
            also = f"; it is present at {other[0]} Hz" if other else ""
            raise RecordNotFound(
                f"PTB-XL ecg_id {int(ecg_id)} is listed but its {rate} Hz files ({base}.hea/.dat) are absent "
                f"from this partial copy ({len(self.present_ids(rate)):,} of {len(self.metadata):,} "
                f"records present at {rate} Hz){also}"
            )
        from ._wfdb import read_wfdb

        return read_wfdb(base, source="ptbxl", record_id=str(int(ecg_id)), metadata=ecg_metadata_from_row(row))

    def inventory(self):  # -> DatasetInventory
        """What is listed, present and missing, per rate and per ``strat_fold``."""
        from ._inventory import ptbxl_inventory

        return ptbxl_inventory(self)


def ecg_metadata_from_row(row) -> ECGMetadata:  # noqa: ANN001 - pandas Series
    """Patient and device facts of one ``ptbxl_database.csv`` row (no labels)."""
    import pandas as pd

    extra: list[tuple[str, str]] = [("strat_fold", str(int(row["strat_fold"])))]
    age = row["age"]
    age_years: float | None = None if pd.isna(age) else float(age)
    if age_years == _PTBXL_AGE_OVER_89:
        age_years = 90.0
        extra.append(("age_note", "older than 89 (PTB-XL stores 300); reported as 90"))
    sex = row["sex"]
    sex_name = None if pd.isna(sex) else ("male" if int(sex) == 0 else "female")
    date = row["recording_date"]
    device = row["device"]
    for column in ("site", "height", "weight"):
        if column in row and not pd.isna(row[column]):
            extra.append((column, str(row[column])))
    return ECGMetadata(
        age_years=age_years,
        sex=sex_name,  # type: ignore[arg-type]
        device=None if pd.isna(device) else str(device),
        recording_date=None if pd.isna(date) else str(date),
        patient_id=None if pd.isna(row["patient_id"]) else str(int(row["patient_id"])),
        extra=tuple(extra),
    )


def _parse_database(path: Path):  # noqa: ANN202
    import pandas as pd

    try:
        frame = pd.read_csv(path, index_col="ecg_id")
    except Exception as exc:
        raise DatasetError(f"{path}: not a readable ptbxl_database.csv ({type(exc).__name__}: {exc})") from exc
    required = {"patient_id", "scp_codes", "strat_fold", "filename_lr", "filename_hr", "age", "sex"}
    missing = required - set(frame.columns)
    if missing:
        raise DatasetError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    frame["scp_codes"] = [_parse_scp_codes(text, ecg_id, path) for ecg_id, text in frame["scp_codes"].items()]
    frame.index = frame.index.astype(int)
    frame["strat_fold"] = frame["strat_fold"].astype(int)
    frame["patient_id"] = frame["patient_id"].astype("Int64")
    frame["recording_date"] = pd.to_datetime(frame["recording_date"], format="%Y-%m-%d %H:%M:%S", errors="coerce")
    return frame


def _parse_scp_codes(text: object, ecg_id: object, path: Path) -> dict[str, float]:
    """``"{'NORM': 100.0, 'SR': 0.0}"`` -> dict; JSON after quote swap is 5x faster than literal_eval."""
    import json

    if not isinstance(text, str):
        return {}
    try:
        value = json.loads(text.replace("'", '"'))
    except ValueError:
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError) as exc:
            raise DatasetError(f"{path}: ecg_id {ecg_id}: scp_codes {text!r} is not a dict ({exc})") from exc
    if not isinstance(value, dict):
        raise DatasetError(f"{path}: ecg_id {ecg_id}: scp_codes {text!r} is not a dict")
    return {str(k): float(v) for k, v in value.items()}


def _parse_statements(root: Path):  # noqa: ANN202
    import pandas as pd

    path = root / "scp_statements.csv"
    if not path.is_file():
        raise DatasetError(f"{root}: scp_statements.csv not found")
    frame = pd.read_csv(path, index_col=0)
    frame.index.name = "code"
    return frame


class PtbXlFiltered:
    """``ptb-xl-filtered-subset/signals100.npz``: PTB-XL records band-passed 0.5-40 Hz, z-scored
    per lead at 500 Hz, then decimated to 100 Hz.

    The amplitude is NOT in mV: ECGs read here have ``amplitude_unit='z-score'`` and source
    ``ptbxl-filtered``; amplitude measurements on them are meaningless. Pass ``ptbxl`` to fill
    patient facts from ``ptbxl_database.csv``.
    """

    FS_HZ = 100.0
    PREPROCESSING = "band-pass 0.5-40 Hz, z-scored per lead at 500 Hz, decimated to 100 Hz (not mV)"

    def __init__(self, npz_path: str | Path, ptbxl: PtbXl | None = None) -> None:
        path = Path(npz_path).expanduser()
        if path.is_dir():
            path = path / "signals100.npz"
        if not path.is_file():
            raise DatasetError(f"{path}: PTB-XL filtered subset not found (expected signals100.npz)")
        self.path = path
        self.ptbxl = ptbxl
        self._ids: np.ndarray | None = None
        self._signal: np.ndarray | None = None
        self._row_of: dict[int, int] = {}

    def __repr__(self) -> str:
        return f"PtbXlFiltered({str(self.path)!r})"

    def _load(self) -> None:
        if self._signal is not None:
            return
        try:
            with np.load(self.path, allow_pickle=False) as archive:
                ids = np.asarray(archive["ecg_id"]).astype(np.int64)
                signal = np.asarray(archive["signal"])
        except Exception as exc:
            raise DatasetError(f"{self.path}: not a readable filtered-subset archive ({type(exc).__name__}: {exc})") from exc
        if signal.ndim != 3 or signal.shape[0] != ids.shape[0] or signal.shape[2] != len(STANDARD_LEADS):
            raise DatasetError(f"{self.path}: 'signal' has shape {signal.shape}; expected (records, samples, 12)")
        self._ids, self._signal = ids, signal
        self._row_of = {int(i): n for n, i in enumerate(ids)}

    @property
    def ecg_ids(self) -> tuple[int, ...]:
        """PTB-XL ``ecg_id``s held in the archive, in storage order."""
        self._load()
        return tuple(int(i) for i in self._ids)  # type: ignore[union-attr]

    def present_ids(self) -> frozenset[int]:
        return frozenset(self.ecg_ids)

    def signals(self) -> np.ndarray:
        """Every record as float32 z-scores, shape (records, 12 leads, samples), in ``ecg_ids`` order."""
        self._load()
        return np.ascontiguousarray(np.transpose(self._signal, (0, 2, 1)), dtype=np.float32)  # type: ignore[arg-type]

    def read(self, ecg_id: int) -> ECG:
        """One record (100 Hz, z-scored leads). ``RecordNotFound`` when the archive lacks it."""
        self._load()
        row = self._row_of.get(int(ecg_id))
        if row is None:
            raise RecordNotFound(
                f"PTB-XL ecg_id {ecg_id} is not in the filtered subset {self.path} ({len(self._row_of):,} records)"
            )
        extra = (("amplitude", "z-score per lead, not mV"), ("preprocessing", self.PREPROCESSING))
        metadata = ECGMetadata(extra=extra)
        if self.ptbxl is not None and int(ecg_id) in self.ptbxl.metadata.index:
            base = ecg_metadata_from_row(self.ptbxl.metadata.loc[int(ecg_id)])
            from dataclasses import replace

            metadata = replace(base, extra=base.extra + extra)
        signal = np.asarray(self._signal[row], dtype=np.float32).T  # type: ignore[index]
        return ECG(
            signal_mv=signal,
            fs_hz=self.FS_HZ,
            lead_names=STANDARD_LEADS,
            record_id=str(int(ecg_id)),
            source="ptbxl-filtered",
            metadata=metadata,
            path=f"{self.path}#{int(ecg_id)}",
            amplitude_unit="z-score",
        )

