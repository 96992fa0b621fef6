"""What the job queue tells the outside: priority levels, states, errors and per-job records.

Plain data, no asyncio: the LSP's ``promptTokens.jobs`` command, ``count --stats`` and the
queue itself share these shapes.
"""

from __future__ import annotations

import enum
from typing import Any

import attrs


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
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class JobCancelled(Exception):
    """``await job`` raises this when the job will never deliver a result.

    Deliberately not ``asyncio.CancelledError``: that one means "the task awaiting me was
    cancelled", and raising it for someone else's decision would unwind the awaiting task as
    if it had been cancelled itself (``TaskGroup`` and ``asyncio.timeout`` rely on the
    difference). ``reason`` says why: ``"cancelled"``, ``"superseded"``, ``"closed"``,
    ``"shutdown"``.
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
    """What the queue knows about one job, kept in its history after the job ended.

    Times are ``clock()`` readings (monotonic seconds): ``started_at - enqueued_at`` is the
    time the job waited for a worker, ``run_s`` the time it ran.
    """

    id: int
    label: str
    priority: Priority
    group: str | None = None
    """Its supersede group (e.g. ``doc:<uri>``): a newer job of the group cancels this one."""
    in_thread: bool = False
    state: JobState = JobState.QUEUED
    enqueued_at: float = 0.0
    started_at: float | None = None
    ended_at: float | None = None
    last_error: str = ""
    run_s: float = 0.0
    progress: float | None = None
    """Last reported fraction done (0..1), None when unknown."""
    message: str = ""
    """Last reported progress message."""

    @property
    def wait_s(self) -> float | None:
        return None if self.started_at is None else self.started_at - self.enqueued_at

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, camelCase (the shape clients of ``promptTokens.jobs`` read)."""
        wait = self.wait_s
        return {
            "id": self.id,
            "label": self.label,
            "group": self.group,
            "priority": self.priority.name.lower(),
            "state": self.state.value,
            "inThread": self.in_thread,
            "enqueuedAt": self.enqueued_at,
            "startedAt": self.started_at,
            "endedAt": self.ended_at,
            "waitMs": None if wait is None else round(wait * 1000, 3),
            "runMs": round(self.run_s * 1000, 3),
            "lastError": self.last_error,
            "progress": self.progress,
            "message": self.message,
        }


def describe(exc: BaseException) -> str:
    """``Type: message`` (just ``Type`` when the message is empty), for ``lastError``."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
