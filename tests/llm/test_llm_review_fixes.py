"""Fixes from the new-user review of the llm area (example names in tool schemas, comparison
evidence, whole-word slot matching, chat without a model, classify notice, mcp data roots,
training-record notes)."""

from __future__ import annotations

import io
import json
import re

import anyio
import pytest

from ecgqa_tools.llm import (
    TOOLS,
    MeasurementResult,
    ParsedQuestionResult,
    ScoresResult,
    ToolContext,
    answer_offline,
    build_mcp_server,
    parse_record_ref,
)
from ecgqa_tools.records import list_examples

from .conftest import FakeBackend, synthetic_ecg

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


# ------------------------------------------------------------------ comparison evidence (finding 2)

_NEW_SYMPTOMS = "What symptoms are newly detected in the second ECG as compared to the first ECG?"
_NOW_ABNORMAL = "What numeric features of the second ECG are now considered abnormal values as compared to the first ECG?"
_STATIC_I = "Does this ECG show static noise in lead I?"


class ManyFindingsBackend(FakeBackend):
    """Twenty statements present on every record (so one ECG alone fills any evidence cap), the QT
    interval above its range on syn2 only, and templates 26 / 69."""

    def predict_attributes(self, ecg):
        return ScoresResult({f"statement {i:02d}": 0.9 for i in range(20)} | {"sinus rhythm": 0.93},
                            "fake-attribute-model", "0-test")

    def measure(self, ecg, method):
        qt = 520.0 if ecg.record_id == "syn2" else 400.0
        return MeasurementResult(
            values={"heart_rate_bpm": 75.0, "qrs_duration_ms": 96.0, "qt_interval_ms": qt},
            reasons={}, axis_class="normal heart axis",
            ranges={"qt interval": "above the normal range" if qt > 450 else "within the normal range",
                    "qrs duration": "within the normal range"},
            method=method, version="0-test")

    def parse_question(self, text):
        key = " ".join(text.lower().split()).rstrip("?")
        if key == _NOW_ABNORMAL.lower().rstrip("?"):
            return ParsedQuestionResult(69, {}, 0.95, "comparison_irrelevant-query", "numeric_feature",
                                        ("qt interval", "qrs duration", "none"))
        if key == _STATIC_I.lower().rstrip("?"):
            return ParsedQuestionResult(26, {"noise": "static noise", "lead": "I"}, 0.95, "single-verify",
                                        "noise", ("no", "yes"))
        return super().parse_question(text)

    def answer_question(self, parsed, attributes, attributes2=None):
        if parsed.template_id == 69:
            now = [f for f, where in attributes2.numeric.items()
                   if not where.startswith("within") and attributes.numeric.get(f, "").startswith("within")]
            return sorted(now) or ["none"]
        if parsed.template_id == 26:
            return ["yes" if "I" in attributes.noise.get("static noise", []) else "no"]
        return super().answer_question(parsed, attributes, attributes2)


@pytest.fixture
def many() -> ToolContext:
    ctx = ToolContext(backend=ManyFindingsBackend())
    ctx.add_record("syn1", synthetic_ecg("syn1"))
    ctx.add_record("syn2", synthetic_ecg("syn2", noise_mv=0.2))
    return ctx


def _why_ids(explanation: str) -> list[str]:
    why = explanation.split("Why:", 1)[1]
    return re.findall(r"\[(E\d+)\]", why)


def test_comparison_evidence_cites_both_ecgs_when_the_first_alone_fills_the_cap(many):
    answer = answer_offline("syn1", _NEW_SYMPTOMS, second="syn2", context=many)
    assert answer.supported and answer.answer == ("none",)
    records = [e.record for e in answer.evidence]
    assert len(answer.evidence) <= 12
    assert records.count("memory:syn1") >= 4 and records.count("memory:syn2") >= 4, records
    why = [many.evidence[i].record for i in _why_ids(answer.explanation)]
    assert "memory:syn1" in why and "memory:syn2" in why


def test_numeric_comparison_cites_each_features_range_on_both_ecgs_and_why_names_the_answer(many):
    answer = answer_offline("syn1", _NOW_ABNORMAL, second="syn2", context=many)
    assert answer.answer == ("qt interval",)
    qt = [e for e in answer.evidence if e.statement.startswith("qt interval")]
    assert {e.record for e in qt} == {"memory:syn1", "memory:syn2"}
    assert any("520 ms" in e.statement and "above the normal range" in e.statement for e in qt)
    why = _why_ids(answer.explanation)
    assert {e.id for e in qt} <= set(why)  # the items that decided the answer are cited in the Why line


def test_a_lead_slot_matches_lead_tokens_not_letters_inside_words(many):
    answer = answer_offline("syn2", _STATIC_I, context=many)
    assert answer.answer in (("yes",), ("no",))
    assert answer.evidence, "the noise finding is cited"
    assert all(e.tool == "noise_per_lead" for e in answer.evidence), [e.statement for e in answer.evidence]
    assert not any("sinus rhythm" in e.statement for e in answer.evidence)


