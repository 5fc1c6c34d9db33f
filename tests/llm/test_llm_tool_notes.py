"""Every tool result carries the reader's plain notes (a ``--fs`` ignored because the record states
its own rate) under ``notes``, as ``ask --json`` does, and never under ``warnings`` or
``record_summary.quality_problems`` (review s9 S3); the agent's answer lists them as ``notes``
(review s9 S6). Fake backend (tests/llm/conftest.py), real WFDB file (``example_wfdb_copy``)."""

from __future__ import annotations

import json
import shutil

import pytest

from ecgqa_tools.llm import TOOLS, Agent, LLMSettings, ToolContext
from ecgqa_tools.llm import ScriptedChatModel as ScriptedModel
from ecgqa_tools.llm import chat_completion as completion

IGNORED = "fs_hz/--fs 250 Hz ignored: rec.hea gives 500 Hz, which is used"
ONE_RECORD_TOOLS = {"record_summary": {}, "disease_probabilities": {}, "attribution_evidence": {"disease": "MI"},
                    "ecgqa_attributes": {}, "intervals_and_axis": {}, "codec_tokens": {}, "noise_per_lead": {},
                    "age_sex_estimate": {}}


@pytest.fixture()
def record(example_wfdb_copy):
    """rec.hea: a WFDB header stating 500 Hz (``example_wfdb_copy``)."""
    return example_wfdb_copy


def test_every_tool_taking_a_record_is_checked() -> None:
    assert {t.name for t in TOOLS} == set(ONE_RECORD_TOOLS) | {"compare_ecgs"}


@pytest.mark.parametrize("name", sorted(ONE_RECORD_TOOLS))
def test_tool_results_carry_the_ignored_fs_as_a_note(record, backend, name: str) -> None:
    context = ToolContext(backend=backend, extra_roots=[str(record.parent)], fs_hz=250.0)
    call = TOOLS.call(name, {"record": str(record), **ONE_RECORD_TOOLS[name]}, context)
    assert call.ok, call.error
    shown = json.loads(call.to_text())  # what an MCP client or the chat model sees
    assert len(shown["notes"]) == 1 and shown["notes"][0].startswith("reading ") and IGNORED in shown["notes"][0]
    assert not any("ignored" in w for w in shown.get("warnings", []) + shown.get("quality_problems", []))
    quiet = ToolContext(backend=backend, extra_roots=[str(record.parent)])
    assert json.loads(TOOLS.call(name, {"record": str(record), **ONE_RECORD_TOOLS[name]}, quiet).to_text())["notes"] == []


def test_comparison_lists_the_notes_of_both_records(record, backend) -> None:
    for suffix in (".hea", ".dat"):
        shutil.copy(record.with_suffix(suffix), record.parent / f"rec2{suffix}")
    (record.parent / "rec2.hea").write_text(record.read_text().replace("rec", "rec2"))
    context = ToolContext(backend=backend, extra_roots=[str(record.parent)], fs_hz=250.0)
    result = TOOLS.run("compare_ecgs", context, record_a=str(record), record_b=str(record.parent / "rec2.hea"))
    assert len(result.notes) == 2 and "rec.hea gives" in result.notes[0] and "rec2.hea gives" in result.notes[1]
    assert not any("ignored" in w for w in result.warnings)


def test_agent_answer_lists_the_note_and_no_warning(record, backend) -> None:
    context = ToolContext(backend=backend, extra_roots=[str(record.parent)], fs_hz=250.0)
    model = ScriptedModel([completion(tool_calls=[("disease_probabilities", {"record": str(record)})]),
                           completion("MI probability 0.81 [E1].")])
    agent = Agent(LLMSettings(model="scripted", max_steps=4, max_retries=0, timeout_s=5), context=context,
                  chat_function=model, sleep=lambda s: None)
    answer = agent.ask(str(record), "Is there a heart attack?")
    assert answer.warnings == ()
    assert len(answer.notes) == 1 and IGNORED in answer.notes[0]
    text = answer.to_text()
    assert any(line.startswith("Note: reading ") and IGNORED in line for line in text.splitlines())
    assert "Warning:" not in text
    assert answer.to_json()["notes"] == list(answer.notes)
    tool_message = json.loads(model.requests[1]["messages"][-1]["content"])  # the model saw the note too
    assert len(tool_message["notes"]) == 1 and IGNORED in tool_message["notes"][0]


def test_mcp_client_gets_the_note_as_text_and_structured_content(record, backend) -> None:
    import anyio
    from mcp import Client

    from ecgqa_tools.llm import build_mcp_server

    context = ToolContext(backend=backend, extra_roots=[str(record.parent)], fs_hz=250.0)

    async def run():
        async with Client(build_mcp_server(context)) as client:
            return await client.call_tool("disease_probabilities", {"record": str(record)})

    result = anyio.run(run)
    assert not result.is_error
    for shown in (result.structured_content, json.loads(result.content[0].text)):
        assert len(shown["notes"]) == 1 and IGNORED in shown["notes"][0]
        assert not any("ignored" in w for w in shown["warnings"])


def test_a_reworded_info_note_is_a_tool_note_not_a_warning(backend) -> None:
    """The split follows ``records.ReadNote.kind``, not the note's wording (review s9 N5)."""
    from dataclasses import replace

    from ecgqa_tools.records import ReadNote, load_example

    reworded = ReadNote("the rate you passed was not used: the record states its own", "info")
    context = ToolContext(backend=backend)
    context.add_record("noted", replace(load_example("ptbxl-00210"), read_notes=(reworded,)))
    for name in ("record_summary", "disease_probabilities"):
        shown = json.loads(TOOLS.call(name, {"record": "noted"}, context).to_text())
        assert shown["notes"] == [f"reading memory:noted: {reworded}"], name
        assert not any(reworded in w for w in shown.get("warnings", []) + shown.get("quality_problems", []))
