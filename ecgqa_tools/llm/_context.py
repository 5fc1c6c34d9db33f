"""The state one conversation's tool calls share: loaded records, cached results, evidence."""

from __future__ import annotations

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
    """

    def __init__(
        self,
        backend: Backend | None = None,
        extra_roots: Sequence[str | Path] = (),
        max_cached_records: int = 8,
        extra_files: Sequence[str | Path] = (),
        fs_hz: float | None = None,
    ) -> None:
        if backend is None:
            from ._backend import ToolkitBackend

            backend = ToolkitBackend()
        self.backend = backend
        self.extra_roots = tuple(extra_roots)
        self.extra_files = tuple(extra_files)
        self.fs_hz = fs_hz
        self._max_records = max_cached_records
        self._records: OrderedDict[str, tuple[RecordRef, Any]] = OrderedDict()
        self._cache: dict[tuple[str, str], Any] = {}
        self.evidence: dict[str, EvidenceItem] = {}
        self._evidence_keys: dict[tuple[str, str, str], str] = {}

    def ref(self, record: str) -> RecordRef:
        """Validate a record reference (``RecordNotFound`` when refused or unknown)."""
        return parse_record_ref(record, self.extra_roots, self.extra_files)

    def add_record(self, name: str, ecg: Any) -> RecordRef:
        """Make an in-memory ECG callable by ``name`` (e.g. an ECG passed to ``answer_offline``)."""
        ref = RecordRef(canonical=f"memory:{name}", kind="path", key=name)
        previous = self._records.get(name)
        if previous is not None and previous[1] is not ecg:  # a different ECG under the same name
            self._cache = {k: v for k, v in self._cache.items() if k[0] != ref.canonical}
        self._records[name] = (ref, ecg)
        self._records[ref.canonical] = (ref, ecg)
        return ref

    def load(self, record: str) -> tuple[RecordRef, Any]:
        """(reference, ECG) for a record reference, read once and kept in a small LRU cache."""
        if record in self._records:
            self._records.move_to_end(record)
            return self._records[record]
        ref = self.ref(record)
        if ref.canonical in self._records:
            return self._records[ref.canonical]
        ecg = load_record(ref, fs_hz=self.fs_hz)
        self._records[ref.canonical] = (ref, ecg)
        while len(self._records) > self._max_records:
            evicted, _ = self._records.popitem(last=False)
            self._cache = {k: v for k, v in self._cache.items() if k[0] != evicted}
        return ref, ecg

    def cached(self, record: str, key: str, compute: Callable[[], T]) -> T:
        """``compute()`` once per (record, key) in this session."""
        slot = (record, key)
        if slot not in self._cache:
            self._cache[slot] = compute()
        return self._cache[slot]

    def add_evidence(self, tool: str, statement: str, provenance: Provenance) -> str:
        """Record one citable fact; returns its id (``E1``, ``E2``...; the same fact keeps its id)."""
        key = (tool, provenance.record, statement)
        if key in self._evidence_keys:
            return self._evidence_keys[key]
        evidence_id = f"E{len(self.evidence) + 1}"
        self.evidence[evidence_id] = EvidenceItem(
            id=evidence_id, tool=tool, record=provenance.record, statement=statement, provenance=provenance
        )
        self._evidence_keys[key] = evidence_id
        return evidence_id
