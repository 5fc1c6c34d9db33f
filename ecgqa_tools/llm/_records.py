"""Naming records safely: dataset ids, bundled examples, or paths inside the configured data roots.

A record reference is one of

- a bundled example name (``ptbxl-00473``, see ``ecgqa_tools.records.list_examples()``),
  optionally written ``example:NAME``;
- ``ptbxl:ECG_ID`` (a bare integer means PTB-XL too), ``ludb:N``, ``mimic:STUDY_ID`` in the dataset
  folders configured through ``ECGQA_DATA_DIR`` / ``ECGQA_<DATASET>_DIR`` (see ``_config``);
- a path to a record file inside one of the allowed roots: ``ECGQA_DATA_DIR``, the per-dataset
  folders, the bundled examples folder, and any folder listed in ``ECGQA_RECORD_ROOTS``
  (``os.pathsep``-separated) or passed explicitly as ``extra_roots``;
- one of the exact record files passed as ``extra_files`` (a file the user typed on the command
  line): that record only (its base name with the ``.hea``/``.dat``/``.mat`` companions), never
  its folder's other files.

Anything else, including any ``..`` component or a symlink that resolves outside the roots, is
refused: an LLM choosing arguments must not be able to read arbitrary files.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .. import _config
from ..errors import RecordError, RecordNotFound

__all__ = ["RecordRef", "allowed_roots", "load_record", "parse_record_ref"]

RECORD_ROOTS_ENV = "ECGQA_RECORD_ROOTS"
MAX_REF_CHARS = 512


@dataclass(frozen=True)
class RecordRef:
    """A validated reference to one record."""

    canonical: str
    """Stable name used in provenance and caches: ``ptbxl:1``, ``example:NAME``, ``path:/abs/path``."""
    kind: Literal["example", "dataset", "path"]
    """How the record is found."""
    key: str
    """Example name, dataset id, or absolute path (without extension for WFDB)."""
    dataset: str | None = None
    """``ptbxl``, ``ludb`` or ``mimic`` for dataset references."""


def _examples() -> tuple[str, ...]:
    try:
        from ..records import list_examples
    except ImportError:  # records layer without bundled examples
        return ()
    return tuple(list_examples())


def _examples_dir() -> Path | None:
    try:
        from ..records import example_path
    except ImportError:
        return None
    names = _examples()
    if not names:
        return None
    return Path(example_path(names[0])).resolve().parent


def allowed_roots(extra_roots: Sequence[str | Path] = ()) -> list[Path]:
    """Folders inside which record paths are accepted (resolved, existing ones only)."""
    candidates: list[Path] = []
    if _config.data_dir() is not None:
        candidates.append(_config.data_dir())  # type: ignore[arg-type]
    for dataset in _config.DATASET_SUBDIRS:
        folder = _config.dataset_dir(dataset, required=False)
        if folder is not None:
            candidates.append(folder)
    examples = _examples_dir()
    if examples is not None:
        candidates.append(examples)
    for item in os.environ.get(RECORD_ROOTS_ENV, "").split(os.pathsep):
        if item.strip():
            candidates.append(Path(item.strip()).expanduser())
    candidates.extend(Path(r).expanduser() for r in extra_roots)
    roots: list[Path] = []
    for candidate in candidates:
        resolved = candidate.resolve()
        if resolved.is_dir() and resolved not in roots:
            roots.append(resolved)
    return roots


def record_base(path: str | Path) -> Path:
    """A record file's resolved path without its WFDB/MAT extension (``/d/rec.hea`` -> ``/d/rec``;
    ``records.record_base``): the name under which the record and its companion files are allowed
    and cached."""
    from ..records import record_base as wfdb_base

    return wfdb_base(Path(path).expanduser().resolve())


def _usage() -> str:
    examples = _examples()
    shown = ", ".join(examples[:4]) + (", ..." if len(examples) > 4 else "")
    return (
        "name a bundled example" + (f" ({shown})" if shown else "")
        + ", 'ptbxl:<ecg_id>', 'ludb:<n>', 'mimic:<study_id>', or a record path inside the data roots"
    )


def parse_record_ref(
    text: str, extra_roots: Sequence[str | Path] = (), extra_files: Sequence[str | Path] = ()
) -> RecordRef:
    """Validate a record reference; ``RecordNotFound`` explains what is accepted otherwise.

    ``extra_files`` allows single record files outside the roots (the exact record, not its folder).
    """
    if not isinstance(text, str):
        raise RecordNotFound(f"record must be a string, got {type(text).__name__}; {_usage()}")
    ref = text.strip()
    if not ref:
        raise RecordNotFound(f"empty record reference; {_usage()}")
    if len(ref) > MAX_REF_CHARS or "\x00" in ref:
        raise RecordNotFound(f"record reference is not a valid name ({len(ref)} characters; at most "
                             f"{MAX_REF_CHARS}, no NUL character); {_usage()}")
    from ..records import parse_record_name

    try:
        name = parse_record_name(ref)
    except RecordError as exc:  # an unknown example: or a bad @rate
        raise RecordNotFound(f"{exc}; {_usage()}") from None
    if name is not None:
        return RecordRef(canonical=name.canonical, kind=name.kind, key=name.key, dataset=name.dataset)
    prefix, sep, rest = ref.partition(":")
    if sep and prefix.lower() in ("ptbxl", "ptb-xl", "ludb", "mimic"):  # a dataset name with a malformed id
        raise RecordNotFound(f"record {ref!r}: {rest!r} is not a valid {prefix.lower()} id (a whole number, "
                             f"e.g. '{prefix.lower()}:1'; optionally '@100' or '@500' for PTB-XL); {_usage()}")
    return _path_ref(ref, extra_roots, extra_files)


def _path_ref(ref: str, extra_roots: Sequence[str | Path], extra_files: Sequence[str | Path] = ()) -> RecordRef:
    from ..records import companion_file

    raw = Path(ref).expanduser()
    if ".." in raw.parts:
        raise RecordNotFound(f"record path {ref!r} contains '..'; paths may not leave the data roots")
    roots = allowed_roots(extra_roots)
    files = {record_base(f) for f in extra_files}
    if not roots and not files:
        raise RecordNotFound(
            f"record {ref!r} is not a known name and no data roots are configured "
            f"(set ECGQA_DATA_DIR or {RECORD_ROOTS_ENV}); {_usage()}"
        )
    candidates = [raw] if raw.is_absolute() else [Path.cwd() / raw] + [root / raw for root in roots]
    for candidate in candidates:
        resolved = candidate.resolve()
        base = record_base(resolved)
        inside = [root for root in roots if base.is_relative_to(root)] or [f for f in files if base == f]
        exists = base.exists() or companion_file(base, ".hea").exists() or resolved.exists()
        if inside and exists:
            if base not in files:
                _require_companions_inside(ref, base, roots)
            return RecordRef(canonical=f"path:{base}", kind="path", key=str(base))
    # refused before any existence check when every reading of the reference lies outside the roots
    # (an absolute path): whether a file exists out there is not the caller's business (no
    # existence oracle). A relative name is also read against the working folder (no '..': only
    # files below it), where an existing file outside the roots is named as refused.
    outside = [c for c in candidates if not _inside(c, roots) and record_base(c.resolve()) not in files]
    if len(outside) == len(candidates) or any(
            c.resolve().exists() or companion_file(record_base(c.resolve()), ".hea").exists() for c in outside):
        allowed = f"({', '.join(str(r) for r in roots)})" if roots else "(none configured)"
        if files:
            allowed += ("; besides them only the record file(s) named on the command line may be read: "
                        + ", ".join(sorted(str(f) for f in files)))
        raise RecordNotFound(
            f"record path {ref!r} is outside the allowed data roots {allowed}; refused whether or not it "
            f"exists (to allow its folder: --data-root DIR on the command line, ToolContext(extra_roots=...) "
            f"in Python, or {RECORD_ROOTS_ENV})"
        )
    raise RecordNotFound(f"record {ref!r} was not found; {_usage()}")


def _require_companions_inside(ref: str, base: Path, roots: Sequence[Path]) -> None:
    """Every file a reader would open for the record at ``base`` (its ``.hea``/``.dat``/``.mat``/
    ``.atr`` companions and the signal files its header names) resolves inside ``roots``: a symlink
    inside a root pointing elsewhere (``z.hea -> /etc/hostname``) is refused.

    The names come from the plain header parse (no rate check: a header without a rate is readable
    with a session's ``fs_hz``), and a header that cannot be parsed refuses the record (fail closed:
    the files it would open are unknown)."""
    from ..records import companion_file, wfdb_signal_files

    opened = [companion_file(base, suffix) for suffix in (".hea", ".dat", ".mat", ".atr")]
    header = opened[0]
    if header.is_file() and _inside(header, roots):
        try:
            opened.extend(wfdb_signal_files(base))
        except RecordError as exc:
            raise RecordNotFound(f"record {ref!r}: {exc}; refused (the files its header names cannot be "
                                 "checked against the allowed data roots)") from None
    for path in opened:
        if (path.exists() or path.is_symlink()) and not _inside(path, roots):
            raise RecordNotFound(
                f"record {ref!r}: {path} resolves to {path.resolve()}, outside the allowed data roots "
                f"({', '.join(str(r) for r in roots)}); refused (symlinks may not leave the roots)"
            )


def _inside(path: Path, roots: Sequence[Path]) -> bool:
    resolved = path.resolve()
    return any(resolved.is_relative_to(root) for root in roots)


def load_record(ref: RecordRef, fs_hz: float | None = None):
    """Read the record a reference names (``ecgqa_tools.records.ECG``); ``fs_hz`` is the rate of a
    .npy/.csv file that does not store one (ignored for names)."""
    from .. import records

    if ref.kind == "path":
        return records.read_record(ref.key, fs_hz=fs_hz)
    name = records.parse_record_name(ref.canonical)  # the one reader of record names (records layer)
    if name is None:
        raise RecordError(f"cannot load record {ref.canonical}")
    return records.read_named_record(name)
