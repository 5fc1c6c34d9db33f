"""Loading the official ECG-QA JSON into typed samples, fast, with partial chunk sets reported.

Layout (ECG-QA v1.0.2): ``<root>/<dataset>/<template|paraphrased>/<split>/<NNNNN>.json``, each
chunk holding up to 10,000 samples whose ``sample_id`` starts at the chunk number; the older
single-file layout ``<root>/<kind>/<split>.json`` is read too.
"""

from __future__ import annotations

import gc
import json
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Literal

from ..errors import DatasetError, UsageError, json_error_reason
from ._templates import TEMPLATES

__all__ = [
    "QASample",
    "QASplit",
    "load_ecgqa",
    "parse_samples",
    "DATASETS",
    "KINDS",
    "SPLITS",
    "EXPECTED_CHUNKS",
]

DATASETS: tuple[str, ...] = ("ptbxl", "mimic-iv-ecg")
KINDS: tuple[str, ...] = ("template", "paraphrased")
SPLITS: tuple[str, ...] = ("train", "valid", "test")
CHUNK_SIZE = 10_000
EXPECTED_CHUNKS: dict[tuple[str, str], int] = {
    ("ptbxl", "train"): 27,  # 267,539 samples
    ("ptbxl", "valid"): 7,  # 64,663
    ("ptbxl", "test"): 9,  # 82,146
    ("mimic-iv-ecg", "train"): 84,
    ("mimic-iv-ecg", "valid"): 24,
    ("mimic-iv-ecg", "test"): 28,
}
"""Number of 10,000-sample chunks in each complete official split (v1.0.2)."""

_REQUIRED = ("template_id", "question_id", "sample_id", "question_type", "attribute_type", "question", "answer", "ecg_id")


@dataclass(frozen=True, slots=True)
class QASample:
    """One official ECG-QA sample."""

    template_id: int
    """Template id 1..70 (see ``TEMPLATES``)."""
    question_id: int
    """Question id; paraphrases of one template question share it."""
    sample_id: int
    """Sample id, unique within a split."""
    question_type: str
    """``single-verify``, ``comparison_irrelevant-query``..."""
    attribute_type: str
    """``scp_code``, ``noise``, ``stage_of_infarction``, ``extra_systole``, ``heart_axis``, ``numeric_feature``."""
    question: str
    """The question text (template wording or a paraphrase)."""
    answer: tuple[str, ...]
    """The official answer list."""
    ecg_id: tuple[int, ...]
    """One ECG id (two for comparison templates: first/previous, second/recent)."""
    attribute: tuple[str, ...] | None
    """The attributes the question is about (None for comparison templates)."""
    split: str = ""
    """``train``, ``valid`` or ``test`` (empty when unknown)."""
    source: str = ""
    """The file the sample was read from."""


@dataclass(frozen=True)
class QASplit:
    """The samples of one dataset/kind/split, and which official chunks were found or missing."""

    dataset: str
    """``ptbxl`` or ``mimic-iv-ecg``."""
    kind: str
    """``template`` or ``paraphrased``."""
    split: str
    """``train``, ``valid`` or ``test``."""
    samples: list[QASample] = field(repr=False)
    """The samples, in file order."""
    chunks_found: tuple[str, ...]
    """Chunk files read (names like ``120000.json``)."""
    chunks_missing: tuple[str, ...]
    """Official chunk files absent from the folder (empty for a complete split)."""

    @property
    def complete(self) -> bool:
        """True when every official chunk is present."""
        return not self.chunks_missing

    def __len__(self) -> int:
        return len(self.samples)

    def __iter__(self) -> Iterator[QASample]:
        return iter(self.samples)

    def summary(self) -> str:
        """One line: how many samples, chunks found and missing."""
        state = "complete" if self.complete else f"PARTIAL: {len(self.chunks_missing)} chunk(s) missing"
        return (
            f"{self.dataset}/{self.kind}/{self.split}: {len(self.samples)} samples from "
            f"{len(self.chunks_found)} chunk(s); {state}"
        )


def _sample_from_dict(item: Any, split: str, source: str, index: int) -> QASample:
    if not isinstance(item, dict):
        raise DatasetError(f"{source}: item {index} is {type(item).__name__}, expected a JSON object")
    try:
        attribute = item.get("attribute")
        return QASample(
            int(item["template_id"]),
            int(item["question_id"]),
            int(item["sample_id"]),
            item["question_type"],
            item["attribute_type"],
            item["question"],
            tuple(item["answer"]),
            tuple(int(e) for e in item["ecg_id"]),
            None if attribute is None else tuple(attribute),
            split,
            source,
        )
    except KeyError as exc:
        raise DatasetError(
            f"{source}: item {index} lacks field {exc.args[0]!r}; ECG-QA samples need {', '.join(_REQUIRED)}"
        ) from None
    except (TypeError, ValueError) as exc:
        raise DatasetError(f"{source}: item {index} has a malformed field: {exc}") from None


