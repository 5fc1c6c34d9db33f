"""A new user's review of `ecgqa bench` / `ecgqa eval`: LLM endpoint checked before a run and
endpoint failures never scored, `bench summary` on a folder of mixed JSON, reasons for empty
cells on the terminal, the report path, the data column, configured data folders."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from ecgqa_tools.cli import main
from ecgqa_tools.errors import LLMError, MeasurementError, UsageError
from ecgqa_tools.eval._ecgqa_bench import (
    Prediction,
    is_infrastructure_error,
    read_predictions,
    run_benchmark,
    select_samples,
)
from ecgqa_tools.eval._report import write_report

REPO = Path(__file__).resolve().parents[2]
PRESENT = frozenset(range(1, 13))


def make_samples(n: int) -> list[dict]:
    """Official-looking single-ECG sample dicts, sample ids 1000.., ECG ids 1..12, 3 templates."""
    return [{"template_id": 1 + i % 3, "question_id": i, "sample_id": 1000 + i, "question_type": "single-verify",
             "attribute_type": "scp_code", "question": f"question {i}?", "answer": ["yes"],
             "ecg_id": [1 + i % 12], "attribute": None} for i in range(n)]


class System:
    """A fake bench system; ``fail(sample)`` returns an exception to raise instead of answering."""

    persist_cache = False
    cache_key = "k"

    def __init__(self, name: str = "s", fail=lambda sample: None, seen=()) -> None:
        self.name, self.fail, self.seen = name, fail, frozenset(seen)
        self.answered: list[int] = []

    def describe(self) -> dict:
        return {"name": self.name}

    def seen_ecg_ids(self) -> frozenset[int]:
        return self.seen

    def ecg_features(self, ecg_id: int) -> int:
        return ecg_id

    def answer(self, sample, features) -> list[str]:
        error = self.fail(sample)
        if error is not None:
            raise error
        self.answered.append(sample.sample_id)
        return list(sample.answer)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


REFUSED = ("LLMError: LLM endpoint at http://127.0.0.1:9/v1 failed after 3 attempt(s): APIConnectionError: "
           "Connection error. (Connection refused)")


def _cli(tmp_path, monkeypatch, systems: dict, n: int = 3):
    """``bench ecgqa`` argv on ``n`` fake samples with the named fake systems registered."""
    from ecgqa_tools.eval import _cli_bench, _ecgqa_bench_systems as systems_module

    monkeypatch.setattr(_cli_bench, "load_split_samples", lambda root, d, k, s, e: make_samples(n))
    monkeypatch.setattr(systems_module.BenchContext, "present_ids", lambda self: PRESENT)
    for name, factory in systems.items():
        monkeypatch.setitem(systems_module.SYSTEM_FACTORIES, name, factory)
    for sub in ("ecgqa", "ptbxl"):
        (tmp_path / sub).mkdir(exist_ok=True)
    return ["bench", "ecgqa", "--ecgqa", str(tmp_path / "ecgqa"), "--ptbxl", str(tmp_path / "ptbxl"),
            "--out", str(tmp_path / "out"), "--no-progress"]


# ------------------------------------------------------------------ 1. LLM endpoint checked, failures not scored


def test_llm_system_without_a_model_name_fails_before_the_run_naming_the_bench_option(tmp_path, monkeypatch, capsys):
    for name in ("ECGQA_LLM_MODEL", "ECGQA_LLM_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    argv = _cli(tmp_path, monkeypatch, {})
    assert main(argv + ["--systems", "llm-upper-bound", "--limit", "2"]) == 1
    err = capsys.readouterr().err
    assert "--llm-model" in err and "ECGQA_LLM_MODEL" in err and "pass --model" not in err
    assert not (tmp_path / "out" / "predictions" / "llm-upper-bound.jsonl").exists()


def test_unreachable_llm_endpoint_fails_before_the_run_naming_the_url(tmp_path, monkeypatch, capsys):
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    argv = _cli(tmp_path, monkeypatch, {})
    code = main(argv + ["--systems", "oracle,llm-agent", "--llm-base-url", url, "--llm-model", "x"])
    assert code == 1
    err = capsys.readouterr().err
    assert f"cannot reach the LLM endpoint {url}" in err and f"{url}/models" in err
    assert not (tmp_path / "out" / "predictions").exists()  # nothing ran, not even the oracle


def _models_reply(path: str) -> tuple[int, bytes, str]:
    status = {"/ok/v1/models": 200, "/auth/v1/models": 401, "/down/v1/models": 503}.get(path, 404)
    return status, json.dumps({"object": "list", "data": [{"id": "served-model"}]}).encode(), "application/json"


@pytest.fixture
def models_server(fake_openai_server):
    return fake_openai_server(get_reply=_models_reply)


def test_endpoint_check_against_a_local_server(models_server, monkeypatch, capsys):
    from ecgqa_tools.eval._cli_bench import check_llm_endpoint
    from ecgqa_tools.eval._ecgqa_bench_systems import LLMEndpoint

    monkeypatch.setenv("BENCH_TEST_KEY", "sk-secret-123456")
    ok = LLMEndpoint(base_url=f"{models_server.root}/ok/v1", model="served-model", api_key_env="BENCH_TEST_KEY")
    assert check_llm_endpoint(ok) == f"{models_server.root}/ok/v1"
    assert models_server.seen_auth[-1] == "Bearer sk-secret-123456"
    check_llm_endpoint(LLMEndpoint(base_url=f"{models_server.root}/ok/v1", model="other"))
    assert "not 'other'" in capsys.readouterr().err  # a note, not an error: llama.cpp ignores the name
    with pytest.raises(LLMError, match="refused the API key") as refused:
        check_llm_endpoint(LLMEndpoint(base_url=f"{models_server.root}/auth/v1", model="m", api_key_env="BENCH_TEST_KEY"))
    assert "sk-secret" not in str(refused.value)
    with pytest.raises(LLMError, match="HTTP 404.*API root"):
        check_llm_endpoint(LLMEndpoint(base_url=models_server.root, model="m"))
    with pytest.raises(LLMError, match="HTTP 503"):
        check_llm_endpoint(LLMEndpoint(base_url=f"{models_server.root}/down/v1", model="m"))
    with pytest.raises(UsageError, match="--llm-base-url"):
        check_llm_endpoint(LLMEndpoint(base_url="127.0.0.1:8080/v1", model="m"))


def test_the_agents_real_connection_and_configuration_errors_are_recognised():
    """The classification rests on the llm package's own messages: produce them for real."""
    from ecgqa_tools.llm import Agent, LLMSettings

    settings = LLMSettings(model="x", base_url=f"http://127.0.0.1:{_closed_port()}/v1", max_retries=0, timeout_s=5)
    with pytest.raises(LLMError) as down:
        Agent(settings).choose([{"role": "user", "content": "Yes or no?"}], ("yes", "no"))
    assert is_infrastructure_error(f"LLMError: {down.value}")
    with pytest.raises(UsageError) as unset:
        LLMSettings(model="")
    assert is_infrastructure_error(f"UsageError: {unset.value}")
    assert is_infrastructure_error(REFUSED)
    for answer_error in ("UnsupportedQuestion: the reply named none of the answer options", None,
                         "UsageError: the heart axis of ECG 1573 is unknown",
                         "LLMError: LLM endpoint error: BadRequestError: prompt too long"):
        assert not is_infrastructure_error(answer_error)


