"""MIMIC-IV-ECG (Gow et al., PhysioNet): ``record_list.csv`` and the WFDB tree
``files/pNNNN/pNNNNNNNN/sNNNNNNNN/NNNNNNNN.{hea,dat}``, addressed by ``study_id``."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from ..errors import DatasetError, RecordNotFound
from ._ecg import ECG, ECGMetadata
from ._leads import STANDARD_LEADS

# Listed studies probed to choose how present_ids checks the tree, and the present share above
# which checking every listed study (~5-7 us each) beats walking the present folders (~27 us each).
_PROBE = 256
_STAT_ALL_SHARE = 0.2


class MimicIvEcg:
    """A MIMIC-IV-ECG folder (complete or partial). ``metadata`` is ``record_list.csv`` indexed
    by ``study_id`` (columns ``subject_id``, ``file_name``, ``ecg_time``, ``path``); a study id
    listed twice keeps its first row only, so ``path``, ``read``, ``present_ids`` and
    ``present_among`` all use the same row."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser()
        self._record_list = self.root / "record_list.csv"
        if not self._record_list.is_file():
            raise DatasetError(f"{self.root}: not a MIMIC-IV-ECG folder (record_list.csv not found)")
        self._metadata = None
        self._present: frozenset[int] | None = None

    def __repr__(self) -> str:
        return f"MimicIvEcg({str(self.root)!r})"

    @property
    def metadata(self):  # -> pandas.DataFrame
        if self._metadata is None:
            import pandas as pd

            try:
                frame = pd.read_csv(self._record_list)
            except Exception as exc:
                raise DatasetError(f"{self._record_list}: unreadable ({type(exc).__name__}: {exc})") from exc
            missing = {"subject_id", "study_id", "path"} - set(frame.columns)
            if missing:
                raise DatasetError(f"{self._record_list}: missing column(s) {', '.join(sorted(missing))}")
            frame = frame.set_index("study_id")
            frame.index = frame.index.astype(int)
            self._metadata = frame[~frame.index.duplicated(keep="first")]
        return self._metadata

    @property
    def study_ids(self) -> tuple[int, ...]:
        return tuple(int(i) for i in self.metadata.index)

    def path(self, study_id: int) -> Path:
        """Base path (no extension) of a study's WFDB files, whether or not they exist."""
        try:
            relative = self.metadata.loc[int(study_id), "path"]
        except (KeyError, ValueError, TypeError):
            raise RecordNotFound(f"MIMIC-IV-ECG study_id {study_id!r} is not listed in {self._record_list}") from None
        return self.root / str(relative)

    def present_ids(self) -> frozenset[int]:
        """Listed studies whose header and signal files both exist (cached).

        A mostly complete copy is checked study by study (``present_among``: two ``stat`` calls,
        ~7 us each); a mostly absent one by one walk of ``files/``, whose cost follows the folders
        present (~20-35 us per study). ``_PROBE`` evenly spaced listed studies pick the cheaper way:
        on 100,000 present studies 0.83-0.84 s CPU (1.25 s wall) instead of 2.0-3.5 s
        (docs/benchmarks/scale.md).
        """
        if self._present is None:
            ids = self.metadata.index
            probe = ids[:: max(1, len(ids) // _PROBE)]
            share = len(self.present_among(probe)) / max(1, len(probe))
            self._present = self.present_among(ids) if share >= _STAT_ALL_SHARE else self._walk_present()
        return self._present

    def _walk_present(self) -> frozenset[int]:
        """Listed studies with both files, from one walk of ``files/``."""
        found: set[str] = set()
        files = str(self.root / "files")
        for folder, _, names in os.walk(files):
            if not names:
                continue
            # "files/pNNNN/..." by slicing: os.path.relpath per record cost ~60 us x 800k studies
            relative = "files" + folder[len(files):].replace(os.sep, "/") + "/"
            name_set = set(names)
            for name in names:
                if name.endswith(".hea") and f"{name[:-4]}.dat" in name_set:
                    found.add(relative + name[:-4])
        return frozenset(int(sid) for sid, rel in self.metadata["path"].items() if str(rel).strip("/") in found)

    def present_among(self, study_ids: Iterable[int]) -> frozenset[int]:
        """Those of ``study_ids`` that are listed and whose header and signal files both exist.

        Checks only the studies asked about (two ``stat`` calls each), so mapping one ECG-QA split
        onto a complete copy (~800,000 studies) does not walk the whole tree as ``present_ids()``
        may; unlisted ids are left out. Uses ``present_ids()``'s result when it is already known.
        """
        wanted = {int(s) for s in study_ids}
        if self._present is not None:
            return frozenset(wanted & self._present)
        import pandas as pd

        paths = self.metadata["path"]  # one row per study id (see the class docstring)
        relative = paths.reindex(pd.Index(sorted(wanted), dtype="int64")).dropna()
        root = str(self.root)
        found = set()
        for study_id, rel in relative.items():
            base = os.path.join(root, str(rel).strip("/"))
            if os.path.isfile(base + ".hea") and os.path.isfile(base + ".dat"):
                found.add(int(study_id))
        return frozenset(found)

    def missing_ids(self) -> frozenset[int]:
        return frozenset(self.study_ids) - self.present_ids()

    def read(self, study_id: int) -> ECG:
        """One study's 10 s, 500 Hz 12-lead ECG in the standard lead order.

        Raises ``RecordNotFound`` naming the study when it is not listed or its files are absent.
        """
        from ._transform import to_standard_leads
        from ._wfdb import companion_file, read_wfdb

        base = self.path(study_id)
        if not companion_file(base, ".hea").is_file() or not companion_file(base, ".dat").is_file():
            raise RecordNotFound(
                f"MIMIC-IV-ECG study_id {int(study_id)} is listed but its files ({base}.hea/.dat) are absent "
                "from this copy"
            )
        row = self.metadata.loc[int(study_id)]
        time = row.get("ecg_time")
        metadata = ECGMetadata(
            patient_id=str(int(row["subject_id"])),
            recording_date=None if time is None or str(time) == "nan" else str(time),
        )
        ecg = read_wfdb(base, source="mimic-iv-ecg", record_id=str(int(study_id)), metadata=metadata)
        if set(STANDARD_LEADS) <= set(ecg.lead_names):
            ecg = to_standard_leads(ecg, derive_limb_leads=False)
        return ecg

    def inventory(self):  # -> DatasetInventory
        from ._inventory import mimic_inventory

        return mimic_inventory(self)