# ------------------------------------------------------------------ chat without a model (finding 4)

def test_chat_with_a_base_url_but_no_model_is_refused_with_the_reason(capsys, monkeypatch):
    from ecgqa_tools.cli import main

    monkeypatch.delenv("ECGQA_LLM_MODEL", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO("Is this a normal ECG?\n"))
    assert main(["chat", "ptbxl-00473", "--base-url", "http://127.0.0.1:9/v1"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: --base-url given but no model name") and "--model" in captured.err
    assert "Traceback" not in captured.err


def test_chat_without_a_model_says_on_stderr_that_it_uses_the_offline_answerer(capsys, monkeypatch):
    from ecgqa_tools.cli import main

    monkeypatch.delenv("ECGQA_LLM_MODEL", raising=False)
    monkeypatch.setenv("ECGQA_LLM_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    assert main(["chat", "ptbxl-00473"]) == 0
    err = capsys.readouterr().err
    assert "offline answerer (no --model and no ECGQA_LLM_MODEL; ECGQA_LLM_BASE_URL is not used)" in err


# ------------------------------------------------------------------ classify output (finding 7)

def test_classify_prints_the_notice_on_its_own_line_not_in_the_record_line(capsys):
    from ecgqa_tools import DISCLAIMER
    from ecgqa_tools.cli import main

    assert main(["classify", "ptbxl-00210"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "record example:ptbxl-00210"
    assert lines[1] == DISCLAIMER


# ------------------------------------------------------------------ --data-root checked (finding 8)

@pytest.mark.parametrize("command", [["mcp"], ["ask", "ptbxl-00473", "What is the heart rate?"], ["chat", "ptbxl-00473"]])
def test_a_missing_data_root_is_refused_with_a_clear_message(capsys, monkeypatch, tmp_path, command):
    from ecgqa_tools.cli import main

    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # mcp must not start serving
    missing = tmp_path / "nonexistent"
    assert main(command + ["--data-root", str(missing)]) == 1
    captured = capsys.readouterr()
    assert captured.err == f"error: --data-root {missing}: does not exist; give an existing folder whose records may be read\n"
    afile = tmp_path / "file.txt"
    afile.write_text("x")
    assert main(command + ["--data-root", str(afile)]) == 1
    assert "is not a folder" in capsys.readouterr().err


# ------------------------------------------------------------------ per-head model version (finding 6)

class MixedVersionsBackend(FakeBackend):
    """Disease heads of different versions, as shipped (each head is its own model)."""

    def predict_diseases(self, ecg):
        from ecgqa_tools.llm._adapters import DiseaseScores

        return DiseaseScores({"MI": 0.81, "STTC": 0.22, "CD": 0.10, "HYP": 0.05}, "fake-disease-cnn", "2/3",
                             versions={"MI": "2", "STTC": "3", "CD": "3", "HYP": "2"})


def test_a_disease_heads_evidence_names_that_heads_own_version():
    ctx = ToolContext(backend=MixedVersionsBackend())
    ctx.add_record("syn1", synthetic_ecg("syn1"))
    out = TOOLS.run("disease_probabilities", ctx, record="syn1")
    by_code = {ctx.evidence[i].statement.split("(")[1].split(")")[0]: ctx.evidence[i] for i in out.evidence_ids}
    assert {code: e.provenance.version for code, e in by_code.items()} == {"MI": "2", "STTC": "3", "CD": "3", "HYP": "2"}
    assert sorted(p.version for p in out.provenance) == ["2", "3"]
    answer = answer_offline("syn1", "Does this ECG show symptoms of myocardial infarction?", context=ctx)
    assert answer.answer == ("yes",)
    mi = [e for e in answer.evidence if "(MI, disease CNN)" in e.statement]
    assert mi and all(e.provenance.version == "2" for e in mi)
    assert "(fake-disease-cnn, v2)" in answer.to_text() and "v2/3" not in answer.to_text()


def test_the_real_adapter_carries_each_heads_card_version():
    from ecgqa_tools.encoders import DISEASES, load_disease_model
    from ecgqa_tools.llm._adapters import predict_diseases
    from ecgqa_tools.llm._tools import version_of
    from ecgqa_tools.records import load_example

    scores = predict_diseases(load_example("ptbxl-00473"))
    for disease in DISEASES:
        assert version_of(scores, disease) == load_disease_model(disease).card.version


# ------------------------------------------------------------------ records the models saw (finding 9)

def _ptbxl_like(ecg_id: int):
    from ecgqa_tools.records import ECG

    ecg = synthetic_ecg()
    return ECG.from_array(ecg.signal_mv, ecg.fs_hz, ecg.lead_names, record_id=str(ecg_id), source="ptbxl")


def test_an_answer_about_an_ecg_a_shipped_model_trained_on_says_so(backend):
    from ecgqa_tools.encoders import model_cards

    card = model_cards()["disease_MI"]
    trained = sorted(card.train_ids)[0]
    unseen = max(max(c.seen_ids, default=0) for c in model_cards().values()) + 1
    ctx = ToolContext(backend=backend)
    ctx.add_record("seen", _ptbxl_like(trained))
    ctx.add_record("unseen", _ptbxl_like(unseen))
    question = "Does this ECG show symptoms of myocardial infarction?"

    answer = answer_offline("seen", question, context=ctx)
    assert len(answer.seen_in_training) == 1
    note = answer.seen_in_training[0]
    assert f"PTB-XL ecg_id {trained}" in note and f"disease_MI v{card.version} (training)" in note
    assert "not a held-out result" in note
    assert f"Note: {note}" in answer.to_text() and answer.to_json()["seen_in_training"] == [note]

    assert answer_offline("unseen", question, context=ctx).seen_in_training == ()
    # a measured answer uses no fitted model: nothing to note
    assert answer_offline("seen", "What is the heart rate?", context=ctx).seen_in_training == ()
    # nor an ECG that is not from PTB-XL
    assert answer_offline("syn1", question, context=_fake_context(backend)).seen_in_training == ()


def _agent_answer_on_a_training_record(backend):
    """A scripted agent's answer (one disease_probabilities call) about a PTB-XL-like record whose
    ecg_id is the first of disease_MI's training ids: (context, that id, answer)."""
    from ecgqa_tools.encoders import model_cards
    from ecgqa_tools.llm import Agent, LLMSettings, ScriptedChatModel, chat_completion

    trained = min(model_cards()["disease_MI"].train_ids)
    ctx = ToolContext(backend=backend)
    ctx.add_record("seen", _ptbxl_like(trained))
    script = [chat_completion(tool_calls=[("disease_probabilities", {"record": "seen"})]),
              chat_completion("MI probability 0.81 [E1].")]
    agent = Agent(LLMSettings(model="scripted", max_steps=3), context=ctx,
                  chat_function=ScriptedChatModel(script), sleep=lambda s: None)
    return ctx, trained, agent.ask("seen", "Is there a heart attack?")


def test_an_agent_answer_from_a_model_that_trained_on_the_ecg_says_so(backend):
    _, trained, answer = _agent_answer_on_a_training_record(backend)
    assert len(answer.seen_in_training) == 1 and f"PTB-XL ecg_id {trained}" in answer.seen_in_training[0]
    assert "disease_MI v" in answer.seen_in_training[0]
    assert f"Note: {answer.seen_in_training[0]}" in answer.to_text()
    assert answer.to_json()["seen_in_training"] == list(answer.seen_in_training)


def _fake_context(backend) -> ToolContext:
    ctx = ToolContext(backend=backend)
    ctx.add_record("syn1", synthetic_ecg("syn1"))
    return ctx


@pytest.mark.parametrize(("record_id", "expected"), [("1", 1), ("00001_hr", 1), ("21837_lr", 21837), ("x1", None)])
def test_the_ptbxl_ecg_id_of_a_record(record_id, expected):
    from ecgqa_tools.llm._offline import _ptbxl_ecg_id
    from ecgqa_tools.records import ECG

    ecg = synthetic_ecg()
    ecg = ECG.from_array(ecg.signal_mv, ecg.fs_hz, ecg.lead_names, record_id=record_id, source="ptbxl")
    assert _ptbxl_ecg_id(ecg) == expected


# ------------------------------------------------------------------ the note is optional (review 6b, item 6)

def _unreadable_cards(monkeypatch) -> None:
    """Model cards that cannot be read (a package error other than RecordError)."""
    from ecgqa_tools import encoders
    from ecgqa_tools.errors import DatasetError
    from ecgqa_tools.llm import _offline

    def broken():
        raise DatasetError("model card index damaged")

    monkeypatch.setattr(_offline, "_SEEN_SOURCES", None)
    monkeypatch.setattr(encoders, "model_cards", broken)


def test_an_unreadable_model_card_leaves_the_answer_without_a_note(backend, monkeypatch):
    ctx = ToolContext(backend=backend)
    ctx.add_record("seen", _ptbxl_like(1))
    _unreadable_cards(monkeypatch)
    answer = answer_offline("seen", "Does this ECG show symptoms of myocardial infarction?", context=ctx)
    assert answer.supported and answer.answer and answer.seen_in_training == ()


def test_the_agents_note_is_skipped_when_a_record_cannot_be_loaded_again(backend, monkeypatch):
    """``training_notes`` (what the agent's answers call) on evidence whose record now fails to load
    with a package error other than RecordError: no note, no exception."""
    from ecgqa_tools.errors import DatasetError
    from ecgqa_tools.llm._offline import training_notes

    ctx, _, answer = _agent_answer_on_a_training_record(backend)
    assert len(training_notes(ctx, answer.evidence)) == 1  # the note is there while the record loads

    def damaged(record):
        raise DatasetError(f"{record}: header damaged")

    monkeypatch.setattr(ctx, "load", damaged)
    assert training_notes(ctx, answer.evidence) == ()
