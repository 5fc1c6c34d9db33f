"""Session-7 review: CLI and MCP edges (--fs for mcp and demo, --api-key-env, --timeout nan,
the disclaimer and evidence in MCP structured content)."""

from __future__ import annotations

import anyio
import numpy as np
import pytest

import ecgqa_tools.llm as llm
from ecgqa_tools.cli import main
from ecgqa_tools.errors import UsageError
from ecgqa_tools.llm import DISCLAIMER, LLMSettings, build_mcp_server

from .conftest import synthetic_ecg


def test_mcp_takes_fs_for_npy_records(tmp_path, monkeypatch):
    np.save(tmp_path / "r.npy", np.zeros((12, 5000)))
    served = []
    monkeypatch.setattr(llm, "serve_mcp_stdio", served.append)
    assert main(["mcp", "--fs", "500", "--data-root", str(tmp_path)]) == 0
    ref, ecg = served[0].load(str(tmp_path / "r.npy"))
    assert ecg.fs_hz == 500 and ecg.duration_s == 10


def test_demo_takes_fs_for_an_npy_record(tmp_path, capsys, monkeypatch):
    from ecgqa_tools.records import load_example

    path = tmp_path / "r.npy"
    np.save(path, load_example("ptbxl-00473").signal_mv)
    monkeypatch.setattr("ecgqa_tools.llm._cli_llm.DEMO_QUESTIONS", ("What is the heart rate?",))
    assert main(["demo", "--record", str(path), "--fs", "500", "--json"]) == 0
    assert '"supported": true' in capsys.readouterr().out


def test_an_unset_api_key_variable_is_an_error_naming_it(capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-not-be-used-0000")
    monkeypatch.delenv("DOES_NOT_EXIST", raising=False)
    code = main(["ask", "ptbxl-00473", "Is it normal?", "--llm", "--model", "m",
                 "--base-url", "http://127.0.0.1:9/v1", "--api-key-env", "DOES_NOT_EXIST"])
    err = capsys.readouterr().err
    assert code != 0 and "DOES_NOT_EXIST is not set" in err and "sk-should" not in err


@pytest.mark.parametrize("field", ["timeout_s", "backoff_s"])
def test_non_finite_timeouts_are_refused_at_once(field):
    with pytest.raises(UsageError, match="finite"):
        LLMSettings(model="m", **{field: float("nan")})


def test_mcp_structured_content_has_the_evidence_statements_and_the_disclaimer(context):
    from mcp import Client

    async def run():
        async with Client(build_mcp_server(context)) as client:
            return await client.call_tool("disease_probabilities", {"record": "syn1"})

    result = anyio.run(run)
    assert result.structured_content["disclaimer"] == DISCLAIMER
    assert result.structured_content["evidence"][0]["statement"].startswith("myocardial infarction (MI) probability 0.81")


@pytest.mark.parametrize(("name", "arguments", "fragment"), [
    ("codec_tokens", {"record": "syn1", "max_tokens": True}, "max_tokens: Input should be a valid integer"),
    ("codec_tokens", {"record": "syn1", "max_tokens": "7"}, "max_tokens: Input should be a valid integer"),
    ("codec_tokens", {"record": "syn1", "max_tokens": 513}, "less than or equal to 512"),
    ("ecgqa_attributes", {"record": "syn1", "threshold": "0.9"}, "threshold"),
    ("ecgqa_attributes", {"record": "syn1", "threshold": 0.99}, "less than or equal to 0.95"),
])
def test_tool_arguments_are_strict_and_bounded_as_the_schema_says(context, name, arguments, fragment):
    from ecgqa_tools.llm import TOOLS

    result = TOOLS.call(name, arguments, context)
    assert result.retry and fragment in result.error


def test_the_schemas_state_the_bounds():
    from ecgqa_tools.llm import TOOLS

    tokens = TOOLS.get("codec_tokens").parameters_schema()["properties"]["max_tokens"]
    assert (tokens["minimum"], tokens["maximum"], tokens["type"]) == (1, 512, "integer")
    threshold = TOOLS.get("ecgqa_attributes").parameters_schema()["properties"]["threshold"]["anyOf"][0]
    assert (threshold["minimum"], threshold["maximum"]) == (0.05, 0.95)


def test_mcp_results_carry_the_seen_in_training_note_field(context):
    from mcp import Client

    async def run():
        async with Client(build_mcp_server(context)) as client:
            return await client.call_tool("record_summary", {"record": "syn1"})

    result = anyio.run(run)
    assert result.structured_content["seen_in_training"] == []  # a synthetic ECG: no model saw it


def test_mcp_names_the_models_trained_on_a_ptbxl_ecg(backend):
    from mcp import Client

    from ecgqa_tools.encoders import model_cards
    from ecgqa_tools.llm import ToolContext
    from ecgqa_tools.records import ECG

    trained = min(model_cards()["disease_MI"].train_ids)
    ecg = synthetic_ecg()
    ctx = ToolContext(backend=backend)
    ctx.add_record("seen", ECG.from_array(ecg.signal_mv, ecg.fs_hz, ecg.lead_names, record_id=str(trained), source="ptbxl"))

    async def run():
        async with Client(build_mcp_server(ctx)) as client:
            return await client.call_tool("disease_probabilities", {"record": "seen"})

    notes = anyio.run(run).structured_content["seen_in_training"]
    assert len(notes) == 1 and f"PTB-XL ecg_id {trained}" in notes[0] and "not a held-out result" in notes[0]
