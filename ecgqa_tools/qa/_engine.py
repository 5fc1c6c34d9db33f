"""The answer engine: (template, slots, attributes of one or two ECGs) -> the ECG-QA answer list.

Answers use the official vocabulary. Order: a choose question lists the present options in the
order the question names them; a query lists answers in the order of the attribute vocabulary
(statement order of ``scp_statements.csv``, PTB-XL lead order, ...). The official data's order of
multi-answer lists is not deterministic (the same answer set appears in several orders), so
agreement with it is judged on answer sets (see ``verify``).
"""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import UsageError
from ._attributes import (
    EXTRA_SYSTOLES,
    HEART_AXES,
    INFARCTION_STAGES,
    NOISE_KINDS,
    SCP_DIAGNOSTIC,
    SCP_FORM,
    SCP_RHYTHM,
    SCP_STATEMENTS,
    SCP_SUPERCLASSES,
    EcgAttributes,
)
from ._templates import LEADS, NUMERIC_FEATURES, RANGES, Template, slot_kind, template

__all__ = ["answer_question", "normalize_slots", "slot_vocabulary"]

_NONE = "none"
# numeric features ECG-QA asks about per range (p duration has no "below" class in the data)
_RANGE_FEATURES = {
    "below": ("rr interval", "pr interval", "qrs duration", "qt interval", "qt corrected"),
    "within": NUMERIC_FEATURES,
    "above": NUMERIC_FEATURES,
}


def slot_vocabulary(kind: str) -> tuple[str, ...]:
    """The values a slot of this kind takes (``scp_code``, ``noise``, ``lead``, ``range``...)."""
    vocab = {
        "scp_code": SCP_STATEMENTS,
        "scp_superclass": SCP_SUPERCLASSES,
        "diagnostic": SCP_DIAGNOSTIC,
        "form": SCP_FORM,
        "rhythm": SCP_RHYTHM,
        "lead": LEADS,
        "heart_axis": HEART_AXES,
        "stage_of_infarction": INFARCTION_STAGES[:3],
        "noise": NOISE_KINDS,
        "extra_systole": EXTRA_SYSTOLES,
        "numeric_feature": NUMERIC_FEATURES,
        "range": RANGES,
    }
    if kind not in vocab:
        raise UsageError(f"unknown slot kind {kind!r}; expected one of {', '.join(vocab)}")
    return vocab[kind]


def _normalize_value(kind: str, value: str) -> str:
    text = str(value).strip()
    if kind == "lead":
        bare = text[5:].strip() if text.lower().startswith("lead ") else text
        for lead in LEADS:
            if lead.lower() == bare.lower():
                return lead
    elif kind == "range":
        word = text.lower().split(" ", 1)[0]
        if word in RANGES:
            return word
    else:
        low = text.lower()
        if low in slot_vocabulary(kind):
            return low
    raise UsageError(f"unknown {kind} {value!r}; expected one of {', '.join(slot_vocabulary(kind))}")


def normalize_slots(tpl: Template, slots: Mapping[str, str] | None) -> dict[str, str]:
    """Check ``slots`` against the template's slot names and vocabularies; canonical values."""
    if slots is not None and not isinstance(slots, Mapping):
        example = ", ".join(f"{name!r}: ..." for name in tpl.slots)
        raise UsageError(f"slots must be a mapping of slot name to value such as {{{example}}} for template "
                         f"{tpl.template_id}, got {type(slots).__name__} {str(slots)[:80]}")
    slots = dict(slots or {})
    missing = [s for s in tpl.slots if s not in slots]
    extra = [s for s in slots if s not in tpl.slots]
    if missing or extra:
        raise UsageError(
            f"template {tpl.template_id} takes slots ({', '.join(tpl.slots) or 'none'}); "
            f"missing {missing or 'none'}, unexpected {extra or 'none'}"
        )
    return {name: _normalize_value(slot_kind(name), slots[name]) for name in tpl.slots}


def _yn(value: bool) -> list[str]:
    return ["yes" if value else "no"]


def _or_none(items: list[str], none: str = _NONE) -> list[str]:
    return items if items else [none]


def _choose(options: list[str], present) -> list[str]:
    return _or_none([o for o in dict.fromkeys(options) if present(o)])


def _leads_of(leads: frozenset[str]) -> list[str]:
    return _or_none([f"lead {lead}" for lead in LEADS if lead in leads])


