"""``ecgqa bench ecgqa --numeric-convention`` reaches the ``llm-agent`` system: its ``intervals_and_axis``
tool answers under the bench's convention, and the convention is in the agent's resume key."""

from __future__ import annotations

import pytest

from ecgqa_tools.eval._ecgqa_bench_systems import BenchContext, LLMAgentSystem, LLMEndpoint, LLMUpperBoundSystem
from ecgqa_tools.qa import QASample
from ecgqa_tools.records import load_example


@pytest.fixture(scope="module")
def example():
    return load_example("ptbxl-00473")


def _tool_reply_sent(convention: str, tmp_path, monkeypatch, example) -> str:
    """The answering turn's prompt (the ``intervals_and_axis`` results) the llm-agent system sent to a scripted model."""
    from ecgqa_tools.llm import ScriptedChatModel, chat_completion

    script = ScriptedChatModel([
        chat_completion(tool_calls=[("intervals_and_axis", {"record": "ptbxl:473"})]),
        chat_completion('["below the normal range"]'),
    ])
    ctx = BenchContext(ptbxl_dir=tmp_path, ecgqa_dir=tmp_path, llm=LLMEndpoint(model="scripted"),
                       chat_function=script, numeric_convention=convention)
    system = LLMAgentSystem(ctx)
    monkeypatch.setattr(system, "seen_ecg_ids", lambda: frozenset())
    monkeypatch.setattr("ecgqa_tools.eval._ecgqa_bench_systems.check_tools_unseen", lambda tools, ids: None)
    monkeypatch.setattr("ecgqa_tools.eval._ecgqa_bench_systems.check_evidence_unseen", lambda evidence, ids: None)
    sample = QASample(template_id=40, question_id=0, sample_id=1, question_type="single-choose",
                      attribute_type="numeric_feature", question="Which range does the pr interval of this ECG "
                      "fall in, below the normal range or within the normal range?",
                      answer=("below the normal range",), ecg_id=(473,), attribute=("pr interval",))
    assert system.first_tool(sample) == "intervals_and_axis"
    assert system.answer(sample, [example]) == ["below the normal range"]
    assert len(script.requests) == 2
    return "\n".join(str(m.get("content")) for m in script.requests[1]["messages"])


def test_llm_agent_intervals_tool_follows_the_bench_convention(tmp_path, monkeypatch, example):
    ecgqa = _tool_reply_sent("ecgqa", tmp_path, monkeypatch, example)
    clinical = _tool_reply_sent("clinical", tmp_path, monkeypatch, example)
    assert "pr interval 172 ms" in ecgqa and "pr interval 172 ms" in clinical  # the 12-lead value, both
    assert "ecgqa pr interval 66 ms" in ecgqa  # ECG-QA's lead-II value, only under its convention
    assert "ecgqa pr interval" not in clinical


def test_llm_agent_resume_key_names_the_convention_and_the_protocol_systems_do_not(tmp_path):
    def key(system_type, convention):
        return system_type(BenchContext(tmp_path, tmp_path, numeric_convention=convention)).describe()

    assert key(LLMAgentSystem, "clinical")["numeric_convention"] == "clinical"
    assert key(LLMAgentSystem, "ecgqa")["numeric_convention"].startswith("ecgqa")
    # the paper's protocol puts the attribute model's predicted classes in the prompt: no measured range
    assert "numeric_convention" not in key(LLMUpperBoundSystem, "ecgqa")


def test_report_header_names_the_systems_the_convention_applies_to(tmp_path, monkeypatch):
    """The header's ``numeric convention`` line is followed by the systems it reached (not llm-upper-bound)."""
    from ecgqa_tools.cli import main
    from ecgqa_tools.eval import _cli_bench
    from ecgqa_tools.eval import _ecgqa_bench_systems as systems_module

    samples = [{"template_id": 1, "question_id": 0, "sample_id": i, "question_type": "single-verify",
                "attribute_type": "scp_code", "question": f"q{i}", "answer": ["yes"], "ecg_id": [i],
                "attribute": ["x"]} for i in range(1, 4)]
    monkeypatch.setattr(_cli_bench, "load_split_samples", lambda root, d, k, s, e: samples)
    monkeypatch.setattr(systems_module.BenchContext, "present_ids", lambda self: frozenset(range(1, 4)))

    class Fake:
        persist_cache = False
        cache_key = "k"

        def __init__(self, name, uses):
            self.name, self.uses_numeric_convention = name, uses

        def describe(self):
            return {"name": self.name}

        def seen_ecg_ids(self):
            return frozenset()

        def ecg_features(self, ecg_id):
            return ecg_id

        def answer(self, sample, features):
            return ["yes"]

    monkeypatch.setitem(systems_module.SYSTEM_FACTORIES, "measuring", lambda ctx: Fake("measuring", True))
    monkeypatch.setitem(systems_module.SYSTEM_FACTORIES, "prompting", lambda ctx: Fake("prompting", False))
    for sub in ("ecgqa", "ptbxl"):
        (tmp_path / sub).mkdir()
    argv = ["bench", "ecgqa", "--ecgqa", str(tmp_path / "ecgqa"), "--ptbxl", str(tmp_path / "ptbxl"),
            "--out", str(tmp_path / "out"), "--no-progress", "--report", str(tmp_path / "r.md")]
    assert main(argv + ["--systems", "measuring,prompting"]) == 0
    header = (tmp_path / "r.md").read_text()
    assert "- numeric convention: ecgqa\n- numeric convention used by: ['measuring']\n" in header
    assert main(argv + ["--systems", "prompting"]) == 0
    assert "- numeric convention used by: none\n" in (tmp_path / "r.md").read_text()
