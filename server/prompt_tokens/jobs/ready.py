"""Jobs waiting for a worker, in start order: most urgent priority first, then first come.

Two heaps, one for thread jobs and one for async jobs, so that a free worker never scans past
thread jobs that wait for a thread slot to find an async job: it compares the two tops.
Cancelled jobs are not searched for and removed; they are skipped when they reach the top
(and dropped in bulk once they are most of a heap).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

_Item = tuple[int, int, T]


class ReadyQueue(Generic[T]):
    """``push`` items with a priority and a lane (thread or not); ``pop`` the next to start."""

    def __init__(self, is_stale: Callable[[T], bool]) -> None:
        self._is_stale = is_stale
        self._seq = itertools.count()
        self._heaps: dict[bool, list[_Item[T]]] = {False: [], True: []}

    def push(self, item: T, priority: int, *, in_thread: bool) -> None:
        heap = self._heaps[in_thread]
        heapq.heappush(heap, (priority, next(self._seq), item))
        if len(heap) > 64:
            live = [entry for entry in heap if not self._is_stale(entry[2])]
            if 4 * len(live) < len(heap):
                heapq.heapify(live)
                self._heaps[in_thread] = live

    def pop(self, *, thread_slot_free: bool) -> T | None:
        """The most urgent item; thread items only when a thread slot is free."""
        lane = False
        best = self._top(False)
        if thread_slot_free:
            threaded = self._top(True)
            if threaded is not None and (best is None or threaded[:2] < best[:2]):
                lane, best = True, threaded
        if best is None:
            return None
        heapq.heappop(self._heaps[lane])
        return best[2]

    def _top(self, in_thread: bool) -> _Item[T] | None:
        heap = self._heaps[in_thread]
        while heap and self._is_stale(heap[0][2]):
            heapq.heappop(heap)
        return heap[0] if heap else None
