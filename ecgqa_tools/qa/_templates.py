"""The 70 ECG-QA question templates and the answer vocabularies, as a typed registry.

The patterns were recovered from the official v1.0.2 data (``ecg-qa/templates.json``); the answer
options are the official ``answers_for_each_template.csv`` of each dataset. Both ship in
``ecgqa_tools/qa/data`` (CC-BY 4.0, ECG-QA, Oh et al. 2023) so nothing is read from a data folder.
"""

from __future__ import annotations

import ast
import csv
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Literal

from ..errors import DatasetError, UsageError

__all__ = [
    "Template",
    "TEMPLATES",
    "QUESTION_TYPES",
    "ATTRIBUTE_TYPES",
    "NUMERIC_FEATURES",
    "RANGES",
    "LEADS",
    "Dataset",
    "template",
    "answer_options",
    "answer_vocabulary",
    "SLOT_KINDS",
]

Dataset = Literal["ptbxl", "mimic-iv-ecg"]

QUESTION_TYPES: tuple[str, ...] = (
    "single-verify",
    "single-choose",
    "single-query",
    "comparison_consecutive-verify",
    "comparison_consecutive-query",
    "comparison_irrelevant-verify",
    "comparison_irrelevant-query",
)
ATTRIBUTE_TYPES: tuple[str, ...] = (
    "scp_code",
    "noise",
    "stage_of_infarction",
    "extra_systole",
    "heart_axis",
    "numeric_feature",
)
NUMERIC_FEATURES: tuple[str, ...] = (
    "p duration",
    "pr interval",
    "qrs duration",
    "qt corrected",
    "qt interval",
    "rr interval",
)
RANGES: tuple[str, ...] = ("below", "within", "above")
LEADS: tuple[str, ...] = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")

_SLOT_RE = re.compile(r"\$\{(\w+?)\}")
# slot name in a pattern -> the kind of value it takes (a trailing 1/2 is a choice pair)
SLOT_KINDS: dict[str, str] = {
    "scp_code": "scp_code",
    "scp_superclass": "scp_superclass",
    "diagnostic": "diagnostic",
    "form": "form",
    "rhythm": "rhythm",
    "lead": "lead",
    "heart_axis": "heart_axis",
    "stage_of_infarction": "stage_of_infarction",
    "noise": "noise",
    "extra_systole": "extra_systole",
    "numeric_feature": "numeric_feature",
    "range": "range",
}


@dataclass(frozen=True)
class Template:
    """One ECG-QA question template."""

    template_id: int
    """1..70, the official template id."""
    question_type: str
    """One of ``QUESTION_TYPES`` (e.g. ``single-verify``, ``comparison_irrelevant-query``)."""
    attribute_type: str
    """One of ``ATTRIBUTE_TYPES`` (``scp_code``, ``noise``, ...)."""
    pattern: str
    """The question text with named slots, e.g. ``Does this ECG show ${noise} in lead ${lead}?``."""
    slots: tuple[str, ...]
    """Slot names in pattern order, e.g. ``("noise", "lead")`` or ``("noise1", "noise2")``."""
    answer_options: tuple[str, ...]
    """The official answer options for PTB-XL (``answers_for_each_template.csv``), sorted as there."""
    note: str | None
    """Known quirks of the official data for this template, or None."""

    @property
    def is_comparison(self) -> bool:
        """True for templates about two ECGs (43-70)."""
        return self.question_type.startswith("comparison")

    @property
    def is_numeric(self) -> bool:
        """True when the answer depends on numeric features measured on the signal."""
        return self.attribute_type == "numeric_feature"

    @property
    def kind(self) -> str:
        """``verify``, ``choose`` or ``query``."""
        return self.question_type.rsplit("-", 1)[1]

    def render(self, slots: dict[str, str]) -> str:
        """The template question with ``slots`` filled in (raises UsageError on a missing slot)."""
        missing = [name for name in self.slots if name not in slots]
        if missing:
            raise UsageError(
                f"template {self.template_id} needs slots {', '.join(self.slots)}; missing {', '.join(missing)}"
            )
        return _SLOT_RE.sub(lambda m: str(slots[m.group(1)]), self.pattern)

    def match(self, question: str) -> dict[str, str] | None:
        """Slot values when ``question`` is this template's exact wording (case-insensitive), else None."""
        m = _pattern_regex(self.pattern).fullmatch(question.strip())
        return None if m is None else {k: v.strip() for k, v in m.groupdict().items()}


