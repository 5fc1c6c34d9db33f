"""What a (partial) dataset folder lists, holds and lacks: behind ``ecgqa data check``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._ludb import Ludb
    from ._mimic import MimicIvEcg
    from ._ptbxl import PtbXl

# How many missing ids an inventory quotes (the full set is on the dataset object).
MISSING_EXAMPLES = 10


@dataclass(frozen=True)
class SplitCount:
    """Records of one split (e.g. one PTB-XL ``strat_fold``)."""

    name: str
    """Split name as the dataset defines it, e.g. ``strat_fold 10``."""
    role: str
    """What the split is for: ``train``, ``validation``, ``test`` (or ``-`` when undefined)."""
    listed: int
    """Records the metadata lists in this split."""
    present: Mapping[str, int]
    """Records whose files exist, per variant (e.g. ``{"100 Hz": 198, "500 Hz": 50}``)."""


@dataclass(frozen=True)
class DatasetInventory:
    """Listed, present and missing records of one dataset folder."""

    dataset: str
    """``ptbxl``, ``ludb`` or ``mimic-iv-ecg``."""
    root: str
    """The folder inspected."""
    listed: int
    """Records the dataset's metadata lists."""
    present: Mapping[str, int]
    """Records whose files exist, per variant (``100 Hz``/``500 Hz`` for PTB-XL, ``signals``...)."""
    present_any: int
    """Records present in at least one variant."""
    missing_examples: Mapping[str, tuple[int, ...]]
    """Per variant, the first few listed ids whose files are absent."""
    splits: tuple[SplitCount, ...] = ()
    """Counts per split, when the dataset defines splits."""
    notes: tuple[str, ...] = field(default=())
    """Anything else worth saying (no splits defined, annotation files missing...)."""

    @property
    def missing(self) -> dict[str, int]:
        """Listed records whose files are absent, per variant."""
        return {variant: self.listed - count for variant, count in self.present.items()}

    def to_dict(self) -> dict:
        data = asdict(self)
        data["missing"] = self.missing
        return data

    def text(self) -> str:
        lines = [f"{self.dataset} at {self.root}", f"listed: {self.listed:,}"]
        for variant, count in self.present.items():
            lines.append(
                f"present ({variant}): {count:,} of {self.listed:,} ({self.listed - count:,} missing)"
            )
        if len(self.present) > 1 and all(v.endswith("Hz") for v in self.present):
            lines.append(f"present at any rate: {self.present_any:,}")
        for variant, ids in self.missing_examples.items():
            if ids:
                lines.append(f"first missing ({variant}): {', '.join(map(str, ids))}")
        if self.splits:
            variants = list(self.present)
            header = f"{'split':<14}{'role':<12}{'listed':>8}" + "".join(f"{'present ' + v:>18}" for v in variants)
            lines.append(header)
            for split in self.splits:
                lines.append(
                    f"{split.name:<14}{split.role:<12}{split.listed:>8,}"
                    + "".join(f"{split.present.get(v, 0):>18,}" for v in variants)
                )
        lines.extend(self.notes)
        return "\n".join(lines)


def _first(ids: frozenset[int] | set[int]) -> tuple[int, ...]:
    return tuple(sorted(ids)[:MISSING_EXAMPLES])


def ptbxl_inventory(ptbxl: PtbXl) -> DatasetInventory:
    from ._ptbxl import PTBXL_RATES, split_of_fold

    folds = ptbxl.metadata["strat_fold"]
    present = {rate: ptbxl.present_ids(rate) for rate in PTBXL_RATES}
    listed_by_fold = Counter(int(f) for f in folds)
    splits = []
    for fold in sorted(listed_by_fold):
        ids_in_fold = folds.index[folds == fold]
        splits.append(
            SplitCount(
                name=f"strat_fold {fold}",
                role=split_of_fold(fold),
                listed=listed_by_fold[fold],
                present={f"{rate} Hz": int(ids_in_fold.isin(list(present[rate])).sum()) for rate in PTBXL_RATES},
            )
        )
    every = set(ptbxl.ecg_ids)
    return DatasetInventory(
        dataset="ptbxl",
        root=str(ptbxl.root),
        listed=len(every),
        present={f"{rate} Hz": len(present[rate]) for rate in PTBXL_RATES},
        present_any=len(frozenset().union(*present.values())),
        missing_examples={f"{rate} Hz": _first(every - present[rate]) for rate in PTBXL_RATES},
        splits=tuple(splits),
        notes=("splits: PTB-XL recommends strat_fold 1-8 train, 9 validation, 10 test (patient-level)",),
    )


def ludb_inventory(ludb: Ludb) -> DatasetInventory:
    listed = set(ludb.record_ids)
    present = ludb.present_ids()
    annotated = ludb.annotated_ids()
    notes = ["splits: LUDB defines none"]
    heldout = ludb.openecg_heldout_ids()
    if heldout:
        notes.append(
            f"openecg_heldout_records.txt: {len(heldout)} records the openecg delineator did not train on "
            f"({len(set(heldout) & present)} present)"
        )
    return DatasetInventory(
        dataset="ludb",
        root=str(ludb.root),
        listed=len(listed),
        present={"signals": len(present), "annotations": len(annotated)},
        present_any=len(present),
        missing_examples={"signals": _first(listed - present), "annotations": _first(listed - annotated)},
        notes=tuple(notes),
    )


def mimic_inventory(mimic: MimicIvEcg) -> DatasetInventory:
    listed = set(mimic.study_ids)
    present = mimic.present_ids()
    subjects = mimic.metadata["subject_id"]
    present_subjects = subjects[subjects.index.isin(list(present))].nunique()
    return DatasetInventory(
        dataset="mimic-iv-ecg",
        root=str(mimic.root),
        listed=len(listed),
        present={"signals": len(present)},
        present_any=len(present),
        missing_examples={"signals": _first(listed - present)},
        notes=(
            "splits: MIMIC-IV-ECG defines none (ECG-QA's mimic-iv-ecg splits are by study_id)",
            f"subjects: {subjects.nunique():,} listed, {present_subjects:,} with a present study",
        ),
    )
