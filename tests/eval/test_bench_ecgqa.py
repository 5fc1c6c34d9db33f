"""The ECG-QA benchmark harness on fake systems: selection, cache, leakage guard, resume, report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ecgqa_tools.errors import DatasetError, LeakageError, UsageError
from ecgqa_tools.eval._ecgqa_bench import (
    EcgCache,
    apply_leakage_guard,
    exact_match,
    read_predictions,
    run_benchmark,
    select_samples,
    stratified_sample,
)
from ecgqa_tools.eval._report import bootstrap_ci, score_predictions, write_report

QTYPES = ("single-verify", "single-query", "comparison_irrelevant-query")


def make_samples(n: int = 40) -> list[dict]:
    """Official-looking sample dicts: 3 question types, 2-ECG comparisons, ECG ids 1..12."""
    samples = []
    for i in range(n):
        qtype = QTYPES[i % 3]
        ids = [1 + i % 12, 1 + (i * 5 + 3) % 12] if qtype.startswith("comparison") else [1 + i % 12]
        samples.append({
            "template_id": 1 + i % 5, "question_id": i, "sample_id": 1000 + i,
            "question_type": qtype, "attribute_type": "scp_code" if i % 2 else "noise",
            "question": f"question {i}?", "answer": ["yes"] if i % 4 else ["a", "b"],
            "ecg_id": ids, "attribute": None,
        })
    return samples


class FakeSystem:
    """Answers right when ``rule(sample)`` holds; counts per-ECG computations."""

    persist_cache = True

    def __init__(self, name: str, cache_key: str, rule=lambda s: True, seen=(), delay_s: float = 0.0,
                 fail_ecg: int | None = None) -> None:
        self.name, self.cache_key, self.rule = name, cache_key, rule
        self.seen, self.delay_s, self.fail_ecg = frozenset(seen), delay_s, fail_ecg
        self.feature_calls: list[int] = []

    def describe(self) -> dict:
        return {"name": self.name, "version": 1}

    def seen_ecg_ids(self) -> frozenset[int]:
        return self.seen

    def ecg_features(self, ecg_id: int) -> dict:
        from ecgqa_tools.errors import MeasurementError

        self.feature_calls.append(ecg_id)
        if ecg_id == self.fail_ecg:
            raise MeasurementError(f"ECG {ecg_id} cannot be measured")
        return {"ecg": ecg_id}

    def answer(self, sample, features) -> list[str]:
        if [f["ecg"] for f in features] != list(sample.ecg_id):
            raise AssertionError("features must come in the order of the sample's ECG ids")
        if self.delay_s:
            time.sleep(self.delay_s)
        return list(sample.answer) if self.rule(sample) else ["wrong"]


def fake_systems(delay_s: float = 0.0) -> list[FakeSystem]:
    return [
        FakeSystem("perfect", "shared", delay_s=delay_s),
        FakeSystem("half", "shared", rule=lambda s: s.sample_id % 2 == 0, delay_s=delay_s),
    ]


def test_selection_drops_samples_with_absent_signals_and_counts_them():
    samples = make_samples(40)
    present = frozenset(range(1, 11))  # ECGs 11 and 12 absent
    selection = select_samples(samples, present)
    assert selection.n_loaded == 40
    assert all(all(i in present for i in s.ecg_id) for s in selection.samples)
    assert len(selection.samples) + selection.n_missing_signal == 40
    assert set(selection.missing_ecg_ids) == {11, 12}


def test_shards_partition_the_selection():
    from ecgqa_tools.errors import UsageError
    from ecgqa_tools.eval._cli_bench import parse_shard

    samples, present = make_samples(40), frozenset(range(1, 13))
    whole = [s.sample_id for s in select_samples(samples, present).samples]
    parts = [select_samples(samples, present, shard=parse_shard(f"{k}/3")) for k in range(3)]
    ids = [s.sample_id for part in parts for s in part.samples]
    assert sorted(ids) == sorted(whole) and len(ids) == len(set(ids))
    assert parts[1].shard == (1, 3) and [s.sample_id for s in parts[1].samples] == whole[1::3]
    for bad in ("3/3", "1", "a/b", "-1/2"):
        with pytest.raises(UsageError, match="--shard"):
            parse_shard(bad)


def test_duplicate_sample_ids_are_refused():
    samples = make_samples(3)
    samples[2]["sample_id"] = samples[0]["sample_id"]
    with pytest.raises(DatasetError, match="duplicate sample_id"):
        select_samples(samples, frozenset(range(1, 13)))


def test_stratified_sample_is_seeded_and_covers_every_template():
    samples = select_samples(make_samples(200), frozenset(range(1, 13))).samples
    a = stratified_sample(samples, 0.1, seed=42)
    b = stratified_sample(samples, 0.1, seed=42)
    c = stratified_sample(samples, 0.1, seed=7)
    assert [s.sample_id for s in a] == [s.sample_id for s in b]
    assert [s.sample_id for s in a] != [s.sample_id for s in c]
    assert {s.template_id for s in a} == {s.template_id for s in samples}
    for template in {s.template_id for s in samples}:
        n = sum(s.template_id == template for s in samples)
        assert sum(s.template_id == template for s in a) == max(1, round(0.1 * n))
    with pytest.raises(UsageError):
        stratified_sample(samples, 0.0)


def test_exact_match_compares_answer_sets():
    assert exact_match(["b", "A "], ["a", "b"])
    assert not exact_match(["a"], ["a", "b"])
    assert not exact_match([], ["none"])


def test_each_ecg_is_computed_once_across_questions_and_systems(tmp_path):
    systems = fake_systems()
    selection = select_samples(make_samples(60), frozenset(range(1, 13)))
    run_benchmark(systems, selection, tmp_path, progress=False)
    calls = systems[0].feature_calls + systems[1].feature_calls
    assert sorted(calls) == sorted({i for s in selection.samples for i in s.ecg_id})


def test_disk_cache_survives_a_new_process_state(tmp_path):
    system = FakeSystem("perfect", "k")
    first = EcgCache(tmp_path)
    assert first.get(system, 3) == {"ecg": 3}
    second = EcgCache(tmp_path)
    assert second.get(system, 3) == {"ecg": 3}
    assert system.feature_calls == [3] and second.hits == 1


def test_per_ecg_failures_become_errors_counted_as_wrong(tmp_path):
    system = FakeSystem("fragile", "fragile", fail_ecg=2)
    selection = select_samples(make_samples(30), frozenset(range(1, 13)))
    result = run_benchmark([system], selection, tmp_path, progress=False)
    preds = result.predictions["fragile"]
    failed = [p for p in preds if 2 in p.ecg_ids]
    assert failed and all(p.error and "cannot be measured" in p.error and not p.correct for p in failed)
    assert all(p.correct for p in preds if 2 not in p.ecg_ids)
    assert system.feature_calls.count(2) == 1  # the failure is cached, not retried per question


def test_leakage_guard_policies():
    selection = select_samples(make_samples(60), frozenset(range(1, 13)))
    clean = FakeSystem("clean", "a")
    leaky = FakeSystem("leaky", "b", seen={1, 2})
    scored, reports = apply_leakage_guard(selection.samples, [clean, leaky], "common")
    touched = [s for s in selection.samples if {1, 2} & set(s.ecg_id)]
    assert touched
    for name in ("clean", "leaky"):
        assert len(scored[name]) == len(selection.samples) - len(touched)
        assert not any({1, 2} & set(s.ecg_id) for s in scored[name])
    by_name = {r.system: r for r in reports}
    assert by_name["leaky"].n_dropped_own == len(touched) and by_name["clean"].n_dropped_own == 0
    assert by_name["clean"].n_dropped_total == len(touched)
    scored, _ = apply_leakage_guard(selection.samples, [clean, leaky], "per-system")
    assert len(scored["clean"]) == len(selection.samples)
    with pytest.raises(LeakageError, match="leaky"):
        apply_leakage_guard(selection.samples, [clean, leaky], "refuse")


def test_torn_last_line_is_cut_and_a_corrupt_middle_line_is_an_error(tmp_path):
    system = FakeSystem("perfect", "k")
    selection = select_samples(make_samples(10), frozenset(range(1, 13)))
    run_benchmark([system], selection, tmp_path, progress=False)
    path = tmp_path / "predictions" / "perfect.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:5]) + lines[5][:17])
    assert len(read_predictions(path)) == 5
    assert path.read_text() == "".join(lines[:5])
    path.write_text(lines[0] + "{not json}\n" + lines[1])
    with pytest.raises(DatasetError, match="not a prediction"):
        read_predictions(path)


def test_resume_refuses_a_changed_system_configuration(tmp_path):
    selection = select_samples(make_samples(5), frozenset(range(1, 13)))
    run_benchmark([FakeSystem("s", "k")], selection, tmp_path, progress=False)
    changed = FakeSystem("s", "k")
    changed.describe = lambda: {"name": "s", "version": 2}  # type: ignore[method-assign]
    with pytest.raises(UsageError, match="different configuration"):
        run_benchmark([changed], selection, tmp_path, progress=False)
    run_benchmark([changed], selection, tmp_path, progress=False, fresh=True)


_CHILD = textwrap.dedent("""
    import sys
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    import test_bench_ecgqa as t
    from ecgqa_tools.eval._ecgqa_bench import run_benchmark, select_samples
    selection = select_samples(t.make_samples(60), frozenset(range(1, 13)))
    run_benchmark(t.fake_systems(delay_s=0.05), selection, Path({out!r}), progress=False)
