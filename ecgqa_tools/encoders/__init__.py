"""Encoders: trained signal models, the OpenECG delineator and codec tokenizer."""

from ._cards import ModelCard
from ._inference import (
    AgeSexEstimate,
    AgeSexModel,
    AttributeModel,
    AttributePrediction,
    DISEASE_WEIGHT_SETS,
    DiseaseModel,
    DiseasePrediction,
    active_disease_weights,
    estimate_age_sex,
    load_age_sex_model,
    load_attribute_model,
    load_disease_model,
    model_cards,
    model_input_warnings,
    predict_attributes,
    predict_diseases,
    use_disease_weights,
)
from ._labels import DISEASE_NAMES, DISEASES, pure_labels
from ._metrics import macro_auc, roc_auc, roc_auc_ci
from ._package import LoadedModel, guard_unseen
from ._preprocess import MODEL_FS_HZ, MODEL_SAMPLES, preprocess_ecg
from ._codec import CodecEvent, CodecTokens, Token, tokenize_lead
from ._delineation import (DelineationResult, DelineatorConfig, RhythmCall, delineate, delineate_detailed,
                           delineation_workers, lead_problem, lead_quality, rhythm_of)

__all__ = [
    "AgeSexEstimate",
    "AgeSexModel",
    "AttributeModel",
    "AttributePrediction",
    "DISEASES",
    "DISEASE_NAMES",
    "DISEASE_WEIGHT_SETS",
    "DiseaseModel",
    "DiseasePrediction",
    "LoadedModel",
    "MODEL_FS_HZ",
    "MODEL_SAMPLES",
    "ModelCard",
    "active_disease_weights",
    "estimate_age_sex",
    "guard_unseen",
    "load_age_sex_model",
    "load_attribute_model",
    "load_disease_model",
    "macro_auc",
    "model_cards",
    "model_input_warnings",
    "predict_attributes",
    "predict_diseases",
    "preprocess_ecg",
    "pure_labels",
    "roc_auc",
    "roc_auc_ci",
    "CodecEvent",
    "CodecTokens",
    "DelineationResult",
    "DelineatorConfig",
    "RhythmCall",
    "Token",
    "delineate",
    "delineate_detailed",
    "delineation_workers",
    "lead_problem",
    "lead_quality",
    "rhythm_of",
    "tokenize_lead",
    "use_disease_weights",
]
