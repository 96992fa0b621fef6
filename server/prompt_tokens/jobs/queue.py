"""Priority job queue: the one place counting work is scheduled, bounded and observed.

Why a queue: a language server gets more requests for work than it should start at once (a
keystroke recounts the document, a batch counts every file). The queue makes the order
explicit (the document in view first), throws away work that a newer version made pointless
(supersede groups), keeps CPU work off the event loop (threads), and records what it did so
``promptTokens.jobs`` and ``prompt-tokens count --stats`` can show it.

Semantics in one place:

* **Priority** — a free worker always takes the queued job with the lowest ``Priority`` value;
  within one level, first submitted first started. At most ``workers`` jobs run at a time, and
  at most ``threads`` of them are ``in_thread`` jobs (see ``default_threads``); a thread job
  waiting for a thread slot does not hold back async jobs queued behind it. Dispatch happens
  on the next loop iteration after a submit, so a burst of submits made in one synchronous
  stretch is ordered by priority, not by who came first.
* **Supersede** — ``submit(..., supersede=g)`` cancels the live job of group ``g`` (queued or
  running) before queueing the new one. Its handle raises :class:`Superseded`; its result is
  never delivered, even if a thread finishes it later.
* **Cancellation** — ``await job`` raises :class:`JobCancelled` when the job was cancelled
  (supersede, ``cancel_group``, shutdown, ``job.cancel()``); cancelling the task that awaits
  the handle cancels the job too. A job function may raise :class:`JobCancelled` itself; the
  job then ends ``cancelled``, not ``failed``. A failed job is not retried: the reference
  fetcher retries what may succeed later, where it knows why it failed.
* **Threads** — ``in_thread=True`` runs a sync ``fn(ctx)`` on the queue's own thread pool, so
  tokenizing never blocks the event loop. A thread cannot be interrupted: cancelling such a
  job settles its handle at once and sets ``ctx.cancelled``, and the worker slot stays taken
  until the function returns, which keeps the number of busy threads bounded.
* **Batches, status, shutdown** — see :meth:`JobQueue.batch`, :meth:`JobQueue.snapshot` (the
  JSON of ``promptTokens.jobs``) and :meth:`JobQueue.shutdown`.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, TypeVar, overload

from prompt_tokens.jobs.batch import run_batch
from prompt_tokens.jobs.handles import Execution, Job, JobContext, settle
from prompt_tokens.jobs.progress import ProgressHook, ProgressRelay
from prompt_tokens.jobs.ready import ReadyQueue
from prompt_tokens.jobs.records import (
    JobCancelled,
    JobRecord,
    JobState,
    Priority,
    QueueClosed,
    Superseded,
    describe,
)
from prompt_tokens.jobs.status import JobStats
from prompt_tokens.jobs.threads import DEFAULT_THREAD_NICE, default_threads, job_executor
from prompt_tokens.tasks import supervise

# What the front ends import from here (the types live in records/handles).
__all__ = ["JobCancelled", "JobContext", "JobQueue", "Priority", "QueueClosed"]

log = logging.getLogger(__name__)

T = TypeVar("T")

SHUTDOWN_GRACE_S = 1.0
"""After cancelling, how long shutdown waits for tasks to unwind before logging them as stuck."""


class JobQueue:
    """Bounded, prioritised, observable asyncio job queue (see the module docstring).

    Built without a running loop (front ends construct it early); binds to the loop on the
    first ``submit``. ``clock`` is injectable so tests can check the recorded timings.
    """

    def __init__(
        self,
        workers: int = 4,
        *,
        threads: int | None = None,
        thread_nice: int = DEFAULT_THREAD_NICE,
        on_progress: ProgressHook | None = None,
        history: int = 200,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        if threads is not None and threads < 1:
            raise ValueError("threads must be at least 1")
        self.workers = workers
        self.threads = min(workers, threads if threads is not None else default_threads())
        """How many ``in_thread`` jobs may run at once (they also take a worker each)."""
        self.thread_nice = thread_nice
        self._progress = ProgressRelay(on_progress)
        self._clock = clock
        self._ids = itertools.count(1)
        self._ready: ReadyQueue[Execution] = ReadyQueue(lambda e: e.finished)
        self._live: dict[int, Execution] = {}
        self._by_group: dict[str, Execution] = {}
        self._running: set[Execution] = set()
        self._threads_busy = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stats = JobStats(history)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._dispatch_handle: asyncio.Handle | None = None
        self._closing = False
        self._closed = asyncio.Event()

    async def __aenter__(self) -> JobQueue:
        self._bind()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.shutdown()

    def _bind(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            if self._loop is not None and not self._loop.is_closed():
                raise RuntimeError("JobQueue is already running on another event loop")
            self._loop = loop
            self._progress.bind(loop)
        return loop

    # -- submitting and cancelling -----------------------------------------------------------

    @overload
    def submit(
        self,
        fn: Callable[[JobContext], Awaitable[T]],
        *,
        priority: Priority = Priority.BACKGROUND,
        supersede: str | None = None,
        label: str = "",
        in_thread: Literal[False] = False,
    ) -> Job[T]: ...

    @overload
    def submit(
        self,
        fn: Callable[[JobContext], T],
        *,
        priority: Priority = Priority.BACKGROUND,
        supersede: str | None = None,
        label: str = "",
        in_thread: Literal[True],
    ) -> Job[T]: ...

    @overload
    def submit(
        self,
        fn: Callable[[JobContext], Any],
        *,
        priority: Priority = Priority.BACKGROUND,
        supersede: str | None = None,
        label: str = "",
        in_thread: bool,
    ) -> Job[Any]: ...

    def submit(
        self,
        fn: Callable[[JobContext], Any],
        *,
        priority: Priority = Priority.BACKGROUND,
        supersede: str | None = None,
        label: str = "",
        in_thread: bool = False,
    ) -> Job[Any]:
        """Queue ``fn(ctx)`` and return its handle; must be called on the queue's event loop.

        ``fn`` is ``async def fn(ctx)``, or with ``in_thread=True`` a plain ``def fn(ctx)`` run
        on the queue's threads. ``supersede=g`` first cancels the live job of group ``g``.
        """
        if self._closing:
            raise QueueClosed("the job queue is shutting down and accepts no new jobs")
        loop = self._bind()
        if in_thread and inspect.iscoroutinefunction(fn):
            raise TypeError("in_thread=True needs a plain function; got a coroutine function")
        priority = Priority(priority)
        if supersede is not None and (old := self._by_group.get(supersede)) is not None:
            self._finish(old, JobState.CANCELLED, None, Superseded(f"superseded in {supersede}"))
        record = JobRecord(
            id=next(self._ids),
            label=label or str(getattr(fn, "__qualname__", "job")),
            priority=priority,
            group=supersede,
            in_thread=in_thread,
            enqueued_at=self._clock(),
        )
        execution = Execution(record, fn, loop.create_future())
        self._live[record.id] = execution
        if supersede is not None:
            self._by_group[supersede] = execution
        self._stats.submitted()
        self._ready.push(execution, priority, in_thread=in_thread)
        self._schedule_dispatch()
        log.debug("queued job %d %s (%s)", record.id, record.label, priority.name)
        return Job(execution, self._cancel)

    def cancel_group(self, group: str, reason: str = "cancelled") -> bool:
        """Cancel the live job of a supersede group (e.g. its document closed). False if none."""
        execution = self._by_group.get(group)
        return execution is not None and self._cancel(
            execution, JobCancelled(f"job {reason}", reason=reason)
        )

    def _cancel(self, execution: Execution, exc: JobCancelled) -> bool:
        return self._finish(execution, JobState.CANCELLED, None, exc)

    # -- running ---------------------------------------------------------------------------

    def _schedule_dispatch(self) -> None:
        loop = self._loop
        if self._dispatch_handle is None and loop is not None and not loop.is_closed():
            self._dispatch_handle = loop.call_soon(self._dispatch)

    def _dispatch(self) -> None:
        self._dispatch_handle = None
        while not self._closing and len(self._running) < self.workers:
            execution = self._ready.pop(thread_slot_free=self._threads_busy < self.threads)
            if execution is None:
                return
            self._start(execution)

    def _start(self, execution: Execution) -> None:
        assert self._loop is not None
        record = execution.record
        record.state = JobState.RUNNING
        record.started_at = self._clock()
        self._stats.started(record)
        self._running.add(execution)
        if execution.in_thread:
            self._threads_busy += 1
        execution.task = self._loop.create_task(self._run(execution), name=f"pt-job-{record.id}")
        supervise(execution.task, self._tasks, what="job task")

    def _release(self, execution: Execution) -> None:
        """Free the worker (and thread) slot of ``execution``; idempotent."""
        if execution in self._running:
            self._running.discard(execution)
            if execution.in_thread:
                self._threads_busy -= 1
            self._schedule_dispatch()

    async def _run(self, execution: Execution) -> None:
        """Run the job once. Never raises for the job's own errors: a failing job frees its worker."""
        execution.began = True
        if execution.finished:  # cancelled between dispatch and this first step
            self._release(execution)
            return
        started = self._clock()
        try:
            try:
                result = await self._call(execution)
            finally:
                execution.record.run_s += self._clock() - started
                # Free the slot before settling the handle, so a waiter that wakes up sees the
                # worker as free (and the next job is dispatched without an extra loop turn).
                self._release(execution)
        except asyncio.CancelledError:
            self._finish(execution, JobState.CANCELLED, None, JobCancelled("job task cancelled"))
            raise
        except JobCancelled as exc:  # the job gave up by itself
            self._finish(execution, JobState.CANCELLED, None, exc)
        except Exception as exc:
            self._finish(execution, JobState.FAILED, None, exc)
        except BaseException as exc:  # KeyboardInterrupt/SystemExit: settle the waiter, then go
            self._finish(execution, JobState.FAILED, None, exc)
            raise
        else:
            self._finish(execution, JobState.DONE, result, None)

    async def _call(self, execution: Execution) -> Any:
        assert self._loop is not None
        # made here, not kept on the execution: it points back at it, and that cycle would
        # keep the job's function (a buffer count's snapshot) and result alive until the
        # cyclic collector ran
        ctx = JobContext(execution, self._progress.report)
        if execution.in_thread:
            if self._executor is None:
                self._executor = job_executor(self.threads, self.thread_nice)
            run = contextvars.copy_context().run
            return await self._loop.run_in_executor(self._executor, run, execution.fn, ctx)
        awaitable = execution.fn(ctx)
        if not inspect.isawaitable(awaitable):
            raise TypeError(
                f"job {execution.record.label!r} returned {type(awaitable).__name__}, not an "
                "awaitable; pass in_thread=True for plain functions"
            )
        return await awaitable

    def _finish(
        self, execution: Execution, state: JobState, result: object, exc: BaseException | None
    ) -> bool:
        """Settle the handle exactly once and move the record to history. False if settled."""
        if execution.finished:
            return False
        execution.finished = True
        record = execution.record
        record.state = state
        record.ended_at = self._clock()
        if exc is not None:
            record.last_error = describe(exc)
        if record.group is not None and self._by_group.get(record.group) is execution:
            del self._by_group[record.group]
        self._live.pop(record.id, None)
        self._stats.ended(record, superseded=isinstance(exc, Superseded))
        settle(execution.future, result, exc)
        if state is JobState.CANCELLED:
            self._stop(execution)
        if state is JobState.FAILED:
            # The awaiting caller reports the error to the user; the queue only records it.
            log.info("job %d %s failed: %s", record.id, record.label, record.last_error)
        else:
            log.debug("job %d %s %s", record.id, record.label, state.value)
        return True

    def _stop(self, execution: Execution) -> None:
        """Stop a cancelled job's work where that is possible.

        An async job's task is cancelled; one that has not entered its coroutine yet never
        will, so its slot is freed here. A thread cannot be interrupted: it sees
        ``ctx.cancelled`` and keeps its slot until it returns.
        """
        task = execution.task
        if task is None or execution.in_thread or task is asyncio.current_task():
            return
        task.cancel()
        if not execution.began:
            self._release(execution)

    async def batch(
        self,
        fns: Iterable[Callable[[JobContext], Any]],
        *,
        priority: Priority = Priority.BACKGROUND,
        label: str = "batch",
        in_thread: bool = False,
        limit: int | None = None,
    ) -> list[Any]:
        """Run many jobs, return their outcomes in order (see :func:`run_batch`)."""
        return await run_batch(
            self.submit, fns, priority=priority, label=label, in_thread=in_thread, limit=limit
        )

    def snapshot(self, limit: int | None = 50) -> dict[str, Any]:
        """JSON-serialisable status: what ``promptTokens.jobs`` and ``--stats`` show.

        ``jobs``: running, then queued (most urgent first), then ended ones, newest first
        (``limit`` of them). See :meth:`JobStats.snapshot` for the figures.
        """
        live = sorted(
            self._live.values(),
            key=lambda e: (e.record.state is not JobState.RUNNING, e.record.priority, e.record.id),
        )
        snap = self._stats.snapshot([e.record for e in live], len(self._running), limit)
        return {"workers": self.workers, "threads": self.threads, "closed": self._closing, **snap}

    # -- shutdown ----------------------------------------------------------------------------

    async def shutdown(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109 - one budget for several waits
        """Stop accepting jobs and end every job within ``timeout`` seconds.

        Jobs that have not started are cancelled at once (:class:`JobCancelled`, reason
        ``"shutdown"``); running ones get ``timeout`` seconds to finish, then are cancelled
        too. Every task the queue created has ended before this returns; a thread still
        computing cannot be stopped and is abandoned (its result is dropped). Calling it again
        waits for the first call.
        """
        if self._closing:
            await self._closed.wait()
            return
        self._closing = True
        try:
            if self._loop is not None:
                await self._stop_jobs(timeout)
        finally:
            self._closed.set()

    async def _stop_jobs(self, budget_s: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, budget_s)
        for execution in list(self._live.values()):
            if execution not in self._running:
                self._cancel(execution, JobCancelled("job queue shut down", reason="shutdown"))
        running = [e.task for e in self._running if e.task is not None]
        if running:
            await asyncio.wait(running, timeout=max(0.0, deadline - loop.time()))
        for execution in list(self._live.values()):
            self._cancel(
                execution,
                JobCancelled("job did not finish before the queue shut down", reason="shutdown"),
            )
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()  # thread jobs' tasks: cancelling the job did not cancel them
        if tasks:
            _, stuck = await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE_S)
            for task in stuck:
                log.error("job task %s ignored cancellation at shutdown", task.get_name())
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
