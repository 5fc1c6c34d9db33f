"""Fixes from the new-user review of the llm area (example names in tool schemas, comparison
evidence, whole-word slot matching, chat without a model, classify notice, mcp data roots,
training-record notes)."""

from __future__ import annotations

import json
import re

import anyio
import pytest

from ecgqa_tools.llm import TOOLS, ToolContext, build_mcp_server, parse_record_ref
from ecgqa_tools.records import list_examples

# A record name shown as an example: quoted after "e.g." / "example", or written like a bundled
# example (dataset-digits) or a dataset id (dataset:digits), in any quotes.
_QUOTED = re.compile(r"[`'\"]{1,2}([A-Za-z][\w.-]*[-_:][\w.:-]*\d[\w.-]*)[`'\"]{1,2}")


def _schema_texts() -> list[str]:
    """Every text a model or MCP client sees about the tools: descriptions and JSON schemas
    (OpenAI form and MCP listing, input and output), plus the MCP server's instructions."""
    texts = [json.dumps(schema) for schema in TOOLS.openai_schemas()]
    for tool in TOOLS:
        texts.append(tool.description)
        texts.append(json.dumps(tool.output_model.model_json_schema()))

    async def listing():
        from mcp import Client

        async with Client(build_mcp_server(ToolContext())) as client:
            listed = await client.list_tools()
            return [t.model_dump_json() for t in listed.tools], client.server_capabilities

    tools_json, _ = anyio.run(listing)
    texts.extend(tools_json)
    return texts


def _example_names(texts: list[str]) -> set[str]:
    names: set[str] = set()
    for text in texts:
        for match in _QUOTED.finditer(text.replace("\\'", "'")):
            name = match.group(1)
            if "<" not in name:
                names.add(name)
    return names


def test_every_example_record_name_in_the_tool_schemas_resolves(context):
    names = _example_names(_schema_texts())
    assert "ptbxl-00473" in names  # the record_summary argument's example
    assert "ptbxl_00001_hr" not in names
    for name in names:
        ref = parse_record_ref(name)  # RecordNotFound if the example were wrong
        if ref.kind == "example":
            assert ref.key in list_examples()
            # and a tool called with it works (reads the bundled record; no model needed)
            result = TOOLS.call("record_summary", {"record": name}, context)
            assert result.output is not None, result.to_text()
            assert result.output.record == ref.canonical


def test_the_record_module_docstring_names_a_real_example():
    import ecgqa_tools.llm._records as records_module

    names = _example_names([records_module.__doc__ or ""])
    assert names, "the docstring shows an example record name"
    for name in names:
        assert parse_record_ref(name).kind == "example"
