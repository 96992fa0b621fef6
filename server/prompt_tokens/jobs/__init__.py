"""Background work: a priority job queue (supersede, bounded workers and threads, status) and
debouncing.

asyncio only, no pygls: the language server and the CLI share it. Modules: ``queue`` (the
scheduler), ``ready`` (start order), ``handles`` (a job as the caller and the function see it),
``records`` (priorities, states, errors, records), ``status`` (counters and percentiles),
``threads`` (the thread pool), ``progress`` (reports to the loop thread), ``batch`` (many jobs,
outcomes in order), ``debounce`` (per-key delayed calls).
"""

from __future__ import annotations

from prompt_tokens.jobs.debounce import Debouncer
from prompt_tokens.jobs.handles import Job, JobContext
from prompt_tokens.jobs.queue import JobQueue
from prompt_tokens.jobs.records import (
    JobCancelled,
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
