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


def _as_int(value: Any) -> int:
    """An integer from a JSON integer (or an integral float / digit string, as some exports write)."""
    if isinstance(value, bool):
        raise TypeError("a boolean")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError("not a whole number")
    return int(value)


def _as_text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("not a string")
    return value


def _as_texts(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError("not a list of strings")
    return tuple(value)


def _as_ids(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list) or not 1 <= len(value) <= 2:
        raise TypeError("not a list of one or two ids")
    return tuple(_as_int(v) for v in value)


_FIELDS: tuple[tuple[str, Any, str], ...] = (
    ("template_id", _as_int, "an integer"),
    ("question_id", _as_int, "an integer"),
    ("sample_id", _as_int, "an integer"),
    ("question_type", _as_text, "a string"),
    ("attribute_type", _as_text, "a string"),
    ("question", _as_text, "a string"),
    ("answer", _as_texts, "a list of strings"),
    ("ecg_id", _as_ids, "a list of one or two integer ECG ids"),
)


def _sample_from_dict(item: Any, split: str, source: str, index: int) -> QASample:
    """One sample, or ``DatasetError`` naming the item index, its sample id and the field at fault."""
    if not isinstance(item, dict):
        raise DatasetError(f"{source}: item {index} is {type(item).__name__}, expected a JSON object")
    missing = [name for name in _REQUIRED if name not in item]
    if missing:
        raise DatasetError(
            f"{source}: item {index} lacks field {missing[0]!r}; ECG-QA samples need {', '.join(_REQUIRED)}"
        )
    where = f"{source}: item {index}"
    if isinstance(item.get("sample_id"), int) and not isinstance(item.get("sample_id"), bool):
        where += f" (sample {item['sample_id']})"
    values = []
    for name, convert, what in _FIELDS:
        try:
            values.append(convert(item[name]))
        except (TypeError, ValueError, OverflowError):
            raise DatasetError(f"{where}: field {name!r} must be {what}, got {_short(item[name])}") from None
    attribute = item.get("attribute")
    if attribute is not None:
        try:
            attribute = _as_texts(attribute)
        except TypeError:
            raise DatasetError(f"{where}: field 'attribute' must be a list of strings or null, "
                               f"got {_short(attribute)}") from None
    return QASample(*values, attribute, split, source)


def _short(value: Any) -> str:
    """``repr`` of a JSON value, cut to 80 characters."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):  # not a JSON value (parse_samples on Python objects)
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


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
            and type(x.question) is str and type(x.question_type) is str and type(x.attribute_type) is str
            and 1 <= len(x.ecg_id) <= 2 and all(type(e) is int for e in x.ecg_id)
            and all(type(a) is str for a in x.answer)
            and (x.attribute is None or all(type(a) is str for a in x.attribute))
            and type(d["answer"]) is list and type(d["ecg_id"]) is list
            and (x.attribute is None or type(d["attribute"]) is list)
            for x, d in zip(out, data)
        )
    except (KeyError, TypeError, AttributeError):
        ok = False
    if not ok:  # slow path: convert what can be converted, or say exactly what is wrong
        out = [_sample_from_dict(item, split, source, i) for i, item in enumerate(data)]
    for x in out:
        if x.template_id not in TEMPLATES:
            raise DatasetError(f"{source}: sample {x.sample_id} has unknown template_id {x.template_id}; expected 1..70")
        if min(x.ecg_id) < 1:
            raise DatasetError(f"{source}: sample {x.sample_id} has ecg_id {list(x.ecg_id)}; ECG ids are positive")
    return out


MAX_PTBXL_ECG_ID = 21837
"""The largest PTB-XL ``ecg_id`` (PTB-XL 1.0.3 holds ecg_id 1..21837)."""


def _check_ptbxl_ids(samples: list[QASample], source: str) -> None:
    """``DatasetError`` for a PTB-XL sample whose ECG id is outside 1..MAX_PTBXL_ECG_ID."""
    for x in samples:
        if max(x.ecg_id) > MAX_PTBXL_ECG_ID:
            raise DatasetError(f"{x.source or source}: sample {x.sample_id} has ecg_id {list(x.ecg_id)}; "
                               f"PTB-XL ecg_ids are 1..{MAX_PTBXL_ECG_ID}")


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
        if dataset == "ptbxl":
            _check_ptbxl_ids(samples, str(single))
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
    if dataset == "ptbxl":
        _check_ptbxl_ids(samples, str(folder))
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
