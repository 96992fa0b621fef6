"""Priority job queue: the one place background work is scheduled, retried and observed.

Why one queue: a language server gets far more requests for work than it can start at once (a
keystroke recounts the document, ten open documents share one URL, a workspace scan wants
every file). The queue makes the order explicit (the document in view first), does shared work
once (coalescing by ``key``), throws away work that a newer version made pointless (supersede
groups), retries only what may succeed later (``errors.is_transient``), and records what it did
so ``promptTokens.jobs`` and ``prompt-tokens count --stats`` can show it.

Semantics in one place:

* **Priority** — a free worker always takes the queued job with the lowest ``Priority`` value;
  within one level, first submitted first started. At most ``workers`` jobs run at a time, and
  at most ``threads`` of them are ``in_thread`` jobs (see ``default_threads``); a thread job
  waiting for a thread slot does not hold back async jobs queued behind it.
  Dispatch happens on the next loop iteration after a submit, so a burst of submits made in one
  synchronous stretch is ordered by priority, not by who came first.
* **Coalescing** — ``submit(..., key=k)`` while a job with key ``k`` is queued, running or
  waiting to retry returns a new handle joined to that execution: one run, every handle gets
  the same result or error. A more urgent submit promotes the queued job (it joins the back of
  its new level: the urgent demand arrived now).
  The joined job keeps its supersede group; the new submit's ``supersede`` is ignored.
* **Supersede** — ``submit(..., supersede=g)`` cancels the live job of group ``g`` (queued,
  retrying or running) before queueing the new one. Handles of the old job raise
  :class:`Superseded` (a :class:`JobCancelled`); its result is never delivered, even if a
  thread finishes it later.
* **Cancellation** — ``await job`` raises :class:`JobCancelled` when the job was cancelled by
  the queue (supersede, ``cancel``, shutdown) or by ``job.cancel()``. It is deliberately *not*
  ``asyncio.CancelledError``: that exception means "the task awaiting me was cancelled", and
  raising it for someone else's decision would unwind the awaiting task as if it had been
  cancelled itself (TaskGroup and ``asyncio.timeout`` rely on that distinction). Cancelling the
  task that awaits a handle (or ``job.cancel()``) detaches that one waiter; the execution is
  cancelled only when no waiter is left, so one closed document cannot cancel a fetch that nine
  others still wait for. A job function may raise :class:`JobCancelled` itself (e.g. through
  ``ctx.raise_if_cancelled()``); the job then ends ``cancelled``, not ``failed``.
* **Retries** — an exception with ``is_transient(exc)`` is retried up to ``max_attempts`` runs
  in total, after ``min(max_delay, base_delay * 2**retry) * rng()`` seconds (exponential
  backoff, full jitter, ``retry`` counting from 0). A ``retry_after`` on the exception is
  obeyed exactly (the server chose it; jitter would only make it wrong); one longer than
  ``max_delay`` fails the job at once rather than hold a count for longer than the queue's
  longest backoff. A job waiting to retry frees its worker. Anything else fails at once.
* **Threads** — ``in_thread=True`` runs a sync ``fn(ctx)`` on the queue's own thread pool
  (``threads`` threads), so CPU work (tokenizing) never blocks the event loop. A thread cannot
  be interrupted: cancelling such a job settles its handles at once and sets
  ``ctx.cancelled``, and the worker slot stays taken until the function returns, which keeps
  the number of busy threads bounded. On Linux those threads run ``thread_nice`` steps nicer
  than the loop, so a waking event loop gets a core at once instead of a time slice.
* **Batches** — ``batch(fns)`` runs many jobs with an optional in-flight ``limit`` and returns
  results in order, each item's exception in its slot; ``map(func, items, chunk_size=n)`` runs
  a plain function over items on threads, ``n`` items per thread hop.
* **Status** — every execution has a :class:`JobRecord`; ``snapshot()`` is the JSON the
  ``promptTokens.jobs`` command returns (gauges, counters, wait/run percentiles, recent jobs).
* **Shutdown** — ``shutdown()`` refuses new submits (:class:`QueueClosed`), cancels jobs that
  have not started, gives running ones ``timeout`` seconds, cancels the rest, waits for every
  task it created and then runs the ``on_shutdown`` callbacks (flush the cache writer).
  No retry is scheduled once shutdown has begun.
"""

from __future__ import annotations

import asyncio
import contextvars
import enum
import functools
import heapq
import inspect
import itertools
import logging
import math
import os
import random
import sys
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, Literal, TypeVar, overload

import attrs

from prompt_tokens.errors import is_transient

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")
ItemT = TypeVar("ItemT")

ProgressHook = Callable[["JobRecord", "float | None", str], None]
"""``on_progress(record, fraction, message)``: called on the event loop thread."""

ShutdownHook = Callable[[], "Awaitable[object] | object"]
"""``on_shutdown()``: sync or async; runs once after every job has ended (e.g. flush the cache)."""

