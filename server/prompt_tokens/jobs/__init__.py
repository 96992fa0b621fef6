"""Background work: a priority job queue (coalescing, supersede, retries, status) and debouncing.

asyncio only, no pygls: the language server and the CLI share it.
"""

from __future__ import annotations

from prompt_tokens.jobs.debounce import Debouncer
from prompt_tokens.jobs.queue import (
    Job,
    JobCancelled,
    JobContext,
    JobQueue,
    JobRecord,
    JobState,
    Priority,
    QueueClosed,
    Superseded,
)

__all__ = [
    "Debouncer",
    "Job",
    "JobCancelled",
    "JobContext",
    "JobQueue",
    "JobRecord",
    "JobState",
    "Priority",
    "QueueClosed",
    "Superseded",
]
