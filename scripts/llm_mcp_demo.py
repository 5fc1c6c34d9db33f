"""Drive `ecgqa mcp` over stdio with the official MCP SDK client (the README's MCP transcript).

Usage: python scripts/llm_mcp_demo.py [RECORD]   (default: the first bundled example)
"""

from __future__ import annotations

import json
import sys

import anyio
from mcp import Client, StdioServerParameters

from ecgqa_tools.records import list_examples


async def main(record: str) -> None:
    server = StdioServerParameters(command=sys.executable, args=["-m", "ecgqa_tools.cli", "mcp"])
    async with Client(server) as client:
        tools = await client.list_tools()
        print("tools:", ", ".join(t.name for t in tools.tools))
        for name, arguments in (
            ("disease_probabilities", {"record": record}),
            ("intervals_and_axis", {"record": record}),
            ("record_summary", {"record": "/etc/passwd"}),
        ):
            result = await client.call_tool(name, arguments)
            print(f"\n> call_tool({name!r}, {json.dumps(arguments)})  is_error={result.is_error}")
            text = result.content[0].text
            payload = json.loads(text)
            if result.is_error:
                print(payload["error"])
            else:
                for item in payload["evidence"]:
                    print(f"  [{item['id']}] {item['statement']}  ({item['provenance']['source']} v{item['provenance']['version']})")


if __name__ == "__main__":
    anyio.run(main, sys.argv[1] if len(sys.argv) > 1 else list_examples()[0])
