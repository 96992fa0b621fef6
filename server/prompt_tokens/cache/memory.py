"""The in-process tier: a bounded LRU.

Counts are keyed by content hash and never go stale, so the only reason to forget one is memory:
a least-recently-used bound keeps the hot working set (the blocks of the open documents) while a
long editing session cannot grow without limit. Hits and misses are counted per table by
:class:`~prompt_tokens.cache.tiered.TieredCache` (``promptTokens.jobs``, ``cache stats``).

Not thread-safe on its own: :class:`~prompt_tokens.cache.tiered.TieredCache` guards it with its
lock, so the wrapper stays a plain, cheap object on the hot path.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

from cachetools import LRUCache

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class MemoryLRU(Generic[K, V]):
    """A ``cachetools.LRUCache`` whose size may be 0.

    ``maxsize == 0`` is allowed (``cache.memoryEntries: 0``) and means "keep nothing":
    cachetools itself refuses to store anything in a zero-sized cache by raising, which is
    not what a user who switched the memory tier off expects.
    """

    __slots__ = ("_data", "_maxsize")

    def __init__(self, maxsize: int) -> None:
        if maxsize < 0:
            raise ValueError(f"maxsize must be >= 0, not {maxsize}")
        self._maxsize = maxsize
        self._data: LRUCache[K, V] = LRUCache(maxsize=max(maxsize, 1))

    @property
    def maxsize(self) -> int:
        return self._maxsize

    def get(self, key: K) -> V | None:
        """The value for ``key`` (marking it recently used), or None."""
        try:
            return self._data[key]
        except KeyError:
            return None

    def put(self, key: K, value: V) -> None:
        if self._maxsize == 0:
            return
        self._data[key] = value

    def pop(self, key: K) -> None:
        """Forget ``key`` if present."""
        self._data.pop(key, None)

    def clear(self) -> None:
        self._data.clear()

    def items(self) -> list[tuple[K, V]]:
        """A snapshot of the entries, oldest first (for per-table stats). Reading them in that
        order leaves the recency order as it was."""
        return [(k, self._data[k]) for k in list(self._data.keys())]

    def __len__(self) -> int:
        return len(self._data)
