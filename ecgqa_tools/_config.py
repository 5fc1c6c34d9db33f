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
    """Folder of one dataset: the explicit option, else its own variable, else under ECGQA_DATA_DIR.

    ``explicit`` is the value of a command's ``--<dataset>`` option (every command names it so: --ptbxl,
    --ludb, --mimic, --ecgqa, --mitdb); the error then names that option and the folder given."""
    if dataset not in DATASET_SUBDIRS:
        raise DatasetError(f"unknown dataset {dataset!r}; expected one of {', '.join(DATASET_SUBDIRS)}")
    candidate: Path | None = None
    env = _ENV_BY_DATASET.get(dataset)
    if explicit is not None:
        candidate = Path(explicit).expanduser()
    elif env and os.environ.get(env):
        candidate = Path(os.environ[env]).expanduser()
    elif data_dir() is not None:
        candidate = data_dir() / DATASET_SUBDIRS[dataset]  # type: ignore[operator]
    if candidate is None or not candidate.is_dir():
        if not required:
            return None
        raise DatasetError(_missing_folder_message(dataset, explicit, candidate))
    return candidate


def _missing_folder_message(dataset: str, explicit: str | Path | None, candidate: Path | None) -> str:
    """Why ``dataset``'s folder is unusable, naming where the path came from (an option, a variable,
    ``ECGQA_DATA_DIR`` or nothing) and how to fix it; it reads right in a shell and over MCP alike."""
    env = _ENV_BY_DATASET.get(dataset)
    subdir = DATASET_SUBDIRS[dataset]
    problem = "is not a folder" if candidate is not None and candidate.exists() else "does not exist"
    own = f"{env}=<{dataset} folder> or " if env else ""
    fix = (f"set {own}ECGQA_DATA_DIR=<folder holding {subdir}/> (commands with a --{dataset} option also "
           "take the folder there)")
    if explicit is not None:
        return f"the folder given with --{dataset} ({candidate}) {problem}; pass an existing {dataset} dataset folder"
    if env and os.environ.get(env):
        return f"the {dataset} dataset folder {candidate} (from {env}) {problem}; {fix}"
    if candidate is not None:
        return f"the {dataset} dataset folder {candidate} (under ECGQA_DATA_DIR) {problem}; {fix}"
    return f"no {dataset} dataset folder configured (ECGQA_DATA_DIR is unset); {fix}"
