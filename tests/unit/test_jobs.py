"""JobQueue: ordering, bounded workers and threads, supersede, cancellation, shutdown, status.

Deterministic: jobs wait on ``asyncio.Event``/``threading.Event`` gates the test opens and
timings come from an injected ``clock``. Nothing waits for wall-clock time to pass.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sys
import threading
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from prompt_tokens.errors import PermanentError, TransientError
from prompt_tokens.jobs import (
    Job,
    JobCancelled,
    JobContext,
    JobQueue,
    JobState,
    Priority,
    QueueClosed,
    Superseded,
)
from prompt_tokens.jobs.ready import ReadyQueue

MakeQueue = Callable[..., JobQueue]


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
    counters = queue.snapshot()["counters"]
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


# -- failures ------------------------------------------------------------------------------


@pytest.mark.parametrize("error", [PermanentError("404"), TransientError("503"), ValueError("bug")])
async def test_a_failed_job_is_recorded_and_not_retried(
    make_queue: MakeQueue, error: Exception
) -> None:
    """Retrying is the fetcher's business (it knows why a request failed), not the queue's."""
    queue = make_queue()
    runs = 0

    async def broken(ctx: JobContext) -> None:
        nonlocal runs
        runs += 1
        raise error

    job = queue.submit(broken)
    with pytest.raises(type(error)):
        await job
    assert runs == 1
    assert job.record.state is JobState.FAILED
    assert job.record.last_error == f"{type(error).__name__}: {error}"


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
    counters = queue.snapshot()["counters"]
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


async def after_everything_queued(queue: JobQueue) -> None:
    """With one worker: return once every job queued so far has had its turn."""
    await queue.submit(recorder([], "last"), priority=Priority.BACKGROUND, label="last")


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
    await after_everything_queued(queue)
    assert order == [] and job.record.state is JobState.CANCELLED


async def test_cancelling_the_awaiting_task_cancels_the_job(make_queue: MakeQueue) -> None:
    queue = make_queue(workers=1)
    started = asyncio.Event()
    interrupted = asyncio.Event()

    async def slow(ctx: JobContext) -> str:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            interrupted.set()
        return "never"

    job = queue.submit(slow)
    await started.wait()

    async def waiter() -> str:
        return await job

    task = asyncio.create_task(waiter())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await interrupted.wait()
    assert job.cancelled() and job.record.state is JobState.CANCELLED
    await after_everything_queued(queue)  # the worker is free again


async def test_cancel_group(make_queue: MakeQueue) -> None:
    queue = make_queue(workers=1)
    blocker = await occupy(queue)
    order: list[str] = []
    job = queue.submit(recorder(order, "g"), supersede="doc:g")
    kept = queue.submit(recorder(order, "h"), supersede="doc:h")
    assert queue.cancel_group("doc:g", reason="closed")
    assert not queue.cancel_group("doc:g") and not queue.cancel_group("missing")
    with pytest.raises(JobCancelled) as info:
        await job
    assert info.value.reason == "closed"
    blocker.gate.set()
    assert await kept == "h"
    assert order == ["h"]


async def test_a_job_cancelled_before_its_first_step_frees_its_worker(
    make_queue: MakeQueue,
) -> None:
    """Found by the property test: the task never entered its coroutine, so only the
    cancellation itself can give the worker back."""
    queue = make_queue(workers=1)
    order: list[str] = []
    job = queue.submit(recorder(order, "never"))
    await asyncio.sleep(0)  # dispatched: its task exists but has not run a step
    assert job.record.state is JobState.RUNNING
    job.cancel()
    assert await queue.submit(recorder(order, "next")) == "next"
    assert order == ["next"] and queue.snapshot()["running"] == 0


async def test_a_cancelled_thread_job_that_had_not_started_never_runs(
    make_queue: MakeQueue,
) -> None:
    queue = make_queue(workers=1)
    ran: list[str] = []
    job = queue.submit(lambda ctx: ran.append("ran"), in_thread=True)
    await asyncio.sleep(0)
    job.cancel()
    await after_everything_queued(queue)
    assert ran == []


async def test_a_thread_job_can_stop_itself_cooperatively(make_queue: MakeQueue) -> None:
    queue = make_queue(workers=1)
    started = threading.Event()
    gate = threading.Event()
    chunks: list[int] = []

    def long_count(ctx: JobContext) -> int:
        for i in range(1000):
            if i == 1:
                started.set()
                gate.wait(timeout=10)
            if ctx.cancelled:
                break
            chunks.append(i)
        return len(chunks)

    job = queue.submit(long_count, in_thread=True)
    await asyncio.to_thread(started.wait, 10)
    job.cancel()
    gate.set()
    await after_everything_queued(queue)
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
    counters = queue.snapshot()["counters"]
    assert (counters["cancelled"], counters["failed"]) == (1, 0)


# -- shutdown ------------------------------------------------------------------------------


async def test_shutdown_refuses_new_jobs_finishes_running_and_cancels_queued(
    make_queue: MakeQueue,
) -> None:
    queue = make_queue(workers=1)
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
    assert queue.snapshot()["closed"] is True
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []
    await queue.shutdown()  # a second call returns at once


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


async def test_shutdown_of_a_queue_that_never_started() -> None:
    queue = JobQueue()
    await queue.shutdown()
    with pytest.raises(QueueClosed):
        queue.submit(recorder([], "x"))


async def test_async_context_manager() -> None:
    async with JobQueue(workers=2) as queue:
        assert await queue.submit(recorder([], "x")) == "x"
    assert queue.snapshot()["closed"] is True


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

    jobs = [queue.submit(timed(0.01 * (i + 1)), label=f"job{i}") for i in range(4)]
    failed = queue.submit(broken, label="broken", priority=Priority.BACKGROUND)
    for job in jobs:
        await job
    with pytest.raises(PermanentError):
        await failed
    snap = queue.snapshot()
    json.dumps(snap)  # JSON-serialisable as the LSP command returns it
    assert set(snap) == {
        "workers", "threads", "queued", "running", "closed", "counters", "waitMs", "runMs", "jobs",
    }  # fmt: skip
    assert snap["workers"] == 1 and snap["queued"] == 0 and snap["running"] == 0
    assert snap["counters"] == {
        "submitted": 5, "done": 4, "failed": 1, "cancelled": 0, "superseded": 0, "queued": 0,
        "running": 0,
    }  # fmt: skip
    # Run times 10, 20, 30, 40, 500 ms; waits grow as each job waits for the ones before it.
    assert snap["runMs"] == {"p50": 30.0, "p95": 500.0, "max": 500.0}
    assert snap["waitMs"] == {"p50": 30.0, "p95": 100.0, "max": 100.0}  # 0,10,30,60,100
    newest = snap["jobs"][0]
    assert newest["label"] == "broken" and newest["state"] == "failed"
    assert newest["lastError"] == "PermanentError: bad" and newest["priority"] == "background"
    assert set(newest) >= {
        "id", "label", "group", "priority", "state", "inThread", "enqueuedAt", "startedAt",
        "endedAt", "lastError", "waitMs", "runMs", "progress", "message",
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
    await after_everything_queued(queue)


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
    await after_everything_queued(queue)
    counters = queue.snapshot()["counters"]
    assert (counters["submitted"], counters["cancelled"], counters["done"]) == (4, 3, 1)


async def test_batch_after_shutdown_returns_queue_closed_per_item(make_queue: MakeQueue) -> None:
    queue = make_queue()
    await queue.shutdown()
    results = await queue.batch([recorder([], "x")] * 2)
    assert [type(r) for r in results] == [QueueClosed, QueueClosed]


async def test_batch_of_nothing(make_queue: MakeQueue) -> None:
    assert await make_queue().batch([]) == []


# -- start order ---------------------------------------------------------------------------


def test_ready_queue_skips_and_sheds_cancelled_items() -> None:
    cancelled: set[int] = set()
    ready: ReadyQueue[int] = ReadyQueue(lambda n: n in cancelled)
    for n in range(200):
        ready.push(n, priority=n % 2, in_thread=False)
    cancelled.update(range(190))
    ready.push(1000, priority=0, in_thread=True)
    assert ready.pop(thread_slot_free=False) == 190
    assert [ready.pop(thread_slot_free=False) for _ in range(4)] == [192, 194, 196, 198]
    assert ready.pop(thread_slot_free=False) == 191  # the thread lane is closed...
    assert ready.pop(thread_slot_free=True) == 1000  # ...and then open: priority 0 goes first
    assert [ready.pop(thread_slot_free=True) for _ in range(5)] == [193, 195, 197, 199, None]


class _Held:
    pass


def _job_holding(queue: JobQueue, in_thread: bool) -> tuple[Job[_Held], list[weakref.ref[_Held]]]:
    """A job whose function holds one object and returns another; weak references to both."""
    held, result = _Held(), _Held()

    def work(ctx: JobContext) -> _Held:
        assert not ctx.cancelled and held is not None
        return result

    async def work_on_loop(ctx: JobContext) -> _Held:
        return work(ctx)

    job = queue.submit(work if in_thread else work_on_loop, in_thread=in_thread)
    return job, [weakref.ref(held), weakref.ref(result)]


@pytest.mark.parametrize("in_thread", [False, True])
async def test_a_finished_job_keeps_nothing_alive_for_the_cyclic_collector(
    make_queue: MakeQueue, in_thread: bool
) -> None:
    """What a job's function holds (a buffer count's snapshot) and its result are freed by
    reference counting once the job is awaited: the server freezes what a keystroke keeps
    instead of collecting it, so a cycle here would keep every keystroke's snapshot."""
    queue = make_queue(workers=1)
    gc.disable()
    try:
        job, probes = _job_holding(queue, in_thread)
        assert isinstance(await job, _Held)
        del job
        await asyncio.sleep(0)
        assert [p() for p in probes] == [None, None]
    finally:
        gc.enable()