def test_endpoint_failures_are_not_recorded_and_three_in_a_row_stop_the_run(tmp_path):
    selection = select_samples(make_samples(6), PRESENT)
    down = System(fail=lambda s: LLMError(REFUSED.split(": ", 1)[1]))
    with pytest.raises(LLMError, match="stopped after 3 samples in a row.*rerun the same command"):
        run_benchmark([down], selection, tmp_path, progress=False)
    assert read_predictions(tmp_path / "predictions" / "s.jsonl") == {}
    # isolated failures: those samples stay unanswered (not scored wrong); a rerun answers them
    flaky = System(fail=lambda s: LLMError(REFUSED.split(": ", 1)[1]) if s.sample_id in (1001, 1004) else None)
    result = run_benchmark([flaky], selection, tmp_path, progress=False)
    assert result.n_unanswered == {"s": 2} and len(result.predictions["s"]) == 4
    assert all(p.correct and p.error is None for p in result.predictions["s"])
    again = System()
    result = run_benchmark([again], selection, tmp_path, progress=False)
    assert sorted(again.answered) == [1001, 1004] and result.n_unanswered == {"s": 0}
    # an error about the question itself is still the system's answer: recorded, scored wrong
    wrong = System("w", fail=lambda s: MeasurementError("QT not measurable"))
    result = run_benchmark([wrong], selection, tmp_path, progress=False)
    assert len(result.predictions["w"]) == 6 and not any(p.correct for p in result.predictions["w"])


