"""Per-key debouncing: run only the last of a burst of calls.

Why: an editor sends a change notification per keystroke; recounting (and re-publishing hints)
for each one wastes CPU and makes hints flicker. The language server schedules the recount for
``debounceMs`` later under the document's key; every new keystroke replaces the pending call,
so only the last one of a burst runs. Each call runs as a supervised task
(:func:`prompt_tokens.tasks.supervise`): kept until it ends, its exception logged, cancelled by
``cancel``/``aclose``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable

from prompt_tokens.tasks import supervise

CoroFactory = Callable[[], Awaitable[object]]
"""Called only when the delay has passed, so a replaced call never creates its coroutine."""


class Debouncer:
    """Cancel-and-replace delayed calls, one pending call per key.

    A call is *pending* while it waits out its delay and *running* once its factory has been
    called. ``schedule`` for a key replaces that key's pending call; a running call is left to
    finish unless ``cancel_running`` is set (the language server sets it: a newer version of
    the document makes the running recount pointless). ``sleep`` is injectable so tests can
    open the delay with an event.
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
        if self._cancel_running and (running := self._running.pop(key, None)) is not None:
            running.cancel()
        self.counters["scheduled"] += 1
        task = asyncio.get_running_loop().create_task(
            self._fire(key, max(0.0, delay_s), coro_factory), name=f"debounce:{key}"
        )
        self._pending[key] = task
        supervise(task, self._tasks, what="debounced call", on_error=self._failed)
        return task

    async def _fire(self, key: Hashable, delay_s: float, coro_factory: CoroFactory) -> None:
        # A task is only ever cancelled after it was taken out of ``_pending`` (replaced,
        # cancelled, closed), so the ``finally`` below is the only cleanup needed.
        task = asyncio.current_task()
        try:
            # Always yield, even for 0: a burst scheduled in one synchronous stretch still
            # collapses to its last call.
            await self._sleep(delay_s)
            if self._pending.get(key) is task:
                del self._pending[key]
            if task is not None:
                self._running[key] = task
            self.counters["fired"] += 1
            await coro_factory()
        finally:
            if self._pending.get(key) is task:
                del self._pending[key]
            if self._running.get(key) is task:
                del self._running[key]

    def _failed(self, exc: BaseException) -> None:
        self.counters["failed"] += 1

    def cancel(self, key: Hashable) -> bool:
        """Drop the pending call for ``key`` (e.g. the document closed). False if none."""
        task = self._pending.pop(key, None)
        if task is None:
            return False
        task.cancel()
        return True

    async def aclose(self) -> None:
        """Cancel pending and running calls and wait until every task has ended."""
        self._closed = True
        self._pending.clear()
        self._running.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
