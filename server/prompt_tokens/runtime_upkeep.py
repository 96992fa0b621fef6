"""The facade's answers about what it has counted: which documents depend on a file, and its
caches' figures and upkeep (stats, clear, prune, and warming them for a run of many files).

A mixin of :class:`~prompt_tokens.runtime.Runtime`, kept apart so the facade's counting reads
on its own; it uses only the runtime's roots and job queue.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from prompt_tokens.cache.tiered import TieredCache
from prompt_tokens.doc_config import NEUTRAL_KEY, CachedConfigure
from prompt_tokens.precount import precount as precount_files
from prompt_tokens.references.graph import doc_key, file_key

if TYPE_CHECKING:
    from prompt_tokens.engine import DocConfig
    from prompt_tokens.jobs.queue import JobQueue
    from prompt_tokens.roots import Roots
    from prompt_tokens.runtime_agents import Scanner


class FileRequest(Protocol):
    """What warming needs of a ``CountRequest``."""

    @property
    def root(self) -> str: ...

    @property
    def path(self) -> str: ...

    @property
    def text(self) -> str | None: ...

    @property
    def data(self) -> bytes | None: ...


class Upkeep:
    _roots: Roots

    if TYPE_CHECKING:  # the runtime's own queue (``Runtime._jobs``)

        def _jobs(self) -> JobQueue: ...

        def configure(self, root: str, head: str) -> DocConfig: ...

        def scanner(self, root: str, path: str | None) -> Scanner | None: ...

    # -- dependencies --------------------------------------------------------------------------

    def dependents(self, paths: Iterable[str]) -> set[str]:
        """Documents (absolute paths) whose last count used a file at one of ``paths``
        (or looked for it: a file created where a reference pointed counts too)."""
        keys = [file_key(p) for p in paths]
        out: set[str] = set()
        for engine in self._roots.engines():
            out |= engine.resolver.graph.dependents_of(keys)
        return out

    def file_dependencies(self, root: str, path: str) -> list[str] | None:
        """The files the last count of ``path`` read or looked for; None when it used
        something else that can change (a URL)."""
        targets = self._roots.engine(root).resolver.graph.targets(doc_key(path))
        if any(not t.startswith(("file:", "var:")) for t in targets):
            return None
        return [t[5:] for t in targets if t.startswith("file:")]

    def referenced_files(self) -> set[str]:
        """Every file (real path) the last counts of all documents used or looked for."""
        out: set[str] = set()
        for engine in self._roots.engines():
            graph = engine.resolver.graph
            for doc in graph.documents():
                out.update(t[5:] for t in graph.targets(doc) if t.startswith("file:"))
        return out

    def forget(self, path: str) -> None:
        """``path`` is no longer a document of interest (its buffer was closed)."""
        key = doc_key(path)
        for engine in self._roots.engines():
            engine.resolver.graph.remove(key)

    # -- maintenance ---------------------------------------------------------------------------

    def stats(self, root: str | None = None) -> dict[str, Any]:
        """:meth:`job_stats` and the :meth:`cache_stats` of ``root``."""
        return {"jobs": self.job_stats(), "cache": self.cache_stats(root)}

    def job_stats(self) -> dict[str, Any]:
        """The job queue's counters and its latest jobs."""
        return self._jobs().snapshot()

    def cache_stats(self, root: str | None = None) -> dict[str, Any] | None:
        """Figures of the cache of ``root`` (opened if needed); without a root, of the first
        cache in use, or None when none is open yet."""
        cache = self._root_cache(root)
        return cache.stats() if cache is not None else None

    def clear_cache(self, root: str | None = None) -> int:
        """Forget every count of the cache of ``root`` (default: of every open cache);
        returns the rows removed from files."""
        if root is not None:
            return self._roots.cache(root).clear()
        return sum(cache.clear() for cache in self._roots.open_caches())

    def prune_cache(self, root: str, *, max_age_s: float | None, max_rows: int | None) -> int:
        """Drop the rows of ``root``'s cache file unused for ``max_age_s`` seconds, and all but
        the ``max_rows`` most recently used; returns the rows removed."""
        cache = self._roots.cache(root)
        return cache.prune(max_age_s=max_age_s, max_rows=max_rows)

    def _root_cache(self, root: str | None) -> TieredCache | None:
        if root is not None:
            return self._roots.cache(root)
        return next(iter(self._roots.open_caches()), None)

    # -- warming the caches for a run -----------------------------------------------------------

    def _prefetch(self, requests: Sequence[FileRequest], references: bool) -> None:
        """Load what the cache knows about every file of a run in a few batched queries
        (fingerprints, then counts in each root's default encoding and reference-scan keys),
        so the per-file lookups that follow are memory hits."""
        by_root: dict[str, tuple[list[str], set[str]]] = {}
        for r in requests:
            if r.text is not None or r.data is not None:
                continue
            paths, keys = by_root.setdefault(r.root, ([], set()))
            if not keys:
                keys.update((self.configure(r.root, "").encoding, NEUTRAL_KEY))
            paths.append(r.path)
            scanner = self.scanner(r.root, r.path) if references else None
            if scanner is not None:
                keys.add(scanner.cache_key)
        for root, (paths, keys) in by_root.items():
            self._roots.cache(root).prefetch_files(paths, keys)

    def _precount(self, requests: Sequence[FileRequest]) -> None:
        by_root: dict[str, list[str]] = {}
        for r in requests:
            if r.text is None and r.data is None:
                by_root.setdefault(r.root, []).append(r.path)
        for root, paths in by_root.items():
            cache = self._roots.cache(root)
            precount_files(
                paths, cache, partial(CachedConfigure, self._roots.engine(root).configure, cache)
            )
