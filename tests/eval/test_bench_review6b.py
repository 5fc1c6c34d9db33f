"""Review 6b of `ecgqa bench ecgqa`: a non-HTTP service at the LLM URL, the noise measure's version
in the resume key, samples that keep timing out, models consulted but not cited."""

from __future__ import annotations

import json
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecgqa_tools.cli import main
from ecgqa_tools.errors import LLMError

# the fake samples and the CLI harness of the first review-fix tests (same directory)
sys.path.insert(0, str(Path(__file__).parent))
from test_bench_review_fixes import PRESENT, _cli, make_samples  # noqa: E402


# ------------------------------------------------------------------ 1. a service that is not HTTP


def _raw_server(reply: bytes) -> Iterator[str]:
    """A TCP server on a free local port that reads the request and sends ``reply``, then closes."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    conn.recv(4096)
                    conn.sendall(reply)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/v1"
    stop.set()
    thread.join(timeout=2)
    server.close()


@pytest.fixture
def ssh_server() -> Iterator[str]:
    yield from _raw_server(b"SSH-2.0-x\r\n")


@pytest.fixture
def cut_short_server() -> Iterator[str]:
    # a chunked body whose first chunk announces 0x40 bytes and stops after 10: http.client.IncompleteRead
    yield from _raw_server(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                           b'\r\n40\r\n{"data": [')


def test_endpoint_check_on_a_service_that_is_not_http_names_the_url(ssh_server):
    from ecgqa_tools.eval._cli_bench import check_llm_endpoint
    from ecgqa_tools.eval._ecgqa_bench_systems import LLMEndpoint

    with pytest.raises(LLMError, match="did not answer as an HTTP server") as caught:
        check_llm_endpoint(LLMEndpoint(base_url=ssh_server, model="m"), timeout_s=5)
    assert f"{ssh_server}/models" in str(caught.value) and "BadStatusLine" in str(caught.value)


def test_endpoint_check_on_a_body_cut_short_names_the_url(cut_short_server):
    from ecgqa_tools.eval._cli_bench import check_llm_endpoint
    from ecgqa_tools.eval._ecgqa_bench_systems import LLMEndpoint

    with pytest.raises(LLMError, match="IncompleteRead") as caught:
        check_llm_endpoint(LLMEndpoint(base_url=cut_short_server, model="m"), timeout_s=5)
    assert f"{cut_short_server}/models" in str(caught.value)


def test_bench_at_a_wrong_port_exits_1_without_a_traceback(ssh_server, tmp_path, monkeypatch, capsys):
    argv = _cli(tmp_path, monkeypatch, {})
    assert main(argv + ["--systems", "llm-agent", "--llm-base-url", ssh_server, "--llm-model", "m"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and ssh_server in err and "did not answer as an HTTP server" in err
    assert not (tmp_path / "out" / "predictions").exists()


# ------------------------------------------------------------------ 5. models consulted but not cited


def test_tools_system_refuses_an_answer_whose_consulted_but_uncited_model_saw_the_ecg(monkeypatch, tmp_path):
    from types import SimpleNamespace

    from ecgqa_tools import llm
    from ecgqa_tools.errors import LeakageError
    from ecgqa_tools.eval import _ecgqa_bench_systems as systems_module
    from ecgqa_tools.qa import parse_samples

    seen = {"load_age_sex_model": frozenset({7}), "load_attribute_model": frozenset(),
            "quality_thresholds": frozenset()}
    monkeypatch.setattr(systems_module, "_LOADER_SEEN", dict(seen))
    measured = SimpleNamespace(id="E1", provenance=SimpleNamespace(source="measurements (intervals)"))

    def fake_answer_offline(ecg, question, second=None, context=None):
        # the answer cites a measurement only, but the answerer also consulted the age/sex model
        return SimpleNamespace(evidence=(measured,), tools_used=("intervals_and_axis", "age_sex_estimate"),
                               supported=True, answer=("within normal range",), explanation="")

    monkeypatch.setattr(llm, "answer_offline", fake_answer_offline)
    system = systems_module.ToolsSystem(systems_module.BenchContext(tmp_path, tmp_path))
    raw = make_samples(8)
    on_seen, on_unseen = parse_samples([raw[6]], "test", "<memory>")[0], parse_samples([raw[7]], "test", "<memory>")[0]
    assert on_seen.ecg_id == (7,) and on_unseen.ecg_id == (8,)
    with pytest.raises(LeakageError, match="age_sex_estimate.*age_sex_model.*ECG\\(s\\) 7"):
        system.answer(on_seen, ["ecg"])
    assert system.answer(on_unseen, ["ecg"]) == ["within normal range"]


# ------------------------------------------------------------------ 2. the noise measure's version in the resume key


def test_the_resume_key_of_systems_calling_noise_per_lead_holds_the_noise_measures_version(monkeypatch, tmp_path):
    from dataclasses import replace

    from ecgqa_tools.errors import UsageError
    from ecgqa_tools.eval import _ecgqa_bench_systems as systems_module
    from ecgqa_tools.eval._ecgqa_bench import run_benchmark, select_samples
    from ecgqa_tools.llm import QUALITY_METHOD, QUALITY_VERSION

    monkeypatch.setattr(systems_module, "model_versions", lambda *loaders: {"m": "1"})  # no weights read
    ctx = systems_module.BenchContext(tmp_path, tmp_path)
    current = f"{QUALITY_METHOD} v{QUALITY_VERSION}"
    tools = systems_module.ToolsSystem(ctx)
    assert tools.describe()["noise_measure"] == current == "signal-quality-heuristic v3"
    assert systems_module.LLMAgentSystem(ctx).describe()["noise_measure"] == current  # offered by default
    no_noise = replace(ctx, llm=replace(ctx.llm, tools=("ecgqa_attributes", "intervals_and_axis")))
    assert "noise_measure" not in systems_module.LLMAgentSystem(no_noise).describe()
    for other in (systems_module.OracleSystem, systems_module.UpperBoundSystem, systems_module.LLMUpperBoundSystem):
        assert "noise_measure" not in other(ctx).describe()

    # a folder whose tools predictions were made with the previous version of the measure is refused
    out = tmp_path / "out"
    (out / "predictions").mkdir(parents=True)
    old = {**tools.describe(), "noise_measure": f"{QUALITY_METHOD} v2"}
    (out / "predictions" / "tools.meta.json").write_text(json.dumps(old))
    (out / "predictions" / "tools.jsonl").write_text("")
    selection = select_samples(make_samples(2), PRESENT)
    with pytest.raises(UsageError, match="different configuration.*pass --fresh"):
        run_benchmark([tools], selection, out, progress=False)
    # so is a folder from before the version was part of the key
    del old["noise_measure"]
    (out / "predictions" / "tools.meta.json").write_text(json.dumps(old))
    with pytest.raises(UsageError, match="pass --fresh"):
        run_benchmark([tools], selection, out, progress=False, answer=False)


# ------------------------------------------------------------------ 4. samples that keep timing out


class System:
    """A fake bench system; ``fail(sample)`` returns an exception to raise instead of answering."""

    persist_cache = False
    cache_key = "k"

    def __init__(self, name: str = "s", fail=lambda sample: None) -> None:
        self.name, self.fail = name, fail
        self.asked: list[int] = []

    def describe(self) -> dict:
        return {"name": self.name}

    def seen_ecg_ids(self) -> frozenset[int]:
        return frozenset()

    def ecg_features(self, ecg_id: int) -> int:
        return ecg_id

    def answer(self, sample, features) -> list[str]:
        self.asked.append(sample.sample_id)
        error = self.fail(sample)
        if error is not None:
            raise error
        return list(sample.answer)


TIMEOUT = "LLM endpoint at http://127.0.0.1:9/v1 failed after 3 attempt(s): APITimeoutError: Request timed out."
REFUSED = ("LLM endpoint at http://127.0.0.1:9/v1 failed after 3 attempt(s): APIConnectionError: "
           "Connection error. (Connection refused)")


def _silent_server() -> socket.socket:
    """A listening socket that accepts connections (the kernel's backlog) and never answers: the
    agent's request times out. The caller closes it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    return server


def test_real_timeouts_and_server_errors_are_retried_then_scored_but_a_refused_connection_is_not():
    import http.server

    from ecgqa_tools.eval._ecgqa_bench import (
        is_infrastructure_error,
        is_retry_then_score_error,
    )
    from ecgqa_tools.llm import Agent, LLMSettings

    def agent_error(base_url: str) -> str:
        settings = LLMSettings(model="x", base_url=base_url, max_retries=0, timeout_s=1)
        with pytest.raises(LLMError) as caught:
            Agent(settings, sleep=lambda s: None).choose([{"role": "user", "content": "Yes or no?"}], ("yes", "no"))
        return f"LLMError: {caught.value}"

    class Failing(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(500)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        failing = agent_error(f"http://127.0.0.1:{server.server_address[1]}/v1")
    finally:
        server.shutdown()
        server.server_close()
    silent = _silent_server()
    try:
        timed_out = agent_error(f"http://127.0.0.1:{silent.getsockname()[1]}/v1")
    finally:
        silent.close()
    refused_port = socket.socket()
    refused_port.bind(("127.0.0.1", 0))
    refused = agent_error(f"http://127.0.0.1:{refused_port.getsockname()[1]}/v1")
    refused_port.close()
    assert "APITimeoutError" in timed_out and "InternalServerError" in failing, (timed_out, failing)
    for error in (timed_out, failing, f"LLMError: {TIMEOUT}"):
        assert is_infrastructure_error(error) and is_retry_then_score_error(error)
    for error in (refused, f"LLMError: {REFUSED}", "UsageError: no model name given; pass --model",
                  "LLMError: LLM endpoint error: AuthenticationError: bad key"):
        assert is_infrastructure_error(error) and not is_retry_then_score_error(error), error


def test_a_sample_that_always_times_out_is_scored_wrong_after_three_runs(tmp_path):
    from ecgqa_tools.eval._cli_bench import _summary
    from ecgqa_tools.eval._ecgqa_bench import (
        MAX_SAMPLE_ATTEMPTS,
        read_predictions,
        run_benchmark,
        select_samples,
    )
    from ecgqa_tools.eval._report import write_report

    assert MAX_SAMPLE_ATTEMPTS == 3
    selection = select_samples(make_samples(5), PRESENT)
    pred_dir = tmp_path / "predictions"

    def fail(sample):
        if sample.sample_id == 1001:
            return LLMError(TIMEOUT)
        if sample.sample_id == 1003:  # the endpoint down at that moment: never scored, whatever the count
            return LLMError(REFUSED)
        return None

    for run in (1, 2):
        system = System(fail=fail)
        result = run_benchmark([system], selection, tmp_path, progress=False)
        assert result.n_unanswered == {"s": 2} and len(result.predictions["s"]) == 3
        attempts = json.loads((pred_dir / "s.attempts.json").read_text())
        assert list(attempts) == ["1001"] and attempts["1001"]["attempts"] == run
        assert "APITimeoutError" in attempts["1001"]["last_error"]
        report = write_report(result, tmp_path / "report.md", "ecgqa bench ecgqa", "t")
        markdown = (tmp_path / "report.md").read_text()
        # 3 right of 3 scored; with the 2 unanswered counted wrong: 3 of 5
        assert "| all, unanswered counted wrong | 60.0 (n=5, 2 unanswered) |" in markdown
        assert "| all, unanswered counted wrong | 60.0 (n=5, 2 unanswered) |" in _summary(report)  # terminal
    system = System(fail=fail)
    result = run_benchmark([system], selection, tmp_path, progress=False)
    assert sorted(system.asked) == [1001, 1003]
    assert result.n_unanswered == {"s": 1}  # 1003 (connection refused) is still only unanswered
    scored = {p.sample_id: p for p in result.predictions["s"]}
    assert not scored[1001].correct and scored[1001].error.startswith("LLMError: no answer in 3 runs")
    assert "APITimeoutError" in scored[1001].error
    assert not (pred_dir / "s.attempts.json").exists()  # nothing pending any more
    assert 1001 in read_predictions(pred_dir / "s.jsonl")
    system = System(fail=lambda sample: None)  # the endpoint back: only the refused sample is asked again
    result = run_benchmark([system], selection, tmp_path, progress=False)
    assert system.asked == [1003] and result.n_unanswered == {"s": 0}
    write_report(result, tmp_path / "report.md", "ecgqa bench ecgqa", "t")
    assert "unanswered counted wrong" not in (tmp_path / "report.md").read_text()


def test_timeouts_in_a_row_stop_the_run_then_are_scored_after_three_runs(tmp_path):
    from ecgqa_tools.eval._ecgqa_bench import run_benchmark, select_samples

    selection = select_samples(make_samples(4), PRESENT)
    slow = lambda sample: LLMError(TIMEOUT) if sample.sample_id < 1003 else None
    for _ in range(2):
        with pytest.raises(LLMError, match="stopped after 3 samples in a row.*scored wrong"):
            run_benchmark([System(fail=slow)], selection, tmp_path, progress=False)
    system = System(fail=slow)
    result = run_benchmark([system], selection, tmp_path, progress=False)
    assert sorted(system.asked) == [1000, 1001, 1002, 1003] and result.n_unanswered == {"s": 0}
    assert [p.correct for p in result.predictions["s"]] == [False, False, False, True]
    # --fresh forgets the counts with the predictions
    with pytest.raises(LLMError, match="stopped after 3"):
        run_benchmark([System(fail=slow)], selection, tmp_path, progress=False, fresh=True)
    assert json.loads((tmp_path / "predictions" / "s.attempts.json").read_text())["1000"]["attempts"] == 1
