"""Verify the answer engine against every official sample: recompute answers from PTB-XL labels.

Sources (PTB-XL, template wording): every chunk under ``<ecgqa>/ptbxl/template/<split>/``, the
``<ecgqa>/sampled/ptbxl_template_*.jsonl`` samples and the examples in ``<ecgqa>/templates.json``
(deduplicated by split and sample_id). Numeric-feature templates need measurements on the signal,
not labels: they are counted but not recomputed.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from ..errors import DatasetError, UsageError
from ._attributes import EcgAttributes
from ._engine import answer_question
from ._samples import QASample, _read_json, json_error_reason, parse_samples
from ._templates import TEMPLATES, Template

__all__ = [
    "Disagreement",
    "TemplateAgreement",
    "VerifyReport",
    "official_template_samples",
    "slots_of_sample",
    "verify_answers",
    "NumericConsistency",
    "numeric_comparison_consistency",
    "SIGNAL_DERIVED_TEMPLATES",
]

SIGNAL_DERIVED_TEMPLATES: frozenset[int] = frozenset({20, 21, 22})
"""Non-numeric templates whose official answers came from the signal (the heart axis was computed
from leads I and aVF by the ECG-QA authors, not read from PTB-XL's heart_axis column)."""


@dataclass(frozen=True)
class Disagreement:
    """One official sample whose recomputed answer differs."""

    sample: QASample
    """The official sample."""
    expected: tuple[str, ...]
    """The official answer."""
    got: tuple[str, ...]
    """The engine's answer (or ``("error: ...",)``)."""


@dataclass(frozen=True)
class TemplateAgreement:
    """Agreement on one template."""

    template_id: int
    """Template id."""
    total: int
    """Official samples of this template."""
    agree: int
    """Samples whose recomputed answer set equals the official one."""
    agree_in_order: int
    """Samples whose recomputed answer list equals the official one, order included."""
    numeric: bool
    """True for numeric-feature templates (not recomputable from labels)."""


@dataclass(frozen=True)
class VerifyReport:
    """Per-template agreement and every disagreement."""

    per_template: dict[int, TemplateAgreement]
    """Template id -> agreement (templates with no official sample are absent)."""
    disagreements: list[Disagreement] = field(repr=False)
    """Every non-numeric sample whose answer differs."""
    sources: dict[str, int] = field(default_factory=dict)
    """Source file -> samples taken from it."""

    @property
    def non_numeric(self) -> tuple[int, int]:
        """(agree, total) over non-numeric templates."""
        rows = [r for r in self.per_template.values() if not r.numeric]
        return sum(r.agree for r in rows), sum(r.total for r in rows)


def _normalize(item: dict[str, Any], tid_default: int | None = None, source: str = "ECG-QA file") -> dict[str, Any]:
    if not isinstance(item, dict):
        raise DatasetError(f"{source}: expected a JSON object per sample, got {type(item).__name__}")
    item = dict(item)
    if "template_id" not in item and tid_default is not None:
        item["template_id"] = tid_default
    try:
        tpl = TEMPLATES.get(int(item.get("template_id", 0)))
    except (TypeError, ValueError):
        raise DatasetError(f"{source}: template_id {item.get('template_id')!r} is not an integer") from None
    if tpl is not None:
        item.setdefault("question_type", tpl.question_type)
        item.setdefault("attribute_type", tpl.attribute_type)
    return item


def official_template_samples(ecgqa_root: str | Path) -> tuple[list[QASample], dict[str, int]]:
    """Every PTB-XL template-wording official sample found under ``ecgqa_root`` (deduplicated)."""
    root = Path(ecgqa_root)
    if not root.is_dir():
        raise DatasetError(f"ECG-QA folder not found: {root}")
    seen: set[tuple[str, int]] = set()
    out: list[QASample] = []
    sources: Counter[str] = Counter()

    def add(samples: Iterable[QASample], source: str) -> None:
        for s in samples:
            key = (s.split, s.sample_id)
            if key in seen:
                continue
            seen.add(key)
            out.append(s)
            sources[source] += 1

    for split in ("train", "valid", "test"):
        folder = root / "ptbxl" / "template" / split
        if folder.is_dir():
            for path in sorted(folder.glob("*.json")):
                add(parse_samples(_read_json(path), split, str(path)), str(path.relative_to(root)))
    for path in sorted((root / "sampled").glob("ptbxl_template_*.jsonl")) if (root / "sampled").is_dir() else []:
        split = next((s for s in ("train", "valid", "test") if f"_{s}" in path.name), "")
        items = []
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as exc:
            raise DatasetError(f"malformed JSON lines in {path}: not UTF-8 text (byte {exc.start}: {exc.reason})") from None
        for n, line in enumerate(lines, 1):
            if line.strip():
                try:
                    items.append(_normalize(json.loads(line), source=f"{path} line {n}"))
                except json.JSONDecodeError as exc:
                    raise DatasetError(f"malformed JSON in {path} at line {n} column {exc.colno}: "
                                       f"{json_error_reason(exc)}") from None
        add(parse_samples(items, split, str(path)), str(path.relative_to(root)))
    tpath = root / "templates.json"
    if tpath.is_file():
        entries = _read_json(tpath)
        if not isinstance(entries, list) or not all(
            isinstance(e, dict) and isinstance(e.get("template_id"), int) and isinstance(e.get("examples", []), list)
            for e in entries
        ):
            raise DatasetError(f"{tpath}: expected a JSON list of templates, each with an integer 'template_id' "
                               f"and a list of 'examples'")
        for entry in entries:
            examples = [_normalize(e, entry["template_id"], str(tpath)) for e in entry.get("examples", [])]
            for e in examples:
                add(parse_samples([e], e.get("split", ""), str(tpath)), "templates.json")
    if not out:
        raise DatasetError(f"no PTB-XL template samples under {root} (ptbxl/template/*/*.json, sampled/, templates.json)")
    return out, dict(sources)


def slots_of_sample(sample: QASample, tpl: Template | None = None) -> dict[str, str]:
    """Slot values of an official template-wording sample (text first, the attribute list as fallback).

    Template 37's official text is garbled when its two options are swapped (a known data bug);
    its attribute list still holds the true options in order, so it is used there.
    """
    tpl = tpl or TEMPLATES[sample.template_id]
    if not tpl.slots:
        return {}
    from ._engine import normalize_slots

    found = tpl.match(sample.question)
    if found is not None and tpl.template_id != 37:
        try:
            return normalize_slots(tpl, found)
        except UsageError:
            pass
    attrs = list(sample.attribute or ())
    pairs = [s for s in tpl.slots if s.endswith(("1", "2"))]
    if found is not None and attrs:
        guess = dict(found)
        for name, value in zip(pairs, attrs):
            guess[name] = value.split(" of ")[0] if tpl.is_numeric else value
        try:
            return normalize_slots(tpl, guess)
        except UsageError:
            pass
    raise UsageError(f"cannot read the slots of sample {sample.sample_id} (template {tpl.template_id}): {sample.question!r}")


def verify_answers(
    samples: list[QASample],
    attributes_of: "callable[[int], EcgAttributes]",
) -> VerifyReport:
    """Recompute every non-numeric sample's answer with ``attributes_of(ecg_id)`` and compare."""
    counts: dict[int, list[int]] = {}
    disagreements: list[Disagreement] = []
    for s in samples:
        tpl = TEMPLATES[s.template_id]
        row = counts.setdefault(s.template_id, [0, 0, 0])
        row[0] += 1
        if tpl.is_numeric:
            continue
        try:
            slots = slots_of_sample(s, tpl)
            attrs = [attributes_of(e) for e in s.ecg_id]
            got = tuple(answer_question(s.template_id, slots, attrs[0], attrs[1] if len(attrs) > 1 else None))
        except Exception as exc:  # noqa: BLE001 - every failure is reported as a disagreement
            got = (f"error: {type(exc).__name__}: {exc}",)
        if sorted(got) == sorted(s.answer) and len(set(got)) == len(got):
            row[1] += 1
            row[2] += got == s.answer
        else:
            disagreements.append(Disagreement(s, s.answer, got))
    per = {
        tid: TemplateAgreement(tid, c[0], c[1], c[2], TEMPLATES[tid].is_numeric) for tid, c in sorted(counts.items())
    }
    return VerifyReport(per, disagreements)


@dataclass(frozen=True)
class NumericConsistency:
    """Self-consistency of the numeric comparison templates (no measurements needed).

    Each record's per-feature state (within / outside the normal range) is inferred from the
    official answers that imply it (e.g. "what features became normal" = abnormal in the first
    ECG, within in the second); the engine then re-answers every sample whose answer those states
    determine. Agreement checks the engine's comparison logic and that the official answers admit
    one state per record and feature.
    """

    conflicts: int
    """(record, feature) pairs implied both within and outside the normal range."""
    per_template: dict[int, tuple[int, int]]
    """Template id -> (samples determined by the inferred states, of them agreeing)."""
    undetermined: int
    """Samples whose answer the inferred states do not determine."""


_TRANSITIONS = {0: ("abn", "within"), 1: ("within", "abn"), 2: ("abn", "abn"), 3: ("within", "within")}


def _transition(tid: int) -> tuple[str, str] | None:
    if 50 <= tid <= 56:
        return _TRANSITIONS[(tid - 50) % 4 if tid <= 53 else tid - 54]
    if 64 <= tid <= 70:
        return _TRANSITIONS[(tid - 64) % 4 if tid <= 67 else tid - 68]
    return None


def numeric_comparison_consistency(samples: list[QASample]) -> NumericConsistency:
    """Infer per-record numeric states from comparison answers and re-answer with the engine."""
    from ._templates import NUMERIC_FEATURES

    def dataset_of(s: QASample) -> str:
        return "mimic" if "mimic" in s.source else "ptbxl"

    states: dict[tuple[str, int, str], set[str]] = {}
    comp = [s for s in samples if _transition(s.template_id) is not None]
    for s in comp:
        want = _transition(s.template_id)
        tpl = TEMPLATES[s.template_id]
        if tpl.kind == "verify":
            if s.answer != ("yes",):
                continue
            features = [slots_of_sample(s, tpl)["numeric_feature"]]
        else:
            features = [f for f in s.answer if f != "none"]
        ds = dataset_of(s)
        for f in features:
            states.setdefault((ds, s.ecg_id[0], f), set()).add(want[0])
            states.setdefault((ds, s.ecg_id[1], f), set()).add(want[1])
    conflicts = sum(len(v) > 1 for v in states.values())
    per: dict[int, list[int]] = {}
    undetermined = 0
    word = {"abn": "above", "within": "within"}
    for s in comp:
        tpl = TEMPLATES[s.template_id]
        ds = dataset_of(s)
        slots = slots_of_sample(s, tpl)
        features = [slots["numeric_feature"]] if tpl.kind == "verify" else list(NUMERIC_FEATURES)
        determined = True
        result: list[str] = []
        for f in features:
            options = []
            for key in ((ds, s.ecg_id[0], f), (ds, s.ecg_id[1], f)):
                known = states.get(key)
                options.append(sorted(known) if known and len(known) == 1 else ["abn", "within"])
            answers = set()
            for s1 in options[0]:
                for s2 in options[1]:
                    a1 = EcgAttributes(numeric={f: word[s1]})
                    a2 = EcgAttributes(numeric={f: word[s2]})
                    sub = {"numeric_feature": f} if tpl.kind == "verify" else {}
                    answers.add(tuple(answer_question(s.template_id, sub, a1, a2)))
            if len(answers) != 1:
                determined = False
                break
            result.extend(a for a in answers.pop() if a not in ("none",))
        if not determined:
            undetermined += 1
            continue
        if tpl.kind == "verify":
            got = tuple(result) or ("no",)
        else:
            got = tuple(result) or ("none",)
        row = per.setdefault(s.template_id, [0, 0])
        row[0] += 1
        row[1] += sorted(got) == sorted(s.answer)
    return NumericConsistency(conflicts, {k: (v[0], v[1]) for k, v in sorted(per.items())}, undetermined)
