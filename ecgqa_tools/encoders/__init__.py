"""Encoders: trained signal models, the OpenECG delineator and codec tokenizer."""

from ._codec import CodecEvent, CodecTokens, Token, tokenize_lead
from ._delineation import DelineationResult, DelineatorConfig, RhythmCall, delineate, delineate_detailed

__all__ = [
    "CodecEvent",
    "CodecTokens",
    "DelineationResult",
    "DelineatorConfig",
    "RhythmCall",
    "Token",
    "delineate",
    "delineate_detailed",
    "tokenize_lead",
]
