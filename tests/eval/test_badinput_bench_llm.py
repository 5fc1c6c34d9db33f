"""Session-8 bad-input review, M6: an LLM endpoint whose reply is not a chat completion (a body
that is not JSON, an HTML page, no choices) is never scored as a wrong answer by `bench ecgqa`:
like an HTTP 500 it is not recorded, three in a row stop the run, a rerun asks again; rows of that
kind stored by an older run are dropped and asked again. Fake servers run in-process."""

from __future__ import annotations

import json

import pytest

from ecgqa_tools.errors import LLMError
from ecgqa_tools.eval._ecgqa_bench import (
    Prediction,
    is_infrastructure_error,
    is_retry_then_score_error,
    read_predictions,
    run_benchmark,
    select_samples,
)

PRESENT = frozenset(range(1, 13))
BODIES = {
    "garbage": (200, b'{"choices": [ this is not json', "application/json"),
    "html": (200, b"<html>hello</html>", "text/html"),
    "empty": (200, json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": "m",
                               "choices": []}).encode(), "application/json"),
    "401": (401, b'{"error": {"message": "bad key"}}', "application/json"),
    "ok": (200, json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": [
        {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "yes"}}]}).encode(),
        "application/json"),
}


@pytest.fixture
def server(fake_openai_server):
    """``start(mode) -> base URL`` of a fake endpoint answering every POST with ``BODIES[mode]``
    (the mode can be changed later by calling it again; ``.fake.posts`` counts the POSTs)."""
    fake = fake_openai_server(BODIES["ok"])

    def start(mode: str) -> str:
        fake.post_reply = BODIES[mode]
        return fake.url

    start.fake = fake  # type: ignore[attr-defined]
    return start


def _agent_error(base_url: str) -> str:
    from ecgqa_tools.llm import Agent, LLMSettings

    settings = LLMSettings(model="x", base_url=base_url, max_retries=0, timeout_s=5, answer_format="text")
    with pytest.raises(LLMError) as caught:
        Agent(settings, sleep=lambda s: None).choose([{"role": "user", "content": "Yes or no?"}], ("yes", "no"))
    return f"LLMError: {caught.value}"


@pytest.mark.parametrize("mode,what", [("garbage", "the reply body is not JSON"),
                                       ("html", "no choices in the reply"), ("empty", "no choices in the reply")])
def test_a_reply_that_is_not_a_chat_completion_is_an_endpoint_failure_retried_like_a_500(server, mode, what):
    error = _agent_error(server(mode))
    assert "did not answer as an OpenAI-compatible chat endpoint" in error and what in error, error
    assert "127.0.0.1" in error and "API root" in error  # names the endpoint and what to check
    assert is_infrastructure_error(error) and is_retry_then_score_error(error), error


def test_a_refused_key_from_a_real_server_is_configuration_never_scored(server):
    # the agent's wording "LLM endpoint error at <url>: AuthenticationError" was not recognised (it
    # gained " at <url>" in session 7): a bad key was scored as wrong answers
    error = _agent_error(server("401"))
    assert "AuthenticationError" in error
    assert is_infrastructure_error(error) and not is_retry_then_score_error(error), error


def _samples(n: int) -> list[dict]:
    return [{"template_id": 1, "question_id": i, "sample_id": 2000 + i, "question_type": "single-verify",
             "attribute_type": "scp_code", "question": f"question {i}?", "answer": ["yes"],
             "ecg_id": [1 + i % 12], "attribute": None} for i in range(n)]


class AgentSystem:
    """A bench system whose answer is one constrained reply from a real ``Agent`` at ``base_url``."""

    persist_cache = False
    cache_key = "k"
    name = "llm"

    def __init__(self, base_url: str) -> None:
        from ecgqa_tools.llm import Agent, LLMSettings

        self.agent = Agent(LLMSettings(model="x", base_url=base_url, max_retries=0, timeout_s=5,
                                       answer_format="text"), sleep=lambda s: None)

    def describe(self) -> dict:
        return {"name": self.name}

    def seen_ecg_ids(self) -> frozenset[int]:
        return frozenset()

    def ecg_features(self, ecg_id: int) -> int:
        return ecg_id

    def answer(self, sample, features) -> list[str]:
        return list(self.agent.choose([{"role": "user", "content": sample.question}], ("yes", "no"))[1])


