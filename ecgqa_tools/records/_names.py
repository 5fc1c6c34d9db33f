"""Record names every ``ecgqa`` command accepts besides file paths: one parser, one reader.

A record name is one of

- a bundled example: its name (``ptbxl-00473``), ``example:NAME``, its file stem (``00473_hr``) or
  its PTB-XL ``ecg_id`` written bare (``473``);
- ``ptbxl:ECG_ID`` (a bare integer that is no example's id means PTB-XL too), ``ludb:N``,
  ``mimic:STUDY_ID``, read from the dataset folders configured through ``ECGQA_DATA_DIR`` /
  ``ECGQA_<DATASET>_DIR`` (``ecgqa_tools._config``);
- a PTB-XL name may end in ``@500`` or ``@100`` to choose the sampling rate (``ptbxl:9@100``);
  without it the 500 Hz record is read when present, else the 100 Hz one.

``ecgqa info/classify/measure/tokens/plot/ask/chat`` all resolve names here (the LLM layer adds
its path allow-list on top), so a name that works in one command works in all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..errors import RecordError, RecordNotFound
from ._ecg import ECG

__all__ = ["RecordName", "parse_record_name", "read_named_record", "record_display_name"]

_DATASET_REF = re.compile(r"^(ptbxl|ptb-xl|ludb|mimic)\s*[:/#]\s*(\d{1,9})(?:\s*@\s*(\d{2,4})\s*(?:hz)?)?$",
                          re.IGNORECASE)
_BARE_ID = re.compile(r"^(\d{1,9})(?:\s*@\s*(\d{2,4})\s*(?:hz)?)?$", re.IGNORECASE)
_DATASET_NAMES = {"ptbxl": "ptbxl", "ptb-xl": "ptbxl", "ludb": "ludb", "mimic": "mimic"}
PTBXL_RATES_HZ: tuple[int, ...] = (500, 100)
"""Rates PTB-XL ships, in the order tried when a name does not choose one."""


@dataclass(frozen=True)
class RecordName:
    """A parsed record name (not a file path)."""

    canonical: str
    """The one display name used in output and provenance: ``example:ptbxl-00473``, ``ptbxl:9``,
    ``ptbxl:9@100``, ``ludb:1``, ``mimic:40000017``."""
    kind: Literal["example", "dataset"]
    """A bundled example or a record of a configured dataset."""
    key: str
    """Example name, or the dataset's integer id as text."""
    dataset: str | None = None
    """``ptbxl``, ``ludb`` or ``mimic`` for dataset names."""
    fs_hz: int | None = None
    """PTB-XL rate asked for with ``@100``/``@500``; ``None``: 500 Hz when present, else 100 Hz."""


def parse_record_name(text: str) -> RecordName | None:
    """The record name ``text`` spells, or ``None`` when it is no name (then it is a file path).

    Raises ``RecordNotFound`` for ``example:`` with an unknown example, and ``RecordError`` for a
    rate other than 100/500 or a rate on a LUDB/MIMIC name.
    """
    from ._examples import example_info, is_example

    ref = str(text).strip()
    if ref.lower().startswith("example:"):
        name = ref.split(":", 1)[1].strip()
        if not is_example(name):
            from ._examples import list_examples

            raise RecordNotFound(f"no bundled example {name!r}; available: {', '.join(list_examples())}")
        return RecordName(canonical=f"example:{example_info(name).name}", kind="example", key=example_info(name).name)
    if ref and is_example(ref):
        name = example_info(ref).name
        return RecordName(canonical=f"example:{name}", kind="example", key=name)
    match = _DATASET_REF.match(ref)
    bare = None if match else _BARE_ID.match(ref)
    if not (match or bare):
        loose = re.match(r"^(ptbxl|ptb-xl|ludb|mimic)\s*:\s*(.*)$", ref, re.IGNORECASE)
        if loose:  # ptbxl:-1, ludb:abc: a dataset name with an id that cannot be one, not a file path
            kind = _DATASET_NAMES[loose.group(1).lower()]
            raise RecordError(f"{ref!r}: {loose.group(2)!r} is not a valid {kind} record id; write {kind}:<n> with a "
                              "positive integer n" + (" (optionally @100 or @500)" if kind == "ptbxl" else ""))
        return None
    dataset = _DATASET_NAMES[match.group(1).lower()] if match else "ptbxl"
    number = str(int(match.group(2) if match else bare.group(1)))  # type: ignore[union-attr]
    rate_text = match.group(3) if match else bare.group(2)  # type: ignore[union-attr]
    rate = None
    if rate_text is not None:
        rate = int(rate_text)
        if dataset != "ptbxl":
            raise RecordError(f"{ref!r}: only PTB-XL names choose a rate (@100 or @500); write {dataset}:{number}")
        if rate not in PTBXL_RATES_HZ:
            raise RecordError(f"{ref!r}: PTB-XL ships 100 Hz and 500 Hz records; write ptbxl:{number}@100 or @500")
    suffix = f"@{rate}" if rate is not None else ""
    return RecordName(canonical=f"{dataset}:{number}{suffix}", kind="dataset", key=number, dataset=dataset,
                      fs_hz=rate)


def read_named_record(name: RecordName) -> ECG:
    """Read the record a ``RecordName`` names (``RecordNotFound`` naming the id when absent,
    ``DatasetError`` naming the option/variable when its dataset folder is not configured)."""
    from .. import _config

    if name.kind == "example":
        from ._examples import load_example

        return load_example(name.key)
    if name.dataset == "ptbxl":
        from ._ptbxl import PtbXl

        ptbxl = PtbXl(_config.dataset_dir("ptbxl"))
        rates = (name.fs_hz,) if name.fs_hz is not None else PTBXL_RATES_HZ
        for rate in rates[:-1]:
            try:
                return ptbxl.read(int(name.key), fs_hz=rate)
            except RecordNotFound:
                continue
        return ptbxl.read(int(name.key), fs_hz=rates[-1])
    if name.dataset == "ludb":
        from ._ludb import Ludb

        return Ludb(_config.dataset_dir("ludb")).read(int(name.key))
    if name.dataset == "mimic":
        from ._mimic import MimicIvEcg

        return MimicIvEcg(_config.dataset_dir("mimic")).read(int(name.key))
    raise RecordError(f"cannot read record {name.canonical}")


def _is_file(text: str) -> bool:
    from ._wfdb import companion_file, record_base

    path = Path(text).expanduser()
    try:
        return path.is_file() or companion_file(record_base(path), ".hea").is_file()
    except (OSError, ValueError):
        return False


def record_display_name(record: str) -> str:
    """How CLI output names the record ``record`` (as typed): the canonical name of a record name
    (``example:ptbxl-00473``, ``ptbxl:9``), else the path as typed."""
    text = str(record).strip()
    if _is_file(text):
        return text
    try:
        name = parse_record_name(text)
    except (RecordError, RecordNotFound):
        return text
    return name.canonical if name is not None else text