""")


def test_a_killed_run_resumes_with_nothing_lost_or_duplicated(tmp_path):
    out = tmp_path / "run"
    child = subprocess.Popen([sys.executable, "-c", _CHILD.format(tests=str(Path(__file__).parent),
                                                                 out=str(out))])
    first = out / "predictions" / "perfect.jsonl"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and child.poll() is None:
            if first.exists() and first.read_text().count("\n") >= 8:
                break
            time.sleep(0.02)
        if child.poll() is not None:
            pytest.fail("the child run ended before it could be killed")
        child.send_signal(signal.SIGKILL)
        child.wait()
    finally:
        if child.poll() is None:
            child.kill()
    written_before = first.read_text().count("\n")
    assert 8 <= written_before < 60
    systems = fake_systems()
    selection = select_samples(make_samples(60), frozenset(range(1, 13)))
    result = run_benchmark(systems, selection, out, progress=False)
    reference = run_benchmark(fake_systems(), selection, tmp_path / "reference", progress=False)
    for name in ("perfect", "half"):
        lines = (out / "predictions" / f"{name}.jsonl").read_text().splitlines()
        ids = [json.loads(line)["sample_id"] for line in lines]
        assert sorted(ids) == sorted(s.sample_id for s in selection.samples)  # none lost, none twice
        got = [(p.sample_id, p.predicted, p.correct) for p in result.predictions[name]]
        want = [(p.sample_id, p.predicted, p.correct) for p in reference.predictions[name]]
        assert got == want
    # the resumed run answered only what the killed one had not written
    assert len(systems[0].feature_calls) <= 12


def test_scores_and_report_files(tmp_path):
    selection = select_samples(make_samples(60), frozenset(range(1, 13)))
    result = run_benchmark(fake_systems(), selection, tmp_path, progress=False)
    scores = score_predictions(result.predictions, n_boot=200)
    overall = {s.system: s for s in scores if s.kind == "overall"}
    assert overall["perfect"].accuracy == 1.0 and overall["perfect"].n == 60
    half = overall["half"]
    assert half.correct == sum(s.sample_id % 2 == 0 for s in selection.samples)
    assert half.ci_low <= half.accuracy <= half.ci_high
    for kind in ("question_type", "attribute_type", "template"):
        rows = [s for s in scores if s.kind == kind and s.system == "half"]
        assert sum(r.n for r in rows) == 60
    report = write_report(result, tmp_path / "rep" / "bench.md", "ecgqa bench ecgqa --test", "Test")
    md = (tmp_path / "rep" / "bench.md").read_text()
    assert "ecgqa bench ecgqa --test" in md and "| question type | perfect | half |" in md
    assert json.loads((tmp_path / "rep" / "bench.json").read_text(), parse_constant=pytest.fail)
    for qtype in QTYPES:
        assert (tmp_path / "rep" / f"bench_{qtype}.png").stat().st_size > 1000
        assert f"bench_{qtype}.png" in md
    assert report["machine"]["cores"] == os.cpu_count()


def test_bootstrap_ci_brackets_the_mean_and_narrows_with_n():
    small = bootstrap_ci([True, False] * 10)
    large = bootstrap_ci([True, False] * 500)
    assert small[0] < 0.5 < small[1] and large[0] < 0.5 < large[1]
    assert large[1] - large[0] < small[1] - small[0]
    assert bootstrap_ci([True] * 5) == (1.0, 1.0)


def test_cli_runs_fake_systems_and_writes_the_report(tmp_path, monkeypatch, capsys):
    from ecgqa_tools.cli import main
    from ecgqa_tools.eval import _cli_bench, _ecgqa_bench_systems as systems_module

    monkeypatch.setattr(_cli_bench, "load_split_samples", lambda root, d, k, s, e: make_samples(30))
    monkeypatch.setattr(systems_module.BenchContext, "present_ids", lambda self: frozenset(range(1, 13)))
    monkeypatch.setitem(systems_module.SYSTEM_FACTORIES, "fake", lambda ctx: FakeSystem("fake", "k"))
    (tmp_path / "ecgqa").mkdir()
    (tmp_path / "ptbxl").mkdir()
    argv = ["bench", "ecgqa", "--systems", "fake", "--ecgqa", str(tmp_path / "ecgqa"),
            "--ptbxl", str(tmp_path / "ptbxl"), "--out", str(tmp_path / "out"),
            "--report", str(tmp_path / "r.md"), "--no-progress"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "| set | fake |" in out and "100.0" in out
    assert (tmp_path / "r.json").exists()
    assert main(argv[:3] + ["nope"] + argv[4:]) == 1
    assert "unknown system(s) nope" in capsys.readouterr().err


def test_official_test_split_loads_chunks_and_templates_json_examples(ecgqa_dir):
    from ecgqa_tools.eval._cli_bench import load_split_samples

    samples = load_split_samples(ecgqa_dir, "ptbxl", "template", "test", True)
    without = load_split_samples(ecgqa_dir, "ptbxl", "template", "test", False)
    ids = [s.sample_id for s in samples]
    assert len(ids) == len(set(ids)) and len(samples) > len(without)
    assert {s.split for s in samples} == {"test"}
    selection = select_samples(samples, frozenset(range(1, 2000)))
    assert selection.n_missing_signal + len(selection.samples) == len(samples)
    assert all(max(s.ecg_id) < 2000 for s in selection.samples)


def test_disk_cache_stores_frozen_results_with_read_only_mappings(tmp_path):
    from ecgqa_tools.qa import EcgAttributes

    attrs = EcgAttributes(statements={"atrial fibrillation": 100.0}, numeric={"qrs duration": "above"})

    class AttrSystem(FakeSystem):
        def ecg_features(self, ecg_id):
            self.feature_calls.append(ecg_id)
            return attrs

    system = AttrSystem("attrs", "attrs")
    EcgCache(tmp_path).get(system, 5)
    again = EcgCache(tmp_path).get(system, 5)
    assert again == attrs and system.feature_calls == [5]


def test_llm_replies_are_mapped_to_answer_options():
    from ecgqa_tools.eval._ecgqa_bench_systems import match_options

    verify = ["no", "not sure", "yes"]
    assert match_options("Yes.", verify) == ["yes"]
    assert match_options("NOT SURE", verify) == ["not sure"]
    numeric = ["qt interval", "qt corrected", "qrs duration", "none"]
    assert match_options("qrs duration | qt interval", numeric) == ["qt interval", "qrs duration"]
    assert match_options("I think the QT corrected is abnormal", numeric) == ["qt corrected"]
    assert match_options("no idea", numeric) == []


def test_report_compares_systems_on_their_common_samples_under_per_system_leakage(tmp_path):
    selection = select_samples(make_samples(60), frozenset(range(1, 13)))
    systems = [FakeSystem("clean", "a"), FakeSystem("leaky", "b", seen={1, 2})]
    result = run_benchmark(systems, selection, tmp_path, leakage_policy="per-system", progress=False)
    assert len(result.predictions["clean"]) == 60 > len(result.predictions["leaky"])
    report = write_report(result, tmp_path / "r.md", "cmd", "T")
    assert report["n_common"] == len(result.predictions["leaky"])
    common = {s["system"]: s for s in report["common_scores"] if s["kind"] == "overall"}
    assert common["clean"]["n"] == common["leaky"]["n"] == report["n_common"]
    assert f"On the {report['n_common']} samples every system was scored on" in (tmp_path / "r.md").read_text()


def _ecg(ecg_id: int):
    import numpy as np

    from ecgqa_tools.records import ECG

    t = np.arange(1000) / 100.0
    signal = np.stack([np.sin(2 * np.pi * 1.2 * t) * (1 + lead / 12) for lead in range(12)])
    return ECG.from_array(signal, 100.0, record_id=str(ecg_id), source="ptbxl")


def test_llm_agent_system_names_records_lists_options_and_maps_the_reply(tmp_path, monkeypatch):
    from ecgqa_tools.eval._ecgqa_bench_systems import BenchContext, LLMAgentSystem, LLMEndpoint
    from ecgqa_tools.llm import ScriptedChatModel, chat_completion

    script = ScriptedChatModel([
        chat_completion(tool_calls=[("record_summary", {"record": "ptbxl:7"})]),
        chat_completion("The answer is: not sure [E1]"),
    ])
    ctx = BenchContext(ptbxl_dir=tmp_path, ecgqa_dir=tmp_path, llm=LLMEndpoint(model="scripted"),
                       chat_function=script)
    system = LLMAgentSystem(ctx)
    monkeypatch.setattr(system, "seen_ecg_ids", lambda: frozenset())
    monkeypatch.setattr(ctx, "load_ecg", _ecg)
    from ecgqa_tools.qa import QASample

    sample = QASample(template_id=1, question_id=0, sample_id=1, question_type="single-verify",
                      attribute_type="scp_code", question="Does this ECG show symptoms of atrial fibrillation?",
                      answer=("no",), ecg_id=(7,), attribute=("atrial fibrillation",))
    assert system.answer(sample, [_ecg(7)]) == ["not sure"]
    prompt = json.dumps(script.requests[0]["messages"])
    assert "ptbxl:7" in prompt and "no | not sure | yes" in prompt


def test_summary_table_has_one_row_per_system(tmp_path, capsys):
    from ecgqa_tools.cli import main

    selection = select_samples(make_samples(20), frozenset(range(1, 13)))
    result = run_benchmark(fake_systems(), selection, tmp_path, progress=False)
    write_report(result, tmp_path / "r.md", "cmd", "T", charts=False)
    assert main(["bench", "summary", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert "| ECG-QA `perfect` | 100.0" in out and "| ECG-QA `half` |" in out
    assert main(["bench", "summary", str(tmp_path / "missing.json")]) == 1


def test_answers_that_consulted_a_model_which_saw_the_ecg_are_dropped_not_scored(tmp_path, monkeypatch):
    from ecgqa_tools.eval import _ecgqa_bench_systems as systems_module

    monkeypatch.setattr(systems_module, "_LOADER_SEEN", {"load_disease_model:ptbxl-folds": frozenset({3}),
                                                         "load_attribute_model": frozenset(),
                                                         "load_age_sex_model": frozenset()})
    systems_module.check_tools_unseen(["ecgqa_attributes", "intervals_and_axis"], [3, 4])
    with pytest.raises(LeakageError, match="disease_probabilities.*ECG\\(s\\) 3"):
        systems_module.check_tools_unseen(["disease_probabilities"], [3, 4])
    with pytest.raises(LeakageError):  # a tool the table does not know is taken to use every model
        systems_module.check_tools_unseen(["some_new_tool"], [3])

    class Answerer(FakeSystem):
        def answer(self, sample, features):
            tools = ["disease_probabilities"] if sample.sample_id % 3 == 0 else ["intervals_and_axis"]
            systems_module.check_tools_unseen(tools, sample.ecg_id)
            return list(sample.answer)

    selection = select_samples(make_samples(36), frozenset(range(1, 13)))
    result = run_benchmark([Answerer("tools", "k"), FakeSystem("other", "o")], selection, tmp_path,
                           progress=False)
    dropped = {s.sample_id for s in selection.samples if s.sample_id % 3 == 0 and 3 in s.ecg_id}
    assert dropped
    scored = {p.sample_id for p in result.predictions["tools"]}
    assert scored == {s.sample_id for s in selection.samples} - dropped
    assert all(p.correct for p in result.predictions["tools"])
    report = {r.system: r for r in result.leakage}
    assert report["tools"].n_dropped_at_answer == len(dropped) and report["tools"].n_scored == len(scored)
    assert report["other"].n_dropped_at_answer == 0
    common = run_benchmark([Answerer("tools", "k"), FakeSystem("other", "o")], selection, tmp_path,
                           leakage_policy="common", progress=False)
    assert {p.sample_id for p in common.predictions["other"]} == scored
    with pytest.raises(LeakageError, match="tools: "):
        run_benchmark([Answerer("tools", "k")], selection, tmp_path, leakage_policy="refuse", progress=False)


def test_evidence_provenance_decides_answer_time_leakage(monkeypatch):
    from types import SimpleNamespace

    from ecgqa_tools.eval import _ecgqa_bench_systems as systems_module

    monkeypatch.setattr(systems_module, "_LOADER_SEEN", {"load_disease_model:ptbxl-folds": frozenset({3}),
                                                         "load_attribute_model": frozenset({9}),
                                                         "load_age_sex_model": frozenset()})

    def item(source):
        return SimpleNamespace(id="E1", provenance=SimpleNamespace(source=source))

    systems_module.check_evidence_unseen([item("measurements (openecg)"), item("record reader")], [3, 9])
    systems_module.check_evidence_unseen([item("disease-cnn")], [4])
    with pytest.raises(LeakageError, match="disease-cnn"):
        systems_module.check_evidence_unseen([item("measurements (openecg)"), item("disease-cnn")], [3])
    with pytest.raises(LeakageError, match="attribute-model"):
        systems_module.check_evidence_unseen([item("attribute-model (both records)")], [9, 4])
    with pytest.raises(LeakageError):  # unknown sources count as every model
        systems_module.check_evidence_unseen([item("mystery-net")], [9])


def test_report_of_a_stopped_run_scores_what_was_answered_and_counts_the_rest(tmp_path):
    selection = select_samples(make_samples(30), frozenset(range(1, 13)))
    first = select_samples(make_samples(30)[:12], frozenset(range(1, 13)))
    run_benchmark([FakeSystem("s", "k")], first, tmp_path, progress=False)
    result = run_benchmark([FakeSystem("s", "k")], selection, tmp_path, progress=False, answer=False)
    assert len(result.predictions["s"]) == 12 and result.n_unanswered == {"s": 18}
    lines = (tmp_path / "predictions" / "s.jsonl").read_text().count("\n")
    assert lines == 12  # nothing was answered
    write_report(result, tmp_path / "r.md", "cmd", "T", charts=False)
    assert "**Stopped run.**" in (tmp_path / "r.md").read_text()


def test_llm_upper_bound_options_system_constrains_the_paper_prompt_to_the_options(tmp_path, monkeypatch):
    from ecgqa_tools.errors import UnsupportedQuestion
    from ecgqa_tools.eval._ecgqa_bench_systems import (
        SYSTEM_NAMES,
        BenchContext,
        LLMEndpoint,
        LLMUpperBoundOptionsSystem,
        build_systems,
    )
    from ecgqa_tools.llm import ScriptedChatModel, chat_completion
    from ecgqa_tools.qa import QASample

    script = ScriptedChatModel([chat_completion('{"answer": ["no"]}'), chat_completion("I cannot tell.")])
    ctx = BenchContext(ptbxl_dir=tmp_path, ecgqa_dir=tmp_path, llm=LLMEndpoint(model="scripted"),
                       chat_function=script)
    system, plain = build_systems(["llm-upper-bound-options", "llm-upper-bound"], ctx)
    assert isinstance(system, LLMUpperBoundOptionsSystem) and "llm-upper-bound-options" in SYSTEM_NAMES
    assert system.name == "llm-upper-bound-options" and plain.name == "llm-upper-bound"
    monkeypatch.setattr(ctx, "load_ecg", _ecg)
    sample = QASample(template_id=1, question_id=0, sample_id=1, question_type="single-verify",
                      attribute_type="scp_code", question="Does this ECG show symptoms of atrial fibrillation?",
                      answer=("no",), ecg_id=(7,), attribute=("atrial fibrillation",))
    assert system.answer(sample, [_ecg(7)]) == ["no"]
    request = script.requests[0]
    prompt = request["messages"][-1]["content"]
    assert prompt.startswith("An ECG classifier predicted these attributes") and "no | not sure | yes" in prompt
    answer_items = request["response_format"]["json_schema"]["schema"]["properties"]["answer"]
    assert answer_items["items"]["enum"] == ["no", "not sure", "yes"] and answer_items["maxItems"] == 1
    with pytest.raises(UnsupportedQuestion, match="named none of the answer options"):
        system.answer(sample, [_ecg(7)])  # an unconstrained endpoint's reply naming no option: an error
