"""ECG-QA: typed samples, the 70 templates, ECG attributes, the answer engine, question understanding.

No model is imported here: attributes come from labels (``attributes_from_ptbxl``, for evaluation
and training) or from a signal model that fills ``EcgAttributes``.
"""

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
from ._engine import answer_question, normalize_slots, slot_vocabulary
from ._labelspace import (
    GROUNDING_CLASSES,
    attributes_to_multihot,
    class_is_present,
    grounding_classes,
    multihot_to_attributes,
)
from ._ptbxl_labels import (
    SCP_CODE_NAMES,
    attributes_from_ptbxl,
    attributes_from_ptbxl_row,
    parse_extra_beats,
    parse_noise_leads,
)
from ._samples import QASample, QASplit, load_ecgqa, parse_samples
from ._templates import (
    ATTRIBUTE_TYPES,
    LEADS,
    NUMERIC_FEATURES,
    QUESTION_TYPES,
    RANGES,
    TEMPLATES,
    Template,
    answer_options,
    answer_vocabulary,
    template,
)
from ._understand import (MAX_QUESTION_CHARS, SYNONYMS, ParsedQuestion, QuestionParser, extract_slots,
                          not_english_reason, parse_question, register_synonyms, unknown_leads_reason)
from ._mapping import MappedSample, MappingReport, export_hf, export_parquet, map_samples
from ._verify import (
    SIGNAL_DERIVED_TEMPLATES,
    VerifyReport,
    numeric_comparison_consistency,
    official_template_samples,
    slots_of_sample,
    verify_answers,
)

__all__ = [
    "ATTRIBUTE_TYPES",
    "EXTRA_SYSTOLES",
    "EcgAttributes",
    "GROUNDING_CLASSES",
    "HEART_AXES",
    "INFARCTION_STAGES",
    "LEADS",
    "MAX_QUESTION_CHARS",
    "MappedSample",
    "MappingReport",
    "ParsedQuestion",
    "QuestionParser",
    "SIGNAL_DERIVED_TEMPLATES",
    "SYNONYMS",
    "NOISE_KINDS",
    "NUMERIC_FEATURES",
    "QASample",
    "QASplit",
    "QUESTION_TYPES",
    "RANGES",
    "SCP_CODE_NAMES",
    "SCP_DIAGNOSTIC",
    "SCP_FORM",
    "SCP_RHYTHM",
    "SCP_STATEMENTS",
    "SCP_SUPERCLASSES",
    "TEMPLATES",
    "Template",
    "VerifyReport",
    "answer_options",
    "answer_question",
    "answer_vocabulary",
    "attributes_from_ptbxl",
    "attributes_from_ptbxl_row",
    "attributes_to_multihot",
    "class_is_present",
    "export_hf",
    "export_parquet",
    "extract_slots",
    "map_samples",
    "numeric_comparison_consistency",
    "parse_question",
    "register_synonyms",
    "grounding_classes",
    "load_ecgqa",
    "multihot_to_attributes",
    "normalize_slots",
    "not_english_reason",
    "official_template_samples",
    "parse_extra_beats",
    "parse_noise_leads",
    "parse_samples",
    "slot_vocabulary",
    "slots_of_sample",
    "template",
    "unknown_leads_reason",
    "verify_answers",
]
