"""The state one conversation's tool calls share: loaded records, cached results, evidence."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ._backend import Backend
from ._records import RecordRef, load_record, parse_record_ref
from ._registry import EvidenceItem, Provenance

__all__ = ["ToolContext"]

T = TypeVar("T")


class ToolContext:
    """Records, caches and the evidence ledger behind one session of tool calls.

    ``backend`` provides the models and measurements (``ToolkitBackend`` by default);
    ``extra_roots`` adds folders inside which record paths are accepted; ``extra_files`` adds single
    record files (the exact record and its companion files, not their folders), e.g. the file a user
    typed on the command line; ``fs_hz`` is the sampling rate of .npy/.csv record files that do not
    store one (``--fs`` on the command line).

    Thread-safe: ``ecgqa mcp`` runs each tool call in its own worker thread on one shared context,
    so every method that reads or changes the records, the cache or the evidence ledger holds one
    re-entrant lock (a tool computing inside ``cached`` may load records and cite evidence).
    """

    def __init__(
        self,
        backend: Backend | None = None,
        extra_roots: Sequence[str | Path] = (),
        max_cached_records: int = 8,
        extra_files: Sequence[str | Path] = (),
        fs_hz: float | None = None,
    ) -> None:
        _check_settings(extra_roots, max_cached_records, fs_hz)
        if backend is None:
            from ._backend import ToolkitBackend

            backend = ToolkitBackend()
        self.backend = backend
        self.extra_roots = tuple(extra_roots)
        self.extra_files = tuple(extra_files)
        self.fs_hz = fs_hz
        self._max_records = max_cached_records
        self._records: OrderedDict[str, tuple[RecordRef, Any]] = OrderedDict()
        self._stamps: dict[str, tuple[tuple[str, int, int], ...]] = {}
        self._cache: dict[tuple[str, str], Any] = {}
        self.evidence: dict[str, EvidenceItem] = {}
        self._evidence_keys: dict[tuple[str, str, str], str] = {}
        self._lock = threading.RLock()

    def ref(self, record: str) -> RecordRef:
        """Validate a record reference (``RecordNotFound`` when refused or unknown)."""
        return parse_record_ref(record, self.extra_roots, self.extra_files)

    def add_record(self, name: str, ecg: Any) -> RecordRef:
        """Make an in-memory ECG callable by ``name`` (e.g. an ECG passed to ``answer_offline``)."""
        with self._lock:
            ref = RecordRef(canonical=f"memory:{name}", kind="path", key=name)
            previous = self._records.get(name)
            if previous is not None and previous[1] is not ecg:  # a different ECG under the same name
                self._cache = {k: v for k, v in self._cache.items() if k[0] != ref.canonical}
            self._records[name] = (ref, ecg)
            self._records[ref.canonical] = (ref, ecg)
            self._stamps[ref.canonical] = ()
            return ref

    def load(self, record: str) -> tuple[RecordRef, Any]:
        """(reference, ECG) for a record reference, read once and kept in a small LRU cache.

        A record file is read again (and its cached results dropped) when its files changed since
        it was read: same path, other (name, mtime_ns, size) of the file or its companions."""
        with self._lock:
            known = self._records.get(record)
            if known is not None and known[0].canonical.startswith("memory:"):  # add_record: never stale
                self._records.move_to_end(record)
                return known
            ref = known[0] if known is not None else self.ref(record)
            if ref.canonical in self._records:
                stamp = _file_stamp(ref)
                if stamp == self._stamps.get(ref.canonical):
                    self._records.move_to_end(ref.canonical)
                    return self._records[ref.canonical]
                self._forget(ref.canonical)
            stamp = _file_stamp(ref)  # before reading: a write during the read shows at the next load
            ecg = load_record(ref, fs_hz=self.fs_hz)
            self._records[ref.canonical] = (ref, ecg)
            self._stamps[ref.canonical] = stamp
            while len(self._records) > self._max_records:
                evicted, _ = self._records.popitem(last=False)
                self._stamps.pop(evicted, None)
                self._cache = {k: v for k, v in self._cache.items() if k[0] != evicted}
            return ref, ecg

    def _forget(self, canonical: str) -> None:
        """Drop a record and every result cached for it."""
        with self._lock:
            self._records.pop(canonical, None)
            self._stamps.pop(canonical, None)
            self._cache = {k: v for k, v in self._cache.items() if k[0] != canonical}

    def cached(self, record: str, key: str, compute: Callable[[], T]) -> T:
        """``compute()`` once per (record, key) in this session."""
        with self._lock:
            slot = (record, key)
            if slot not in self._cache:
                self._cache[slot] = compute()
            return self._cache[slot]

    def add_evidence(self, tool: str, statement: str, provenance: Provenance) -> str:
        """Record one citable fact; returns its id (``E1``, ``E2``...; the same fact keeps its id)."""
        with self._lock:
            key = (tool, provenance.record, statement)
            if key in self._evidence_keys:
                return self._evidence_keys[key]
            evidence_id = f"E{len(self.evidence) + 1}"
            self.evidence[evidence_id] = EvidenceItem(
                id=evidence_id, tool=tool, record=provenance.record, statement=statement, provenance=provenance
            )
            self._evidence_keys[key] = evidence_id
            return evidence_id


def _check_settings(extra_roots: Sequence[str | Path], max_cached_records: int, fs_hz: float | None) -> None:
    """``UsageError`` naming the argument for a context that could not work as asked."""
    import math
    import numbers

    from ..errors import UsageError

    if isinstance(extra_roots, (str, Path)):
        raise UsageError(f"extra_roots must be a sequence of folders, got the single path {str(extra_roots)!r}; "
                         "wrap it in a list")
    for root in extra_roots:
        if not Path(root).expanduser().is_dir():
            what = "does not exist" if not Path(root).expanduser().exists() else "is not a folder"
            raise UsageError(f"extra_roots: {root} {what}; give existing folders whose records may be read")
    if (isinstance(max_cached_records, bool) or not isinstance(max_cached_records, numbers.Integral)
            or max_cached_records < 1):
        raise UsageError(f"max_cached_records must be an integer >= 1, got {max_cached_records!r}")
    if fs_hz is not None and (isinstance(fs_hz, bool) or not isinstance(fs_hz, numbers.Real)
                              or not math.isfinite(fs_hz) or fs_hz <= 0):
        raise UsageError(f"fs_hz must be a positive sampling rate in Hz (or None), got {fs_hz!r}")


def _file_stamp(ref: RecordRef) -> tuple[tuple[str, int, int], ...]:
    """(file name, mtime_ns, size) of a path record's files (the path and its companions
    ``<base>.*``); () for names (examples, datasets) and in-memory ECGs, which do not change."""
    import glob

    if ref.kind != "path" or ref.canonical.startswith("memory:"):
        return ()
    base = Path(ref.key)
    stamps = []
    for path in sorted({base, *base.parent.glob(f"{glob.escape(base.name)}.*")}):
        try:
            info = path.stat()
        except OSError:
            continue
        stamps.append((path.name, info.st_mtime_ns, info.st_size))
    return tuple(stamps)
