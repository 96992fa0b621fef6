"""One job as its three parties see it: the queue (:class:`Execution`), the caller who awaits
it (:class:`Job`) and the function that runs (:class:`JobContext`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator
from typing import Any, Generic, TypeVar

from prompt_tokens.jobs.records import JobCancelled, JobRecord

T = TypeVar("T")


class Execution:
    """The queue's side of one job: its function, record, result future and task."""

    __slots__ = ("began", "finished", "fn", "future", "in_thread", "record", "task")

    def __init__(
        self,
        record: JobRecord,
        fn: Callable[[JobContext], Any],
        future: asyncio.Future[Any],
    ) -> None:
        self.record = record
        self.fn = fn
        self.in_thread = record.in_thread
        self.future = future
        self.task: asyncio.Task[None] | None = None
        self.began = False
        """The task entered its coroutine (a task cancelled before that never runs it)."""
        self.finished = False
        """Settled: done, failed or cancelled. A thread may still be computing."""


Cancel = Callable[[Execution, JobCancelled], bool]
Report = Callable[[Execution, "float | None", str], None]


def settle(fut: asyncio.Future[Any], value: object, exc: BaseException | None) -> None:
    """Deliver a result or an error once; later calls (and cancelled futures) are ignored."""
    if fut.done():
        return
    if exc is None:
        fut.set_result(value)
        return
    fut.set_exception(exc)
    # The queue records failures itself; a handle nobody awaits (the caller moved on) must
    # not add asyncio's "Future exception was never retrieved" noise.
    fut.exception()


class JobContext:
    """Handed to the job function: progress reports and cooperative cancellation.

    Safe to use from the job's thread when ``in_thread=True``.
    """

    __slots__ = ("_execution", "_report")

    def __init__(self, execution: Execution, report: Report) -> None:
        self._execution = execution
        self._report = report

    @property
    def cancelled(self) -> bool:
        """True once nobody will read the result: long thread jobs should check it and return."""
        return self._execution.finished

    def report(self, fraction: float | None, message: str = "") -> None:
        """Record progress (``fraction`` in 0..1, or None when unknown) and tell ``on_progress``."""
        self._report(self._execution, fraction, message)


class Job(Generic[T]):
    """The caller's handle: ``await job`` gives the result or raises the job's error.

    Cancelling the task that awaits the handle cancels the job: nobody else is waiting for it.
    """

    __slots__ = ("_cancel", "_execution")

    def __init__(self, execution: Execution, cancel: Cancel) -> None:
        self._execution = execution
        self._cancel = cancel
        execution.future.add_done_callback(self._on_future_done)

    @property
    def id(self) -> int:
        return self._execution.record.id

    @property
    def record(self) -> JobRecord:
        return self._execution.record

    def done(self) -> bool:
        return self._execution.future.done()

    def cancelled(self) -> bool:
        """True when the job ended without a result because it was cancelled."""
        return isinstance(self.exception(), JobCancelled)

    def result(self) -> T:
        """The result now; raises the job's error, or ``asyncio.InvalidStateError`` if pending."""
        result: T = self._execution.future.result()
        return result

    def exception(self) -> BaseException | None:
        fut = self._execution.future
        if not fut.done():
            return None
        if fut.cancelled():
            return JobCancelled("the task awaiting this job was cancelled")
        return fut.exception()

    def cancel(self, reason: str = "cancelled") -> bool:
        """Cancel the job (awaiting it raises :class:`JobCancelled`). False if already settled."""
        return self._cancel(self._execution, JobCancelled(f"job {reason}", reason=reason))

    def __await__(self) -> Generator[Any, None, T]:
        result: T = yield from self._execution.future.__await__()
        return result

    def __repr__(self) -> str:
        r = self.record
        return f"<Job {r.id} {r.label} {r.state.value}>"

    def _on_future_done(self, fut: asyncio.Future[Any]) -> None:
        # asyncio cancels the future a task awaits when that task is cancelled.
        if fut.cancelled():
            self._cancel(self._execution, JobCancelled("the task awaiting the job was cancelled"))