def parse_samples(data: Any, split: str = "", source: str = "<memory>") -> list[QASample]:
    """Typed samples from decoded ECG-QA JSON (a list of sample objects)."""
    if not isinstance(data, list):
        raise DatasetError(f"{source}: expected a JSON list of samples, got {type(data).__name__}")
    try:  # fast path: well-formed official data
        out = [
            QASample(
                d["template_id"], d["question_id"], d["sample_id"], d["question_type"], d["attribute_type"],
                d["question"], tuple(d["answer"]), tuple(d["ecg_id"]),
                None if d.get("attribute") is None else tuple(d["attribute"]), split, source,
            )
            for d in data
        ]
        ok = all(
            type(x.template_id) is int and type(x.sample_id) is int and type(x.question_id) is int
            and all(type(e) is int for e in x.ecg_id)
            for x in out
        )
    except (KeyError, TypeError, AttributeError):
        ok = False
    if not ok:  # slow path: convert what can be converted, or say exactly what is wrong
        out = [_sample_from_dict(item, split, source, i) for i, item in enumerate(data)]
    for x in out:
        if x.template_id not in TEMPLATES:
            raise DatasetError(f"{source}: sample {x.sample_id} has unknown template_id {x.template_id}; expected 1..70")
    return out


def _read_json(path: Path) -> Any:
    try:
        with open(path, "rb") as fh:
            return json.loads(fh.read())
    except json.JSONDecodeError as exc:
        raise DatasetError(f"malformed JSON in {path} at line {exc.lineno} column {exc.colno}: "
                           f"{json_error_reason(exc)}") from None
    except UnicodeDecodeError as exc:  # binary or non-UTF-8 content (json.loads decodes bytes itself)
        raise DatasetError(f"malformed JSON in {path}: not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc.strerror}") from None


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Cyclic garbage collection off while a split is built: its millions of new objects are acyclic,
    and the collector's passes over the growing heap cost ~40% of the CPU time of a full split."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _split_dir(root: Path, dataset: str, kind: str, split: str) -> tuple[Path | None, Path | None]:
    """(chunk folder, single file) candidates for this split under an ecg-qa root or a dataset folder."""
    bases = [root / dataset, root]
    for base in bases:
        folder = base / kind / split
        if folder.is_dir():
            return folder, None
        single = base / kind / f"{split}.json"
        if single.is_file():
            return None, single
    return None, None


def load_ecgqa(
    root: str | Path,
    dataset: Literal["ptbxl", "mimic-iv-ecg"] = "ptbxl",
    kind: Literal["template", "paraphrased"] = "template",
    split: Literal["train", "valid", "test"] = "train",
    *,
    require_complete: bool = False,
) -> QASplit:
    """Load one official split into typed samples; ``chunks_missing`` lists what a partial copy lacks.

    ``root`` is the ECG-QA folder (holding ``ptbxl/`` and ``mimic-iv-ecg/``) or a dataset folder.
    Raises DatasetError when nothing of the split is there, a file is malformed, or
    ``require_complete`` is set and chunks are missing.
    """
    if dataset not in DATASETS:
        raise UsageError(f"unknown dataset {dataset!r}; expected one of {', '.join(DATASETS)}")
    if kind not in KINDS:
        raise UsageError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    if split not in SPLITS:
        raise UsageError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"ECG-QA folder not found: {root}")
    folder, single = _split_dir(root, dataset, kind, split)
    if single is not None:
        with _gc_paused():
            samples = parse_samples(_read_json(single), split, str(single))
        return QASplit(dataset, kind, split, samples, (single.name,), ())
    if folder is None:
        raise DatasetError(
            f"no {dataset}/{kind}/{split} data under {root}: expected {root / dataset / kind / split}/NNNNN.json"
        )
    names = sorted((n for n in os.listdir(folder) if re.fullmatch(r"\d+\.json", n)), key=lambda n: int(n[:-5]))
    if not names:
        raise DatasetError(f"{folder} holds no NNNNN.json chunk")
    samples: list[QASample] = []
    with _gc_paused():
        for name in names:
            samples.extend(parse_samples(_read_json(folder / name), split, str(folder / name)))
    expected = EXPECTED_CHUNKS.get((dataset, split), 0)
    last = max(expected, max(int(n[:-5]) // CHUNK_SIZE + 1 for n in names))
    present = {int(n[:-5]) for n in names}
    missing = tuple(f"{i * CHUNK_SIZE:05d}.json" for i in range(last) if i * CHUNK_SIZE not in present)
    if require_complete and missing:
        raise DatasetError(
            f"{dataset}/{kind}/{split} is partial: {len(missing)} of {last} chunks missing "
            f"({', '.join(missing[:5])}{'...' if len(missing) > 5 else ''})"
        )
    return QASplit(dataset, kind, split, samples, tuple(names), missing)