def test_resume_answers_again_the_lines_an_older_run_recorded_for_endpoint_failures(tmp_path):
    selection = select_samples(make_samples(4), PRESENT)
    pred_dir = tmp_path / "predictions"
    pred_dir.mkdir()
    (pred_dir / "s.meta.json").write_text(json.dumps({"name": "s"}))
    lines = []
    for sample, error in zip(selection.samples, (REFUSED, "UsageError: no model name given; pass --model or "
                                                 "set ECGQA_LLM_MODEL", None, "UnsupportedQuestion: no option")):
        lines.append(Prediction("s", sample.sample_id, sample.template_id, sample.question_type,
                                sample.attribute_type, sample.ecg_id, sample.answer,
                                () if error else sample.answer, error is None, error, 0.1).to_json())
    (pred_dir / "s.jsonl").write_text("\n".join(lines) + "\n")
    report_only = run_benchmark([System()], selection, tmp_path, progress=False, answer=False)
    assert report_only.n_unanswered == {"s": 2} and len(report_only.predictions["s"]) == 2
    system = System()
    result = run_benchmark([system], selection, tmp_path, progress=False)
    assert sorted(system.answered) == [1000, 1001]  # the two endpoint failures, nothing else
    kept = read_predictions(pred_dir / "s.jsonl")
    assert len(kept) == 4 and [p.correct for p in result.predictions["s"]] == [True, True, True, False]
    assert not any(is_infrastructure_error(p.error) for p in kept.values())


# ------------------------------------------------------------------ 2, 4. bench summary


def test_bench_summary_of_the_readme_command_skips_non_reports(tmp_path, capsys):
    reports = sorted(str(p) for p in (REPO / "docs" / "benchmarks").glob("*.json"))
    assert main(["bench", "summary", *reports]) == 0
    captured = capsys.readouterr()
    assert "| ECG-QA `oracle` |" in captured.out and "| speed:" in captured.out
    assert f"note: skipped {REPO / 'docs' / 'benchmarks' / 'scale.json'}: not a bench" in captured.err
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "other.json").write_text('{"meta": {}, "steps": []}')
    assert main(["bench", "summary", str(tmp_path / "list.json"), str(tmp_path / "other.json")]) == 1
    err = capsys.readouterr().err
    assert "list.json" in err and "other.json" in err and "Traceback" not in err


def test_summary_data_column_names_the_limit(tmp_path, capsys):
    selection = select_samples(make_samples(10), PRESENT, limit=3)
    write_report(run_benchmark([System()], selection, tmp_path, progress=False), tmp_path / "r.md", "c", "T",
                 {"dataset": "ptbxl", "kind": "template", "split": "test"}, charts=False)
    assert main(["bench", "summary", str(tmp_path / "r.json")]) == 0
    assert "ptbxl template test, first 3 by sample id (--limit 3) |" in capsys.readouterr().out


# ------------------------------------------------------------------ 3, 6, 7. the bench ecgqa terminal


