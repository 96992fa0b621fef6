"""Work in flight by key: callers asking for the same thing at once share one future.

Ten documents referencing one URL make one request; two resolutions of one file count it once.
The futures are supervised (:func:`prompt_tokens.tasks.supervise`) with this registry as their
keep-set, so a finished future leaves the registry by itself and its exception is retrieved
even when every waiter has gone (each waiter sees it through its own ``await``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Iterator, MutableSet
from typing import Any, Generic, TypeVar

from prompt_tokens.tasks import supervise

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Inflight(MutableSet["asyncio.Future[Any]"], Generic[K, V]):
    """Running futures by key. As a set it holds the futures (what ``supervise`` keeps)."""

    def __init__(self, what: str) -> None:
        self._what = what
        self._by_key: dict[K, asyncio.Future[V]] = {}
        self._key_of: dict[asyncio.Future[Any], K] = {}

    def running(self, key: K) -> asyncio.Future[V] | None:
        """The unfinished future for ``key`` on the running loop, if there is one."""
        fut = self._by_key.get(key)
        if fut is None or fut.done() or fut.get_loop() is not asyncio.get_running_loop():
            return None
        return fut

    def start(self, key: K, fut: asyncio.Future[V]) -> asyncio.Future[V]:
        """Register ``fut`` as the work for ``key`` until it finishes."""
        old = self._by_key.get(key)
        if old is not None:
            self._key_of.pop(old, None)
        self._by_key[key] = fut
        self._key_of[fut] = key
        supervise(fut, self, what=self._what, quiet=True)
        return fut

    # -- the set ``supervise`` keeps ---------------------------------------------------------

    def __contains__(self, fut: object) -> bool:
        return fut in self._key_of

    def __iter__(self) -> Iterator[asyncio.Future[Any]]:
        return iter(list(self._key_of))

    def __len__(self) -> int:
        return len(self._key_of)

    def add(self, fut: asyncio.Future[Any]) -> None:
        if fut not in self._key_of:
            raise TypeError("register work with Inflight.start(key, future)")

    def discard(self, fut: asyncio.Future[Any]) -> None:
        key = self._key_of.pop(fut, None)
        if key is not None and self._by_key.get(key) is fut:
            del self._by_key[key]
