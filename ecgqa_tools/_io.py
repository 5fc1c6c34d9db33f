"""Atomic file output: a result file is either complete or absent, never half-written."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import OutputError


@contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is removed.

    The temporary file keeps ``path``'s suffix (writers such as ``np.savez`` or ``savefig`` choose
    the format from it) and gets the usual permissions (``mkstemp`` would leave it 0600).
    """
    target = Path(path)
    if target.is_dir():
        raise OutputError(f"cannot write {target}: it is a directory; give a file name")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{target.suffix}",
                                            dir=target.parent)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in target.parents if p.exists() and not p.is_dir()), target.parent)
        raise OutputError(f"cannot write {target}: {blocker} is a file, not a folder") from None
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc.strerror or exc} (in folder {target.parent})") from None
    os.close(handle)
    tmp = Path(tmp_name)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        try:
            os.replace(tmp, target)
        except OSError as exc:
            raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically and return the path."""
    with atomic_output(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically and return the path."""
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def folder_option(text: str) -> str:
    """An argparse ``type=`` for options naming a folder to write into (``--cache-dir``,
    ``--work-dir``, ``--out-dir``): an existing file there is a usage error at parse time, naming
    it, instead of ``error: File exists`` after the data was read. A missing folder is fine (created)."""
    import argparse

    path = Path(text).expanduser()
    blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        what = "is a file" if blocker == path else f"is below {blocker}, which is a file"
        raise argparse.ArgumentTypeError(f"must be a folder; {text} {what}")
    return text
