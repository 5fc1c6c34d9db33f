"""Mapping ECG-QA samples to record files (PTB-XL or MIMIC-IV-ECG), and export with the paths.

What the official ``mapping_*_samples.py`` scripts do, but fast (one directory scan, dictionary
lookups) and checked: a sample whose record is absent from a partial copy keeps ``None`` in its
path list and is counted and listed, never silently dropped.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Literal

from .._io import atomic_output
from ..errors import DatasetError, UsageError, require
from ._samples import QASample

__all__ = ["MappedSample", "MappingReport", "map_samples", "export_parquet", "export_hf"]


@dataclass(frozen=True, slots=True)
class MappedSample:
    """One sample with the record path of each of its ECGs."""

    sample: QASample
    """The official sample."""
    paths: tuple[str | None, ...]
    """Record base path (no extension) per ``sample.ecg_id``; None when the record is absent."""

    @property
    def present(self) -> bool:
        """True when every ECG of the sample has its files."""
        return all(p is not None for p in self.paths)


@dataclass(frozen=True)
class MappingReport:
    """Mapped samples and what is missing."""

    source: str
    """``ptbxl`` or ``mimic-iv-ecg``."""
    root: str
    """The record tree the paths point into."""
    rows: list[MappedSample] = field(repr=False)
    """Every sample, in input order (absent ones included)."""
    absent_ids: tuple[int, ...]
    """Record ids referenced by samples whose files are absent, ascending."""

    @property
    def n_samples(self) -> int:
        """Samples mapped."""
        return len(self.rows)

    @property
    def n_present(self) -> int:
        """Samples whose every ECG is present."""
        return sum(r.present for r in self.rows)

    @property
    def n_absent(self) -> int:
        """Samples with at least one absent ECG."""
        return self.n_samples - self.n_present

    def summary(self) -> str:
        """One line: samples with all records present / absent, and how many record ids are missing."""
        return (
            f"{self.source}: {self.n_samples} samples; {self.n_present} with every record present, "
            f"{self.n_absent} with an absent record ({len(self.absent_ids)} distinct absent ids) under {self.root}"
        )


def _ptbxl_paths(root: str | Path, fs_hz: int) -> tuple[dict[int, str], frozenset[int]]:
    from ..records import PtbXl

    ptbxl = PtbXl(root)
    column = {100: "filename_lr", 500: "filename_hr"}.get(fs_hz)
    if column is None:
        raise UsageError(f"PTB-XL records exist at 100 or 500 Hz; got fs_hz={fs_hz!r}")
    base = str(ptbxl.root)
    paths = {int(i): os.path.join(base, str(rel)) for i, rel in ptbxl.metadata[column].items()}
    return paths, ptbxl.present_ids(fs_hz)


def _mimic_paths(root: str | Path, study_ids: set[int]) -> tuple[dict[int, str], frozenset[int]]:
    """Paths and presence of the referenced studies only: a complete MIMIC-IV-ECG copy lists
    ~800,000, and walking all of them to map one split cost ~1 min (docs/benchmarks/scale.md)."""
    from ..records import MimicIvEcg

    mimic = MimicIvEcg(root)
    base = str(mimic.root)
    present = mimic.present_among(study_ids)
    column = mimic.metadata["path"]
    column = column[~column.index.duplicated()]
    paths = {i: os.path.join(base, str(rel).strip("/")) for i, rel in column.reindex(sorted(present)).items()}
    return paths, present


def map_samples(
    samples: Iterable[QASample],
    root: str | Path,
    source: Literal["ptbxl", "mimic-iv-ecg"] = "ptbxl",
    fs_hz: int = 500,
) -> MappingReport:
    """Record paths of every sample's ECGs in a PTB-XL (``fs_hz`` 100 or 500) or MIMIC-IV-ECG tree.

    Absent records (not listed, or files missing) give ``None`` paths and are listed in
    ``absent_ids``; nothing is dropped.
    """
    samples = list(samples)
    if source == "ptbxl":
        paths, present = _ptbxl_paths(root, fs_hz)
    elif source == "mimic-iv-ecg":
        paths, present = _mimic_paths(root, {e for s in samples for e in s.ecg_id})
    else:
        raise UsageError(f"unknown source {source!r}; expected 'ptbxl' or 'mimic-iv-ecg'")
    rows: list[MappedSample] = []
    absent: set[int] = set()
    cache: dict[int, str | None] = {}
    for s in samples:
        out = []
        for ecg_id in s.ecg_id:
            if ecg_id not in cache:
                cache[ecg_id] = paths.get(ecg_id) if ecg_id in present else None
            path = cache[ecg_id]
            if path is None:
                absent.add(ecg_id)
            out.append(path)
        rows.append(MappedSample(s, tuple(out)))
    return MappingReport(source, str(root), rows, tuple(sorted(absent)))


def _arrow_table(report: MappingReport):  # -> pyarrow.Table
    pa = require("pyarrow", "export")
    rows = report.rows
    return pa.table(
        {
            "template_id": pa.array([r.sample.template_id for r in rows], pa.int16()),
            "question_id": pa.array([r.sample.question_id for r in rows], pa.int32()),
            "sample_id": pa.array([r.sample.sample_id for r in rows], pa.int32()),
            "split": pa.array([r.sample.split for r in rows], pa.string()),
            "question_type": pa.array([r.sample.question_type for r in rows], pa.string()),
            "attribute_type": pa.array([r.sample.attribute_type for r in rows], pa.string()),
            "question": pa.array([r.sample.question for r in rows], pa.string()),
            "answer": pa.array([list(r.sample.answer) for r in rows], pa.list_(pa.string())),
            "ecg_id": pa.array([list(r.sample.ecg_id) for r in rows], pa.list_(pa.int64())),
            "attribute": pa.array(
                [None if r.sample.attribute is None else list(r.sample.attribute) for r in rows], pa.list_(pa.string())
            ),
            "ecg_path": pa.array([list(r.paths) for r in rows], pa.list_(pa.string())),
            "present": pa.array([r.present for r in rows], pa.bool_()),
        }
    )


def export_parquet(report: MappingReport, out: str | Path) -> Path:
    """Write the mapped samples (with ``ecg_path`` and ``present``) to a Parquet file, atomically."""
    pq = require("pyarrow.parquet", "export")
    out = Path(out)
    with atomic_output(out) as tmp:
        pq.write_table(_arrow_table(report), str(tmp))
    return out


def export_hf(report: MappingReport, out: str | Path) -> Path:
    """Save the mapped samples as a Hugging Face ``datasets`` dataset folder (``load_from_disk``)."""
    datasets = require("datasets", "export")
    out = Path(out)
    if out.exists() and not (out / "dataset_info.json").is_file():
        raise DatasetError(f"{out} exists and is not a saved dataset; refusing to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out.name + ".", dir=out.parent))
    try:
        datasets.Dataset(_arrow_table(report)).save_to_disk(str(tmp))
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
