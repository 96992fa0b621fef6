"""The settings roots behind the workspace engine: settings held once, the cache each root
uses, and each root's counting engine (with its reference resolver), built on first use.

``runtime.Runtime`` is the facade front ends call; this module is its bookkeeping, kept apart
so the facade reads as what it offers. A root is a workspace folder or project root: the
settings of its ``.prompt-tokens.toml`` apply to every document under it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs

from prompt_tokens.cache.tiered import TieredCache
from prompt_tokens.engine import PromptEngine
from prompt_tokens.jobs.queue import JobQueue
from prompt_tokens.references.resolver import ReferenceResolver
from prompt_tokens.settings import CacheSettings, Settings
from prompt_tokens.tasks import supervise

log = logging.getLogger(__name__)

CacheKey = tuple[str | None, int]


def cache_key(cache: CacheSettings) -> CacheKey:
    return (cache.path, cache.memory_entries)


@attrs.frozen
class SettingsChange:
    """Which documents of a root a settings change affects."""

    everything: bool
    """Every document: something other than variables changed (or nothing was counted yet)."""
    paths: frozenset[str] = frozenset()
    """Otherwise, the documents whose last count used a variable that changed."""


@attrs.define(eq=False)
class _Root:
    settings: Settings
    folders: list[Path]
    cache_key: CacheKey
    engine: PromptEngine | None = None
    """Built on first use (with the resolver and the cache it needs)."""


class Roots:
    """Every settings root of one front end; ``queue`` gives the job queue resolvers share."""

    def __init__(self, queue: Callable[[], JobQueue], *, cache_reads: bool = True) -> None:
        self._queue = queue
        self._cache_reads = cache_reads  # False: the caches only write (``TieredCache``)
        self._roots: dict[str, _Root] = {}
        self._caches: dict[CacheKey, TieredCache] = {}
        self._shared_cache: CacheSettings | None = None
        self._closing: set[asyncio.Future[Any]] = set()

    # -- settings ------------------------------------------------------------------------------

    def set_settings(
        self, root: str, settings: Settings, folders: Sequence[str | Path]
    ) -> SettingsChange:
        """See ``Runtime.set_settings``: the one place settings reach the engine's parts."""
        entry = self._roots.get(root)
        folder_paths = [Path(f) for f in dict.fromkeys(os.fspath(f) for f in folders)]
        if entry is None:
            key = cache_key(self._shared_cache or settings.cache)
            self._roots[root] = _Root(settings, folder_paths, key)
            return SettingsChange(everything=True)
        change = self._change(entry, settings)
        entry.settings = settings
        entry.folders = folder_paths
        if entry.engine is not None:
            entry.engine.settings = settings
            entry.engine.resolver.update_settings(settings, folder_paths)
        self._rekey(entry)
        return change

    def settings(self, root: str) -> Settings:
        return self._roots[root].settings

    def use_cache(self, cache: CacheSettings | None) -> None:
        """See ``Runtime.use_cache``."""
        self._shared_cache = cache
        for entry in self._roots.values():
            self._rekey(entry)

    def _change(self, entry: _Root, new: Settings) -> SettingsChange:
        old = entry.settings
        if new == old:
            return SettingsChange(everything=False)
        if entry.engine is None or attrs.evolve(old, variables={}) != attrs.evolve(
            new, variables={}
        ):
            return SettingsChange(everything=True)
        graph = entry.engine.resolver.graph
        return SettingsChange(
            everything=False,
            paths=frozenset(graph.documents_to_recount(old.variables, new.variables)),
        )

    def _rekey(self, entry: _Root) -> None:
        """Point ``entry`` at the cache it should use; a root that changes cache starts over
        with a new resolver (what it counted lives in the old cache)."""
        key = cache_key(self._shared_cache or entry.settings.cache)
        if key == entry.cache_key:
            return
        entry.cache_key = key
        if entry.engine is not None:
            log.info("cache settings changed: now %s", key[0] or "memory only")
            self._retire(entry.engine)
            entry.engine = None
        in_use = {e.cache_key for e in self._roots.values()}
        for old in [k for k in self._caches if k not in in_use]:
            self._caches.pop(old).close()

    def _retire(self, engine: PromptEngine) -> None:
        closing = asyncio.get_running_loop().create_task(
            engine.resolver.aclose(), name="close a resolver"
        )
        supervise(closing, self._closing, what="closing a resolver")

    # -- the parts, built on first use ---------------------------------------------------------

    def cache(self, root: str) -> TieredCache:
        """The cache ``root`` uses (opened on first use)."""
        key = self._roots[root].cache_key
        cache = self._caches.get(key)
        if cache is None:
            cache = self._caches[key] = TieredCache(key[0], key[1], reads=self._cache_reads)
        return cache

    def open_caches(self) -> list[TieredCache]:
        return list(self._caches.values())

    def engine(self, root: str) -> PromptEngine:
        """The counting engine of ``root`` (built with its resolver on first use)."""
        entry = self._roots[root]
        if entry.engine is None:
            resolver = ReferenceResolver(
                entry.settings, self.cache(root), roots=entry.folders, queue=self._queue()
            )
            entry.engine = PromptEngine(entry.settings, resolver)
        return entry.engine

    def engines(self) -> list[PromptEngine]:
        """The engines built so far (a root nothing was counted in has none)."""
        return [e.engine for e in self._roots.values() if e.engine is not None]

    async def aclose(self, timeout: float) -> None:  # noqa: ASYNC109 - shared by waits
        """Close every resolver, then flush and close the caches (lookups keep working in
        memory); a part failing to close is logged."""
        for entry in self._roots.values():
            engine, entry.engine = entry.engine, None
            if engine is not None:
                try:
                    await engine.resolver.aclose()
                except Exception:
                    log.exception("closing a resolver failed")
        if self._closing:
            await asyncio.wait(set(self._closing), timeout=timeout)
        for cache in self._caches.values():
            try:
                cache.close()
            except Exception:
                log.exception("closing the cache failed")
        self._caches.clear()
