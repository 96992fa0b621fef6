"""Per-key debouncing: run only the last of a burst of calls.

Why: an editor sends a change notification per keystroke; recounting (and re-publishing hints)
for each one wastes CPU and makes hints flicker. The language server schedules the recount for
``debounceMs`` later under the document's key; every new keystroke replaces the pending call,
so only the last one of a burst runs. Each call runs as a supervised task: kept until it ends,
its exception logged (never lost in an unawaited task), cancelled by ``cancel_all``/``aclose``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Hashable

log = logging.getLogger(__name__)

CoroFactory = Callable[[], Awaitable[object]]
"""Called only when the delay has passed, so a replaced call never creates its coroutine."""


class Debouncer:
    """Cancel-and-replace delayed calls, one pending call per key.

    A call is *pending* while it waits out its delay and *running* once its factory has been
    called. ``schedule`` for a key replaces that key's pending call; a running call is left to
    finish unless ``cancel_running`` is set (the job queue's supersede groups usually handle
    stale work already). ``sleep`` is injectable so tests can open the delay with an event.
    """

    def __init__(
        self,
        *,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        cancel_running: bool = False,
    ) -> None:
        self._sleep = sleep
        self._cancel_running = cancel_running
        self._pending: dict[Hashable, asyncio.Task[None]] = {}
        self._running: dict[Hashable, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self.counters: dict[str, int] = dict.fromkeys(
            ("scheduled", "replaced", "fired", "failed"), 0
        )
        """scheduled calls, pending calls replaced by a newer one, calls run, calls that raised."""

    def schedule(
        self, key: Hashable, delay_s: float, coro_factory: CoroFactory
    ) -> asyncio.Task[None]:
        """Run ``await coro_factory()`` after ``delay_s`` seconds unless replaced or cancelled first."""
        if self._closed:
            raise RuntimeError("Debouncer is closed")
        old = self._pending.pop(key, None)
        if old is not None:
            old.cancel()
            self.counters["replaced"] += 1
        if self._cancel_running:
            running = self._running.pop(key, None)
            if running is not None:
                running.cancel()
        self.counters["scheduled"] += 1
        task = asyncio.get_running_loop().create_task(
            self._fire(key, max(0.0, delay_s), coro_factory), name=f"debounce:{key}"
        )
        self._pending[key] = task
        self._tasks.add(task)
        task.add_done_callback(functools.partial(self._done, key))
        return task

    async def _fire(self, key: Hashable, delay_s: float, coro_factory: CoroFactory) -> None:
        # Always yield, even for 0: a burst scheduled in one synchronous stretch still
        # collapses to its last call.
        await self._sleep(delay_s)
        task = asyncio.current_task()
        if self._pending.get(key) is task:
            del self._pending[key]
        if task is not None:
            self._running[key] = task
        self.counters["fired"] += 1
        await coro_factory()

    def _done(self, key: Hashable, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._pending.get(key) is task:
            del self._pending[key]
        if self._running.get(key) is task:
            del self._running[key]
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self.counters["failed"] += 1
            log.error("debounced call for %r failed", key, exc_info=exc)

    def pending(self, key: Hashable) -> bool:
        """Whether a call for ``key`` is still waiting out its delay."""
        return key in self._pending

    def cancel(self, key: Hashable) -> bool:
        """Drop the pending call for ``key`` (e.g. the document closed). False if none."""
        task = self._pending.pop(key, None)
        if task is None:
            return False
        task.cancel()
        return True

    def cancel_all(self) -> int:
        """Drop every pending call; running calls are left to finish."""
        tasks = list(self._pending.values())
        self._pending.clear()
        for task in tasks:
            task.cancel()
        return len(tasks)

    async def aclose(self) -> None:
        """Cancel pending and running calls and wait until every task has ended."""
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def __len__(self) -> int:
        return len(self._pending)