DEFAULT_THREAD_NICE = 10
"""Nice increment of ``in_thread`` job threads on Linux (see ``_lower_thread_priority``); 0 = off."""


def default_threads() -> int:
    """Half the cores, at least one: a counting job keeps about two cores busy.

    ``count_stream`` encodes on two threads of its own, so more concurrent thread jobs than
    this only adds threads that take turns on the same cores, and every extra runnable thread
    is one more the event loop has to wait behind when it wakes (measured with
    ``benchmarks/bench_loop.py`` on a shared 2-core VM: 4 concurrent counting jobs gave a
    loop-delay p95 of 6.8-10 ms, 1 job gave 0.4-3.4 ms, at about the same MB/s).
    """
    return max(1, (os.cpu_count() or 2) // 2)


SHUTDOWN_GRACE_S = 1.0
"""After cancelling, how long shutdown waits for tasks to unwind before logging them as stuck."""


class Priority(enum.IntEnum):
    """Lower value starts first."""

    ACTIVE = 0
    """The document in view: its count is what the user is looking at."""
    OPEN = 1
    """Other open documents."""
    REFERENCE = 2
    """Resolving referenced files and URLs."""
    BACKGROUND = 3
    """Prefetch, workspace scans, cache maintenance."""


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    """Failed transiently; waiting for its backoff delay or for a worker to retry it."""
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class JobCancelled(Exception):
    """``await job`` raises this when the job will never deliver a result.

    ``reason`` says why: ``"cancelled"`` (``job.cancel()``/``queue.cancel()``),
    ``"superseded"``, ``"shutdown"``.
    """

    def __init__(self, message: str = "job cancelled", *, reason: str = "cancelled") -> None:
        super().__init__(message)
        self.reason = reason


class Superseded(JobCancelled):
    """A newer job of the same supersede group replaced this one."""

    def __init__(self, message: str = "job superseded by a newer one") -> None:
        super().__init__(message, reason="superseded")


class QueueClosed(RuntimeError):
    """``submit`` after ``shutdown`` began: the server is going away, nothing new may start."""


@attrs.define(eq=False)
class JobRecord:
    """What the queue knows about one execution; shared by every handle joined to it.

    Times are ``clock()`` readings (monotonic seconds). ``started_at`` is the first attempt's
    start, so ``started_at - enqueued_at`` is the time the job waited for a worker;
    ``run_s`` adds up the attempts' run times (backoff delays excluded).
    """

    id: int
    key: str | None
    label: str
    priority: Priority
    group: str | None = None
    in_thread: bool = False
    state: JobState = JobState.QUEUED
    attempts: int = 0
    enqueued_at: float = 0.0
    started_at: float | None = None
    ended_at: float | None = None
    last_error: str = ""
    waiters: int = 1
    run_s: float = 0.0
    progress: float | None = None
    message: str = ""

    @property
    def wait_s(self) -> float | None:
        return None if self.started_at is None else self.started_at - self.enqueued_at

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, camelCase (the shape clients of ``promptTokens.jobs`` read)."""
        wait = self.wait_s
        return {
            "id": self.id,
            "key": self.key,
            "label": self.label,
            "group": self.group,
            "priority": self.priority.name.lower(),
            "state": self.state.value,
            "inThread": self.in_thread,
            "attempts": self.attempts,
            "waiters": self.waiters,
            "enqueuedAt": self.enqueued_at,
            "startedAt": self.started_at,
            "endedAt": self.ended_at,
            "waitMs": None if wait is None else round(wait * 1000, 3),
            "runMs": round(self.run_s * 1000, 3),
            "lastError": self.last_error,
            "progress": self.progress,
            "message": self.message,
        }


class JobContext:
    """Handed to the job function: which attempt this is, progress, cooperative cancellation.

    Safe to use from the job's thread when ``in_thread=True``.
    """

    __slots__ = ("_entry", "_queue")

    def __init__(self, queue: JobQueue, entry: _Entry) -> None:
        self._queue = queue
        self._entry = entry

    @property
    def job_id(self) -> int:
        return self._entry.record.id

    @property
    def key(self) -> str | None:
        return self._entry.record.key

    @property
    def label(self) -> str:
        return self._entry.record.label

    @property
    def attempt(self) -> int:
        """1 on the first run, 2 on the first retry, ..."""
        return self._entry.record.attempts

    @property
    def cancelled(self) -> bool:
        """True once nobody will read the result: long thread jobs should check it and return."""
        return self._entry.finished

    def raise_if_cancelled(self) -> None:
        if self._entry.finished:
            raise JobCancelled("job cancelled while running")

    def report(self, fraction: float | None, message: str = "") -> None:
        """Record progress (``fraction`` in 0..1, or None when unknown) and tell ``on_progress``."""
        self._queue._report(self._entry, fraction, message)


class _Entry:
    """One execution: the function, its record and every handle waiting for it."""

    __slots__ = (
        "attempt_started",
        "ctx",
        "finished",
        "fn",
        "handles",
        "heap_pos",
        "in_thread",
        "record",
        "seq",
        "task",
        "timer",
    )

    def __init__(self, record: JobRecord, fn: Callable[[JobContext], Any], in_thread: bool) -> None:
        self.record = record
        self.fn = fn
        self.in_thread = in_thread
        self.handles: list[Job[Any]] = []
        self.task: asyncio.Task[None] | None = None
        self.timer: asyncio.Task[None] | None = None
        self.heap_pos: tuple[int, int] | None = None
        self.seq = 0
        self.finished = False
        self.attempt_started = 0.0
        self.ctx: JobContext | None = None


class Job(Generic[T]):
    """Handle for one waiter on an execution. ``await job`` gives the result or raises.

    Create one handle per waiter (submit again with the same ``key`` for another): cancelling a
    task that awaits the handle detaches the handle.
    """

    __slots__ = ("_entry", "_future", "_queue", "coalesced")

    def __init__(
        self, queue: JobQueue, entry: _Entry, future: asyncio.Future[T], coalesced: bool
    ) -> None:
        self._queue = queue
        self._entry = entry
        self._future = future
        self.coalesced = coalesced
        """True when this submit joined an execution that already existed."""
        future.add_done_callback(self._on_future_done)

    @property
    def id(self) -> int:
        return self._entry.record.id

    @property
    def key(self) -> str | None:
        return self._entry.record.key

    @property
    def record(self) -> JobRecord:
        return self._entry.record

    def done(self) -> bool:
        return self._future.done()

    def cancelled(self) -> bool:
        """True when this handle ended without a result because of a cancellation."""
        if not self._future.done():
            return False
        return self._future.cancelled() or isinstance(self._future.exception(), JobCancelled)

    def result(self) -> T:
        """The result now; raises the job's error, or ``asyncio.InvalidStateError`` if pending."""
        return self._future.result()

    def exception(self) -> BaseException | None:
        if self._future.cancelled():
            return JobCancelled("the task awaiting this job was cancelled")
        return self._future.exception()

    def cancel(self, reason: str = "cancelled") -> bool:
        """Detach this waiter (it raises :class:`JobCancelled`); the run stops if it was the last."""
        if self._future.done():
            return False
        _settle(self._future, None, JobCancelled(f"job {reason}", reason=reason))
        self._queue._detach(self)
        return True

    def __await__(self) -> Generator[Any, None, T]:
        return self._future.__await__()

    def __repr__(self) -> str:
        r = self.record
        return f"<Job {r.id} {r.label or r.key or ''} {r.state.value}>"

    def _on_future_done(self, fut: asyncio.Future[T]) -> None:
        if fut.cancelled():
            self._queue._detach(self)


def _settle(fut: asyncio.Future[Any], value: object, exc: BaseException | None) -> None:
    if fut.done():
        return
    if exc is None:
        fut.set_result(value)
    else:
        fut.set_exception(exc)
        # The queue logs failures itself; an unawaited fire-and-forget handle must not add
        # asyncio's "Future exception was never retrieved" noise.
        fut.exception()


def _lower_thread_priority(nice: int) -> None:
    """Add ``nice`` to this job thread's nice value (threads it starts inherit it).

    Why: tokenizing keeps every core busy, and a thread at the same priority as the event
    loop makes the loop wait for a time slice each time a timer or a message wakes it. At a
    higher nice value the kernel hands the waking loop thread a core at once. Not more than
    that (no ``SCHED_IDLE``): a starved thread holding the GIL would stall the loop instead.
    Linux only: elsewhere the call would renice the whole process, loop included.
    """
    if nice <= 0 or not sys.platform.startswith("linux"):
        return
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except OSError as exc:  # sandboxes may refuse; the job still runs
        log.debug("could not lower job thread priority: %s", exc)


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile: always a value that was observed."""
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def _summary_ms(samples: Iterable[float]) -> dict[str, float | None]:
    values = sorted(samples)
    if not values:
        return {"p50": None, "p95": None, "max": None}
    return {
        "p50": round(_percentile(values, 50) * 1000, 3),
        "p95": round(_percentile(values, 95) * 1000, 3),
        "max": round(values[-1] * 1000, 3),
    }


_PENDING: Any = object()


def _notify(done: asyncio.Queue[int], index: int, _fut: asyncio.Future[Any]) -> None:
    done.put_nowait(index)


class JobQueue:
    """Bounded, prioritised, observable asyncio job queue (see the module docstring).

    Built without a running loop (front ends construct it early); binds to the loop on
    ``start()`` or on the first ``submit``. ``clock``, ``sleep`` and ``rng`` are injectable so
    tests can check backoff delays without waiting for them.
    """

    def __init__(
        self,
        workers: int = 4,
        *,
        max_attempts: int = 4,
        base_delay: float = 0.2,
        max_delay: float = 10.0,
        history: int = 200,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
        on_progress: ProgressHook | None = None,
        on_shutdown: Iterable[ShutdownHook] = (),
        threads: int | None = None,
        thread_nice: int = DEFAULT_THREAD_NICE,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if threads is not None and threads < 1:
            raise ValueError("threads must be at least 1")
        self.workers = workers
        self.threads = min(workers, threads if threads is not None else default_threads())
        """How many ``in_thread`` jobs may run at once (they also take a worker each)."""
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._clock = clock
        self._sleep = sleep
        self._rng = rng
        self._on_progress = on_progress
        self._on_shutdown: list[ShutdownHook] = list(on_shutdown)
        self.thread_nice = thread_nice

        self._ids = itertools.count(1)
        self._seqs = itertools.count()
        # Two heaps, so a free worker never scans past thread jobs that wait for a thread
        # slot to find an async job: it compares the two tops.
        self._heaps: dict[bool, list[tuple[int, int, _Entry]]] = {False: [], True: []}
        self._waiting: set[_Entry] = set()
        self._running: set[_Entry] = set()
        self._threads_busy = 0
        self._live: dict[int, _Entry] = {}
        self._by_key: dict[str, _Entry] = {}
        self._by_group: dict[str, _Entry] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._history: deque[JobRecord] = deque(maxlen=max(0, history))
        self._wait_samples: deque[float] = deque(maxlen=max(1, history))
        self._run_samples: deque[float] = deque(maxlen=max(1, history))
        self._counters: dict[str, int] = dict.fromkeys(
            (
                "submitted",
                "coalesced",
                "promoted",
                "done",
                "failed",
                "retried",
                "cancelled",
                "superseded",
            ),
            0,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._dispatch_handle: asyncio.Handle | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self._closing = False
        self._draining = False
        self._closed = asyncio.Event()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Bind to the running loop and start dispatching. Idempotent."""
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        if self._loop is not None and not self._loop.is_closed():
            raise RuntimeError("JobQueue is already running on another event loop")
        self._loop = loop
        self._loop_thread = threading.get_ident()
        self._schedule_dispatch()

    @property
    def closed(self) -> bool:
        """True once ``shutdown`` began: ``submit`` raises :class:`QueueClosed`."""
        return self._closing

    def add_shutdown_callback(self, callback: ShutdownHook) -> None:
        self._on_shutdown.append(callback)

    async def __aenter__(self) -> JobQueue:
        self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.shutdown()

    async def shutdown(
        self,
        timeout: float = 5.0,  # noqa: ASYNC109 - a budget shared by several waits, not one await
        *,
        drain: bool = False,
    ) -> None:
        """Stop accepting jobs, end every job within ``timeout`` seconds, run ``on_shutdown``.

        Without ``drain``, jobs that have not started (queued or waiting to retry) are
        cancelled at once and running ones get ``timeout`` seconds to finish; with ``drain``,
        queued jobs may also start within that time. Whatever is left is cancelled
        (:class:`JobCancelled`, reason ``"shutdown"``) and every task the queue created has
        ended before this returns. A thread that is still computing cannot be stopped; it is
        abandoned (its result is dropped). Calling it again waits for the first call.
        """
        if self._closing:
            await self._closed.wait()
            return
        self._closing = True
        self._draining = drain
        try:
            if self._loop is not None:
                await self._stop_jobs(timeout, drain)
            await self._run_shutdown_hooks()
        finally:
            self._closed.set()

    async def _stop_jobs(self, budget_s: float, drain: bool) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, budget_s)
        if drain and not self._idle.is_set():
            try:
                await asyncio.wait_for(self._idle.wait(), max(0.0, budget_s))
            except TimeoutError:
                pass
        self._draining = False
        for entry in list(self._live.values()):
            if entry not in self._running:
                self._cancel_entry(entry, JobCancelled("job queue shut down", reason="shutdown"))
        running = [e.task for e in self._running if e.task is not None]
        if running:
            await asyncio.wait(running, timeout=max(0.0, deadline - loop.time()))
        for entry in list(self._live.values()):
            self._cancel_entry(
                entry,
                JobCancelled("job did not finish before the queue shut down", reason="shutdown"),
            )
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()  # in-thread runners and retry timers are not cancelled by _finish
        if tasks:
            _, stuck = await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE_S)
            for task in stuck:
                log.error("job task %s ignored cancellation at shutdown", task.get_name())
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    async def _run_shutdown_hooks(self) -> None:
        for hook in self._on_shutdown:
            try:
                out = hook()
                if inspect.isawaitable(out):
                    await out
            except Exception:
                log.exception("shutdown callback %r failed", hook)

    async def join(self) -> None:
        """Wait until no job is queued, running or waiting to retry."""
        await self._idle.wait()

    # -- submitting ------------------------------------------------------------------------

    @overload
    def submit(
        self,
        fn: Callable[[JobContext], Awaitable[T]],
        *,
        key: str | None = None,
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
        key: str | None = None,
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
        key: str | None = None,
        priority: Priority = Priority.BACKGROUND,
        supersede: str | None = None,
        label: str = "",
        in_thread: bool,
    ) -> Job[Any]: ...

    def submit(
        self,
        fn: Callable[[JobContext], Any],
        *,
        key: str | None = None,
        priority: Priority = Priority.BACKGROUND,
        supersede: str | None = None,
        label: str = "",
        in_thread: bool = False,
    ) -> Job[Any]:
        """Queue ``fn(ctx)`` and return a handle; must be called on the queue's event loop.

        ``fn`` is ``async def fn(ctx)``, or with ``in_thread=True`` a plain ``def fn(ctx)`` run
        on the queue's thread pool. See the module docstring for ``key`` (coalescing) and
        ``supersede`` (cancel the group's older job).
        """
        if self._closing:
            raise QueueClosed("the job queue is shutting down and accepts no new jobs")
        self.start()
        if in_thread and inspect.iscoroutinefunction(fn):
            raise TypeError("in_thread=True needs a plain function; got a coroutine function")
        priority = Priority(priority)
        self._counters["submitted"] += 1

        if key is not None:
            joined = self._by_key.get(key)
            if joined is not None:
                self._counters["coalesced"] += 1
                if priority < joined.record.priority:
                    self._promote(joined, priority)
                return self._new_handle(joined, coalesced=True)

        if supersede is not None:
            old = self._by_group.get(supersede)
            if old is not None:
                self._cancel_entry(old, Superseded(f"superseded by a newer job in {supersede}"))

        record = JobRecord(
            id=next(self._ids),
            key=key,
            label=label or key or str(getattr(fn, "__qualname__", "job")),
            priority=priority,
            group=supersede,
            in_thread=in_thread,
            enqueued_at=self._clock(),
        )
        entry = _Entry(record, fn, in_thread)
        entry.ctx = JobContext(self, entry)
        self._live[record.id] = entry
        if key is not None:
            self._by_key[key] = entry
        if supersede is not None:
            self._by_group[supersede] = entry
        handle = self._new_handle(entry, coalesced=False)
        entry.seq = next(self._seqs)
        self._push(entry)
        self._idle.clear()
        self._schedule_dispatch()
        log.debug("queued job %d %s (%s)", record.id, record.label, priority.name)
        return handle

    def _new_handle(self, entry: _Entry, *, coalesced: bool) -> Job[Any]:
        assert self._loop is not None
        handle: Job[Any] = Job(self, entry, self._loop.create_future(), coalesced)
        entry.handles.append(handle)
        entry.record.waiters = len(entry.handles)
        return handle

    def _promote(self, entry: _Entry, priority: Priority) -> None:
        self._counters["promoted"] += 1
        entry.record.priority = priority
        if entry in self._waiting:
            entry.seq = next(self._seqs)
            self._push(entry)

    def _push(self, entry: _Entry) -> None:
        pos = (int(entry.record.priority), entry.seq)
        entry.heap_pos = pos
        heap = self._heaps[entry.in_thread]
        heapq.heappush(heap, (pos[0], pos[1], entry))
        self._waiting.add(entry)
        if len(heap) > 64 and len(heap) > 4 * len(self._waiting):
            # Cancelled and promoted jobs leave stale heap items behind; drop them in bulk.
            heap[:] = [item for item in heap if item[2].heap_pos == item[:2]]
            heapq.heapify(heap)

    def _top(self, in_thread: bool) -> tuple[int, int, _Entry] | None:
        """The most urgent live item of one heap, dropping stale ones on the way."""
        heap = self._heaps[in_thread]
        while heap:
            item = heap[0]
            if not item[2].finished and item[2].heap_pos == item[:2]:
                return item
            heapq.heappop(heap)  # stale: cancelled or promoted after it was pushed
        return None

    # -- cancelling ------------------------------------------------------------------------

    def cancel(self, key: str, reason: str = "cancelled") -> bool:
        """Cancel the live job with this key for every waiter. False if there was none."""
        entry = self._by_key.get(key)
        return entry is not None and self._cancel_entry(
            entry, JobCancelled(f"job {reason}", reason=reason)
        )

    def cancel_group(self, group: str, reason: str = "cancelled") -> bool:
        """Cancel the live job of a supersede group (e.g. when its document closes)."""
        entry = self._by_group.get(group)
        return entry is not None and self._cancel_entry(
            entry, JobCancelled(f"job {reason}", reason=reason)
        )

    def cancel_all(self, reason: str = "cancelled") -> int:
        entries = list(self._live.values())
        for entry in entries:
            self._cancel_entry(entry, JobCancelled(f"job {reason}", reason=reason))
        return len(entries)

    def _detach(self, handle: Job[Any]) -> None:
        entry = handle._entry
        if entry.finished:
            return
        if handle in entry.handles:
            entry.handles.remove(handle)
            entry.record.waiters = len(entry.handles)
        if not entry.handles:
            self._cancel_entry(entry, JobCancelled("every waiter cancelled", reason="cancelled"))

    def _cancel_entry(self, entry: _Entry, exc: JobCancelled) -> bool:
        if entry.finished:
            return False
        if isinstance(exc, Superseded):
            self._counters["superseded"] += 1
        self._finish(entry, JobState.CANCELLED, None, exc)
        return True

    # -- running ---------------------------------------------------------------------------

    def _schedule_dispatch(self) -> None:
        if self._dispatch_handle is None and self._loop is not None and not self._loop.is_closed():
            self._dispatch_handle = self._loop.call_soon(self._dispatch)

    def _dispatch(self) -> None:
        self._dispatch_handle = None
        if self._closing and not self._draining:
            return
        while len(self._running) < self.workers:
            best = self._top(False)
            if self._threads_busy < self.threads:
                threaded = self._top(True)
                if threaded is not None and (best is None or threaded[:2] < best[:2]):
                    best = threaded
            if best is None:
                return
            entry = best[2]
            heapq.heappop(self._heaps[entry.in_thread])
            entry.heap_pos = None
            self._waiting.discard(entry)
            self._start_attempt(entry)

    def _start_attempt(self, entry: _Entry) -> None:
        assert self._loop is not None
        rec = entry.record
        now = self._clock()
        rec.attempts += 1
        rec.state = JobState.RUNNING
        if rec.started_at is None:
            rec.started_at = now
            self._wait_samples.append(now - rec.enqueued_at)
        entry.attempt_started = now
        self._running.add(entry)
        if entry.in_thread:
            self._threads_busy += 1
        entry.task = self._spawn(self._run(entry), f"pt-job-{rec.id}")
        # Bookkeeping lives in a done callback, not in _run's ``finally``: a task cancelled
        # before its first step never enters its coroutine, and its slot must still be freed.
        entry.task.add_done_callback(functools.partial(self._attempt_ended, entry))

    def _attempt_ended(self, entry: _Entry, task: asyncio.Task[None]) -> None:
        self._release_slot(entry)
        if entry.task is task:
            entry.task = None
        self._schedule_dispatch()
        self._check_idle()

    def _release_slot(self, entry: _Entry) -> None:
        if entry in self._running:
            self._running.discard(entry)
            if entry.in_thread:
                self._threads_busy -= 1
            self._schedule_dispatch()

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        assert self._loop is not None
        task = self._loop.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("job task %s crashed", task.get_name(), exc_info=task.exception())

    async def _run(self, entry: _Entry) -> None:
        """One attempt. Never raises for the job's own errors: a failing job frees its worker."""
        rec = entry.record
        ctx = entry.ctx
        assert ctx is not None and self._loop is not None
        try:
            try:
                if entry.in_thread:
                    run = contextvars.copy_context().run
                    result = await self._loop.run_in_executor(
                        self._get_executor(), run, entry.fn, ctx
                    )
                else:
                    awaitable = entry.fn(ctx)
                    if not inspect.isawaitable(awaitable):
                        raise TypeError(
                            f"job {rec.label!r} returned {type(awaitable).__name__}, not an "
                            "awaitable; pass in_thread=True for plain functions"
                        )
                    result = await awaitable
            finally:
                rec.run_s += self._clock() - entry.attempt_started
                # Free the slot before settling handles, so a waiter that wakes up sees the
                # worker as free (and the next job is dispatched without an extra loop turn).
                self._release_slot(entry)
        except asyncio.CancelledError:
            if not entry.finished:
                self._finish(entry, JobState.CANCELLED, None, JobCancelled("job task cancelled"))
            raise
        except JobCancelled as exc:  # the job gave up by itself (e.g. ctx.raise_if_cancelled())
            if not entry.finished:
                self._finish(entry, JobState.CANCELLED, None, exc)
        except Exception as exc:
            self._attempt_failed(entry, exc)
        except BaseException as exc:  # KeyboardInterrupt/SystemExit: settle waiters, then go
            if not entry.finished:
                self._finish(entry, JobState.FAILED, None, exc)
            raise
        else:
            if not entry.finished:
                self._finish(entry, JobState.DONE, result, None)

    def _get_executor(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                self.threads,
                thread_name_prefix="pt-job",
                initializer=_lower_thread_priority,
                initargs=(self.thread_nice,),
            )
        return self._executor

    def backoff_delay(self, attempts: int, exc: BaseException) -> float | None:
        """Seconds to wait before the next run after ``attempts`` runs; None means give up."""
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            wait = max(0.0, float(retry_after))
            return wait if wait <= self.max_delay else None
        return min(self.max_delay, self.base_delay * 2 ** (attempts - 1)) * self._rng()

    def _attempt_failed(self, entry: _Entry, exc: Exception) -> None:
        rec = entry.record
        rec.last_error = _describe(exc)
        if entry.finished:
            return  # cancelled while it ran; nobody is waiting for this error
        delay = None
        if is_transient(exc) and rec.attempts < self.max_attempts and not self._closing:
            delay = self.backoff_delay(rec.attempts, exc)
        if delay is None:
            self._finish(entry, JobState.FAILED, None, exc)
            return
        self._counters["retried"] += 1
        rec.state = JobState.RETRYING
        log.info(
            "job %d %s failed (%s); retry %d/%d in %.2fs",
            rec.id,
            rec.label,
            rec.last_error,
            rec.attempts,
            self.max_attempts - 1,
            delay,
        )
        entry.timer = self._spawn(self._retry_later(entry, delay), f"pt-job-{rec.id}-backoff")

    async def _retry_later(self, entry: _Entry, delay: float) -> None:
        await self._sleep(delay)
        entry.timer = None
        if entry.finished or self._closing:
            return
        self._push(entry)  # same seq: a retry keeps its place in its level
        self._schedule_dispatch()

    def _finish(
        self, entry: _Entry, state: JobState, result: object, exc: BaseException | None
    ) -> None:
        """Settle every handle exactly once and move the record to history."""
        entry.finished = True
        rec = entry.record
        rec.state = state
        rec.ended_at = self._clock()
        if exc is not None and (state is JobState.FAILED or not rec.last_error):
            rec.last_error = _describe(exc)
        if rec.key is not None and self._by_key.get(rec.key) is entry:
            del self._by_key[rec.key]
        if rec.group is not None and self._by_group.get(rec.group) is entry:
            del self._by_group[rec.group]
        self._live.pop(rec.id, None)
        self._waiting.discard(entry)
        entry.heap_pos = None
        self._counters[state.value] += 1
        if state is not JobState.CANCELLED and rec.started_at is not None:
            self._run_samples.append(rec.run_s)
        self._history.append(rec)
        handles, entry.handles = entry.handles, []
        for handle in handles:
            _settle(handle._future, result, exc)
        if state is JobState.CANCELLED:
            if entry.timer is not None:
                entry.timer.cancel()
                entry.timer = None
            task = entry.task
            if task is not None and not entry.in_thread:
                try:
                    current = asyncio.current_task()
                except RuntimeError:
                    current = None
                if task is not current:
                    task.cancel()
        if state is JobState.FAILED:
            # The awaiting caller reports the error to the user; the queue only records it.
            log.info("job %d %s failed: %s", rec.id, rec.label, rec.last_error)
        else:
            log.debug("job %d %s %s", rec.id, rec.label, state.value)
        self._check_idle()

    def _check_idle(self) -> None:
        if not self._live and not self._running:
            self._idle.set()
        else:
            self._idle.clear()

    def _report(self, entry: _Entry, fraction: float | None, message: str) -> None:
        loop = self._loop
        if loop is None or entry.finished:
            return
        if threading.get_ident() == self._loop_thread:
            self._report_on_loop(entry, fraction, message)
            return
        try:
            loop.call_soon_threadsafe(self._report_on_loop, entry, fraction, message)
        except RuntimeError:
            pass  # loop closed: nobody left to tell

    def _report_on_loop(self, entry: _Entry, fraction: float | None, message: str) -> None:
        if entry.finished:
            return
        rec = entry.record
        rec.progress = None if fraction is None else min(1.0, max(0.0, float(fraction)))
        rec.message = message
        if self._on_progress is not None:
            try:
                self._on_progress(rec, rec.progress, message)
            except Exception:
                log.exception("progress hook failed for job %d", rec.id)

    # -- batches ---------------------------------------------------------------------------

    @overload
    async def batch(
        self,
        fns: Iterable[Callable[[JobContext], Awaitable[T]]],
        *,
        priority: Priority = Priority.BACKGROUND,
        keys: Sequence[str | None] | None = None,
        label: str = "batch",
        in_thread: Literal[False] = False,
        limit: int | None = None,
    ) -> list[T | BaseException]: ...

    @overload
    async def batch(
        self,
        fns: Iterable[Callable[[JobContext], T]],
        *,
        priority: Priority = Priority.BACKGROUND,
        keys: Sequence[str | None] | None = None,
        label: str = "batch",
        in_thread: Literal[True],
        limit: int | None = None,
    ) -> list[T | BaseException]: ...

    @overload
    async def batch(
        self,
        fns: Iterable[Callable[[JobContext], Any]],
        *,
        priority: Priority = Priority.BACKGROUND,
        keys: Sequence[str | None] | None = None,
        label: str = "batch",
        in_thread: bool,
        limit: int | None = None,
    ) -> list[Any]: ...

    async def batch(
        self,
        fns: Iterable[Callable[[JobContext], Any]],
        *,
        priority: Priority = Priority.BACKGROUND,
        keys: Sequence[str | None] | None = None,
        label: str = "batch",
        in_thread: bool = False,
        limit: int | None = None,
    ) -> list[Any]:
        """Run many jobs, return their outcomes in order; an item's error is returned, not raised.

        Why returned: a resolver asking for 40 references wants the 39 counts and one
        diagnostic, not the first error. ``keys[i]`` coalesces item ``i`` with other work
        (two batches needing one URL fetch it once). ``limit`` caps how many of this batch's
        jobs are in the queue at once, so one huge batch leaves room for later submits of the
        same priority; the queue's ``workers`` still bound what runs. Cancelling the awaiting
        task detaches every outstanding item (and cancels those nobody else waits for).
        """
        calls = list(fns)
        if keys is not None and len(keys) != len(calls):
            raise ValueError("keys must have one entry per function")
        n = len(calls)
        results: list[Any] = [_PENDING] * n
        if n == 0:
            return results
        window = n if limit is None else max(1, limit)
        finished: asyncio.Queue[int] = asyncio.Queue()
        jobs: dict[int, Job[Any]] = {}
        next_index = 0

        def launch() -> None:
            nonlocal next_index
            i = next_index
            next_index += 1
            try:
                job: Job[Any] = self.submit(
                    calls[i],
                    key=keys[i] if keys is not None else None,
                    priority=priority,
                    label=f"{label}[{i}]",
                    in_thread=in_thread,
                )
            except Exception as exc:  # QueueClosed mid-batch: that item's outcome
                results[i] = exc
                finished.put_nowait(-1)
                return
            jobs[i] = job
            job._future.add_done_callback(functools.partial(_notify, finished, i))

        try:
            for _ in range(min(window, n)):
                launch()
            for _ in range(n):
                i = await finished.get()
                if i >= 0:
                    job = jobs.pop(i)
                    exc = job.exception()
                    results[i] = exc if exc is not None else job.result()
                if next_index < n:
                    launch()
        finally:
            for job in jobs.values():
                job.cancel("cancelled: the batch was abandoned")
        return results

    async def map(
        self,
        func: Callable[[ItemT], R],
        items: Iterable[ItemT],
        *,
        priority: Priority = Priority.BACKGROUND,
        chunk_size: int = 1,
        label: str = "map",
        limit: int | None = None,
    ) -> list[R | BaseException]:
        """``[func(item) for item in items]`` on worker threads, ``chunk_size`` items per hop.

        Why chunks: counting a 200-byte snippet costs less than the thread hop around it, so
        small items are grouped. Each item's error is returned in its slot and never spoils
        its chunk-mates. A transient error makes the chunk's job retry, re-running only the
        items that have not succeeded or failed permanently.
        """
        values = list(items)
        n = len(values)
        results: list[Any] = [_PENDING] * n
        final = [False] * n
        size = max(1, chunk_size)
        chunks = [range(start, min(start + size, n)) for start in range(0, n, size)]

        def make(indices: range) -> Callable[[JobContext], None]:
            def run(ctx: JobContext) -> None:
                transient: Exception | None = None
                for i in indices:
                    if final[i]:
                        continue
                    ctx.raise_if_cancelled()
                    try:
                        results[i] = func(values[i])
                        final[i] = True
                    except Exception as exc:
                        results[i] = exc
                        if is_transient(exc):
                            transient = transient or exc
                        else:
                            final[i] = True
                if transient is not None:
                    raise transient

            return run

        outcomes = await self.batch(
            [make(c) for c in chunks], priority=priority, label=label, in_thread=True, limit=limit
        )
        for indices, outcome in zip(chunks, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                for i in indices:
                    if results[i] is _PENDING:
                        results[i] = outcome
        return results

    # -- status ----------------------------------------------------------------------------

    @property
    def counters(self) -> dict[str, int]:
        """Cumulative counts plus the current ``queued``/``running``/``retrying`` gauges."""
        out = dict(self._counters)
        out["queued"] = sum(1 for e in self._live.values() if e.record.state is JobState.QUEUED)
        out["running"] = len(self._running)
        out["retrying"] = sum(1 for e in self._live.values() if e.record.state is JobState.RETRYING)
        return out

    def records(self) -> list[JobRecord]:
        """Live jobs (running, retrying, queued; most urgent first), then recent ones, newest first."""
        order = {JobState.RUNNING: 0, JobState.RETRYING: 1, JobState.QUEUED: 2}
        live = sorted(
            self._live.values(),
            key=lambda e: (order.get(e.record.state, 3), e.record.priority, e.seq),
        )
        return [e.record for e in live] + list(reversed(self._history))

    def snapshot(self, limit: int | None = 50) -> dict[str, Any]:
        """JSON-serialisable status: what ``promptTokens.jobs`` and ``--stats`` show.

        ``queued``/``running``/``retrying`` are current gauges (``running`` includes a
        cancelled thread job still computing); ``counters`` are cumulative since start;
        ``waitMs`` (submit to first start) and ``runMs`` (time spent running, done and failed
        jobs) summarise the last ``history`` jobs; values are null until a job has produced
        one.
        """
        counters = self.counters
        records = self.records()
        if limit is not None:
            records = records[:limit]
        return {
            "workers": self.workers,
            "threads": self.threads,
            "queued": counters["queued"],
            "running": counters["running"],
            "retrying": counters["retrying"],
            "closed": self._closing,
            "counters": counters,
            "waitMs": _summary_ms(self._wait_samples),
            "runMs": _summary_ms(self._run_samples),
            "jobs": [r.to_dict() for r in records],
        }
