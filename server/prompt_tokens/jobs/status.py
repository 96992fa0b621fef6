"""The queue's figures: cumulative counters, recent jobs, wait and run time percentiles.

Kept apart from the scheduling so that what ``promptTokens.jobs`` and ``count --stats`` show
is defined in one place, and bounded: only the last ``history`` jobs are remembered.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

from prompt_tokens.jobs.records import JobRecord, JobState

COUNTERS = ("submitted", "done", "failed", "cancelled", "superseded")


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile: always a value that was observed."""
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def summary_ms(samples: Iterable[float]) -> dict[str, float | None]:
    """p50/p95/max in milliseconds; all None before the first sample."""
    values = sorted(samples)
    if not values:
        return {"p50": None, "p95": None, "max": None}
    return {
        "p50": round(percentile(values, 50) * 1000, 3),
        "p95": round(percentile(values, 95) * 1000, 3),
        "max": round(values[-1] * 1000, 3),
    }


class JobStats:
    """Counters and bounded samples, fed by the queue as jobs start and end."""

    def __init__(self, history: int) -> None:
        self.history: deque[JobRecord] = deque(maxlen=max(0, history))
        self.wait_samples: deque[float] = deque(maxlen=max(1, history))
        self.run_samples: deque[float] = deque(maxlen=max(1, history))
        self.counters: dict[str, int] = dict.fromkeys(COUNTERS, 0)

    def submitted(self) -> None:
        self.counters["submitted"] += 1

    def started(self, record: JobRecord) -> None:
        wait = record.wait_s
        if wait is not None:
            self.wait_samples.append(wait)

    def ended(self, record: JobRecord, *, superseded: bool) -> None:
        """Count the outcome; run times of cancelled jobs would only blur the percentiles."""
        self.counters[record.state.value] += 1
        if superseded:
            self.counters["superseded"] += 1
        if record.state is not JobState.CANCELLED and record.started_at is not None:
            self.run_samples.append(record.run_s)
        self.history.append(record)

    def recent(self) -> list[JobRecord]:
        """Ended jobs, newest first."""
        return list(reversed(self.history))

    def snapshot(self, live: list[JobRecord], running: int, limit: int | None) -> dict[str, Any]:
        """Gauges, counters, percentiles and the jobs (``live`` first, then recent ones).

        ``queued``/``running`` are current gauges (``running`` counts busy workers, including a
        cancelled thread job still computing); ``counters`` are cumulative since start;
        ``waitMs`` (submit to start) and ``runMs`` (done and failed jobs) summarise the last
        ``history`` jobs, null until a job has produced one.
        """
        queued = sum(1 for r in live if r.state is JobState.QUEUED)
        records = live + self.recent()
        return {
            "queued": queued,
            "running": running,
            "counters": {**self.counters, "queued": queued, "running": running},
            "waitMs": summary_ms(self.wait_samples),
            "runMs": summary_ms(self.run_samples),
            "jobs": [r.to_dict() for r in (records if limit is None else records[:limit])],
        }
