"""LLM layer: typed tools, the offline answerer, an OpenAI-compatible tool-calling agent, MCP.

Everything here only calls tools; the tools call the models and measurements of the other
subpackages through ``Backend`` (``ToolkitBackend`` by default). Research software, not for
clinical use.
"""

from ._agent import MAX_RETRIES, MAX_STEPS, MAX_TOKENS, Agent, AgentAnswer, ChatSession, LLMSettings, ToolCallRecord
from ._backend import (
    AgeSexResult,
    AttributionResult,
    Backend,
    MeasurementResult,
    ParsedQuestionResult,
    ScoresResult,
    TokensResult,
    ToolkitBackend,
)
from ._context import ToolContext
from ._endpoint import check_endpoint
from ._mcp import build_mcp_server, serve_mcp_stdio
from ._offline import DISCLAIMER, EXAMPLE_QUESTIONS, Answer, answer_offline, rewrite_everyday
from ._quality import (
    QUALITY_FIT_RULE,
    QUALITY_METHOD,
    QUALITY_VERSION,
    quality_development_ids,
    quality_fitted_ecg_ids,
)
from ._records import RecordRef, allowed_roots, parse_record_ref
from ._registry import EvidenceItem, Provenance, Tool, ToolCallResult, ToolOutput, ToolRegistry
from ._scripted import ScriptedChatModel, chat_completion
from ._tools import TOOLS, numeric_convention_of, use_numeric_convention

__all__ = [
    "Agent",
    "AgentAnswer",
    "AgeSexResult",
    "Answer",
    "AttributionResult",
    "Backend",
    "ChatSession",
    "DISCLAIMER",
    "EXAMPLE_QUESTIONS",
    "EvidenceItem",
    "LLMSettings",
    "MAX_RETRIES",
    "MAX_STEPS",
    "MAX_TOKENS",
    "MeasurementResult",
    "ParsedQuestionResult",
    "Provenance",
    "QUALITY_FIT_RULE",
    "QUALITY_METHOD",
    "QUALITY_VERSION",
    "RecordRef",
    "ScoresResult",
    "ScriptedChatModel",
    "TOOLS",
    "TokensResult",
    "Tool",
    "ToolCallRecord",
    "ToolCallResult",
    "ToolContext",
    "ToolOutput",
    "ToolRegistry",
    "ToolkitBackend",
    "allowed_roots",
    "answer_offline",
    "build_mcp_server",
    "chat_completion",
    "check_endpoint",
    "parse_record_ref",
    "quality_development_ids",
    "quality_fitted_ecg_ids",
    "rewrite_everyday",
    "serve_mcp_stdio",
    "numeric_convention_of",
    "use_numeric_convention",
]
