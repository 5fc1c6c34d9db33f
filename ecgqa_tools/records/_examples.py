"""Real PTB-XL records shipped inside the package (CC-BY 4.0, unmodified WFDB files).

``examples/index.csv`` says, per record, its ``ecg_id``, rate, ``strat_fold`` (all 10: PTB-XL's
test fold, so models trained on folds 1-8 never saw them), ECG-QA split (all ``test``) and why it
was chosen. It was written by ``scripts/make_examples.py``. Its ``scp_codes`` column is there for
documentation: readers never copy labels into the ``ECG``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..errors import RecordNotFound
from ._ecg import ECG, ECGMetadata


@dataclass(frozen=True)
class ExampleRecord:
    """One bundled example record."""

    name: str
    """Name to pass to ``load_example`` / ``ecgqa info`` (e.g. ``ptbxl-00473``)."""
    ecg_id: int
    """PTB-XL ``ecg_id``."""
    fs_hz: int
    """Sampling rate of the shipped files (500 or 100)."""
    strat_fold: int
    """PTB-XL ``strat_fold`` (10 = test fold)."""
    ecgqa_split: str
    """ECG-QA split the record belongs to."""
    file: str
    """WFDB base name of the shipped files (``00473_hr``)."""
    scp_codes: str
    """PTB-XL statements with likelihoods, ``CODE:likelihood;...`` (documentation only)."""
    why: str
    """Why it was chosen."""


def examples_dir() -> Path:
    """Folder holding the example WFDB files and ``index.csv``."""
    from importlib.resources import files

    return Path(str(files("ecgqa_tools.records") / "examples"))


@lru_cache(maxsize=1)
def _index() -> dict[str, tuple[ExampleRecord, dict[str, str]]]:
    path = examples_dir() / "index.csv"
    if not path.is_file():
        raise RecordNotFound(f"{path}: the bundled example index is missing (broken installation?)")
    table: dict[str, tuple[ExampleRecord, dict[str, str]]] = {}
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            record = ExampleRecord(
                name=row["name"], ecg_id=int(row["ecg_id"]), fs_hz=int(row["fs_hz"]),
                strat_fold=int(row["strat_fold"]), ecgqa_split=row["ecgqa_split"], file=row["file"],
                scp_codes=row["scp_codes"], why=row["why"],
            )
            table[record.name] = (record, row)
    return table


def list_examples() -> tuple[str, ...]:
    """Names of the bundled example records."""
    return tuple(_index())


def example_info(name: str) -> ExampleRecord:
    """What is known about one bundled example (see ``ExampleRecord``)."""
    return _lookup(name)[0]


def _lookup(name: str) -> tuple[ExampleRecord, dict[str, str]]:
    table = _index()
    key = str(name).strip()
    if key in table:
        return table[key]
    for record, row in table.values():  # also accept the file stem (00473_hr) or the ecg_id
        if key in {record.file, str(record.ecg_id), f"{record.ecg_id:05d}"}:
            return record, row
    raise RecordNotFound(f"no bundled example {name!r}; available: {', '.join(table)}")


def is_example(name: str) -> bool:
    """True when ``name`` names a bundled example."""
    try:
        _lookup(name)
    except RecordNotFound:
        return False
    return True


def example_path(name: str) -> Path:
    """Base path (no extension) of an example's WFDB files."""
    record, _ = _lookup(name)
    return examples_dir() / record.file


def load_example(name: str) -> ECG:
    """Read a bundled example as an ``ECG`` (source ``ptbxl``, patient facts filled, no labels)."""
    from ._wfdb import read_wfdb

    record, row = _lookup(name)
    metadata = ECGMetadata(
        age_years=float(row["age"]) if row["age"] else None,
        sex=row["sex"] or None,  # type: ignore[arg-type]
        device=row["device"] or None,
        recording_date=row["recording_date"] or None,
        patient_id=row["patient_id"] or None,
        extra=(("strat_fold", str(record.strat_fold)), ("example", record.name)),
    )
    return read_wfdb(examples_dir() / record.file, source="ptbxl", record_id=str(record.ecg_id), metadata=metadata)


def read_record_or_example(record: str, fs_hz: float | None = None) -> ECG:
    """What every CLI RECORD argument accepts: a record file (any format ``read_record`` reads) or,
    when no such file exists, a record name (``records._names``: a bundled example, ``ptbxl:<id>``
    with an optional ``@100``/``@500``, ``ludb:<n>``, ``mimic:<study_id>``). ``fs_hz`` is the rate
    of a file that does not state one; a record's own rate wins over a different one, with a note
    (``file_rate``: the same rule for files and names)."""
    from dataclasses import replace

    from ._ecg import file_rate
    from ._formats import read_record
    from ._names import _is_file, parse_record_name, read_named_record

    text = str(record)
    if not _is_file(text):
        name = parse_record_name(text)
        if name is not None:
            ecg = read_named_record(name)
            note = file_rate(text, fs_hz, ecg.fs_hz, "the record is stored at")[1]  # its own rate wins
            return replace(ecg, read_notes=(*ecg.read_notes, note)) if note else ecg
    return read_record(record, fs_hz=fs_hz)