def test_terminal_says_why_a_column_is_empty_and_counts_errors(tmp_path, monkeypatch, capsys):
    argv = _cli(tmp_path, monkeypatch, {
        "seen-all": lambda ctx: System("seen-all", seen=PRESENT),
        "flaky": lambda ctx: System("flaky", fail=lambda s: MeasurementError("x") if s.sample_id == 1000 else None),
    })
    assert main(argv + ["--systems", "seen-all,flaky"]) == 0
    captured = capsys.readouterr()
    assert "| all | - | 66.7" in captured.out
    assert "seen-all: the leakage guard dropped 3 of 3 selected samples" in captured.err
    assert "nothing scored" in captured.err
    assert "flaky: 1 of 3 scored samples raised an error" in captured.err and "MeasurementError" in captured.err


def test_report_only_on_a_folder_without_predictions_is_an_error(tmp_path, monkeypatch, capsys):
    argv = _cli(tmp_path, monkeypatch, {"fake": lambda ctx: System("fake")})
    argv[argv.index("--out") + 1] = str(tmp_path / "typo")
    assert main(argv + ["--systems", "fake", "--report-only"]) == 1
    assert f"no predictions in {tmp_path / 'typo' / 'predictions'}" in capsys.readouterr().err
    assert not (tmp_path / "typo").exists()


def test_report_path_must_be_markdown_and_the_written_files_are_printed(tmp_path, monkeypatch, capsys):
    argv = _cli(tmp_path, monkeypatch, {"fake": lambda ctx: System("fake")}) + ["--systems", "fake"]
    assert main(argv + ["--report", str(tmp_path / "r.txt")]) == 1
    assert "--report must be a Markdown path ending in .md" in capsys.readouterr().err
    assert not list(tmp_path.glob("r.*")) and not (tmp_path / "out").exists()
    assert main(argv + ["--report", str(tmp_path / "r.md")]) == 0
    assert f"report: {tmp_path / 'r.md'} and r.json" in capsys.readouterr().err
    assert (tmp_path / "r.md").is_file() and (tmp_path / "r.json").is_file()


def test_limit_help_points_to_the_stratified_sample(capsys):
    assert main(["bench", "ecgqa", "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "first N selected samples in sample-id order" in help_text
    assert "use --sample FRACTION for a run across templates" in help_text


# ------------------------------------------------------------------ 5. eval commands use the configured data folder


class _FakeReport:
    dataset, n_records, notes = "PTB-XL fold 10", 0, ()

    def table(self) -> str:
        return "disease\tauc"


def test_eval_classifiers_and_age_sex_default_to_the_configured_ptbxl(tmp_path, monkeypatch, capsys):
    from ecgqa_tools.eval import _classifiers

    for sub in ("ptb-xl", "ptb-xl-filtered-subset"):
        (tmp_path / sub).mkdir()
    monkeypatch.delenv("ECGQA_PTBXL_DIR", raising=False)
    monkeypatch.setenv("ECGQA_DATA_DIR", str(tmp_path))
    calls = []
    monkeypatch.setattr(_classifiers, "evaluate_ptbxl",
                        lambda root, split, filtered, *a: calls.append((root, filtered)) or _FakeReport())
    monkeypatch.setattr(_classifiers, "evaluate_age_sex",
                        lambda root, filtered: calls.append((root, filtered)) or {"records": 2, "unscorable_ids": []})
    assert main(["eval", "classifiers"]) == 0
    assert main(["eval", "age-sex"]) == 0
    expected = (tmp_path / "ptb-xl", (tmp_path / "ptb-xl-filtered-subset").resolve())
    assert [(Path(root), Path(filtered)) for root, filtered in calls] == [expected, expected]
    monkeypatch.delenv("ECGQA_DATA_DIR")
    capsys.readouterr()
    assert main(["eval", "classifiers"]) == 1
    err = capsys.readouterr().err
    assert "ECGQA_DATA_DIR is unset" in err and "--cinc" in err and "required" not in err