def _range(a: EcgAttributes, feature: str) -> str:
    value = a.numeric.get(feature)
    if value is None:
        raise UsageError(
            f"the {feature} range of ECG {a.ecg_id if a.ecg_id is not None else '?'} is unknown; "
            "measure it on the signal and pass it in EcgAttributes.numeric"
        )
    return value


def _is_abnormal(a: EcgAttributes, feature: str) -> bool:
    return _range(a, feature) != "within"


def _single(tid: int, s: dict[str, str], a: EcgAttributes) -> list[str]:
    if tid == 1:
        name = s["scp_code"]
        if not a.has(name):
            return ["no"]
        return ["not sure"] if a.is_uncertain(name) else ["yes"]
    if tid == 2:
        return _yn(a.has("normal ecg"))
    if tid == 3:
        sup = set(a.superclasses())
        return _choose([s["scp_superclass1"], s["scp_superclass2"]], lambda o: o in sup)
    if tid in (4, 5):
        inc = tid == 4
        return _choose([s["diagnostic1"], s["diagnostic2"]], lambda o: a.has(o, inc))
    if tid == 6:
        return _choose([s["form1"], s["form2"]], a.has)
    if tid == 7:
        return _choose([s["rhythm1"], s["rhythm2"]], a.has)
    if tid == 8:
        return _or_none(a.present(SCP_DIAGNOSTIC, True))
    if tid == 9:
        return _or_none(a.present(SCP_DIAGNOSTIC, False))
    if tid == 10:
        return _or_none(a.present(SCP_RHYTHM))
    if tid == 11:
        return _or_none(a.present(SCP_FORM))
    if tid == 12:
        return _yn(a.has_any("abnormal"))
    if tid == 13:
        return _yn(a.has_any("diagnostic", True))
    if tid == 14:
        return _yn(a.has_any("diagnostic", False))
    if tid == 15:
        return _yn(a.has_any("form"))
    if tid == 16:
        return _yn(a.has_any("rhythm"))
    if tid == 17:
        return _yn(s["lead"] in a.lead_statements.get(s["scp_code"], frozenset()))
    if tid == 18:
        lead = s["lead"]
        return _or_none([f for f in SCP_FORM if lead in a.lead_statements.get(f, frozenset())])
    if tid == 19:
        return _leads_of(a.lead_statements.get(s["scp_code"], frozenset()))
    if tid == 20:
        return _yn(a.heart_axis == s["heart_axis"])
    if tid == 21:
        return _choose([s["heart_axis1"], s["heart_axis2"]], lambda o: o == a.heart_axis)
    if tid == 22:
        if a.heart_axis is None:
            raise UsageError(f"the heart axis of ECG {a.ecg_id if a.ecg_id is not None else '?'} is unknown")
        return [a.heart_axis]
    if tid == 23:
        return _yn(s["stage_of_infarction"] in a.infarction_stages)
    if tid == 24:
        return _choose(
            [s["stage_of_infarction1"], s["stage_of_infarction2"]], lambda o: o in a.infarction_stages
        )
    if tid == 25:
        return _or_none([st for st in INFARCTION_STAGES if st in a.infarction_stages], "none of myocardial infarction")
    if tid == 26:
        return _yn(s["lead"] in a.noise.get(s["noise"], frozenset()))
    if tid == 27:
        return _yn(bool(a.noise.get(s["noise"])))
    if tid == 28:
        return _yn(bool(a.noise_in_lead(s["lead"])))
    if tid == 29:
        return _yn(bool(a.noise_kinds()))
    if tid == 30:
        kinds = set(a.noise_kinds())
        return _choose([s["noise1"], s["noise2"]], lambda o: o in kinds)
    if tid == 31:
        kinds = set(a.noise_in_lead(s["lead"]))
        return _choose([s["noise1"], s["noise2"]], lambda o: o in kinds)
    if tid == 32:
        return _or_none(a.noise_kinds())
    if tid == 33:
        return _or_none(a.noise_in_lead(s["lead"]))
    if tid == 34:
        return _leads_of(a.noise.get(s["noise"], frozenset()))
    if tid == 35:
        return _yn(a.has_extra_systole())
    if tid == 36:
        return _yn(s["extra_systole"] in a.extra_systoles)
    if tid == 37:
        return _choose([s["extra_systole1"], s["extra_systole2"]], lambda o: o in a.extra_systoles)
    if tid == 38:
        return _or_none([k for k in EXTRA_SYSTOLES if k in a.extra_systoles])
    if tid == 39:
        return _yn(_range(a, s["numeric_feature"]) == s["range"])
    if tid == 40:
        value = _range(a, s["numeric_feature"])
        chosen = _choose([s["range1"], s["range2"]], lambda o: o == value)
        return [c if c == _NONE else f"{c} the normal range" for c in chosen]
    if tid == 41:
        return [f"{_range(a, s['numeric_feature'])} the normal range"]
    if tid == 42:
        word = s["range"]
        return _or_none([f for f in _RANGE_FEATURES[word] if f in a.numeric and a.numeric[f] == word])
    raise UsageError(f"template {tid} is not a single-ECG template")


