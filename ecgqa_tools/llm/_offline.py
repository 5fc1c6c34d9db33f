"""The offline answerer: question -> ECG-QA template -> tools -> answer engine, no LLM needed.

1. Everyday wording ("heart attack", "irregular heartbeat", "is this normal?") is rewritten into
   ECG-QA's own phrasing (``rewrite_everyday``), then the ECG-QA question understanding maps the
   question to a template and slots.
2. The tools the template needs run on the signal: the attribute model (``ecgqa_attributes``),
   measurements (``intervals_and_axis``), signal quality (``noise_per_lead``), the disease CNNs
   (``disease_probabilities``) for superclass questions. Never the dataset's labels.
3. The ECG-QA answer engine turns the predicted attributes into an answer in the template's vocabulary.
4. The answer comes with a plain-language explanation citing the evidence items behind it.

Questions outside the templates (and outside the few direct tool questions: heart rate, intervals,
age, sex) get ``supported=False`` and a list of what can be asked instead: no guessing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .. import DISCLAIMER
from ..errors import RecordError, ToolError, ToolFailed, UnsupportedQuestion
from ._backend import ParsedQuestionResult, ScoresResult
from ._context import ToolContext
from ._registry import EvidenceItem
from ._tools import (
    TOOLS,
    _attributes,
    _diseases,
    _measurement,
    _quantity,
    input_warnings,
    flat_head_notes,
    flat_remark,
    record_notes,
    is_present,
    threshold_of,
    version_of,
)

__all__ = [
    "Answer",
    "DISCLAIMER",
    "EXAMPLE_QUESTIONS",
    "answer_offline",
    "rewrite_everyday",
]

MIN_CONFIDENCE = 0.5
CLARIFY_MARGIN = 0.02
"""A reading whose ranking score beats the runner-up template's by less than this is not answered:
the two readings are listed instead. Chosen on development data by the rule in docs/qa.md
("Ambiguous readings"), before it was measured."""
BRADYCARDIA_BPM = 60.0
TACHYCARDIA_BPM = 100.0
"""Heart-rate limits for "Is there bradycardia / tachycardia?" (measured rate below / above)."""

EXAMPLE_QUESTIONS: tuple[str, ...] = (
    "Is this a normal ECG?",
    "Does this ECG show symptoms of myocardial infarction?",
    "What rhythm-related symptoms does this ECG show?",
    "What direction is this ECG deviated to?",
    "What range does the qt interval of this ECG fall in?",
    "What kind of noises does this ECG show?",
    "Does this ECG show any kind of extra systoles?",
    "What is the heart rate?",
    "How old is the patient, according to the ECG?",
)

MEASURED_TYPES = ("numeric_feature", "heart_axis", "noise")
"""ECG-QA attribute types answered from measurements / signal quality, so without the attribute model."""

SUPERCLASS_DISEASE = {
    "myocardial infarction": "MI",
    "st/t change": "STTC",
    "conduction disturbance": "CD",
    "hypertrophy": "HYP",
}
"""ECG-QA superclass -> the disease CNN head that decides it (docs/llm.md, "Which model decides a
superclass question")."""

FINDINGS_ANY_QUESTION = "Is there any abnormal finding on this ECG?"
"""What everyday "Is the ECG abnormal? / Is anything wrong?" is read as: yes iff the findings list
("What is wrong with this ECG?") is not empty. ECG-QA's own wording ("Does this ECG show any kind of
abnormal symptoms?") keeps its template."""

# (pattern, replacement): whole-question rewrites first, then phrase substitutions.
_WHOLE_QUESTION: tuple[tuple[str, str], ...] = (
    (r"^(is|does|was)\s+(this|the|my|it|his|her|their)?\s*(ecg|ekg|heart|tracing|result|reading|it)?\s*"
     r"(look\s+)?(normal|ok|okay|fine|alright|all right|healthy)\b.*$", "Is this a normal ECG?"),
    (r"^(is|are)\s+(there\s+)?(anything|something)\s+(wrong|abnormal|off|unusual)\b.*$",
     FINDINGS_ANY_QUESTION),
    (r"^(is|does)\s+(this|the|my|it|his|her|their)?\s*(ecg|ekg|heart|tracing|recording|result|reading|it)?\s*"
     r"(look\s+)?(abnormal|unusual|atypical|strange|odd|weird|pathological|not normal)\b.*$",
     FINDINGS_ANY_QUESTION),
    (r"^(any|are there any)\s+(problems?|abnormalit(y|ies))\b.*$", FINDINGS_ANY_QUESTION),
    (r".*\b(irregular|abnormal|uneven|skipp?(ed|ing))\s+(heart\s*beats?|heart\s*rhythms?|rhythms?|pulse|beats?)\b.*",
     "What rhythm-related symptoms does this ECG show?"),
    (r".*\b(heart\s*beats?|pulse|rhythm)\b.*\b(irregular|uneven|abnormal|off)\b.*",
     "What rhythm-related symptoms does this ECG show?"),
    (r".*\b(arrhythmias?|heart rhythm|rhythm)\b.*", "What rhythm-related symptoms does this ECG show?"),
    (r".*\b(extra|premature|early)\s+(heart\s*)?beats?\b.*", "Does this ECG show any kind of extra systoles?"),
    # only generic noise questions: one naming a noise kind or a lead ("Does lead V6 show static
    # noise?", "Which leads have burst noise?") is left for the template matcher (templates 26-34).
    (r"(?!.*\b(static|burst|drift|electrodes?)\b)(?!.*\bleads?\s+(i{1,3}|avr|avl|avf|v[1-6])\b)"
     r".*\b(noisy|noise|interference|artifacts?|artefacts?|bad signal|signal quality)\b.*",
     "What kind of noises does this ECG show?"),
    (r".*\b(heart\s+)?axis\b.*", "What direction is this ECG deviated to?"),
)

_PHRASES: tuple[tuple[str, str], ...] = (
    (r"\b(an? )?(heart attacks?|infarcts?|mi)\b", "myocardial infarction"),
    (r"\b(a-?fib|af)\b", "atrial fibrillation"),
    (r"\b(enlarged|thick(ened)?|big)\s+heart( muscle)?\b", "hypertrophy"),
    (r"\blvh\b", "left ventricular hypertrophy"),
    (r"\b(lbbb)\b", "complete left bundle branch block"),
    (r"\b(rbbb)\b", "complete right bundle branch block"),
    (r"\b(ischemia|ischaemia|lack of blood flow)\b", "ischemic"),
    (r"\bqtc\b", "qt corrected"),
    (r"\bekg\b", "ECG"),
    (r"\bst[\s-]?t(?:[\s-]waves?)?(?=\s+(?:changes?|abnormalit))", "st/t"),
    (r"\bst/t[\s-]waves?(?=\s+(?:changes?|abnormalit))", "st/t"),
    (r"\bthe qt\b(?!\s*(?:interval|corrected|c\b))", "the qt interval"),
    (r"\bthe pr\b(?!\s*interval)", "the pr interval"),
    (r"^(is|are)\s+(the\s+)?qrs(\s+complex(es)?)?\s+(wide|broad|widened)\b.*$", "is the qrs duration prolonged"),
)

# Direct tool questions that have no ECG-QA template but a measured answer.
_DIRECT: tuple[tuple[str, str], ...] = (
    (r"\b(heart\s*rate|pulse|bpm|beats per minute|how fast)\b", "heart_rate"),
    (r"\b(how old|age)\b", "age"),
    (r"\b(male or female|female or male|sex|gender|man or (a )?woman|woman or (a )?man)\b", "sex"),
    (r"\b(intervals?|measurements?)\b", "intervals"),
)


# Questions answered from tools directly (no ECG-QA template fits them well), checked before the
# template parser when the question is not in ECG-QA's own phrasing.
_FINDINGS = re.compile(
    r"^(?:what(?:'s| is| are)?\s+(?:wrong|abnormal)\b|"
    r"what(?:'s| is| are)\s+the\s+(?:problems?|abnormalit(?:y|ies)|findings?|diagnos[ie]s)\b|"
    r"what\s+(?:findings|abnormalities|problems|diagnoses)\b|"
    r"what (?:is|can be|do you) (?:seen|shown|found|see)\b(?!.*\b(?:rhythm|form|noise|lead|compared)\b)|"
    r"what does (?:this|the) (?:ecg|tracing|recording) show\??$|"
    r"(?:list|show|tell me)\s+(?:me\s+)?(?:the\s+|all\s+)?(?:findings|abnormalities|problems|diagnoses)\b)"
)
_ECG_WORD = r"(?:ecgs?|ekgs?|tracings?|recordings?|ones?|tests?)"
_TWO_ECGS = re.compile(
    rf"\bthan\s+(?:(?:in|on|at|for|with|that of|those of)\s+)*(?:the\s+|my\s+|this\s+)?"
    rf"(?:other|previous|first|earlier|older|prior|second|recent|last|newer|new|original)\b|"
    rf"\bcompared (?:to|with)\b|\b(?:the|my)\s+(?:other|previous|earlier|prior|older|second|first|recent|newer|new)\s+{_ECG_WORD}\b|"
    rf"\bbetween (?:the |these |both |)(?:two )?{_ECG_WORD}\b|\bboth {_ECG_WORD}\b|\bthe two {_ECG_WORD}\b|"
    r"^(?:has|have|did)\b.*\b(?:increased?|decreased?|risen|rise|rose|dropped|drop|fallen|fall|fell|"
    r"gone (?:up|down)|go (?:up|down)|went (?:up|down))\b"
)
"""Wording that compares two ECGs ("faster than in the other ECG", "compared to the first", "the
previous ECG", "has the heart rate increased?"): without ``--compare`` such a question asks for the
second ECG instead of being answered about one."""
_HEART_SPEED = re.compile(r"\b(?:faster|slower|quicker)\b")
_HEART_SPEED_SUBJECT = re.compile(rf"\b(?:heart|pulse|rate|{_ECG_WORD})\b")
_RATE_LIMIT = re.compile(r"\b(brady|tachy)cardi(?:a|c)\b")
_BBB_ANY = re.compile(r"^(?:is|are|does|do)\b.*\bbundle branch blocks?\b")
_QUANTITY_ASK = re.compile(r"^(?:what(?:'s| is| are| was)|how long is|how long are|tell me|give me|show me)\b")
_QUANTITIES: tuple[tuple[re.Pattern[str], str, str], ...] = (
    # (pattern on the rewritten question, measured value, ECG-QA numeric feature for its range)
    (re.compile(r"\bqt corrected\b|\bcorrected qt\b"), "qtc_bazett_ms", "qt corrected"),
    (re.compile(r"\bqt\b(?! corrected)"), "qt_interval_ms", "qt interval"),
    (re.compile(r"\bpr\b"), "pr_interval_ms", "pr interval"),
    (re.compile(r"\bqrs\b(?! axis)"), "qrs_duration_ms", "qrs duration"),
    (re.compile(r"\bp(?:[\s-]wave)?\s+duration\b|\bp[\s-]wave\b"), "p_duration_ms", "p duration"),
    (re.compile(r"\brr\b"), "rr_interval_ms", "rr interval"),
)


@dataclass(frozen=True)
class Answer:
    """An answer about one ECG (or a pair), with the evidence behind it."""

    question: str
    """The question as asked."""
    record: str
    """Canonical id of the record (``first -> second`` for comparisons)."""
    answer: tuple[str, ...]
    """Answer strings in the ECG-QA vocabulary of the template; for a question answered by a
    measurement or an estimate (heart rate, an interval, age, sex), the value(s) with their unit
    (``heart rate 54.8 bpm``); empty when there is none."""
    explanation: str
    """Plain-language explanation citing evidence ids like ``[E3]``."""
    evidence: tuple[EvidenceItem, ...]
    """The evidence items behind the answer (tool results with provenance)."""
    supported: bool
    """False when the question is outside what can be answered (then ``answer`` is empty)."""
    template_id: int | None = None
    """ECG-QA template the question was mapped to, if any."""
    interpreted_as: str | None = None
    """The question after everyday wording was rewritten, when it changed."""
    read_as: str | None = None
    """How the question was read: the ECG-QA template question with its slots filled, or the
    measured quantity / tool question answered directly; None when nothing was understood."""
    readings: tuple[str, ...] = field(default=())
    """When the question is ambiguous (not answered): the readings to choose from, best first."""
    disclaimer: str = DISCLAIMER
    """Always shown with answers."""
    tools_used: tuple[str, ...] = field(default=())
    """Names of the tools called, in order."""
    warnings: tuple[str, ...] = field(default=())
    """Signal-quality findings of the record(s) (flat leads, implausible amplitudes, missing
    standard leads) that can make the answer wrong; empty when none was found."""
    notes: tuple[str, ...] = field(default=())
    """How the record(s) were read, where that puts nothing in doubt (``record_notes``: a ``--fs``
    ignored because the record states its own rate), and, for an answer resting on a disease head
    that is flat at this ECG, that its probability is the head's constant output
    (``flat_head_notes``, ``encoders.DiseasePrediction.flat_heads``); printed as ``Note:`` lines."""
    failed: bool = False
    """True when no answer could be produced because a tool failed (``ecgqa ask`` exits 1); an
    out-of-scope or ambiguous question is not a failure."""
    seen_in_training: tuple[str, ...] = field(default=())
    """For a PTB-XL ECG that shipped models were trained or selected on (their cards' ids): one
    note per such ECG naming those models, so the answer is not taken for a held-out result;
    empty otherwise (and for unanswered questions)."""

    def to_json(self) -> dict[str, Any]:
        """The machine-readable form printed by ``ecgqa ask --json``."""
        return {
            "question": self.question,
            "record": self.record,
            "answer": list(self.answer),
            "explanation": self.explanation,
            "evidence": [item.model_dump() for item in self.evidence],
            "supported": self.supported,
            "template_id": self.template_id,
            "interpreted_as": self.interpreted_as,
            "read_as": self.read_as,
            "readings": list(self.readings),
            "tools_used": list(self.tools_used),
            "warnings": list(self.warnings),
            "notes": list(self.notes),
            "failed": self.failed,
            "seen_in_training": list(self.seen_in_training),
            "disclaimer": self.disclaimer,
        }

    def to_text(self) -> str:
        """Human-readable form printed by ``ecgqa ask``."""
        lines = [f"Q: {self.question}"]
        if self.read_as:
            where = f"ECG-QA template {self.template_id}" if self.template_id is not None else "measured directly"
            lines.append(f"   (read as: {self.read_as} [{where}])")
        elif self.interpreted_as:
            lines.append(f"   (read as: {self.interpreted_as})")
        if self.answer:
            lines.append(f"A: {', '.join(self.answer)}")
        lines.append(self.explanation)
        lines.extend(f"Warning: {w}" for w in self.warnings)
        lines.extend(f"Note: {n}" for n in self.notes)
        lines.extend(f"Note: {n}" for n in self.seen_in_training)
        if self.evidence:
            lines.append("Evidence:")
            lines.extend(
                f"  [{e.id}] {e.statement} ({e.provenance.source}, v{e.provenance.version})" for e in self.evidence
            )
        lines.append(self.disclaimer)
        return "\n".join(lines)


def check_question(question: str) -> str:
    """The stripped question; ``UnsupportedQuestion`` when empty or too long.

    Invalid UTF-8 from argv/stdin (lone surrogates) becomes '?', and control characters (NUL,
    ESC...) are dropped so they are neither echoed to the terminal nor passed to a model.
    """
    if not isinstance(question, str):
        raise UnsupportedQuestion(f"question must be text, got {type(question).__name__}")
    text = question.encode("utf-8", "replace").decode("utf-8")
    text = "".join(ch for ch in text if ch.isprintable() or ch.isspace())
    text = " ".join(text.split())
    if not text:
        raise UnsupportedQuestion("empty question; ask e.g. " + "; ".join(EXAMPLE_QUESTIONS[:3]))
    from ..qa import MAX_QUESTION_CHARS  # the one limit, shared with qa.parse_question

    if len(text) > MAX_QUESTION_CHARS:
        raise UnsupportedQuestion(
            f"question is {len(text)} characters long; at most {MAX_QUESTION_CHARS} are accepted"
        )
    return text


# ECG-QA's own phrasing: questions with these markers are only given term substitutions, never
# whole-question rewrites (which would turn e.g. a noise-in-lead question into the generic one).
_ECGQA_MARKERS = re.compile(
    r"\b(does this ecg show|which (symptom|diagnostic|form|rhythm|noise|kind|cardiac|stage|range)|"
    r"what (kind|range|direction|stage|numeric|leads|symptoms|diagnostic|form-related|rhythm-related)|"
    r"compared to|in lead|fall (below|within|above)|this ecg fall)\b"
)


def rewrite_everyday(question: str) -> str:
    """Rewrite everyday wording into ECG-QA phrasing (returns the question unchanged otherwise).

    Questions already in ECG-QA phrasing keep their template: only everyday terms inside them are
    replaced ("heart attack" -> "myocardial infarction").
    """
    text = " ".join(question.strip().split())
    original = text.lower().rstrip("?!. ")
    lowered = original
    for pattern, replacement in _PHRASES:
        lowered = re.sub(pattern, replacement, lowered)
    introduced_mi = "myocardial infarction" in lowered and "myocardial infarction" not in original
    located = re.search(r"myocardial infarction in (the )?([a-z]+) leads", lowered)
    if introduced_mi and located and not _ECGQA_MARKERS.search(original):
        return f"Does this ECG show symptoms of myocardial infarction in {located.group(2)} leads?"
    if introduced_mi and not re.search(r"\b(stage|leads?|compared|first|second|previous|recent|which|or)\b", lowered):
        return "Does this ECG show symptoms of myocardial infarction?"
    if not _ECGQA_MARKERS.search(original):
        for pattern, replacement in _WHOLE_QUESTION:
            if re.match(pattern, lowered):
                return replacement
    if lowered == original:
        return text
    return lowered[:1].upper() + lowered[1:] + "?"


def _out_of_scope(question: str, record: str, reason: str) -> Answer:
    examples = "\n".join(f"  - {q}" for q in EXAMPLE_QUESTIONS)
    return Answer(
        question=question, record=record, answer=(), evidence=(), supported=False,
        explanation=(
            f"I cannot answer this from the ECG ({reason}). I answer the ECG-QA question types "
            f"(diagnoses and symptoms, rhythm, form, heart axis, infarction stage, noise, extra "
            f"systoles, interval ranges, comparisons of two ECGs) and measured values such as heart "
            f"rate, intervals, age and sex estimates. For example:\n{examples}"
        ),
    )


def _failed(question: str, record: str, exc: Exception, interpreted: str | None, used: list[str],
            template_id: int | None = None) -> Answer:
    return Answer(
        question=question, record=record, answer=(), evidence=(), supported=False,
        explanation=f"Could not answer: a tool failed ({exc}).", interpreted_as=interpreted,
        tools_used=tuple(used), template_id=template_id, failed=True,
    )


def answer_offline(
    ecg_or_record: Any,
    question: str,
    *,
    second: Any = None,
    context: ToolContext | None = None,
) -> Answer:
    """Answer ``question`` about an ECG (an ``ECG`` object or a record reference) without an LLM.

    ``second`` is the second (recent) ECG for comparison questions. ``context`` carries the
    backend and caches (a fresh ``ToolContext`` with the real models by default).
    Raises ``UnsupportedQuestion`` for an empty or over-long question and ``RecordError`` for an
    unknown or refused record; every other question gets an ``Answer`` (``supported=False``
    when it is out of scope).
    """
    text = check_question(question)
    ctx = context or ToolContext()
    record = _register(ctx, ecg_or_record, "ecg")
    record_b = _register(ctx, second, "ecg2") if second is not None else None
    ctx.load(record)  # unknown or refused records fail here with RecordError
    if record_b is not None:
        ctx.load(record_b)
    canonical = ctx.load(record)[0].canonical
    records = [record] + ([record_b] if record_b is not None else [])
    warnings, unusable = _signal_findings(ctx, records)
    notes = record_notes(ctx, tuple(records))
    if unusable:
        return replace(_unusable(text, canonical, unusable), warnings=warnings, notes=notes)
    answer = _dispatch(ctx, text, record, record_b, canonical)
    doubt = _amplitude_doubt(ctx, records) if answer.supported and _asks_about_voltage(answer) else None
    if doubt is not None:  # a voltage answer on amplitudes that are not mV would be made up
        answer = replace(_unusable(text, canonical, doubt), read_as=answer.read_as, template_id=answer.template_id,
                         interpreted_as=answer.interpreted_as)
    seen: tuple[str, ...] = ()
    if answer.supported:
        seen = tuple(note for name in records if (note := _seen_note(ctx, name, answer.tools_used)))
        notes += flat_head_notes(ctx, tuple(records), answer.evidence)  # a call resting on a flat head's constant
    return replace(answer, warnings=warnings, notes=notes, seen_in_training=seen)


_ASK_MODELS = {"disease_MI": "disease", "disease_STTC": "disease", "disease_CD": "disease",
               "disease_HYP": "disease", "attributes": "attributes", "age_sex": "age_sex"}
"""The shipped models the answerer calls (``encoders.model_cards()`` names) -> their kind."""
_TOOL_MODELS = {"disease_probabilities": ("disease",), "attribution_evidence": ("disease",),
                "ecgqa_attributes": ("attributes",), "age_sex_estimate": ("age_sex",),
                "noise_per_lead": ("noise",), "compare_ecgs": ("disease", "attributes")}
"""Tool -> the kinds of fitted models (or fitted thresholds) behind its output."""


def _seen_by(ecg_id: int) -> list[tuple[str, str]]:
    """(kind, ``"disease_MI v3 (training)"``) of each shipped model (and the noise thresholds)
    fitted or selected on PTB-XL ``ecg_id``, from the cards (read once per process, ~20 ms)."""
    global _SEEN_SOURCES
    if _SEEN_SOURCES is None:
        from ..encoders import model_cards
        from ..errors import ModelError
        from ._quality import QUALITY_METHOD, QUALITY_VERSION, quality_fitted_ecg_ids

        cards = model_cards()
        sources: list[tuple[str, str, frozenset[int], str]] = []
        for name, kind in _ASK_MODELS.items():
            card = cards.get(name)
            if card is not None:
                sources.append((kind, f"{name} v{card.version}", frozenset(card.train_ids), "training"))
                sources.append((kind, f"{name} v{card.version}", frozenset(card.selection_ids), "selection"))
        try:
            fitted = quality_fitted_ecg_ids()
        except ModelError:  # a missing ids file must not break answers (the bench guard refuses it)
            fitted = frozenset()
        sources.append(("noise", f"noise thresholds ({QUALITY_METHOD} v{QUALITY_VERSION})", fitted, "fitting"))
        _SEEN_SOURCES = tuple(sources)
    return [(kind, f"{label} ({role})") for kind, label, ids, role in _SEEN_SOURCES if ecg_id in ids]


_SEEN_SOURCES: tuple[tuple[str, str, frozenset[int], str], ...] | None = None


def _ptbxl_ecg_id(ecg: Any) -> int | None:
    """The PTB-XL ecg_id of an ECG read from PTB-XL (``ptbxl:1``, a bundled example, a
    ``records500/00000/00001_hr`` path), else None."""
    if getattr(ecg, "source", None) != "ptbxl":
        return None
    match = re.fullmatch(r"0*(\d+)(?:_[hl]r)?", str(getattr(ecg, "record_id", "")))
    return int(match.group(1)) if match else None


def training_notes(ctx: ToolContext, evidence: tuple[EvidenceItem, ...]) -> tuple[str, ...]:
    """The seen-in-training notes (``Answer.seen_in_training``) for the records of ``evidence``,
    each by the tools that produced its items (the LLM agent's answers)."""
    tools: dict[str, list[str]] = {}
    for item in evidence:
        for record in item.record.split(" -> "):
            tools.setdefault(record, []).append(item.tool)
    notes = []
    for record, used in tools.items():
        note = _seen_note(ctx, record, tuple(used))
        if note:
            notes.append(note)
    return tuple(notes)


def _seen_note(ctx: ToolContext, record: str, tools_used: tuple[str, ...]) -> str | None:
    """A note naming the shipped models behind ``tools_used`` that were trained or selected on this
    ECG; None when none was (or the ECG is not from PTB-XL). The note is optional: when the record
    cannot be loaded again or a model card cannot be read (any package error), there is no note
    rather than no answer."""
    from ..errors import EcgqaError

    kinds = {kind for tool in tools_used for kind in _TOOL_MODELS.get(tool, ())}
    if not kinds:
        return None
    try:
        ref, ecg = ctx.load(record)
        ecg_id = _ptbxl_ecg_id(ecg)
        if ecg_id is None:
            return None
        seen_by = _seen_by(ecg_id)
    except EcgqaError:
        return None
    models = [text for kind, text in seen_by if kind in kinds]
    if not models:
        return None
    return (f"this ECG ({ref.canonical}, PTB-XL ecg_id {ecg_id}) was used to train or select the shipped "
            f"{', '.join(models)}: this answer is not a held-out result.")


def _signal_findings(ctx: ToolContext, records: list[str]) -> tuple[tuple[str, ...], str | None]:
    """(quality warnings of each record, the reason it cannot be analysed at all or None).

    The models give confident-looking probabilities on anything, a flat line included, so the
    answer carries the record's ``ECG.quality()`` findings, and a record whose every lead is flat
    (peak-to-peak below 0.01 mV) is not analysed.
    """
    warnings: list[str] = []
    for name in records:
        ref, ecg = ctx.load(name)
        try:
            warnings.extend(input_warnings(ctx, ref, ecg))
        except ToolFailed as exc:
            return (), str(exc)
    return tuple(warnings), None


_VOLTAGE_WORDS = re.compile(r"\b(?:voltages?|amplitudes?|millivolts?|mv)\b", re.IGNORECASE)


def _asks_about_voltage(answer: Answer) -> bool:
    """Whether the question (as asked, rewritten or read as a template) is about voltage/amplitude."""
    return any(_VOLTAGE_WORDS.search(t or "") for t in (answer.question, answer.interpreted_as, answer.read_as))


def _amplitude_doubt(ctx: ToolContext, records: list[str]) -> str | None:
    """Why a voltage question cannot be answered on ``records`` (their amplitudes are not plausible
    millivolts: values that look like microvolts, leads above 20 mV, a gain the header does not
    give; not the reader's other notes such as an ignored --fs), or None."""
    for name in records:
        ref, ecg = ctx.load(name)
        quality = getattr(ecg, "quality", None)
        problems = [p for p in (quality().amplitude_problems() if callable(quality) else [])
                    if p.startswith(("values look like microvolts", "implausible amplitude")) or "no gain" in p]
        if problems:
            return (f"the amplitudes of {ref.canonical} may not be millivolts ({problems[0]}), so a "
                    "voltage question cannot be judged on it")
    return None


def record_warnings(ctx: ToolContext, records: tuple[str, ...]) -> tuple[str, ...]:
    """The quality warnings of ``records`` (``_signal_findings``), the reason a record cannot be
    analysed at all included as one of them (for answers that are not refused, e.g. the agent's)."""
    warnings, unusable = _signal_findings(ctx, list(records))
    return warnings + ((unusable,) if unusable else ())


def _unusable(question: str, record: str, reason: str) -> Answer:
    return Answer(question=question, record=record, answer=(), evidence=(), supported=False,
                  explanation=f"I cannot answer this from the ECG: {reason}.")


def _dispatch(ctx: ToolContext, text: str, record: str, record_b: str | None, canonical: str) -> Answer:
    from ..qa import extract_slots, not_english_reason, unknown_leads_reason

    rewritten = rewrite_everyday(text)
    interpreted = rewritten if rewritten.lower() != text.lower() else None
    slots_of_text = extract_slots(text)
    if slots_of_text.foreign_words:  # never mapped to an English template it only half matches
        return _unusable(text, canonical, not_english_reason(slots_of_text.foreign_words))
    unknown = tuple(dict.fromkeys(slots_of_text.unknown_leads + extract_slots(rewritten).unknown_leads))
    if unknown:  # never answered for the whole ECG with the lead dropped
        return _unusable(text, canonical, unknown_leads_reason(unknown))

    direct = _direct_intent(rewritten)
    if record_b is None and _TWO_ECGS.search(rewritten.lower()):
        return _two_ecg_question(ctx, text, interpreted, canonical, rewritten)
    parsed = _superclass_question(rewritten)
    if parsed is None and direct in _DIRECT_FIRST and not _ECGQA_MARKERS.search(rewritten.lower()):
        return _answer_direct(ctx, text, interpreted, record, record_b, canonical, direct)
    if parsed is None:
        try:
            parsed = ctx.backend.parse_question(rewritten)
        except UnsupportedQuestion:
            parsed = None
    if parsed is None or parsed.confidence < MIN_CONFIDENCE:
        if direct is not None:
            return _answer_direct(ctx, text, interpreted, record, record_b, canonical, direct)
        return _out_of_scope(text, canonical, "it matches none of the ECG-QA question templates")
    reading = _reading(parsed)
    if parsed.margin is not None and parsed.margin < CLARIFY_MARGIN and parsed.runner_up:
        return _clarify(text, canonical, interpreted, (reading, parsed.runner_up), parsed.margin)
    comparison = parsed.question_type.startswith("comparison")
    if record_b is not None and not comparison:
        return Answer(
            question=text, record=canonical, answer=(), evidence=(), supported=False, interpreted_as=interpreted,
            template_id=parsed.template_id, read_as=reading,
            explanation=(f"--compare was given, but the question reads as a question about one ECG ({reading}), "
                         "so the second ECG would be ignored. Ask a comparison (e.g. \"Does the recent ECG "
                         "show any symptoms that were not in the previous ECG?\") or drop --compare."),
        )
    return _answer_template(ctx, text, interpreted, record, record_b, canonical, parsed)


def _two_ecg_question(ctx: ToolContext, text: str, interpreted: str | None, canonical: str,
                      rewritten: str) -> Answer:
    """A question comparing two ECGs asked about one: the ECG-QA comparison template it reads as
    (when it reads as one) or the plain request, both asking for the second ECG."""
    try:
        parsed = ctx.backend.parse_question(rewritten)
    except UnsupportedQuestion:
        parsed = None
    if parsed is not None and parsed.confidence >= MIN_CONFIDENCE and parsed.question_type.startswith("comparison"):
        reading, template_id = _reading(parsed), parsed.template_id
        what = f"The question compares two ECGs ({reading})"
    else:
        reading, template_id, what = None, None, "The question compares two ECGs"
    return Answer(
        question=text, record=canonical, answer=(), evidence=(), supported=False, interpreted_as=interpreted,
        template_id=template_id, read_as=reading,
        explanation=f"{what}; give the second one: `ecgqa ask RECORD QUESTION --compare RECORD2`.",
    )


def _reading(parsed: Any) -> str:
    """The template question with its slots filled, as the parser read the question."""
    if getattr(parsed, "reading", ""):
        return parsed.reading
    slots = ", ".join(f"{k}={v}" for k, v in parsed.slots.items())
    return f"ECG-QA template {parsed.template_id}" + (f" ({slots})" if slots else "")


def _clarify(question: str, record: str, interpreted: str | None, readings: tuple[str, str],
             margin: float) -> Answer:
    listed = "\n".join(f"  {i}. {r}" for i, r in enumerate(readings, 1))
    return Answer(
        question=question, record=record, answer=(), evidence=(), supported=False, interpreted_as=interpreted,
        readings=readings,
        explanation=(f"This question can be read in two ways (the better reading wins by only {margin:.3f} < "
                     f"{CLARIFY_MARGIN}), so it is not answered. Which one do you mean?\n{listed}"),
    )


def _clarify_subject(question: str, record: str, interpreted: str | None, what: str, direction: str,
                     measured: str, ids: list[str], ctx: ToolContext) -> Answer:
    """A two-ECG question whose subject cannot be told ("Is the heart rate faster?"): both readings
    are listed with the measured values, no yes/no."""
    readings = (f"Is the measured {what} of the first ECG {direction} than that of the second?",
                f"Is the measured {what} of the second ECG {direction} than that of the first?")
    listed = "\n".join(f"  {i}. {r}" for i, r in enumerate(readings, 1))
    cites = "".join(f" [{i}]" for i in ids[:12])
    return Answer(
        question=question, record=record, answer=(), evidence=tuple(ctx.evidence[i] for i in dict.fromkeys(ids)),
        supported=False, interpreted_as=interpreted, readings=readings,
        explanation=(f"{measured}.{cites} The question does not say which ECG should be the {direction} one "
                     f"(the first is RECORD, the second the --compare one, the more recent), so it is not "
                     f"answered yes or no. Which one do you mean?\n{listed}"),
    )


_SUPERCLASS_VERIFY = re.compile(
    r"^(?:does (?:this|the) ecg (?:show|have)|is there|are there|do you see)\s+(?:any\s+)?"
    r"(?:(?:symptoms?|signs?|evidence) of\s+)?(?:an?\s+)?"
    r"(myocardial infarction|st/t (?:changes?|abnormalit(?:y|ies))|conduction disturbances?|hypertrophy)"
    r"(?:\s+(?:on|in) (?:this|the) ecg)?\s*\??$"
)


def _superclass_question(question: str) -> ParsedQuestionResult | None:
    """'Does this ECG show symptoms of <superclass>?': template 1's wording with a superclass, which
    the template parser refuses (template 1 takes statements); answered from the superclasses of
    the predicted statements, with the disease CNN's probability as further evidence."""
    match = _SUPERCLASS_VERIFY.match(question.strip().lower())
    if match is None:
        return None
    found = match.group(1).replace("abnormalities", "change").replace("abnormality", "change")
    superclass = next(name for name in SUPERCLASS_DISEASE if found.startswith(name))
    return ParsedQuestionResult(
        template_id=1, slots={"scp_code": superclass}, confidence=1.0, question_type="single-verify",
        attribute_type="scp_code", answer_options=("no", "not sure", "yes"),
        reading=f"Does this ECG show symptoms of {superclass}?",
    )


def _register(ctx: ToolContext, item: Any, name: str) -> str:
    if isinstance(item, str):
        return item
    if hasattr(item, "signal_mv") and hasattr(item, "fs_hz"):
        label = f"{getattr(item, 'source', 'ecg')}:{getattr(item, 'record_id', name)}"
        ctx.add_record(label, item)
        return label
    raise RecordError(f"expected an ECG or a record reference, got {type(item).__name__}")


_DIRECT_FIRST = frozenset({"findings", "findings_any", "rate_limit", "bbb_any", "quantity", "heart_rate"})
"""Direct intents tried before the template parser (when the question is not in ECG-QA phrasing)."""


def _direct_intent(question: str) -> str | None:
    lowered = question.lower().strip()
    if lowered.rstrip("?") == FINDINGS_ANY_QUESTION.lower().rstrip("?"):
        return "findings_any"
    if _FINDINGS.search(lowered):
        return "findings"
    if _RATE_LIMIT.search(lowered) and not re.search(r"\bsinus (brady|tachy)", lowered):
        return "rate_limit"
    if _BBB_ANY.search(lowered) and not re.search(r"\b(left|right|complete|incomplete)\b", lowered):
        return "bbb_any"
    if _QUANTITY_ASK.search(lowered) and _quantities(lowered) and not re.search(r"\b(range|normal|fall)\b", lowered):
        return "quantity"
    if (_quantities(lowered) and not re.search(r"\b(range|normal|fall|compared)\b", lowered)
            and (_TWO_ECGS.search(lowered) or _CHANGE_UP.search(lowered) or _CHANGE_DOWN.search(lowered))):
        return "quantity"  # "Is the QT interval longer than in the other ECG?", "Has the QRS got wider?"
    if _HEART_SPEED.search(lowered) and _HEART_SPEED_SUBJECT.search(lowered):
        return "heart_rate"  # "Is the second ECG faster than the first?"
    for pattern, intent in _DIRECT:
        if re.search(pattern, lowered):
            return intent
    return None


def _run(ctx: ToolContext, used: list[str], name: str, **arguments: Any):
    result = TOOLS.run(name, ctx, **arguments)
    used.append(name)
    return result


def _quantities(lowered: str) -> list[tuple[str, str]]:
    """(measured value name, ECG-QA numeric feature) of each interval the question names."""
    return [(value, feature) for regex, value, feature in _QUANTITIES if regex.search(lowered)]


_DIRECT_READINGS = {
    "heart_rate": "What is the measured heart rate?",
    "findings": "Which findings does this ECG show (superclasses, statements, intervals outside their normal range)?",
    "findings_any": ("Does this ECG show any finding (a superclass, a statement other than normal ECG / sinus rhythm, "
                     "an interval outside its normal range)?"),
    "bbb_any": "Does this ECG show any bundle branch block (complete or incomplete, left or right)?",
    "age": "How old is the patient, according to the age model?",
    "sex": "What sex does the sex model estimate?",
    "intervals": "What are the measured intervals and axis?",
}
_COMPARABLE = frozenset({"heart_rate", "quantity"})
_FEATURE_NAMES = {"qt corrected": "QTc (Bazett; Fridericia shown too)", "qt interval": "QT interval",
                  "pr interval": "PR interval", "qrs duration": "QRS duration", "p duration": "P-wave duration",
                  "rr interval": "RR interval"}


def _normal_range(feature: str) -> tuple[float | None, float | None] | None:
    from ..grounding import NORMAL_RANGES_MS

    return NORMAL_RANGES_MS.get(feature)


def _range_text(feature: str) -> str:
    low, high = _normal_range(feature) or (None, None)
    if low is None and high is None:
        return "no normal range defined"
    if low is None:
        return f"normal range up to {high:g} ms"
    if high is None:
        return f"normal range from {low:g} ms"
    return f"normal range {low:g}-{high:g} ms"


def _evidence(ctx: ToolContext, record: str, tool: str, statement: str, source: str, version: str) -> str:
    """Add one decisive fact to the session's ledger and return its id."""
    from ._registry import Provenance

    canonical = ctx.load(record)[0].canonical
    return ctx.add_evidence(tool, f"{statement} on {canonical}",
                            Provenance(source=source, version=version, record=canonical))


def _class_call(ctx: ToolContext, record: str, scores: Any, name: str, tool: str, label: str) -> tuple[bool, str]:
    """(present?, evidence id) for one class of a model: its probability against its tuned threshold."""
    p = scores.probabilities.get(name)
    if p is None:
        return False, _evidence(ctx, record, tool, f"{label}: not among the {scores.model}'s classes", scores.model,
                                scores.version)
    threshold = threshold_of(scores, name)
    present = is_present(scores, name)
    verdict = "at or above" if present else "below"
    remark = flat_remark(scores, name)  # a flat head: the probability is its constant output
    return present, _evidence(
        ctx, record, tool,
        f"{label} probability {float(p):.2f}, {verdict} its threshold {threshold:.2f}: "
        f"{'present' if present else 'absent'}{f' ({remark})' if remark else ''}", scores.model, version_of(scores, name))


def _superclass_call(ctx: ToolContext, used: list[str], record: str, superclass: str) -> tuple[bool, str]:
    """The disease CNN head of an ECG-QA superclass against its tuned threshold (what ``classify`` calls)."""
    from ..encoders import DISEASE_NAMES

    code = SUPERCLASS_DISEASE[superclass]
    if "disease_probabilities" not in used:
        _run(ctx, used, "disease_probabilities", record=record)
    scores = _diseases(ctx, record)[1]
    return _class_call(ctx, record, scores, code, "disease_probabilities",
                       f"{DISEASE_NAMES.get(code, superclass)} ({code}, disease CNN)")


def _statement_call(ctx: ToolContext, used: list[str], record: str, statement: str) -> tuple[bool, str]:
    """The attribute model's class for one statement against its tuned threshold."""
    if "ecgqa_attributes" not in used:
        _run(ctx, used, "ecgqa_attributes", record=record)
    scores = _attributes(ctx, record)[1]
    return _class_call(ctx, record, scores, statement, "ecgqa_attributes", f"'{statement}' (attribute model)")


def _measured(ctx: ToolContext, used: list[str], record: str, value_name: str, feature: str | None) -> tuple[float | None, str]:
    """(value, evidence id) of one measured interval, with its normal range when it has one."""
    if "intervals_and_axis" not in used:
        _run(ctx, used, "intervals_and_axis", record=record)
    meas = _measurement(ctx, record)[1]
    value = meas.values.get(value_name)
    value = None if value is None else round(float(value), 1)
    label = _quantity(value_name, 0).rsplit(" ", 2)[0]
    if value is None:
        text = f"{label} could not be measured: {meas.reasons.get(value_name, 'no reason given')}"
    else:
        text = _quantity(value_name, value)
        ecgqa_key = None if feature is None else f"ecgqa_{feature.replace(' ', '_')}"
        if feature is not None and f"{ecgqa_key}_min_ms" in meas.values:
            # ECG-QA numeric convention in use: the ranges are ECG-QA's; cite both measurements
            from ..grounding import ECGQA_FEATURE_SOURCES, ECGQA_NORMAL_RANGES_MS, range_of

            clinical = range_of(feature, value)
            text += f" ({_range_text(feature)}{': ' + clinical + ' the normal range' if clinical else ''})"
            decided = meas.values.get(f"{ecgqa_key}_ms")
            low, high = meas.values.get(f"{ecgqa_key}_min_ms"), meas.values.get(f"{ecgqa_key}_max_ms")
            beats = f"{low:.0f}-{high:.0f} ms" if low is not None and high is not None else "not measurable"
            lo, hi = ECGQA_NORMAL_RANGES_MS[feature]
            limits = f"up to {hi:.0f} ms" if lo is None else f"{lo:.0f}-{hi:.0f} ms"
            where = meas.ranges.get(feature)
            if ECGQA_FEATURE_SOURCES[feature].startswith("clinical"):
                # the convention decides this feature from the 12-lead value cited above
                text += (f"; ECG-QA convention: this 12-lead value against ECG-QA's range {limits}"
                         f"{': ' + where if where else ''} (NeuroKit2 lead-II beats, not used: {beats})")
            else:
                shown = f"{decided:.0f} ms" if decided is not None else "not measurable"
                text += (f"; ECG-QA convention (NeuroKit2, lead II, median beat): {shown}, beats {beats}"
                         f" (ECG-QA range {limits}{': ' + where if where else ''})")
        elif feature is not None:
            where = meas.ranges.get(feature)
            text += f" ({_range_text(feature)}{': ' + where if where else ''})"
    return value, _evidence(ctx, record, "intervals_and_axis", text, f"measurements ({meas.method})", meas.version)


def _answer_direct(ctx: ToolContext, question: str, interpreted: str | None, record: str, record_b: str | None,
                   canonical: str, intent: str) -> Answer:
    used: list[str] = []
    reading = _DIRECT_READINGS.get(intent)
    lowered = rewrite_everyday(question).lower()
    if intent == "quantity":
        names = " and ".join(_FEATURE_NAMES.get(f, f) for _, f in _quantities(lowered))
        reading = f"What is the measured {names}?"
    elif intent == "rate_limit":
        slow = "brady" in lowered
        reading = (f"Is the measured heart rate {'below' if slow else 'above'} "
                   f"{BRADYCARDIA_BPM if slow else TACHYCARDIA_BPM:g} bpm ({'bradycardia' if slow else 'tachycardia'})?")
    if record_b is not None and intent not in _COMPARABLE:
        return Answer(question=question, record=canonical, answer=(), evidence=(), supported=False,
                      interpreted_as=interpreted, read_as=reading,
                      explanation=(f"--compare was given, but the question reads as a question about one ECG "
                                   f"({reading}), so the second ECG would be ignored. Ask it about each ECG "
                                   "separately, or drop --compare."))
    records = [record] + ([record_b] if record_b is not None else [])
    answer: tuple[str, ...] = ()
    try:
        if intent in ("age", "sex"):
            est = _run(ctx, used, "age_sex_estimate", record=record)
            ids = list(est.evidence_ids)
            if intent == "age":
                body = (f"The age model estimates {est.age_years:g} years" if est.age_years is not None
                        else "The age model gave no estimate")
                answer = (f"{est.age_years:g} years",) if est.age_years is not None else ()
            else:
                p = est.female_probability
                body = ("The sex model gives no estimate" if p is None else
                        f"The sex model gives a probability of {p:.2f} that the patient is female"
                        + (f" (estimate: {est.sex})" if est.sex else " (undecided)"))
                answer = (est.sex,) if est.sex else ()
            body += " (an estimate from the signal, not the recorded value)"
        elif intent in ("heart_rate", "quantity"):
            wanted = ([("heart_rate_bpm", None)] if intent == "heart_rate"
                      else [(v, f) for v, f in _quantities(lowered)])
            if intent == "quantity" and any(v == "qtc_bazett_ms" for v, _ in wanted):
                wanted.append(("qtc_fridericia_ms", None))
            ids, parts = [], []
            values: dict[str, list[float | None]] = {}
            for rec in records:
                for value_name, feature in wanted:
                    value, eid = _measured(ctx, used, rec, value_name, feature)
                    ids.append(eid)
                    values.setdefault(value_name, []).append(value)
                    parts.append(ctx.evidence[eid].statement)
            body = "Measured: " + "; ".join(parts)
            rate = values.get("heart_rate_bpm", [None])[0]
            if record_b is None:  # the measured values are the answer (a value, not an option)
                answer = tuple(_quantity(k, v[0]) for k, v in values.items() if v[0] is not None)
            if intent == "heart_rate" and record_b is None:
                body = (f"The measured heart rate is {rate:g} beats per minute" if rate is not None
                        else f"The heart rate could not be measured ({parts[0]})")
            if record_b is not None:
                diffs = [f"{_quantity(k, abs(round(v[1] - v[0], 1)))} {'more' if v[1] >= v[0] else 'less'} on the "
                         "second ECG" for k, v in values.items() if v[0] is not None and v[1] is not None]
                body += ("; difference (second - first): " + ", ".join(diffs)) if diffs else ""
                sense = _comparison_sense(lowered)
                first, second = next(iter(values.values()))
                what = reading[len("What is the measured "):-1]
                if sense is not None and sense[0] is None:
                    pair = f"{canonical} -> {ctx.load(record_b)[0].canonical}"
                    return _clarify_subject(question, pair, interpreted, what, sense[1], body, ids, ctx)
                if sense is not None and first is not None and second is not None:
                    subject, direction = sense
                    mine, theirs = (first, second) if subject == "first" else (second, first)
                    answer = ("yes" if (mine > theirs if direction == "higher" else mine < theirs) else "no",)
                    other = "second" if subject == "first" else "first"
                    reading = (f"Is the measured {what} of the {subject} ECG {direction} than that of the {other}?")
        elif intent == "rate_limit":
            rate, eid = _measured(ctx, used, record, "heart_rate_bpm", None)
            ids = [eid]
            slow = "brady" in lowered
            if rate is None:
                body = "The heart rate could not be measured, so this cannot be answered"
            else:
                yes = rate < BRADYCARDIA_BPM if slow else rate > TACHYCARDIA_BPM
                answer = ("yes" if yes else "no",)
                limit = BRADYCARDIA_BPM if slow else TACHYCARDIA_BPM
                body = (f"The measured heart rate is {rate:g} bpm, {'below' if rate < limit else 'above' if rate > limit else 'at'} "
                        f"the {limit:g} bpm limit")
        elif intent == "bbb_any":
            from ..qa import SCP_STATEMENTS

            ids, found = [], []
            for statement in (s for s in SCP_STATEMENTS if "bundle branch block" in s):
                present, eid = _statement_call(ctx, used, record, statement)
                ids.append(eid)
                if present:
                    found.append(statement)
            answer = ("yes" if found else "no",)
            body = (f"Present: {', '.join(found)}" if found else
                    "No bundle-branch-block statement is over its threshold")
        elif intent == "findings":
            ids, answer = _findings(ctx, used, record)
            body = "Findings: " + ", ".join(answer)
        elif intent == "findings_any":
            ids, found = _findings(ctx, used, record)
            none = found == ("no abnormal finding",)
            answer = ("no",) if none else ("yes",)
            body = ("No finding: no superclass head, statement or measured interval is abnormal" if none
                    else "Findings: " + ", ".join(found))
        else:
            meas = _run(ctx, used, "intervals_and_axis", record=record)
            ids = list(meas.evidence_ids)
            shown = [_quantity(k, v) for k, v in meas.values.items() if v is not None]
            body = "Measured: " + ", ".join(shown) if shown else "No interval could be measured"
    except ToolError as exc:
        return _failed(question, canonical, exc, interpreted, used)
    cites = "".join(f" [{i}]" for i in ids[:12])
    evidence = tuple(ctx.evidence[i] for i in dict.fromkeys(ids))
    if record_b is not None:
        canonical = f"{canonical} -> {ctx.load(record_b)[0].canonical}"
    return Answer(question=question, record=canonical, answer=answer, explanation=f"{body}.{cites}",
                  evidence=evidence, supported=True, interpreted_as=interpreted, tools_used=tuple(used),
                  read_as=reading)


_SECOND_WORDS = r"(?:second|recent|new|newer|latest|current|later|other|last)"
_FIRST_WORDS = r"(?:first|previous|earlier|older|prior|original|old|this)"
_CHANGE_UP = re.compile(r"\b(?:increased?|increasing|rose|risen|rise|went up|gone up|go(?:ne)? up|climbed|"
                        r"(?:get|gets|got|gotten|become|became|grown|grew)\s+(?:faster|higher|longer|greater|larger|quicker)|"
                        r"(?:faster|higher|longer|greater|larger|quicker)\s+now|now\s+(?:faster|higher|longer|greater|larger))\b")
_CHANGE_DOWN = re.compile(r"\b(?:decreased?|decreasing|dropped|drop|fell|fallen|went down|gone down|go down|"
                          r"slowed(?: down)?|(?:get|gets|got|gotten|become|became)\s+(?:slower|lower|shorter|smaller)|"
                          r"(?:slower|lower|shorter|smaller)\s+now|now\s+(?:slower|lower|shorter|smaller))\b")
_HIGHER = re.compile(r"\b(?:faster|quicker|higher|longer|greater|more|larger|bigger)\b")
_LOWER = re.compile(r"\b(?:slower|lower|shorter|less|smaller)\b")


def _comparison_sense(lowered: str) -> tuple[str | None, str] | None:
    """How a two-ECG measured-value question compares: ``(subject, direction)`` with ``direction``
    ``higher`` / ``lower`` (is the subject's value larger / smaller than the other's) and ``subject``
    ``first`` / ``second`` (the ECG given first / with ``--compare``, the more recent one), or None
    when the subject cannot be told; None when the question asks no direction.

    A change over time ("has it increased / dropped", "got longer", "higher now") is about the second
    (recent) ECG. Otherwise the subject is the ECG named before "than" ("is the SECOND ECG faster",
    "the heart rate of the recent ECG"), or, when none is named there, the one "than" does not name
    ("faster than in the OTHER ECG" -> the first; "than the FIRST / previous" -> the second)."""
    if _CHANGE_UP.search(lowered):
        return "second", "higher"
    if _CHANGE_DOWN.search(lowered):
        return "second", "lower"
    high, low = _HIGHER.search(lowered), _LOWER.search(lowered)
    if high is None and low is None:
        return None
    direction = "higher" if high is not None and (low is None or high.start() < low.start()) else "lower"
    before, _, after = lowered.partition(" than ")
    names = (("second", rf"\b{_SECOND_WORDS}\b"), ("first", rf"\b{_FIRST_WORDS}\b"))
    named = [who for who, pattern in names if re.search(pattern, before)]
    if len(named) == 1:
        return named[0], direction
    if not named and after:
        other = [who for who, pattern in names if re.search(pattern, after)]
        if len(other) == 1:
            return ("first" if other[0] == "second" else "second"), direction
    return None, direction


_NOT_FINDINGS = frozenset({"normal ecg", "sinus rhythm"})


def _findings(ctx: ToolContext, used: list[str], record: str) -> tuple[list[str], tuple[str, ...]]:
    """(evidence ids, findings): superclasses from the disease CNNs, statements from the attribute
    model (normal ECG and sinus rhythm left out), intervals measured outside their normal range."""
    from ..qa import SCP_STATEMENTS

    ids: list[str] = []
    found: list[str] = []
    for superclass in SUPERCLASS_DISEASE:
        present, eid = _superclass_call(ctx, used, record, superclass)
        ids.append(eid)
        if present:
            found.append(superclass)
    _run(ctx, used, "ecgqa_attributes", record=record)
    scores = _attributes(ctx, record)[1]
    for name in sorted(scores.probabilities, key=lambda n: -scores.probabilities[n]):
        if name in SCP_STATEMENTS and name not in _NOT_FINDINGS and is_present(scores, name):
            ids.append(_class_call(ctx, record, scores, name, "ecgqa_attributes", f"'{name}' (attribute model)")[1])
            found.append(name)
    _run(ctx, used, "intervals_and_axis", record=record)
    meas_result = _measurement(ctx, record)[1]
    for feature, where in meas_result.ranges.items():
        if not where.startswith("within"):
            value_name = _FEATURE_VALUE.get(feature)
            if value_name is None:
                continue
            ids.append(_measured(ctx, used, record, value_name, feature)[1])
            found.append(f"{feature} {where}")
    if not found:
        return ids, ("no abnormal finding",)
    return ids, tuple(found)


def _answer_template(ctx: ToolContext, question: str, interpreted: str | None, record: str,
                     record_b: str | None, canonical: str, parsed: Any) -> Answer:
    used: list[str] = []
    comparison = parsed.question_type.startswith("comparison")
    reading = _reading(parsed)
    if comparison and record_b is None:
        return Answer(
            question=question, record=canonical, answer=(), evidence=(), supported=False, interpreted_as=interpreted,
            template_id=parsed.template_id, read_as=reading,
            explanation=(f"The question compares two ECGs ({reading}); give the second one: "
                         "`ecgqa ask RECORD QUESTION --compare RECORD2`."),
        )
    try:
        attrs_a, ids_a = _attributes_for(ctx, used, record, parsed)
        attrs_b, ids_b = _attributes_for(ctx, used, record_b, parsed) if comparison else (None, [])
        if comparison:
            cmp_ = _run(ctx, used, "compare_ecgs", record_a=record, record_b=record_b)
            ids_b = ids_b + cmp_.evidence_ids
        decisive: list[str] = []
        superclass_answer = None
        note = ""
        if any(str(v).lower() in SUPERCLASS_DISEASE for v in parsed.slots.values()):
            model_attrs = attrs_a
            attrs_a, superclass_answer, decisive, cnn_present = _superclasses_from_cnn(
                ctx, used, record, parsed, attrs_a)
            note = _attribute_model_view(model_attrs, parsed, cnn_present)
        answer = superclass_answer or _engine_answer(ctx, parsed, attrs_a, attrs_b)
        if not decisive:
            records = [record] + ([record_b] if comparison and record_b is not None else [])
            decisive = _decisive(ctx, used, records, parsed)
    except ToolError as exc:
        return _failed(question, canonical, exc, interpreted, used, parsed.template_id)
    except UnsupportedQuestion as exc:
        return replace(_out_of_scope(question, canonical, f"the answer engine could not answer it: {exc}"),
                       read_as=reading, template_id=parsed.template_id)
    evidence_ids = decisive or _relevant(ctx, ids_a + ids_b, parsed, answer)
    evidence = tuple(ctx.evidence[i] for i in dict.fromkeys(evidence_ids))
    if comparison:
        canonical = f"{canonical} -> {ctx.load(record_b)[0].canonical}"  # type: ignore[arg-type]
    explanation = _explain(parsed, answer, evidence) + (f" {note}" if note else "")
    return Answer(
        question=question, record=canonical, answer=tuple(answer), explanation=explanation, evidence=evidence,
        supported=True, template_id=parsed.template_id, interpreted_as=interpreted, tools_used=tuple(used),
        read_as=reading,
    )


def _attribute_model_view(attrs: Any, parsed: Any, cnn_present: frozenset[str]) -> str:
    """A note when the attribute model's statements disagree with the disease CNN's call (which decides)."""
    if not hasattr(attrs, "superclasses"):
        return ""
    implied = set(attrs.superclasses())
    asked = [str(v).lower() for v in parsed.slots.values()
             if str(v).lower() in SUPERCLASS_DISEASE and (str(v).lower() in implied) != (str(v).lower() in cnn_present)]
    if not asked:
        return ""
    shown = "; ".join(f"{'imply' if sc in implied else 'do not imply'} {sc}" for sc in asked)
    return (f"(For reference, not deciding: the attribute model's predicted statements {shown}; superclass "
            "questions are decided by the disease CNN heads, see docs/llm.md.)")


def _superclasses_from_cnn(ctx: ToolContext, used: list[str], record: str, parsed: Any,
                           attrs: Any) -> tuple[Any, list[str] | None, list[str], frozenset[str]]:
    """Superclass questions are decided by the disease CNN heads (docs/llm.md): the attributes with
    their superclasses replaced by the heads' calls, the yes/no answer of a superclass verify
    question (None for other templates), the evidence ids of the asked superclasses and the
    superclasses the heads call present."""
    calls = {sc: _superclass_call(ctx, used, record, sc) for sc in SUPERCLASS_DISEASE}
    present = frozenset(sc for sc, (yes, _) in calls.items() if yes)
    asked = [str(v).lower() for v in parsed.slots.values() if str(v).lower() in SUPERCLASS_DISEASE]
    decisive = [calls[sc][1] for sc in asked]
    if hasattr(attrs, "superclass_set"):
        attrs = replace(attrs, superclass_set=present)
    answer = None
    if parsed.template_id == 1 and len(asked) == 1:
        answer = ["yes" if asked[0] in present else "no"]
    return attrs, answer, decisive, present


_KIND_OF_TEMPLATE = {8: "diagnostic", 9: "diagnostic", 10: "rhythm", 11: "form", 12: "abnormal",
                     13: "diagnostic", 14: "diagnostic", 15: "form", 16: "rhythm"}
"""Slot-less statement templates: the statement kind their answer is computed from."""


def _kind_calls(ctx: ToolContext, used: list[str], record: str, kind: str, shown: int = 6) -> list[str]:
    """Evidence ids for an "any <kind> symptoms" / "what <kind> symptoms" answer: the statements of
    that kind over their thresholds (what the answer engine counts), or, when there is none, the
    three closest to their thresholds, below them."""
    from ..qa import SCP_DIAGNOSTIC, SCP_FORM, SCP_RHYTHM

    pools = {"diagnostic": SCP_DIAGNOSTIC, "form": SCP_FORM, "rhythm": SCP_RHYTHM,
             "abnormal": tuple(s for s in SCP_DIAGNOSTIC + SCP_FORM + SCP_RHYTHM
                               if s not in ("sinus rhythm", "normal ecg"))}
    if "ecgqa_attributes" not in used:
        _run(ctx, used, "ecgqa_attributes", record=record)
    scores = _attributes(ctx, record)[1]
    pool = [s for s in dict.fromkeys(pools[kind]) if s in scores.probabilities]
    present = [s for s in pool if is_present(scores, s)]
    if present:
        chosen = sorted(present, key=lambda s: -scores.probabilities[s])[:shown]
    else:
        chosen = sorted(pool, key=lambda s: scores.probabilities[s] - threshold_of(scores, s), reverse=True)[:3]
    return [_class_call(ctx, record, scores, s, "ecgqa_attributes", f"'{s}' (attribute model)")[1] for s in chosen]


_FEATURE_VALUE = {"rr interval": "rr_interval_ms", "p duration": "p_duration_ms", "pr interval": "pr_interval_ms",
                  "qrs duration": "qrs_duration_ms", "qt interval": "qt_interval_ms",
                  "qt corrected": "qtc_bazett_ms"}


def _decisive(ctx: ToolContext, used: list[str], records: list[str], parsed: Any) -> list[str]:
    """Evidence ids of what decides a template's answer: each statement slot's attribute-model class
    against its threshold, each numeric feature's measured value against its normal range, and the
    'normal ecg' class for template 2; empty when the template has none of these (the answer then
    cites the evidence mentioning its slots or answer)."""
    from ..qa import SCP_STATEMENTS

    ids: list[str] = []
    slot_values = {str(v).lower() for v in parsed.slots.values()}
    if parsed.attribute_type == "numeric_feature" and not slot_values & set(_FEATURE_VALUE):
        # "What numeric features ... are abnormal (now / still)?": every feature's measured value
        # against its normal range, feature by feature, each ECG's side by side
        for feature, value_name in _FEATURE_VALUE.items():
            for rec in records:
                if "intervals_and_axis" not in used:
                    _run(ctx, used, "intervals_and_axis", record=rec)
                if feature in _measurement(ctx, rec)[1].ranges:
                    ids.append(_measured(ctx, used, rec, value_name, feature)[1])
    for rec in records:
        if parsed.attribute_type == "heart_axis":
            _, eid = _measured(ctx, used, rec, "qrs_axis_deg", None)
            meas = _measurement(ctx, rec)[1]
            ids.append(eid)
            ids.append(_evidence(ctx, rec, "intervals_and_axis",
                                 f"axis class from the measured axis: {meas.axis_class or 'unknown'}",
                                 f"measurements ({meas.method})", meas.version))
        if parsed.template_id == 2:
            ids.append(_statement_call(ctx, used, rec, "normal ecg")[1])
        if parsed.template_id in _KIND_OF_TEMPLATE:
            ids.extend(_kind_calls(ctx, used, rec, _KIND_OF_TEMPLATE[parsed.template_id]))
        for name, value in parsed.slots.items():
            value = str(value).lower()
            if value in SCP_STATEMENTS:
                ids.append(_statement_call(ctx, used, rec, value)[1])
            elif value in _FEATURE_VALUE:
                ids.append(_measured(ctx, used, rec, _FEATURE_VALUE[value], value)[1])
    return ids


def _attributes_for(ctx: ToolContext, used: list[str], record: str, parsed: Any) -> tuple[Any, list[str]]:
    """Run the tools a template needs on one record and build its ECG-QA attributes."""
    ids: list[str] = []
    try:
        ids += _run(ctx, used, "ecgqa_attributes", record=record).evidence_ids
        scores = None
    except ToolError:
        # numeric ranges, the axis and noise are measured on the signal: answer without the model
        if parsed.attribute_type not in MEASURED_TYPES:
            raise
        scores = ScoresResult({}, "none", "")
    measurement = None
    if parsed.attribute_type in ("numeric_feature", "heart_axis"):
        ids += _run(ctx, used, "intervals_and_axis", record=record).evidence_ids
        measurement = _measurement(ctx, record)[1]
    noisy: Mapping[str, list[str]] | None = None
    if parsed.attribute_type == "noise":
        noise = _run(ctx, used, "noise_per_lead", record=record)
        noisy = noise.noisy_leads
        ids += noise.evidence_ids
    slot_values = {str(v).lower() for v in parsed.slots.values()}
    if parsed.template_id == 3 or slot_values & set(SUPERCLASS_DISEASE):
        dis = _run(ctx, used, "disease_probabilities", record=record)
        ids += dis.evidence_ids
    if scores is None:
        scores = _attributes(ctx, record)[1]
    attrs = ctx.backend.build_attributes(scores, measurement, noisy)
    return attrs, ids


def _engine_answer(ctx: ToolContext, parsed: Any, attrs_a: Any, attrs_b: Any) -> list[str]:
    """The ECG-QA answer engine on the attributes built from the tools."""
    return list(ctx.backend.answer_question(parsed, attrs_a, attrs_b))


# Templates without slots: the attribute classes their answer rests on.
_TEMPLATE_KEYS: dict[int, tuple[str, ...]] = {
    2: ("normal ecg",), 12: ("any kind of abnormal symptoms", "normal ecg"), 13: ("any diagnostic symptoms",),
    14: ("any diagnostic symptoms",), 15: ("any form-related symptoms",), 16: ("any rhythm-related symptoms",),
    22: ("axis",), 29: ("any kind of noises", "noise", "no lead"), 32: ("noise", "no lead", "flagged"),
    35: ("extra systoles", "extrasystoles"), 38: ("extrasystoles",), 25: ("stage of myocardial infarction",),
}


def _relevant(ctx: ToolContext, ids: list[str], parsed: Any, answer: list[str]) -> list[str]:
    """Evidence items that mention the question's slots, its template's classes or the answer;
    all of them (at most 12) when none does."""
    unique = list(dict.fromkeys(ids))
    keys = {str(v).lower() for v in parsed.slots.values()} | {a.lower() for a in answer}
    keys |= {SUPERCLASS_DISEASE[k] for k in keys if k in SUPERCLASS_DISEASE}
    keys |= set(_TEMPLATE_KEYS.get(parsed.template_id, ()))
    if parsed.attribute_type == "heart_axis":
        keys.add("axis")
    if parsed.attribute_type == "noise":
        keys |= {"noise", "drift", "electrodes", "no lead"}
    keys = {k for k in keys if k and k not in ("yes", "no", "none", "not sure")}
    patterns = [_word_pattern(k) for k in sorted(keys)]
    picked = [i for i in unique if any(p.search(ctx.evidence[i].statement.lower()) for p in patterns)]
    if parsed.attribute_type == "numeric_feature" and not parsed.slots:
        picked += [i for i in unique if ctx.evidence[i].tool == "intervals_and_axis" and i not in picked]
    return _per_record(ctx, picked or unique, MAX_EVIDENCE)


MAX_EVIDENCE = 12
"""At most this many evidence items are cited by a template answer, shared evenly between the ECGs
of a comparison (``_per_record``)."""
WHY_ITEMS = 6
"""The Why line of an answer cites at most this many items per ECG."""


def _word_pattern(key: str) -> re.Pattern[str]:
    """``key`` as whole words: lead 'i' matches "lead(s) I, II" but not 'sinus rhythm'; 'normal
    ecg' does not match 'abnormal ecg'."""
    return re.compile(rf"(?<![\w]){re.escape(key)}(?![\w])")


def _per_record(ctx: ToolContext, ids: list[str], cap: int) -> list[str]:
    """At most ``cap`` of ``ids``, taken in turn from each record's items (the order of each kept),
    so that in a comparison the first ECG's items cannot crowd out the second's."""
    groups: dict[str, list[str]] = {}
    for i in dict.fromkeys(ids):
        groups.setdefault(ctx.evidence[i].record, []).append(i)
    out: list[str] = []
    queues = [list(g) for g in groups.values()]
    while len(out) < cap and any(queues):
        for queue in queues:
            if queue and len(out) < cap:
                out.append(queue.pop(0))
    return out


def _why(evidence: tuple[EvidenceItem, ...], answer: list[str]) -> list[EvidenceItem]:
    """The items the Why line cites: those naming an answer value first, then the rest, at most
    ``WHY_ITEMS`` per ECG (a comparison cites both ECGs, in the evidence's order)."""
    keys = [_word_pattern(a.lower()) for a in answer if a.lower() not in ("yes", "no", "none", "not sure")]
    naming = [e for e in evidence if any(k.search(e.statement.lower()) for k in keys)]
    ordered = naming + [e for e in evidence if e not in naming]
    records = {e.record for e in evidence if " -> " not in e.record}
    cap = WHY_ITEMS * max(1, len(records))
    counts: dict[str, int] = {}
    chosen: list[EvidenceItem] = []
    for item in ordered:
        if counts.get(item.record, 0) < WHY_ITEMS and len(chosen) < cap:
            counts[item.record] = counts.get(item.record, 0) + 1
            chosen.append(item)
    return sorted(chosen, key=evidence.index)


def _explain(parsed: Any, answer: list[str], evidence: tuple[EvidenceItem, ...]) -> str:
    answer_text = ", ".join(answer) if answer else "no answer"
    lines = [f"Answer: {answer_text} (ECG-QA template {parsed.template_id}, {parsed.question_type}, "
             f"{parsed.attribute_type})."]
    if evidence:
        lines.append("Why: " + "; ".join(f"{e.statement} [{e.id}]" for e in _why(evidence, answer)) + ".")
    else:
        lines.append("Why: no predicted attribute or measurement supports a positive finding, so the "
                     "answer engine returns the negative option.")
    return " ".join(lines)
