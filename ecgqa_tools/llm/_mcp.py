"""``ecgqa mcp``: the same tools (``TOOLS``) over the Model Context Protocol (stdio).

Built on the official SDK's low-level ``Server``: tool listing and schemas come from the registry
(the same JSON schemas the OpenAI agent sees), calls go through ``ToolRegistry.call`` (validation,
refused paths and tool failures come back as ``is_error`` results with a message, never a crash).
Each result carries the tool's JSON output plus its evidence statements and the disclaimer, as text
and as ``structured_content`` (the same object).
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import require
from ._context import ToolContext
from ._offline import DISCLAIMER, training_notes
from ._registry import ToolRegistry
from ._tools import TOOLS

__all__ = ["build_mcp_server", "serve_mcp_stdio"]

SERVER_NAME = "ecgqa-tools"


def build_mcp_server(context: ToolContext | None = None, tools: ToolRegistry = TOOLS) -> Any:
    """An ``mcp.server.Server`` exposing ``tools``; ``context`` holds records, caches and evidence."""
    require("mcp", "llm")
    import anyio
    import mcp_types as types
    from mcp.server import Server

    from .. import __version__

    ctx = context or ToolContext()

    async def list_tools(_ctx: Any, _params: Any) -> Any:
        return types.ListToolsResult(tools=[
            types.Tool(
                name=tool.name,
                description=tool.description,
                input_schema=tool.parameters_schema(),
                output_schema=_strip(tool.output_model.model_json_schema()),
            )
            for tool in tools
        ])

    async def call_tool(_ctx: Any, params: Any) -> Any:
        arguments = params.arguments if params.arguments is not None else {}
        # models run in a worker thread so the event loop keeps serving (pings, cancellation)
        result = await anyio.to_thread.run_sync(lambda: tools.call(params.name, arguments, ctx))
        if result.output is None:
            return types.CallToolResult(
                content=[types.TextContent(type="text", text=result.to_text())], is_error=True
            )
        payload = json.loads(result.output.model_dump_json())
        evidence = [ctx.evidence[i].model_dump() for i in result.output.evidence_ids]
        # the same object as text and as structured content: a client reading only one of them
        # still gets the evidence statements and the disclaimer
        seen = training_notes(ctx, tuple(ctx.evidence[i] for i in result.output.evidence_ids))
        full = {**payload, "evidence": evidence, "seen_in_training": list(seen), "disclaimer": DISCLAIMER}
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=json.dumps(full))], structured_content=full, is_error=False
        )

    return Server(
        SERVER_NAME,
        version=__version__,
        instructions=(
            "Tools answering questions about 12-lead ECGs from their signal (disease models, "
            "measurements, attributions). Name records by bundled example name, 'ptbxl:<id>', "
            f"'ludb:<n>', 'mimic:<study_id>' or a path inside the data roots. A result's "
            f"'seen_in_training' names the shipped models that were trained or selected on that ECG "
            f"(not a held-out result). {DISCLAIMER}"
        ),
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


def _strip(schema: dict[str, Any]) -> dict[str, Any]:
    from ._registry import _strip_titles

    return _strip_titles(schema)


def serve_mcp_stdio(context: ToolContext | None = None) -> None:
    """Serve the tools over stdin/stdout until the client closes the stream."""
    import anyio
    from mcp.server.stdio import stdio_server

    server = build_mcp_server(context)

    async def run() -> None:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

    anyio.run(run)