def _comparison(tid: int, s: dict[str, str], a1: EcgAttributes, a2: EcgAttributes) -> list[str]:
    offset = tid - 43 if tid <= 56 else tid - 57  # 0..13 within each comparison family
    if offset <= 6:  # scp_code
        def state(name: str) -> tuple[bool, bool]:
            return a1.has(name), a2.has(name)

        checks = {
            0: lambda b1, b2: b1 and not b2,  # resolved
            1: lambda b1, b2: not b1 and b2,  # newly detected
            2: lambda b1, b2: b1 and b2,  # still remain
            3: lambda b1, b2: not b1 and not b2,  # still not found
        }
        if offset <= 3:
            return _yn(checks[offset](*state(s["scp_code"])))
        check = checks[offset - 4]
        return _or_none([n for n in SCP_STATEMENTS if check(*state(n))])
    offset -= 7  # numeric: 0 became normal, 1 became abnormal, 2 still abnormal, 3 still normal
    checks_n = {
        0: lambda b1, b2: b1 and not b2,
        1: lambda b1, b2: not b1 and b2,
        2: lambda b1, b2: b1 and b2,
        3: lambda b1, b2: not b1 and not b2,
    }
    if offset <= 3:
        f = s["numeric_feature"]
        return _yn(checks_n[offset](_is_abnormal(a1, f), _is_abnormal(a2, f)))
    check = checks_n[offset - 4]
    features = [f for f in NUMERIC_FEATURES if f in a1.numeric and f in a2.numeric]
    return _or_none([f for f in features if check(_is_abnormal(a1, f), _is_abnormal(a2, f))])


def answer_question(
    template_id: int,
    slots: Mapping[str, str] | None,
    attrs: EcgAttributes,
    attrs2: EcgAttributes | None = None,
) -> list[str]:
    """The answer list of template ``template_id`` with ``slots`` for an ECG (and a second one).

    For comparison templates (43-70) ``attrs`` is the first/previous ECG and ``attrs2`` the
    second/recent one. Raises UsageError for unknown templates, wrong slots, a missing second
    ECG, or a numeric feature whose range is not in the attributes.
    """
    tpl = template(template_id)
    s = normalize_slots(tpl, slots)
    for name, value in (("attrs", attrs), ("attrs2", attrs2)):
        if value is not None and not isinstance(value, EcgAttributes):
            raise UsageError(f"{name} must be an EcgAttributes (e.g. attributes_from_ptbxl(...) or "
                             f"EcgAttributes(statements=...)), got {type(value).__name__}")
    if attrs is None:
        raise UsageError("attrs must be an EcgAttributes (e.g. attributes_from_ptbxl(...)), got None")
    if tpl.is_comparison:
        if attrs2 is None:
            raise UsageError(f"template {tpl.template_id} compares two ECGs; pass attrs2 (the second/recent ECG)")
        answer = _comparison(tpl.template_id, s, attrs, attrs2)
    else:
        if attrs2 is not None:
            raise UsageError(f"template {tpl.template_id} is about one ECG; attrs2 must be None")
        answer = _single(tpl.template_id, s, attrs)
    return _within_options(tpl, answer)


def _within_options(tpl: Template, answer: list[str]) -> list[str]:
    """Keep answers the dataset defines for this template (its official option set).

    Query templates list only the answers the official data uses (e.g. template 49 has 53 of the
    63 statements); a statement outside that set cannot be an official answer.
    """
    allowed = set(tpl.answer_options)
    kept = [a for a in answer if a in allowed]
    if kept:
        return kept
    if "none" in allowed:
        return ["none"]
    if "none of myocardial infarction" in allowed:
        return ["none of myocardial infarction"]
    raise UsageError(f"template {tpl.template_id} has no official answer for {answer!r}")
