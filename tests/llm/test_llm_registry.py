"""The tool registry: schemas from typed functions, refusal of undocumented tools, safe dispatch."""

from __future__ import annotations

import json

import pytest

from ecgqa_tools.errors import ToolRetry, UsageError
from ecgqa_tools.llm import TOOLS, ToolOutput, ToolRegistry
from ecgqa_tools.llm._registry import parse_docstring

EXPECTED_TOOLS = {
    "record_summary", "disease_probabilities", "attribution_evidence", "ecgqa_attributes", "intervals_and_axis",
    "codec_tokens", "noise_per_lead", "compare_ecgs", "age_sex_estimate",
}


def test_registry_has_every_capability_with_documented_arguments():
    assert set(TOOLS.names) == EXPECTED_TOOLS
    for schema in TOOLS.openai_schemas():
        json.dumps(schema)  # serialisable
        function = schema["function"]
        assert function["description"]
        params = function["parameters"]
        assert params["type"] == "object" and params["additionalProperties"] is False
        for name, prop in params["properties"].items():
            assert len(prop["description"]) > 10, (function["name"], name)


def test_enumerated_arguments_list_their_choices():
    props = TOOLS.get("attribution_evidence").parameters_schema()["properties"]
    assert props["disease"]["enum"] == ["MI", "STTC", "CD", "HYP"]
    assert "V6" in TOOLS.get("codec_tokens").parameters_schema()["properties"]["lead"]["enum"]


def test_a_tool_without_argument_descriptions_is_refused():
    registry = ToolRegistry()

    def undocumented(record: str, lead: str) -> ToolOutput:
        """Does something.

        Args:
            record: The record.
        """

    with pytest.raises(UsageError, match="does not describe lead"):
        registry.add(undocumented)


def test_a_tool_must_return_a_tool_output_and_have_a_description():
    registry = ToolRegistry()

    def returns_dict(record: str) -> dict:
        """Something.

        Args:
            record: The record to use.
        """

    def no_doc(record: str) -> ToolOutput:
        pass

    with pytest.raises(UsageError, match="ToolOutput"):
        registry.add(returns_dict)
    with pytest.raises(UsageError, match="no docstring"):
        registry.add(no_doc)


def test_docstring_parser_handles_continuation_lines_and_other_sections():
    description, args = parse_docstring(
        """First line
        continues here.

        Args:
            a: The a value,
                spread over two lines.
            b (int): The b value.

        Returns:
            x: not an argument.
        """
    )
    assert description == "First line continues here."
    assert args == {"a": "The a value, spread over two lines.", "b": "The b value."}


@pytest.mark.parametrize(
    ("name", "arguments", "fragment"),
    [
        ("no_such_tool", "{}", "valid tools are: record_summary"),
        ("record_summary", "{not json", "not valid JSON"),
        ("record_summary", '{"record": "syn1', "(unterminated string at character 11)"),
        ("record_summary", "[1, 2]", "must be a JSON object"),
        ("record_summary", "{}", "record: Field required"),
        ("record_summary", {"record": "syn1", "extra": 1}, "extra: unexpected argument"),
        ("attribution_evidence", {"record": "syn1", "disease": "AFIB"}, "disease"),
        ("codec_tokens", {"record": "syn1", "max_tokens": 0}, "max_tokens: Input should be greater than or equal to 1"),
        ("record_summary", json.dumps({"record": "x" * 5000}), "at most 4000"),
    ],
)
def test_invalid_calls_come_back_as_retry_errors(context, name, arguments, fragment):
    result = TOOLS.call(name, arguments, context)
    assert not result.ok and result.retry and result.output is None
    assert fragment in result.error
    assert "Traceback" not in result.to_text() and json.loads(result.to_text())["error"]


def test_tool_failures_are_reported_not_raised(context):
    result = TOOLS.call("record_summary", {"record": "ptbxl:999999999"}, context)
    assert not result.ok and not result.retry
    assert "Traceback" not in result.error


def test_a_crashing_backend_becomes_an_error_message(context, backend):
    def boom(ecg):
        raise ZeroDivisionError("division by zero")

    backend.predict_diseases = boom
    result = TOOLS.call("disease_probabilities", {"record": "syn1"}, context)
    assert not result.ok and "ZeroDivisionError" in result.error


def test_run_raises_retry_for_python_callers(context):
    with pytest.raises(ToolRetry):
        TOOLS.run("record_summary", context)
