"""The MCP server: the same registry over MCP, in memory and over stdio with the SDK's client."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import anyio
import numpy as np
import pytest

from ecgqa_tools.llm import TOOLS, build_mcp_server


def _write_wfdb(folder: Path) -> Path:
    import wfdb

    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(5000) / 500.0
    signal = np.stack([np.sin(2 * np.pi * 1.2 * t) * (1 + i / 10) for i in range(12)], axis=1)
    wfdb.wrsamp("rec", fs=500, units=["mV"] * 12, sig_name=["I", "II", "III", "aVR", "aVL", "aVF",
                "V1", "V2", "V3", "V4", "V5", "V6"], p_signal=signal, fmt=["16"] * 12, write_dir=str(folder))
    return folder / "rec"


def test_in_memory_client_lists_and_calls_the_registry_tools(context):
    from mcp import Client

    async def run():
        async with Client(build_mcp_server(context)) as client:
            listed = await client.list_tools()
            ok = await client.call_tool("disease_probabilities", {"record": "syn1"})
            bad = await client.call_tool("disease_probabilities", {"record": "syn1", "extra": 1})
            unknown = await client.call_tool("format_disk", {})
            return listed, ok, bad, unknown

    listed, ok, bad, unknown = anyio.run(run)
    assert {t.name for t in listed.tools} == set(TOOLS.names)
    schema = {t.name: t.input_schema for t in listed.tools}["attribution_evidence"]
    assert schema == TOOLS.get("attribution_evidence").parameters_schema()
    assert not ok.is_error and ok.structured_content["probabilities"]["MI"] == 0.81
    payload = json.loads(ok.content[0].text)
    assert payload["evidence"][0]["provenance"]["source"] == "fake-disease-cnn"
    assert "not for clinical use" in payload["disclaimer"]
    assert bad.is_error and "unexpected argument" in bad.content[0].text
    assert unknown.is_error and "valid tools are" in unknown.content[0].text


def test_stdio_server_driven_by_the_sdk_client(tmp_path):
    from mcp import Client, StdioServerParameters

    base = _write_wfdb(tmp_path / "records")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECGQA_")}
    env["ECGQA_RECORD_ROOTS"] = str(tmp_path / "records")
    params = StdioServerParameters(command=sys.executable, args=["-m", "ecgqa_tools.cli", "mcp"], env=env,
                                   cwd=str(tmp_path))

    async def run():
        with anyio.fail_after(120):
            async with Client(params) as client:
                listed = await client.list_tools()
                summary = await client.call_tool("record_summary", {"record": str(base)})
                noise = await client.call_tool("noise_per_lead", {"record": str(base)})
                refused = await client.call_tool("record_summary", {"record": "/etc/passwd"})
                escape = await client.call_tool("record_summary", {"record": "../../etc/passwd"})
                return listed, summary, noise, refused, escape

    listed, summary, noise, refused, escape = anyio.run(run)
    assert len(listed.tools) == len(TOOLS)
    assert not summary.is_error and summary.structured_content["fs_hz"] == 500.0
    assert summary.structured_content["record"] == f"path:{base.resolve()}"
    assert not noise.is_error and len(noise.structured_content["leads"]) == 12
    assert refused.is_error and "root:" not in refused.content[0].text
    assert escape.is_error and "'..'" in escape.content[0].text
