"""Leads of lead-specific PTB-XL form statements, read from the free-text report.

ECG-QA asks "in lead X" questions about 13 form statements (NDT, NST_, DIG, STD_, VCLVH, QWAVE,
LOWT, NT_, INVT, LVOLT, HVOLT, TAB_, STE_). PTB-XL codes carry no lead; the official data took the
leads from the report, for a statement the record has: the first phrase of that statement
followed by a list of leads ("st segments are depressed in i, ii, avl, v5,6"), anatomical
positions mapped to lead groups ("inferior" = II, III, aVF; "high lateral" = I, aVL...).

ECG-QA used English reports (PTB-XL reports are partly German); here a small phrase table turns
the frequent German lead phrases into English first, so German reports are covered partly.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ._templates import LEADS

__all__ = ["LEAD_STATEMENT_CODES", "POSITION_LEADS", "statement_leads_from_report", "parse_lead_list"]

LEAD_STATEMENT_CODES: tuple[str, ...] = (
    "NDT", "NST_", "DIG", "STD_", "VCLVH", "QWAVE", "LOWT", "NT_", "INVT", "LVOLT", "HVOLT", "TAB_", "STE_",
)
"""PTB-XL form statements ECG-QA asks about per lead."""

_ALL = LEADS
_LIMB = LEADS[:6]
_CHEST = LEADS[6:]
POSITION_LEADS: dict[str, tuple[str, ...]] = {
    "chest": _CHEST,
    "vleads": _CHEST,
    "precordial": _CHEST,
    "limb": _LIMB,
    "peripheral": _LIMB,
    "standard": _ALL,
    "all": _ALL,
    "anterior": ("V3", "V4"),
    "anterolateral": ("I", "aVL", "V3", "V4", "V5", "V6"),
    "anteroseptal": ("V1", "V2", "V3", "V4"),
    "inferior": ("II", "III", "aVF"),
    "inferolateral": ("I", "II", "III", "aVL", "aVF", "V5", "V6"),
    "inferoseptal": ("II", "III", "aVF", "V1", "V2"),
    "lateral": ("I", "aVL", "V5", "V6"),
    "highlateral": ("I", "aVL"),
    "lateralchest": ("I", "aVL", "V1", "V2", "V3", "V4", "V5", "V6"),
}
"""Anatomical position words (spaces and hyphens removed) -> leads, as ECG-QA maps them."""

# German report phrases -> the English wording the patterns below read.
_GERMAN = (
    (r"periphere (?:niederspannung|low-voltage|low voltage|niedervoltage)", "peripheral low voltage"),
    (r"\bt abnorm(?:al)? in\b", "t abnormal in"),
    (r"\b(st|t)- (?=\w)", r"\1-"),
    (r"ver(?:ae|Ä|ä)nderung(?:en)?", "changes"),
    (r"\bnegativ\b", "negative"),
    (r"\bdiskret\b", "discrete"),
    (r"hochlateral\w*", "high lateral"),
    (r"anterolateral\w*", "anterolateral"),
    (r"anteroseptal\w*", "anteroseptal"),
    (r"inferolateral\w*", "inferolateral"),
    (r"inferior\w*", "inferior"),
    (r"lateral(?:en|e|er)\b", "lateral"),
    (r"ableitung(?:en)?", "leads"),
    (r"brustwandableitungen", "chest leads"),
    (r"extremit\w*ableitungen", "limb leads"),
    (r"st-senkung(?:en)?", "st depression"),
    (r"st-hebung(?:en)?", "st elevation"),
    (r"t-negativierung(?:en)?", "t negative"),
    (r"\bneg\.? t\b", "t negative"),
    (r"\balle\b", "all"),
    (r"\bund\b", "and"),
    (r"\bin den\b", "in"),
)

_POS = (
    r"v leads|all leads|chest|limb|anterior|antero-?\s?lateral|antero-?\s?septal|inferior|"
    r"infero-?\s?lateral|infero-?\s?septal|high-?\s?lateral|lateral-?\s?chest|lateral|precordial|"
    r"peripheral|standard"
)
_ONE = (
    r"(?:(?:lead\s?)?(?<![a-z])(?:iii|ii|i)(?![a-z])|(?:lead\s?)?av[rlf]|v?\d|(?:" + _POS + r")(?:\s?leads?)?)"
)
_LIST = r"(?:" + _ONE + r"(?:\s?[/),.&-]\s?|\s)?(?:and\s)?)+"

# statement -> phrase that precedes its lead list (first match in the report wins)
_TRIGGERS: dict[str, str] = {
    "NDT": (
        r"(?:t waves?|t wve|t-changes?:?|t changes?:?|flat t|biphasic t|neg t|high t)\s*(?:are\s*)?"
        r"(?:neg(?:ative)? in|flattening(?: or slight inversion)? in|flat(?:tened)? in|changes in|inversion in|"
        r"low or flat in|generally low and are flat in|low in|(?:now )?(?:slightly )?inverted in|"
        r"flat or slightly inverted in|biphasic in|abnormal(?:ity)? in|flach in|term\. neg in|high in|in|)"
    ),
    "NST_": r"(?:st-t wave changes|st-t changes|t changes)\s*(?:are marked in|persist in|in|)",
    "DIG": r"digitalis\s*(?:t pointed in|change in|changes|change trough|change r trough|in|)",
    "STD_": (
        r"(?:st segments?|st-senkung|st depression)\s*(?:are\s*)?(?:depression in|depression and t wave flattening in|"
        r"depressed in|depressed and t wave.{0,15} in|depression|depression above|lowering in|lowering|"
        r"reduction in|reduction discrete in|in|)"
    ),
    "VCLVH": (
        r"(?:voltages are high in|voltages in|left ventricular hypertrophy are satisfied in|r wave height in)"
    ),
    "QWAVE": r"(?:q waves?|q)\s*(?:are\s*)?(?:present in|in|(?:and|,).{0,55} in)",
    "LOWT": r"t waves are\s*(?:low or flat in|low in)",
    "NT_": r"t wave\s*(?:flattening in|flattening persists in|flattening or (?:slight )?inversion in|changes in)",
    "INVT": r"t waves?\s*(?:are\s*)?(?:inverted in|inversion in|flattening in.{0,30} and inverted in)",
    "LVOLT": r"(?:low voltage in)",
    "HVOLT": r"(?:voltages in|voltages are high in)",
    "TAB_": (
        r"(?:t-?\s?changes?:?|t abnormal)\s*(?:negative in|neg in|neg t|neg\. t in|neg\. in|high in|high t in|"
        r"flat in|biphas\.? in|biphas\.?|excessive|in|)"
    ),
    "STE_": r"(?:st-?\s?elevation|st-hebung)\s*(?:in|discrete in|over|discrete|)",
}
# statements whose whole phrase names the leads (no list after it)
_FIXED: dict[str, tuple[str, tuple[str, ...]]] = {
    "LVOLT": (r"low limb lead voltage|peripheral low[- ]voltage|peripheral low tension", _LIMB),
    "HVOLT": (r"high v lead voltages", _CHEST),
}


# statements that may also name positions BEFORE the phrase ("anterolateral st-t wave changes")
_PREFIXED: dict[str, str] = {
    "NST_": r"(?:st-t wave changes|st-t changes)",
    "QWAVE": r"q waves noted",
}


@lru_cache(maxsize=None)
def _compiled(code: str) -> re.Pattern[str]:
    forms = [r"(?:" + _TRIGGERS[code] + r")\s*(?P<leads>" + _LIST + r")"]
    if code in _PREFIXED:
        forms.append(r"(?P<leads2>" + _POS + r")\s*" + _PREFIXED[code])
    return re.compile("|".join(forms))


def _prepare(report: str) -> str:
    text = report.lower().replace("4.46", "")
    for pattern, repl in _GERMAN:
        text = re.sub(pattern, repl, text)
    return " ".join(text.split()) + "."


def parse_lead_list(text: str) -> tuple[str, ...]:
    """Leads named by a lead list such as ``"i, avl, v5,6"``, ``"v1-3"`` or ``"inferior leads"``."""
    found: list[str] = []
    s = text.lower().replace("!", "1")
    for position in re.finditer(_POS, s):
        key = re.sub(r"[-\s]", "", position.group())
        key = {"allleads": "all"}.get(key, key)
        found.extend(POSITION_LEADS.get(key, ()))
    s = re.sub(_POS, " ", s)
    s = re.sub(r"\s*-+\s*", "-", s)
    last_v = False
    for token in re.split(r"[\s,;/)&.]+|\band\b", s):
        token = token.strip().replace("lead", "")
        if not token:
            continue
        if "-" in token:
            a, b = token.split("-", 1)
            la, lb = _one_lead(a, last_v), _one_lead(b, True)
            if la and lb:
                i, j = LEADS.index(la), LEADS.index(lb)
                found.extend(LEADS[i: j + 1])
                last_v = lb.startswith("V")
            continue
        lead = _one_lead(token, last_v)
        if lead:
            found.append(lead)
            last_v = lead.startswith("V")
    return tuple(lead for lead in LEADS if lead in found)


def _one_lead(token: str, after_v: bool) -> str | None:
    t = token.strip()
    if t in ("i", "ii", "iii"):
        return t.upper()
    if t in ("avr", "avl", "avf"):
        return "aV" + t[2].upper()
    m = re.fullmatch(r"v?([1-6])", t)
    if m:
        return f"V{m.group(1)}"
    return None


def statement_leads_from_report(report: str, codes: set[str] | frozenset[str]) -> dict[str, tuple[str, ...]]:
    """PTB-XL code -> leads named for it in ``report``, for the lead-specific codes in ``codes``.

    A code the record has but whose leads the report does not name is left out.
    """
    if not report:
        return {}
    text = _prepare(report)
    out: dict[str, tuple[str, ...]] = {}
    for code in LEAD_STATEMENT_CODES:
        if code not in codes:
            continue
        leads: tuple[str, ...] = ()
        fixed = _FIXED.get(code)
        m = _compiled(code).search(text)
        if fixed is not None and re.search(fixed[0], text) and (m is None or re.search(fixed[0], text).start() < m.start()):
            leads = fixed[1]
        elif m is not None:
            leads = parse_lead_list(m.group("leads") or m.groupdict().get("leads2") or "")
        if leads:
            out[code] = leads
    return out
