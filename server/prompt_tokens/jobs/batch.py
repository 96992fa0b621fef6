"""Many jobs at once, outcomes in order: how the CLI counts a list of files."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from prompt_tokens.jobs.handles import JobContext
from prompt_tokens.jobs.records import Priority

Submit = Callable[..., Awaitable[Any]]
"""``JobQueue.submit``: ``submit(fn, priority=, label=, in_thread=)`` gives an awaitable handle."""


async def run_batch(
    submit: Submit,
    fns: Iterable[Callable[[JobContext], Any]],
    *,
    priority: Priority,
    label: str,
    in_thread: bool,
    limit: int | None,
) -> list[Any]:
    """Submit every function, at most ``limit`` queued at once; each item's result or error.

    Why errors are returned, not raised: counting 40 files wants the 39 counts and one clear
    error, not the first error. ``limit`` keeps one huge batch from filling the queue ahead of
    later submits of the same priority. Cancelling the awaiting task cancels every item not
    done yet (each item's waiter is cancelled, which cancels its job).
    """
    calls = list(fns)
    gate = asyncio.Semaphore(len(calls) if limit is None else max(1, limit))

    async def one(i: int, fn: Callable[[JobContext], Any]) -> Any:
        async with gate:
            try:
                job = submit(fn, priority=priority, label=f"{label}[{i}]", in_thread=in_thread)
                return await job
            except Exception as exc:  # the item's own error, or QueueClosed mid-batch
                return exc

    return list(await asyncio.gather(*(one(i, fn) for i, fn in enumerate(calls))))
