"""Debouncer: only the last call of a burst runs; every task is supervised.

The delay goes through an injected ``sleep`` that waits for an event the test sets, so "the
delay has passed" is a decision of the test, not of the wall clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from prompt_tokens.jobs import Debouncer


class Gate:
    """Fake sleep: every delay ends when the test opens the gate; delays are recorded."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await self.event.wait()


def call(log: list[str], name: str) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        log.append(name)

    return run


async def test_only_the_last_of_a_burst_runs() -> None:
    gate = Gate()
    debouncer = Debouncer(sleep=gate)
    ran: list[str] = []
    tasks = [debouncer.schedule("doc:a", 0.3, call(ran, f"edit{i}")) for i in range(5)]
    other = debouncer.schedule("doc:b", 0.3, call(ran, "b"))
    await asyncio.sleep(0)
    assert gate.delays == [0.3, 0.3]  # the four replaced calls never started their delay
    gate.event.set()
    await tasks[-1]
    await other
    await asyncio.gather(*tasks, return_exceptions=True)
    assert all(t.cancelled() for t in tasks[:-1])
    assert sorted(ran) == ["b", "edit4"]
    assert debouncer.counters == {"scheduled": 6, "replaced": 4, "fired": 2, "failed": 0}


async def test_zero_delay_still_collapses_a_synchronous_burst() -> None:
    debouncer = Debouncer()
    ran: list[str] = []
    tasks = [debouncer.schedule("k", 0, call(ran, str(i))) for i in range(3)]
    await asyncio.gather(*tasks, return_exceptions=True)
    assert ran == ["2"]


async def test_factory_is_only_called_when_the_call_fires() -> None:
    """A replaced call never creates its coroutine (no "never awaited" warnings)."""
    gate = Gate()
    debouncer = Debouncer(sleep=gate)
    made: list[int] = []

    def factory(i: int) -> Callable[[], Awaitable[None]]:
        def make() -> Awaitable[None]:
            made.append(i)
            return asyncio.sleep(0)

        return make

    tasks = [debouncer.schedule("k", 1.0, factory(i)) for i in range(3)]
    gate.event.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert made == [2]
    assert gate.delays == [1.0]  # the replaced ones were cancelled before they started


async def test_cancel_drops_only_that_pending_call() -> None:
    gate = Gate()
    debouncer = Debouncer(sleep=gate)
    ran: list[str] = []
    a = debouncer.schedule("a", 1, call(ran, "a"))
    b = debouncer.schedule("b", 1, call(ran, "b"))
    assert debouncer.cancel("a") and not debouncer.cancel("a") and not debouncer.cancel("zz")
    gate.event.set()
    await asyncio.gather(a, b, return_exceptions=True)
    assert ran == ["b"] and a.cancelled() and not b.cancelled()


async def test_cancel_leaves_a_running_call_alone() -> None:
    debouncer = Debouncer()
    started = asyncio.Event()
    release = asyncio.Event()
    ran: list[str] = []

    async def slow() -> None:
        started.set()
        await release.wait()
        ran.append("slow")

    task = debouncer.schedule("k", 0, slow)
    await started.wait()
    assert not debouncer.cancel("k")  # no longer pending: it runs
    release.set()
    await task
    assert ran == ["slow"]


async def test_errors_are_logged_not_lost(caplog: pytest.LogCaptureFixture) -> None:
    debouncer = Debouncer()

    async def boom() -> None:
        raise ValueError("bad recount")

    task = debouncer.schedule("doc", 0, boom)
    with pytest.raises(ValueError):
        await task
    assert "debounced call debounce:doc failed" in caplog.text and "bad recount" in caplog.text
    assert debouncer.counters["failed"] == 1


async def test_a_running_call_is_not_cancelled_by_default() -> None:
    debouncer = Debouncer()
    started = asyncio.Event()
    release = asyncio.Event()
    ran: list[str] = []

    async def slow() -> None:
        started.set()
        await release.wait()
        ran.append("slow")

    first = debouncer.schedule("k", 0, slow)
    await started.wait()
    second = debouncer.schedule("k", 0, call(ran, "next"))
    await second
    assert not first.done()
    release.set()
    await first
    assert ran == ["next", "slow"]


async def test_cancel_running_option() -> None:
    debouncer = Debouncer(cancel_running=True)
    started = asyncio.Event()

    async def slow() -> None:
        started.set()
        await asyncio.Event().wait()

    ran: list[str] = []
    first = debouncer.schedule("k", 0, slow)
    await started.wait()
    second = debouncer.schedule("k", 0, call(ran, "next"))
    await second
    with pytest.raises(asyncio.CancelledError):
        await first
    assert ran == ["next"]


async def test_aclose_cancels_everything_and_refuses_more() -> None:
    gate = Gate()
    debouncer = Debouncer(sleep=gate)
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    running = debouncer.schedule("r", 0, forever)
    gate.event.set()
    await started.wait()
    gate.event.clear()
    pending = debouncer.schedule("p", 1, forever)
    await debouncer.aclose()
    assert running.cancelled() and pending.cancelled()
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []
    with pytest.raises(RuntimeError):
        debouncer.schedule("x", 0, forever)
