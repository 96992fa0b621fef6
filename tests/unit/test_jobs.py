"""JobQueue: ordering, coalescing, supersede, retries, cancellation, shutdown, status.

Deterministic: jobs wait on ``asyncio.Event``/``threading.Event`` gates the test opens, backoff
goes through an injected ``sleep`` that records delays, jitter comes from an injected ``rng``
and timings from an injected ``clock``. Nothing waits for wall-clock time to pass.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sys
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from prompt_tokens.errors import PermanentError, TransientError, TransientFetchError
from prompt_tokens.jobs import (
    JobCancelled,
    JobContext,
    JobQueue,
    JobState,
    Priority,
    QueueClosed,
    Superseded,
)

MakeQueue = Callable[..., JobQueue]


class FakeSleep:
    """Records backoff delays and returns at once (after one loop turn)."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.hook: Callable[[float], None] | None = None

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        if self.hook is not None:
            self.hook(delay)
        await asyncio.sleep(0)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def make_queue() -> AsyncIterator[MakeQueue]:
    """Queues that are shut down after the test, which then checks nothing leaked.

    Fails the test if the loop's exception handler saw anything ("Task was destroyed but it is
    pending", "exception was never retrieved") or if a task outlived the shutdown.
    """
    loop = asyncio.get_running_loop()
    problems: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: problems.append(context))
    queues: list[JobQueue] = []

    def make(workers: int = 1, **kwargs: Any) -> JobQueue:
        kwargs.setdefault("sleep", FakeSleep())
        queue = JobQueue(workers, **kwargs)
        queues.append(queue)
        return queue

    yield make
    for queue in queues:
        await queue.shutdown(timeout=1.0)
    leftover = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert leftover == []
    gc.collect()
    await asyncio.sleep(0)
    loop.set_exception_handler(None)
    assert problems == []