def test_bench_stops_on_a_non_json_endpoint_records_nothing_and_resumes(server, tmp_path):
    selection = select_samples(_samples(5), PRESENT)
    url = server("garbage")
    with pytest.raises(LLMError, match=r"stopped after 3 samples in a row.*127\.0\.0\.1.*not JSON.*rerun the same"):
        run_benchmark([AgentSystem(url)], selection, tmp_path, progress=False)
    path = tmp_path / "predictions" / "llm.jsonl"
    assert read_predictions(path) == {}  # not scored as wrong answers
    server("ok")  # the endpoint fixed: the rerun answers every sample
    result = run_benchmark([AgentSystem(url)], selection, tmp_path, progress=False)
    assert len(result.predictions["llm"]) == 5 and all(p.correct for p in result.predictions["llm"])
    assert not (tmp_path / "predictions" / "llm.attempts.json").exists()


def test_rows_an_older_run_stored_for_a_non_json_endpoint_are_dropped_and_asked_again(server, tmp_path, capsys):
    selection = select_samples(_samples(4), PRESENT)
    url = server("ok")
    pred_dir = tmp_path / "predictions"
    pred_dir.mkdir()
    (pred_dir / "llm.meta.json").write_text(json.dumps({"name": "llm"}))
    old_errors = [  # the wording of session-7 runs (review finding M6: stored, scored wrong, never asked again)
        f"LLMError: LLM endpoint error at {url}: JSONDecodeError: Expecting value: line 1 column 15 (char 14)",
        "LLMError: LLM endpoint returned no choices (got str: '<html>hello</html>'); is the base URL ...",
        "LLMError: LLM endpoint returned a choice without a message",
        None,
    ]
    rows = []
    for sample, error in zip(selection.samples, old_errors):
        rows.append(Prediction(system="llm", sample_id=sample.sample_id, template_id=1, question_type="single-verify",
                               attribute_type="scp_code", ecg_ids=sample.ecg_id, gold=sample.answer,
                               predicted=() if error else ("yes",), correct=error is None, error=error,
                               seconds=0.1).to_json())
    (pred_dir / "llm.jsonl").write_text("\n".join(rows) + "\n")
    result = run_benchmark([AgentSystem(url)], selection, tmp_path, progress=False)
    assert "3 earlier sample(s) failed on the LLM endpoint" in capsys.readouterr().err
    assert server.fake.posts == 3  # only the three stored endpoint failures were asked again
    assert all(p.correct and p.error is None for p in result.predictions["llm"])


@pytest.mark.parametrize("argv,words", [
    (["--llm-max-steps", "1000000"], "argument --llm-max-steps: must be an integer from 1 to 50, got 1000000"),
    (["--llm-max-tokens", "0"], "argument --llm-max-tokens: must be an integer from 1 to 32768"),
    (["--limit", "0"], "argument --limit: must be an integer >= 1, got 0"),
])
def test_bench_ecgqa_bounds_its_numeric_options_while_parsing(argv, words, capsys):
    from ecgqa_tools.cli import main

    assert main(["bench", "ecgqa", "--systems", "oracle", *argv]) == 2
    assert words in capsys.readouterr().err


def test_bench_ecgqa_out_onto_a_file_is_refused_before_loading(tmp_path, monkeypatch, capsys):
    from ecgqa_tools.cli import main
    from ecgqa_tools.eval import _cli_bench

    def never(*args):
        raise AssertionError("the split was loaded")

    monkeypatch.setattr(_cli_bench, "load_split_samples", never)
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert main(["bench", "ecgqa", "--systems", "oracle", "--out", str(afile)]) != 0
    assert f"--out must be a folder (predictions and caches go in it); {afile} is a file" in capsys.readouterr().err
