"""Session-7b review: ``ecgqa mcp`` runs tool calls in worker threads on one shared ToolContext.

Evidence ids must stay unique and point at their own statement, and ``cached`` must neither fail nor
compute a slot twice while other threads replace records (which drops their cached results)."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from ecgqa_tools.llm import ToolContext
from ecgqa_tools.llm._registry import Provenance

from .conftest import FakeBackend, synthetic_ecg

THREADS = 4


@pytest.fixture
def tiny_switch_interval() -> Iterator[None]:
    """Switch threads as often as possible so an unlocked check-then-write interleaves."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def _run_threads(work: Callable[[int], None]) -> list[BaseException]:
    errors: list[BaseException] = []

    def guarded(t: int) -> None:
        try:
            work(t)
        except BaseException as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=guarded, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_concurrent_add_evidence_keeps_every_fact_under_its_own_id(tiny_switch_interval):
    ctx = ToolContext(backend=FakeBackend())
    per_thread = 2000

    def work(t: int) -> None:
        for i in range(per_thread):
            ctx.add_evidence("tool", f"s{t}-{i}", Provenance(source="x", version="1", record=f"r{t}"))

    assert _run_threads(work) == []
    assert len(ctx.evidence) == THREADS * per_thread
    assert sorted(ctx.evidence) == sorted(f"E{n}" for n in range(1, THREADS * per_thread + 1))
    for (_tool, _record, statement), evidence_id in ctx._evidence_keys.items():
        assert ctx.evidence[evidence_id].statement == statement


def test_cached_computes_once_and_never_fails_while_records_are_replaced(tiny_switch_interval):
    ctx = ToolContext(backend=FakeBackend())
    ecgs = [synthetic_ecg("a"), synthetic_ecg("b")]
    computed: list[tuple[str, str]] = []

    def slow(slot: tuple[str, str]) -> Callable[[], tuple[str, str]]:
        def compute() -> tuple[str, str]:
            computed.append(slot)
            time.sleep(0.001)  # other threads get to run while the value is computed
            return slot

        return compute

    def work(t: int) -> None:
        for i in range(300):
            if t == 0:  # a different ECG under the same name drops that record's cached results
                ctx.add_record("changing", ecgs[i % 2])
            slot = ("memory:steady", f"k{i % 5}")
            assert ctx.cached(*slot, slow(slot)) == slot
            other = ("memory:changing", f"k{i % 3}")
            assert ctx.cached(*other, slow(other)) == other

    ctx.add_record("steady", synthetic_ecg("s"))
    assert _run_threads(work) == []
    steady = [slot for slot in computed if slot[0] == "memory:steady"]
    assert sorted(steady) == [("memory:steady", f"k{k}") for k in range(5)]  # once each, never twice