class Blocker:
    """A job that signals when it starts and runs until the test opens its gate."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.gate = asyncio.Event()

    async def __call__(self, ctx: JobContext) -> str:
        self.started.set()
        await self.gate.wait()
        return "blocker"


async def occupy(queue: JobQueue) -> Blocker:
    """Submit a :class:`Blocker` and wait until it runs (holding a worker until its gate opens)."""
    blocker = Blocker()
    queue.submit(blocker)
    await blocker.started.wait()
    return blocker


def recorder(order: list[str], name: str) -> Callable[[JobContext], Any]:
    async def fn(ctx: JobContext) -> str:
        order.append(name)
        return name

    return fn


# -- ordering ------------------------------------------------------------------------------


async def test_priority_order_under_load(make_queue: MakeQueue) -> None:
    queue = make_queue(workers=1)
    blocker = Blocker()
    first = queue.submit(blocker, priority=Priority.BACKGROUND)
    await blocker.started.wait()
    order: list[str] = []
    plan = [
        ("bg1", Priority.BACKGROUND),
        ("ref1", Priority.REFERENCE),
        ("act1", Priority.ACTIVE),
        ("open1", Priority.OPEN),
        ("act2", Priority.ACTIVE),
        ("bg2", Priority.BACKGROUND),
        ("ref2", Priority.REFERENCE),
        ("open2", Priority.OPEN),
    ]
    jobs = [queue.submit(recorder(order, name), priority=p) for name, p in plan]
    assert queue.snapshot()["queued"] == len(plan)
    blocker.gate.set()
    assert await first == "blocker"
    assert [await j for j in jobs] == [name for name, _ in plan]
    assert order == ["act1", "act2", "open1", "open2", "ref1", "ref2", "bg1", "bg2"]


async def test_fifo_within_a_level(make_queue: MakeQueue) -> None:
    queue = make_queue(workers=1)
    blocker = await occupy(queue)
    order: list[str] = []
    jobs = [queue.submit(recorder(order, f"j{i}"), priority=Priority.OPEN) for i in range(20)]
    blocker.gate.set()
    for job in jobs:
        await job
    assert order == [f"j{i}" for i in range(20)]


async def test_a_burst_is_ordered_by_priority_even_with_idle_workers(
    make_queue: MakeQueue,
) -> None:
    """Dispatch waits for the end of the synchronous burst, so the urgent job goes first."""
    queue = make_queue(workers=1)
    order: list[str] = []
    late = queue.submit(recorder(order, "background"), priority=Priority.BACKGROUND)
    urgent = queue.submit(recorder(order, "active"), priority=Priority.ACTIVE)
    await late
    await urgent
    assert order == ["active", "background"]


async def test_worker_pool_is_bounded(make_queue: MakeQueue) -> None:
    queue = make_queue(workers=3)
    gate = asyncio.Event()
    running = 0
    peak = 0
    three_running = asyncio.Event()

    async def job(ctx: JobContext) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        if running == 3:
            three_running.set()
        await gate.wait()
        running -= 1

    jobs = [queue.submit(job) for _ in range(10)]
    await three_running.wait()
    snap = queue.snapshot()
    assert (snap["running"], snap["queued"]) == (3, 7)
    gate.set()
    for j in jobs:
        await j
    assert peak == 3


# -- coalescing ----------------------------------------------------------------------------


async def test_coalescing_runs_once_for_every_waiter(make_queue: MakeQueue) -> None:
    queue = make_queue(workers=2)
    started = asyncio.Event()
    gate = asyncio.Event()
    runs = 0

    async def fetch(ctx: JobContext) -> str:
        nonlocal runs
        runs += 1
        started.set()
        await gate.wait()
        return "body"

    handles = [queue.submit(fetch, key="url:https://x", priority=Priority.REFERENCE)]
    handles.append(queue.submit(fetch, key="url:https://x"))  # joins a queued job
    await started.wait()  # the rest join a running one
    handles += [queue.submit(fetch, key="url:https://x") for _ in range(8)]
    assert [h.coalesced for h in handles] == [False] + [True] * 9
    assert len({h.id for h in handles}) == 1
    assert handles[0].record.waiters == 10
    gate.set()
    assert [await h for h in handles] == ["body"] * 10
    assert runs == 1
    counters = queue.snapshot()["counters"]
    assert (counters["submitted"], counters["coalesced"], counters["done"]) == (10, 9, 1)


async def test_coalesced_waiters_all_get_the_error(make_queue: MakeQueue) -> None:
    queue = make_queue(workers=1)
    runs = 0

    async def broken(ctx: JobContext) -> None:
        nonlocal runs
        runs += 1
        raise PermanentError("nope")

    handles = [queue.submit(broken, key="k") for _ in range(4)]
    for h in handles:
        with pytest.raises(PermanentError, match="nope"):
            await h
    assert runs == 1


async def test_a_finished_key_runs_again(make_queue: MakeQueue) -> None:
    queue = make_queue(workers=1)
    runs = 0

    async def job(ctx: JobContext) -> int:
        nonlocal runs
        runs += 1
        return runs

    assert await queue.submit(job, key="k") == 1
    assert await queue.submit(job, key="k") == 2


async def test_coalescing_promotes_the_queued_job(make_queue: MakeQueue) -> None:
    queue = make_queue(workers=1)
    blocker = await occupy(queue)
    order: list[str] = []
    prefetch = queue.submit(recorder(order, "x"), key="x", priority=Priority.BACKGROUND)
    other = queue.submit(recorder(order, "open"), priority=Priority.OPEN)
    urgent = queue.submit(recorder(order, "never runs"), key="x", priority=Priority.ACTIVE)
    assert urgent.coalesced and prefetch.record.priority is Priority.ACTIVE
    blocker.gate.set()
    assert (await prefetch, await urgent, await other) == ("x", "x", "open")
    assert order == ["x", "open"]
    assert queue.counters["promoted"] == 1


async def test_a_promoted_job_runs_once(make_queue: MakeQueue) -> None:
    """Promotion leaves the old heap item behind; it must not start the job a second time."""
    queue = make_queue(workers=2)
    first, second = Blocker(), Blocker()
    queue.submit(first)
    queue.submit(second)
    await first.started.wait()
    await second.started.wait()
    runs = 0
    x_started = asyncio.Event()
    x_gate = asyncio.Event()

    async def x(ctx: JobContext) -> str:
        nonlocal runs
        runs += 1
        x_started.set()
        await x_gate.wait()
        return "x"

    job = queue.submit(x, key="x", priority=Priority.BACKGROUND)
    queue.submit(x, key="x", priority=Priority.ACTIVE)
    first.gate.set()
    await x_started.wait()
    second.gate.set()
    await queue.submit(recorder([], "after"), priority=Priority.BACKGROUND)
    x_gate.set()
    assert await job == "x"
    assert runs == 1


async def test_coalescing_never_demotes(make_queue: MakeQueue) -> None:
    queue = make_queue(workers=1)
    blocker = await occupy(queue)
    order: list[str] = []
    first = queue.submit(recorder(order, "x"), key="x", priority=Priority.ACTIVE)
    other = queue.submit(recorder(order, "open"), priority=Priority.OPEN)
    queue.submit(recorder(order, "x2"), key="x", priority=Priority.BACKGROUND)
    blocker.gate.set()
    await first
    await other
    assert order == ["x", "open"]
    assert first.record.priority is Priority.ACTIVE


# -- supersede -----------------------------------------------------------------------------


async def test_supersede_cancels_the_queued_older_job(make_queue: MakeQueue) -> None:
    queue = make_queue(workers=1)
    blocker = await occupy(queue)
    order: list[str] = []
    old = queue.submit(recorder(order, "v1"), supersede="doc:file:///a", priority=Priority.ACTIVE)
    new = queue.submit(recorder(order, "v2"), supersede="doc:file:///a", priority=Priority.ACTIVE)
    other_doc = queue.submit(recorder(order, "b"), supersede="doc:file:///b")
    with pytest.raises(Superseded) as info:
        await old
    assert isinstance(info.value, JobCancelled) and info.value.reason == "superseded"
    assert old.record.state is JobState.CANCELLED and old.cancelled()
    blocker.gate.set()
    assert (await new, await other_doc) == ("v2", "b")
    assert order == ["v2", "b"]
    counters = queue.counters
    assert (counters["superseded"], counters["cancelled"]) == (1, 1)


async def test_supersede_cancels_the_running_older_job(make_queue: MakeQueue) -> None:
    queue = make_queue(workers=1)
    started = asyncio.Event()
    saw_cancel = asyncio.Event()

    async def slow(ctx: JobContext) -> str:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            saw_cancel.set()
            raise
        return "stale"

    async def fresh(ctx: JobContext) -> str:
        return "fresh"

    old = queue.submit(slow, supersede="doc:x")
    await started.wait()
    new = queue.submit(fresh, supersede="doc:x")
    with pytest.raises(Superseded):
        await old
    assert await new == "fresh"
    await saw_cancel.wait()


async def test_superseded_thread_job_never_delivers_its_result(make_queue: MakeQueue) -> None:
    queue = make_queue(workers=1)
    started = threading.Event()
    gate = threading.Event()
    saw_cancelled: list[bool] = []

    def count(ctx: JobContext) -> str:
        started.set()
        gate.wait(timeout=10)
        saw_cancelled.append(ctx.cancelled)
        return "stale"

    old = queue.submit(count, supersede="doc:x", in_thread=True)
    await asyncio.to_thread(started.wait, 10)
    new = queue.submit(lambda ctx: "fresh", supersede="doc:x", in_thread=True)
    with pytest.raises(Superseded):
        await old  # settled at once, while the thread still runs
    assert queue.snapshot()["running"] == 1  # its slot stays taken until the thread returns
    gate.set()
    assert await new == "fresh"
    assert saw_cancelled == [True]
    assert old.record.state is JobState.CANCELLED


async def test_coalescing_wins_over_supersede_for_the_same_key(make_queue: MakeQueue) -> None:
    queue = make_queue(workers=1)
    order: list[str] = []
    a = queue.submit(recorder(order, "v1"), key="doc:a@1", supersede="doc:a")
    b = queue.submit(recorder(order, "again"), key="doc:a@1", supersede="doc:a")
    assert (await a, await b) == ("v1", "v1")
    assert order == ["v1"]


# -- retries -------------------------------------------------------------------------------


async def test_transient_errors_retry_with_exponential_backoff_and_jitter(
    make_queue: MakeQueue,
) -> None:
    sleep = FakeSleep()
    queue = make_queue(max_attempts=4, base_delay=0.2, max_delay=10.0, sleep=sleep, rng=lambda: 0.5)
    attempts: list[int] = []
    states: list[JobState] = []

    async def flaky(ctx: JobContext) -> str:
        attempts.append(ctx.attempt)
        if ctx.attempt < 4:
            raise TransientFetchError("503")
        return "ok"

    job = queue.submit(flaky, label="fetch")
    sleep.hook = lambda _d: states.append(job.record.state)
    assert await job == "ok"
    assert attempts == [1, 2, 3, 4]
    assert sleep.delays == pytest.approx([0.1, 0.2, 0.4])
    assert states == [JobState.RETRYING] * 3
    assert job.record.attempts == 4 and job.record.state is JobState.DONE
    assert "503" in job.record.last_error
    assert queue.counters["retried"] == 3


async def test_backoff_is_capped_and_gives_up_after_max_attempts(make_queue: MakeQueue) -> None:
    sleep = FakeSleep()
    queue = make_queue(max_attempts=5, base_delay=1.0, max_delay=3.0, sleep=sleep, rng=lambda: 1.0)

    async def down(ctx: JobContext) -> None:
        raise TransientError(f"timeout {ctx.attempt}")

    job = queue.submit(down)
    with pytest.raises(TransientError, match="timeout 5"):
        await job
    assert sleep.delays == [1.0, 2.0, 3.0, 3.0]
    assert job.record.state is JobState.FAILED and job.record.attempts == 5
    assert queue.counters["failed"] == 1


async def test_jitter_uses_the_injected_rng(make_queue: MakeQueue) -> None:
    sleep = FakeSleep()
    draws = iter([0.0, 0.25, 0.9])
    queue = make_queue(max_attempts=4, base_delay=1.0, sleep=sleep, rng=lambda: next(draws))

    async def flaky(ctx: JobContext) -> int:
        if ctx.attempt < 4:
            raise TransientError("busy")
        return ctx.attempt

    assert await queue.submit(flaky) == 4
    assert sleep.delays == pytest.approx([0.0, 0.5, 3.6])


async def test_retry_after_is_honoured(make_queue: MakeQueue) -> None:
    sleep = FakeSleep()
    queue = make_queue(max_attempts=3, base_delay=0.2, max_delay=10.0, sleep=sleep, rng=lambda: 0.5)

    async def limited(ctx: JobContext) -> str:
        if ctx.attempt == 1:
            raise TransientFetchError("429", retry_after=3.0)
        return "ok"

    assert await queue.submit(limited) == "ok"
    assert sleep.delays == [3.0]


async def test_retry_after_beyond_max_delay_fails_now(make_queue: MakeQueue) -> None:
    sleep = FakeSleep()
    queue = make_queue(max_attempts=3, max_delay=10.0, sleep=sleep)

    async def limited(ctx: JobContext) -> str:
        raise TransientFetchError("429", retry_after=3600)

    job = queue.submit(limited)
    with pytest.raises(TransientFetchError):
        await job
    assert sleep.delays == [] and job.record.attempts == 1


@pytest.mark.parametrize("error", [PermanentError("404"), ValueError("bug")])
async def test_permanent_errors_are_not_retried(make_queue: MakeQueue, error: Exception) -> None:
    sleep = FakeSleep()
    queue = make_queue(sleep=sleep)
    runs = 0

    async def broken(ctx: JobContext) -> None:
        nonlocal runs
        runs += 1
        raise error

    job = queue.submit(broken)
    with pytest.raises(type(error)):
        await job
    assert runs == 1 and sleep.delays == []
    assert job.record.state is JobState.FAILED
    assert job.record.last_error == f"{type(error).__name__}: {error}"


async def test_retry_waits_without_holding_a_worker(make_queue: MakeQueue) -> None:
    """During backoff the worker runs other jobs; the retry then keeps its place in line."""
    backoff_gate = asyncio.Event()
    order: list[str] = []

    async def gated_sleep(delay: float) -> None:
        await backoff_gate.wait()

    queue = make_queue(workers=1, sleep=gated_sleep)

    async def flaky(ctx: JobContext) -> str:
        order.append(f"flaky{ctx.attempt}")
        if ctx.attempt == 1:
            raise TransientError("busy")
        return "ok"

    async def other(ctx: JobContext) -> str:
        order.append("other")
        backoff_gate.set()
        return "other"

    job = queue.submit(flaky)
    side = queue.submit(other)
    assert (await side, await job) == ("other", "ok")
    assert order == ["flaky1", "other", "flaky2"]


async def test_worker_survives_failing_jobs(make_queue: MakeQueue) -> None:
    queue = make_queue(workers=1)

    async def boom(ctx: JobContext) -> None:
        raise RuntimeError("boom")

    async def fine(ctx: JobContext) -> str:
        return "fine"

    failures = [queue.submit(boom) for _ in range(5)]
    successes = [queue.submit(fine) for _ in range(5)]
    for job in failures:
        with pytest.raises(RuntimeError):
            await job
    assert [await j for j in successes] == ["fine"] * 5
    counters = queue.counters
    assert (counters["failed"], counters["done"]) == (5, 5)


async def test_async_job_returning_a_plain_value_fails_clearly(make_queue: MakeQueue) -> None:
    queue = make_queue()

    def not_async(ctx: JobContext) -> Any:
        return 42

    job = queue.submit(not_async)
    with pytest.raises(TypeError, match="in_thread=True"):
        await job


def test_in_thread_rejects_coroutine_functions() -> None:
    async def main() -> None:
        queue = JobQueue()

        async def coro(ctx: JobContext) -> None:
            return None

        with pytest.raises(TypeError):
            queue.submit(coro, in_thread=True)
        await queue.shutdown()

    asyncio.run(main())


# -- cancellation --------------------------------------------------------------------------


async def test_cancel_a_queued_job(make_queue: MakeQueue) -> None:
    queue = make_queue(workers=1)
    blocker = await occupy(queue)
    order: list[str] = []
    job = queue.submit(recorder(order, "never"))
    assert job.cancel()
    assert not job.cancel()  # second cancel: already settled
    with pytest.raises(JobCancelled):
        await job
    blocker.gate.set()
    await queue.join()
    assert order == [] and job.record.state is JobState.CANCELLED


async def test_cancelling_one_coalesced_waiter_keeps_the_run_for_the_others(
    make_queue: MakeQueue,
) -> None:
    queue = make_queue(workers=1)
    blocker = Blocker()
    a = queue.submit(blocker, key="shared")
    b = queue.submit(blocker, key="shared")
    await blocker.started.wait()
    a.cancel()
    assert b.record.state is JobState.RUNNING and b.record.waiters == 1
    blocker.gate.set()
    assert await b == "blocker"
    with pytest.raises(JobCancelled):
        await a


async def test_cancelling_the_last_waiter_cancels_the_run(make_queue: MakeQueue) -> None:
    queue = make_queue(workers=1)
    blocker = Blocker()
    a = queue.submit(blocker, key="shared")
    b = queue.submit(blocker, key="shared")
    await blocker.started.wait()
    a.cancel()
    b.cancel()
    await queue.join()
    assert a.record.state is JobState.CANCELLED
    assert not blocker.gate.is_set()


async def test_cancelling_the_awaiting_task_detaches_its_handle(make_queue: MakeQueue) -> None:
    queue = make_queue(workers=1)
    blocker = Blocker()
    job = queue.submit(blocker)
    await blocker.started.wait()

    waiting = asyncio.Event()

    async def waiter() -> str:
        waiting.set()
        return await job

    task = asyncio.create_task(waiter())
    await waiting.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await queue.join()
    assert job.cancelled() and job.record.state is JobState.CANCELLED


async def test_cancel_by_key_and_by_group(make_queue: MakeQueue) -> None:
    queue = make_queue(workers=1)
    blocker = await occupy(queue)
    order: list[str] = []
    by_key = queue.submit(recorder(order, "k"), key="k")
    by_group = queue.submit(recorder(order, "g"), supersede="doc:g")
    assert queue.cancel("k") and queue.cancel_group("doc:g")
    assert not queue.cancel("k") and not queue.cancel_group("missing")
    for job in (by_key, by_group):
        with pytest.raises(JobCancelled):
            await job
    blocker.gate.set()
    await queue.join()
    assert order == []


async def test_a_job_can_stop_itself_cooperatively(make_queue: MakeQueue) -> None:
    queue = make_queue(workers=1)
    started = threading.Event()
    gate = threading.Event()
    chunks: list[int] = []

    def long_count(ctx: JobContext) -> int:
        for i in range(1000):
            if i == 1:
                started.set()
                gate.wait(timeout=10)
            ctx.raise_if_cancelled()
            chunks.append(i)
        return len(chunks)

    job = queue.submit(long_count, in_thread=True)
    await asyncio.to_thread(started.wait, 10)
    job.cancel()
    gate.set()
    await queue.join()
    assert chunks == [0]


async def test_a_job_raising_job_cancelled_ends_cancelled_not_failed(
    make_queue: MakeQueue,
) -> None:
    queue = make_queue(workers=1)

    def gives_up(ctx: JobContext) -> None:
        raise JobCancelled("stale version", reason="superseded")

    job = queue.submit(gives_up, in_thread=True)
    with pytest.raises(JobCancelled, match="stale version"):
        await job
    assert job.record.state is JobState.CANCELLED
    assert (queue.counters["cancelled"], queue.counters["failed"]) == (1, 0)


# -- shutdown ------------------------------------------------------------------------------


async def test_shutdown_refuses_new_jobs_finishes_running_and_cancels_queued(
    make_queue: MakeQueue,
) -> None:
    flushed: list[str] = []

    async def flush_async() -> None:
        flushed.append("async")

    queue = make_queue(workers=1, on_shutdown=[lambda: flushed.append("sync")])
    queue.add_shutdown_callback(flush_async)
    started = asyncio.Event()

    async def finishing(ctx: JobContext) -> str:
        started.set()
        await asyncio.sleep(0)
        return "finished"

    running = queue.submit(finishing)
    queued = queue.submit(finishing)
    await started.wait()
    await queue.shutdown(timeout=5.0)
    assert await running == "finished"
    with pytest.raises(JobCancelled) as info:
        await queued
    assert info.value.reason == "shutdown"
    with pytest.raises(QueueClosed):
        queue.submit(finishing)
    assert flushed == ["sync", "async"]
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []
    await queue.shutdown()  # idempotent
    assert flushed == ["sync", "async"]


async def test_shutdown_cancels_jobs_that_outlive_the_timeout(make_queue: MakeQueue) -> None:
    queue = make_queue(workers=2)
    started = asyncio.Event()
    thread_started = threading.Event()
    thread_gate = threading.Event()
    cancelled_inside = asyncio.Event()

    async def stuck(ctx: JobContext) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled_inside.set()
            raise

    def stuck_thread(ctx: JobContext) -> None:
        thread_started.set()
        thread_gate.wait(timeout=10)

    a = queue.submit(stuck)
    b = queue.submit(stuck_thread, in_thread=True)
    await started.wait()
    await asyncio.to_thread(thread_started.wait, 10)
    try:
        await queue.shutdown(timeout=0)
        for job in (a, b):
            with pytest.raises(JobCancelled):
                await job
        assert cancelled_inside.is_set()
        assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []
    finally:
        thread_gate.set()


async def test_shutdown_with_drain_runs_queued_jobs(make_queue: MakeQueue) -> None:
    queue = make_queue(workers=1)
    order: list[str] = []
    jobs = [queue.submit(recorder(order, str(i))) for i in range(3)]
    await queue.shutdown(timeout=5.0, drain=True)
    assert [await j for j in jobs] == ["0", "1", "2"]


async def test_shutdown_of_a_queue_that_never_started() -> None:
    flushed: list[bool] = []
    queue = JobQueue(on_shutdown=[lambda: flushed.append(True)])
    await queue.shutdown()
    assert flushed == [True] and queue.closed


async def test_async_context_manager() -> None:
    async with JobQueue(workers=2) as queue:
        assert await queue.submit(recorder([], "x")) == "x"
    assert queue.closed


async def test_a_failing_shutdown_hook_is_logged_not_raised(
    make_queue: MakeQueue, caplog: pytest.LogCaptureFixture
) -> None:
    def bad() -> None:
        raise OSError("disk full")

    queue = make_queue(on_shutdown=[bad])
    await queue.shutdown()
    assert "shutdown callback" in caplog.text


# -- threads and progress ------------------------------------------------------------------


async def test_in_thread_jobs_run_off_the_loop(make_queue: MakeQueue) -> None:
    queue = make_queue(workers=2)
    loop_thread = threading.get_ident()
    started = threading.Event()
    gate = threading.Event()

    def cpu(ctx: JobContext) -> int:
        started.set()
        gate.wait(timeout=10)
        return threading.get_ident()

    job = queue.submit(cpu, in_thread=True, priority=Priority.ACTIVE)
    await asyncio.to_thread(started.wait, 10)
    # The loop is free while the thread is busy: another job runs to completion meanwhile.
    assert await queue.submit(recorder([], "meanwhile")) == "meanwhile"
    gate.set()
    assert await job != loop_thread


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux-only")
async def test_thread_jobs_run_at_a_lower_cpu_priority_than_the_loop(
    make_queue: MakeQueue,
) -> None:
    queue = make_queue(workers=1, thread_nice=7)

    def own_nice(ctx: JobContext) -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    loop_nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert await queue.submit(own_nice, in_thread=True) == min(19, loop_nice + 7)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == loop_nice


async def test_thread_jobs_are_bounded_without_blocking_async_jobs(make_queue: MakeQueue) -> None:
    queue = make_queue(workers=3, threads=1)
    started = threading.Event()
    gate = threading.Event()
    order: list[str] = []

    def cpu(name: str) -> Callable[[JobContext], str]:
        def fn(ctx: JobContext) -> str:
            order.append(name)
            started.set()
            gate.wait(timeout=10)
            return name

        return fn

    first = queue.submit(cpu("t1"), in_thread=True, priority=Priority.ACTIVE)
    second = queue.submit(cpu("t2"), in_thread=True, priority=Priority.ACTIVE)
    await asyncio.to_thread(started.wait, 10)
    # t2 waits for the thread slot; a less urgent async job still gets a free worker.
    assert await queue.submit(recorder(order, "async"), priority=Priority.BACKGROUND) == "async"
    assert second.record.state is JobState.QUEUED
    assert queue.snapshot()["threads"] == 1
    gate.set()
    assert (await first, await second) == ("t1", "t2")
    assert order == ["t1", "async", "t2"]


async def test_priority_is_kept_across_thread_and_async_jobs(make_queue: MakeQueue) -> None:
    queue = make_queue(workers=1, threads=1)
    blocker = await occupy(queue)
    order: list[str] = []

    def threaded(ctx: JobContext) -> None:
        order.append("thread-active")

    later = queue.submit(recorder(order, "async-open"), priority=Priority.OPEN)
    first = queue.submit(threaded, in_thread=True, priority=Priority.ACTIVE)
    last = queue.submit(recorder(order, "async-bg"))
    blocker.gate.set()
    for job in (first, later, last):
        await job
    assert order == ["thread-active", "async-open", "async-bg"]


async def test_progress_reaches_the_hook_on_the_loop_thread(make_queue: MakeQueue) -> None:
    seen: list[tuple[int, float | None, str, bool]] = []
    loop_thread = threading.get_ident()

    def hook(record: Any, fraction: float | None, message: str) -> None:
        seen.append((record.id, fraction, message, threading.get_ident() == loop_thread))

    queue = make_queue(workers=1, on_progress=hook)

    async def async_job(ctx: JobContext) -> None:
        ctx.report(0.5, "half")
        ctx.report(None, "unknown")

    def thread_job(ctx: JobContext) -> None:
        ctx.report(0.25, "quarter")
        ctx.report(2.0, "clamped")

    a = queue.submit(async_job)
    await a
    b = queue.submit(thread_job, in_thread=True)
    await b  # the thread's reports were queued to the loop before its result
    assert seen == [
        (a.id, 0.5, "half", True),
        (a.id, None, "unknown", True),
        (b.id, 0.25, "quarter", True),
        (b.id, 1.0, "clamped", True),
    ]
    assert a.record.message == "unknown"


# -- status --------------------------------------------------------------------------------


async def test_snapshot_shape_counters_and_percentiles(make_queue: MakeQueue) -> None:
    clock = FakeClock()
    queue = make_queue(workers=1, clock=clock, history=10)
    snap = queue.snapshot()
    assert snap["waitMs"] == {"p50": None, "p95": None, "max": None}

    def timed(run_s: float) -> Callable[[JobContext], Any]:
        async def fn(ctx: JobContext) -> float:
            clock.now += run_s
            return run_s

        return fn

    async def broken(ctx: JobContext) -> None:
        clock.now += 0.5
        raise PermanentError("bad")

    jobs = [queue.submit(timed(0.01 * (i + 1)), label=f"job{i}", key=f"k{i}") for i in range(4)]
    queue.submit(timed(1), key="k0")  # coalesced
    failed = queue.submit(broken, label="broken", priority=Priority.BACKGROUND)
    for job in jobs:
        await job
    with pytest.raises(PermanentError):
        await failed
    snap = queue.snapshot()
    json.dumps(snap)  # JSON-serialisable as the LSP command returns it
    assert set(snap) == {
        "workers", "threads", "queued", "running", "retrying", "closed", "counters", "waitMs",
        "runMs", "jobs",
    }  # fmt: skip
    assert snap["workers"] == 1 and snap["queued"] == 0 and snap["running"] == 0
    assert snap["counters"] == {
        "submitted": 6, "coalesced": 1, "promoted": 0, "done": 4, "failed": 1, "retried": 0,
        "cancelled": 0, "superseded": 0, "queued": 0, "running": 0, "retrying": 0,
    }  # fmt: skip
    # Run times 10, 20, 30, 40, 500 ms; waits grow as each job waits for the ones before it.
    assert snap["runMs"] == {"p50": 30.0, "p95": 500.0, "max": 500.0}
    assert snap["waitMs"] == {"p50": 30.0, "p95": 100.0, "max": 100.0}  # 0,10,30,60,100
    newest = snap["jobs"][0]
    assert newest["label"] == "broken" and newest["state"] == "failed"
    assert newest["lastError"] == "PermanentError: bad" and newest["priority"] == "background"
    assert set(newest) >= {
        "id", "key", "label", "priority", "state", "attempts", "enqueuedAt", "startedAt",
        "endedAt", "lastError", "waitMs", "runMs",
    }  # fmt: skip
    assert [j["label"] for j in snap["jobs"]] == ["broken", "job3", "job2", "job1", "job0"]


async def test_snapshot_lists_live_jobs_first(make_queue: MakeQueue) -> None:
    queue = make_queue(workers=1)
    blocker = Blocker()
    await queue.submit(recorder([], "old"), label="old")
    queue.submit(blocker, label="running")
    await blocker.started.wait()
    queue.submit(recorder([], "q"), label="queued-bg")
    queue.submit(recorder([], "q"), label="queued-active", priority=Priority.ACTIVE)
    states = [(j["label"], j["state"]) for j in queue.snapshot()["jobs"]]
    assert states == [
        ("running", "running"),
        ("queued-active", "queued"),
        ("queued-bg", "queued"),
        ("old", "done"),
    ]
    assert queue.snapshot(limit=1)["jobs"][0]["label"] == "running"
    blocker.gate.set()
    await queue.join()


async def test_history_is_bounded(make_queue: MakeQueue) -> None:
    queue = make_queue(workers=4, history=5)
    for i in range(20):
        await queue.submit(recorder([], str(i)))
    assert len(queue.snapshot(limit=None)["jobs"]) == 5


# -- batches -------------------------------------------------------------------------------


async def test_batch_returns_results_in_order_with_errors_in_place(make_queue: MakeQueue) -> None:
    queue = make_queue(workers=3)

    def item(i: int) -> Callable[[JobContext], Any]:
        async def fn(ctx: JobContext) -> int:
            if i == 2:
                raise PermanentError("bad item")
            return i * 10

        return fn

    results = await queue.batch([item(i) for i in range(5)], priority=Priority.REFERENCE)
    assert results[:2] == [0, 10] and results[3:] == [30, 40]
    assert isinstance(results[2], PermanentError)


async def test_batch_limit_bounds_concurrency(make_queue: MakeQueue) -> None:
    queue = make_queue(workers=8)
    running = 0
    peak = 0

    async def fn(ctx: JobContext) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        for _ in range(3):
            await asyncio.sleep(0)
        running -= 1

    await queue.batch([fn] * 12, limit=2)
    assert peak == 2


async def test_batch_keys_coalesce_across_batches(make_queue: MakeQueue) -> None:
    queue = make_queue(workers=4)
    runs: list[str] = []

    def fetch(url: str) -> Callable[[JobContext], Any]:
        async def fn(ctx: JobContext) -> str:
            runs.append(url)
            await asyncio.sleep(0)
            return url.upper()

        return fn

    urls = ["a", "b", "a"]
    first, second = await asyncio.gather(
        queue.batch([fetch(u) for u in urls], keys=[f"url:{u}" for u in urls]),
        queue.batch([fetch(u) for u in urls], keys=[f"url:{u}" for u in urls]),
    )
    assert first == second == ["A", "B", "A"]
    assert sorted(runs) == ["a", "b"]


async def test_batch_in_threads(make_queue: MakeQueue) -> None:
    queue = make_queue(workers=2)

    def square(i: int) -> Callable[[JobContext], int]:
        return lambda ctx: i * i

    results = await queue.batch([square(i) for i in range(6)], in_thread=True)
    assert results == [0, 1, 4, 9, 16, 25]


async def test_abandoned_batch_cancels_its_jobs(make_queue: MakeQueue) -> None:
    queue = make_queue(workers=1)
    started = asyncio.Event()

    async def forever(ctx: JobContext) -> None:
        started.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(queue.batch([forever] * 3))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await queue.join()
    counters = queue.counters
    assert (counters["submitted"], counters["cancelled"]) == (3, 3)


async def test_map_groups_items_per_thread_hop(make_queue: MakeQueue) -> None:
    queue = make_queue(workers=2)
    threads: set[int] = set()

    def square(x: int) -> int:
        threads.add(threading.get_ident())
        if x == 5:
            raise PermanentError("five")
        return x * x

    results = await queue.map(square, range(10), chunk_size=4)
    assert results[:5] == [0, 1, 4, 9, 16] and results[6:] == [36, 49, 64, 81]
    assert isinstance(results[5], PermanentError)
    assert queue.counters["submitted"] == 3  # ceil(10 / 4) thread hops
    assert threading.get_ident() not in threads


async def test_map_retries_only_the_items_that_failed_transiently(make_queue: MakeQueue) -> None:
    queue = make_queue(workers=1, max_attempts=3)
    calls: list[int] = []

    def fetch(x: int) -> int:
        calls.append(x)
        if x == 1 and calls.count(1) < 3:
            raise TransientError("busy")
        if x == 2:
            raise PermanentError("gone")
        return x

    results = await queue.map(fetch, [0, 1, 2, 3], chunk_size=4)
    assert results[0] == 0 and results[1] == 1 and results[3] == 3
    assert isinstance(results[2], PermanentError)
    assert calls == [0, 1, 2, 3, 1, 1]
    assert queue.counters["retried"] == 2


async def test_map_of_nothing(make_queue: MakeQueue) -> None:
    queue = make_queue()
    assert await queue.map(str, []) == []