@lru_cache(maxsize=None)
def _pattern_regex(pattern: str) -> "re.Pattern[str]":
    parts = _SLOT_RE.split(pattern)
    regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts))
    return re.compile(regex, re.IGNORECASE)


def slot_kind(slot: str) -> str:
    """The value kind of a slot name (``noise2`` -> ``noise``)."""
    return SLOT_KINDS[slot.rstrip("12")]


def _data_text(name: str) -> str:
    return resources.files("ecgqa_tools.qa").joinpath("data", name).read_text(encoding="utf-8")


def _parse_options_csv(text: str, source: str) -> dict[int, tuple[str, ...]]:
    rows = csv.DictReader(text.splitlines())
    out: dict[int, tuple[str, ...]] = {}
    for row in rows:
        try:
            out[int(row["template_id"])] = tuple(ast.literal_eval(row["classes"]))
        except (KeyError, ValueError, SyntaxError) as exc:
            raise DatasetError(f"malformed answers_for_each_template row in {source}: {row!r}") from exc
    return out


@lru_cache(maxsize=None)
def _options(dataset: str) -> dict[int, tuple[str, ...]]:
    prefix = {"ptbxl": "ptbxl", "mimic-iv-ecg": "mimic"}.get(dataset)
    if prefix is None:
        raise UsageError(f"unknown dataset {dataset!r}; expected 'ptbxl' or 'mimic-iv-ecg'")
    name = f"{prefix}_answers_for_each_template.csv"
    return _parse_options_csv(_data_text(name), name)


def answer_options(template_id: int, dataset: Dataset = "ptbxl") -> tuple[str, ...]:
    """The official answer options of one template for ``dataset`` (MIMIC lacks some templates)."""
    options = _options(dataset)
    if template_id not in options:
        raise UsageError(f"template {template_id} has no answer options in {dataset}")
    return options[template_id]


@lru_cache(maxsize=None)
def answer_vocabulary(dataset: Dataset = "ptbxl") -> tuple[str, ...]:
    """Every answer of ``dataset`` (official ``answers.csv``), in its index order."""
    prefix = {"ptbxl": "ptbxl", "mimic-iv-ecg": "mimic"}.get(dataset)
    if prefix is None:
        raise UsageError(f"unknown dataset {dataset!r}; expected 'ptbxl' or 'mimic-iv-ecg'")
    rows = list(csv.DictReader(_data_text(f"{prefix}_answers.csv").splitlines()))
    return tuple(row["class"] for row in rows)


def _load_templates() -> dict[int, Template]:
    raw = json.loads(_data_text("templates.json"))
    options = _options("ptbxl")
    out: dict[int, Template] = {}
    for item in raw:
        tid = int(item["template_id"])
        out[tid] = Template(
            template_id=tid,
            question_type=item["question_type"],
            attribute_type=item["attribute_type"],
            pattern=item["pattern"],
            slots=tuple(_SLOT_RE.findall(item["pattern"])),
            answer_options=options[tid],
            note=item.get("note"),
        )
    return out


TEMPLATES: dict[int, Template] = _load_templates()
"""The 70 templates by id (1..70)."""


def template(template_id: int) -> Template:
    """The template with this id, or UsageError listing the valid range."""
    try:
        return TEMPLATES[int(template_id)]
    except (KeyError, ValueError, TypeError):
        raise UsageError(f"unknown template id {template_id!r}; expected 1..{len(TEMPLATES)}") from None
