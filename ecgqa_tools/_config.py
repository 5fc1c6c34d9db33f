"""Where data lives: dataset roots from options or environment, and the allow-list for paths.

Environment variables (all optional):

- ``ECGQA_DATA_DIR``: a folder holding datasets in their PhysioNet layout (``ptb-xl/``,
  ``ludb/``, ``ecg-qa/``, ``mitdb/``, ``mimic-iv-ecg/``...), such as the repository's ``../shared/data``.
- ``ECGQA_PTBXL_DIR``, ``ECGQA_LUDB_DIR``, ``ECGQA_MIMIC_DIR``, ``ECGQA_ECGQA_DIR``: one dataset each,
  overriding the folder under ``ECGQA_DATA_DIR``.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import DatasetError

DATASET_SUBDIRS: dict[str, str] = {
    "ptbxl": "ptb-xl",
    "ptbxl-filtered": "ptb-xl-filtered-subset",
    "ludb": "ludb",
    "mimic": "mimic-iv-ecg",
    "ecgqa": "ecg-qa",
    "mitdb": "mitdb",
    "ptbdb": "ptbdb",
}

_ENV_BY_DATASET: dict[str, str] = {
    "ptbxl": "ECGQA_PTBXL_DIR",
    "ludb": "ECGQA_LUDB_DIR",
    "mimic": "ECGQA_MIMIC_DIR",
    "ecgqa": "ECGQA_ECGQA_DIR",
}


def data_dir() -> Path | None:
    """The folder named by ``ECGQA_DATA_DIR``, or ``None`` when unset."""
    value = os.environ.get("ECGQA_DATA_DIR")
    return Path(value).expanduser() if value else None


def dataset_dir(dataset: str, explicit: str | Path | None = None, required: bool = True) -> Path | None:
    """Folder of one dataset: the explicit option, else its own variable, else under ECGQA_DATA_DIR."""
    if dataset not in DATASET_SUBDIRS:
        raise DatasetError(f"unknown dataset {dataset!r}; expected one of {', '.join(DATASET_SUBDIRS)}")
    candidate: Path | None = None
    if explicit is not None:
        candidate = Path(explicit).expanduser()
    elif os.environ.get(_ENV_BY_DATASET.get(dataset, "")):
        candidate = Path(os.environ[_ENV_BY_DATASET[dataset]]).expanduser()
    elif data_dir() is not None:
        candidate = data_dir() / DATASET_SUBDIRS[dataset]  # type: ignore[operator]
    if candidate is None or not candidate.is_dir():
        if not required:
            return None
        where = f"{candidate}" if candidate else "nowhere (no option given and ECGQA_DATA_DIR unset)"
        env = _ENV_BY_DATASET.get(dataset)
        own = f"{env}=<folder> or " if env else ""
        raise DatasetError(
            f"{dataset} dataset folder not found: {where}; set {own}ECGQA_DATA_DIR=<folder holding "
            f"{DATASET_SUBDIRS[dataset]}/>, or pass the folder with the command's dataset option where it "
            "has one (see --help)"
        )
    return candidate
