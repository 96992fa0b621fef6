"""The workspace engine: the one object both front ends (CLI and language server) count through.

It owns the job queue, the cache(s) and, for each settings root (a workspace folder or project
root), the settings, the reference resolver and the counting engine. Front ends hand it settings
and documents and get results back; nothing outside this module touches the queue, the cache,
the resolver or the dependency graph, so the engine's insides can change behind this facade
without the front ends noticing — and the CLI and the server can never count differently.

Settings are held here once per root: :meth:`Runtime.set_settings` is the only way in, and it
passes them on to the engine's parts itself.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import attrs

from prompt_tokens.cache.tiered import TieredCache
from prompt_tokens.doc_loader import load_document, refs_key
from prompt_tokens.document import DocumentState
from prompt_tokens.engine import DocConfig, PromptEngine, describe_error
from prompt_tokens.jobs.queue import (
    JobCancelled,
    JobContext,
    JobQueue,
    JobRecord,
    Priority,
    QueueClosed,
)
from prompt_tokens.references.graph import doc_key, file_key
from prompt_tokens.references.resolver import ReferenceResolver
from prompt_tokens.references.syntax import markdown_links_enabled
from prompt_tokens.references.syntax import scan as scan_references
from prompt_tokens.results import DocumentResult, Occurrence, ReferenceResult
from prompt_tokens.settings import CacheSettings, Settings
from prompt_tokens.tasks import supervise
from prompt_tokens.tokenizer.encodings import get_encoding
from prompt_tokens.tokenizer.textio import decode_bytes

__all__ = [
    "STOPPED",
    "CountRequest",
    "DocConfig",
    "Runtime",
    "Scanner",
    "SettingsChange",
    "describe_error",
]

log = logging.getLogger(__name__)

STOPPED: tuple[type[Exception], ...] = (JobCancelled, QueueClosed)
"""What a count raises when a newer count of the same document superseded it, or the engine
is shutting down: not a failure, the newer work (or nothing) takes over."""

INLINE_MAX_CHARS = 32 * 1024
INLINE_MAX_DOCUMENT = 2_000_000
"""A buffer count with at most this much new text, in a document up to this size, runs on the
event loop (well under a millisecond or two of work: a thread hop would cost as much)."""

ProgressCallback = Callable[[float | None, str | None], None]
"""``progress(fraction or None, message or None)``, called on the event loop thread."""

_CacheKey = tuple[str | None, int]


def _cache_key(cache: CacheSettings) -> _CacheKey:
    return (cache.path, cache.memory_entries)


@attrs.frozen
class Scanner:
    """How the references of one document are found, under the settings of its root."""

    scan: Callable[[str], list[Occurrence]]
    key: tuple[Any, ...]
    """What the scan results depend on (``DocumentState.occurrences`` re-scans when it changes)."""
    cache_key: str
    """The pseudo-encoding under which reference counts of a content are cached."""


@attrs.frozen
class SettingsChange:
    """Which documents of a root a settings change affects."""

    everything: bool
    """Every document: something other than variables changed (or nothing was counted yet)."""
    paths: frozenset[str] = frozenset()
    """Otherwise, the documents whose last count used a variable that changed."""


@attrs.frozen
class CountRequest:
    """One document for :meth:`Runtime.count_files`."""

    root: str
    label: str
    """How results and errors name it (the path as given, ``-`` for standard input)."""
    path: str
    """The file to count (absolute); ignored when ``data`` is given."""
    data: bytes | None = None
    """The content itself (standard input) instead of a file."""


@attrs.define(eq=False)
class _Root:
    settings: Settings
    folders: list[Path]
    cache_key: _CacheKey
    engine: PromptEngine | None = None
    """Built on first use (with the resolver and the cache it needs)."""


class Runtime:
    """The workspace engine. One per front end; ``workers`` bounds the queue's concurrent jobs."""

    def __init__(self, *, workers: int = 2) -> None:
        self._workers = workers
        self._queue: JobQueue | None = None
        self._roots: dict[str, _Root] = {}
        self._caches: dict[_CacheKey, TieredCache] = {}
        self._shared_cache: CacheSettings | None = None
        self._progress: dict[int, ProgressCallback] = {}
        self._closing: set[asyncio.Future[Any]] = set()

    # -- settings ------------------------------------------------------------------------------

    def set_settings(
        self, root: str, settings: Settings, *, folders: Sequence[str | Path] = ()
    ) -> SettingsChange:
        """Settings of ``root`` from now on; ``folders``: the workspace folders references may
        reach (none: each document's project root). Returns which documents must be recounted."""
        entry = self._roots.get(root)
        folder_paths = [Path(f) for f in dict.fromkeys(os.fspath(f) for f in folders)]
        if entry is None:
            key = _cache_key(self._shared_cache or settings.cache)
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
        """The settings of ``root`` (``KeyError`` if :meth:`set_settings` never named it)."""
        return self._roots[root].settings

    def use_cache(self, cache: CacheSettings | None) -> None:
        """One cache for every root from now on (the language server's: its first folder's
        settings); None: each root the cache its own settings name (the CLI's)."""
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
        key = _cache_key(self._shared_cache or entry.settings.cache)
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

    # -- the engine's parts, built on first use ------------------------------------------------

    def _jobs(self) -> JobQueue:
        if self._queue is None:
            self._queue = JobQueue(workers=self._workers, on_progress=self._on_progress)
        return self._queue

    def _cache(self, key: _CacheKey) -> TieredCache:
        cache = self._caches.get(key)
        if cache is None:
            cache = self._caches[key] = TieredCache(key[0], key[1])
        return cache

    def _engine(self, root: str) -> PromptEngine:
        entry = self._roots[root]
        if entry.engine is None:
            resolver = ReferenceResolver(
                entry.settings,
                self._cache(entry.cache_key),
                roots=entry.folders,
                queue=self._jobs(),
            )
            entry.engine = PromptEngine(entry.settings, resolver)
        return entry.engine

    def _on_progress(self, record: JobRecord, fraction: float | None, message: str) -> None:
        callback = self._progress.get(record.id)
        if callback is not None:
            callback(fraction, message or None)

    # -- counting ------------------------------------------------------------------------------

    def configure(self, root: str, head: str) -> DocConfig:
        """Encoding, budget, model and variables of a document from its first line and front
        matter (``head``) under the settings of ``root``."""
        return self._engine(root).configure(head)

    def scanner(self, root: str, path: str | None) -> Scanner | None:
        """How references are found in the document at ``path``; None when they are off."""
        refs = self.settings(root).references
        if not refs.enabled:
            return None
        links = markdown_links_enabled(refs.markdown_links, path or "")
        return Scanner(
            scan=partial(scan_references, kinds=refs.enabled, markdown_links=links),
            key=(tuple(refs.enabled), links),
            cache_key=refs_key(refs.enabled, links),
        )

    def load_encoding(self, name: str) -> None:
        """Load an encoding's ranks now (blocking: run it in a thread), so the first count
        does not wait for them."""
        get_encoding(name)

    async def count_buffer(
        self,
        snapshot: DocumentState,
        scanner: Scanner | None,
        *,
        name: str,
        label: str,
        group: str,
        active: bool,
        progress: ProgressCallback | None = None,
    ) -> tuple[int, list[Occurrence]]:
        """Count an open buffer's new blocks and find its references, on the job queue.

        ``snapshot`` is ``DocumentState.snapshot()`` (edits continue on the live document);
        returns (text tokens, occurrences). A newer submit with the same ``group`` supersedes
        this one (it raises one of :data:`STOPPED`); ``active``: the document the user is
        editing goes first. Small counts run on the event loop, big ones on a worker thread.
        """

        def count(ctx: JobContext) -> tuple[int, list[Occurrence]]:
            def report(done: int, total: int) -> None:
                ctx.report(
                    done / total if total else None, f"{name}: {done:,} of {total:,} characters"
                )

            if not snapshot.count_pending(cancelled=lambda: ctx.cancelled, progress=report):
                raise JobCancelled("superseded while counting")
            occ = snapshot.occurrences(scanner.scan, scanner.key) if scanner is not None else []
            tokens = snapshot.text_tokens
            assert tokens is not None
            return tokens, occ

        async def count_on_loop(ctx: JobContext) -> tuple[int, list[Occurrence]]:
            return count(ctx)

        inline = (
            snapshot.pending_chars() <= INLINE_MAX_CHARS and len(snapshot) <= INLINE_MAX_DOCUMENT
        )
        job = self._jobs().submit(
            count_on_loop if inline else count,
            priority=Priority.ACTIVE if active else Priority.OPEN,
            supersede=group,
            label=label,
            in_thread=not inline,
        )
        if progress is not None:
            self._progress[job.id] = progress
        try:
            return await job
        finally:
            self._progress.pop(job.id, None)

    def cancel(self, group: str, reason: str = "closed") -> None:
        """Cancel the queued or running count of ``group`` (e.g. its document was closed)."""
        if self._queue is not None:
            self._queue.cancel_group(group, reason=reason)

    async def count_document(
        self,
        root: str,
        path: str,
        text: str,
        *,
        text_tokens: int | None = None,
        occurrences: Sequence[Occurrence] | None = None,
        overlay: Mapping[str, str] | None = None,
        references: bool = True,
        sections: bool = False,
        resolved: Sequence[ReferenceResult] | None = None,
    ) -> DocumentResult:
        """Count ``text`` (the document at ``path``) and what it references.

        ``text_tokens``/``occurrences``: already known (an open buffer counts them
        incrementally); ``overlay``: unsaved editor text by absolute path, which wins over the
        disk; ``resolved``: reference results still valid for ``occurrences`` (not resolved
        again)."""
        return await self._engine(root).count_document(
            path,
            text,
            text_tokens=text_tokens,
            occurrences=occurrences,
            overlay=overlay,
            references=references,
            sections=sections,
            resolved=resolved,
        )

    async def count_file(
        self,
        root: str,
        path: str,
        *,
        references: bool = True,
        sections: bool = False,
        overlay: Mapping[str, str] | None = None,
    ) -> DocumentResult:
        """Count the file at ``path`` (absolute). Without sections or overlay, only as much
        of it is read and counted as the cache does not already know."""
        if sections or overlay:
            data = await asyncio.to_thread(Path(path).read_bytes)
            text, _ = decode_bytes(data, label=path)
            return await self.count_document(
                root, path, text, overlay=overlay, references=references, sections=sections
            )
        engine = self._engine(root)
        scanner = self.scanner(root, path) if references else None
        loaded = await asyncio.to_thread(
            load_document,
            path,
            self._cache(self._roots[root].cache_key),
            encoding_for=lambda head: engine.configure(head).encoding,
            scan=scanner.scan if scanner is not None else None,
            scan_key=scanner.cache_key if scanner is not None else "",
        )
        return await engine.count_document(
            path,
            loaded.text,
            text_tokens=loaded.text_tokens,
            occurrences=loaded.occurrences or [],
            references=references,
            sections=False,
        )

    async def count_files(
        self,
        requests: Sequence[CountRequest],
        *,
        references: bool = True,
        on_done: Callable[[str], None] | None = None,
    ) -> list[DocumentResult | BaseException]:
        """Count many documents through the queue, several at once; results in order, each
        named by its request's label. A document's failure is returned in its place, not
        raised; ``on_done(label)`` is called as each one ends."""

        def job(request: CountRequest) -> Callable[[JobContext], Any]:
            async def run(ctx: JobContext) -> DocumentResult:
                try:
                    if request.data is not None:
                        text, _ = decode_bytes(request.data, label="stdin")
                        result = await self.count_document(
                            request.root, "-", text, references=references
                        )
                    else:
                        result = await self.count_file(
                            request.root, request.path, references=references
                        )
                    result.path = request.label
                    return result
                finally:
                    if on_done is not None:
                        on_done(request.label)

            return run

        return await self._jobs().batch(
            [job(r) for r in requests], priority=Priority.OPEN, label="count", limit=8
        )

    # -- dependencies --------------------------------------------------------------------------

    def dependents(self, paths: Iterable[str]) -> set[str]:
        """Documents (absolute paths) whose last count used a file at one of ``paths``
        (or looked for it: a file created where a reference pointed counts too)."""
        keys = [file_key(p) for p in paths]
        out: set[str] = set()
        for engine in self._engines():
            out |= engine.resolver.graph.dependents_of(keys)
        return out

    def referenced_files(self) -> set[str]:
        """Every file (real path) the last counts of all documents used or looked for."""
        out: set[str] = set()
        for engine in self._engines():
            graph = engine.resolver.graph
            for doc in graph.documents():
                out.update(t[5:] for t in graph.targets(doc) if t.startswith("file:"))
        return out

    def forget(self, path: str) -> None:
        """``path`` is no longer a document of interest (its buffer was closed)."""
        key = doc_key(path)
        for engine in self._engines():
            engine.resolver.graph.remove(key)

    def _engines(self) -> list[PromptEngine]:
        return [e.engine for e in self._roots.values() if e.engine is not None]

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
            return self._cache(self._roots[root].cache_key).clear()
        return sum(cache.clear() for cache in self._caches.values())

    def prune_cache(self, root: str, *, max_age_s: float | None, max_rows: int | None) -> int:
        """Drop the rows of ``root``'s cache file unused for ``max_age_s`` seconds, and all but
        the ``max_rows`` most recently used; returns the rows removed."""
        cache = self._cache(self._roots[root].cache_key)
        return cache.prune(max_age_s=max_age_s, max_rows=max_rows)

    def _root_cache(self, root: str | None) -> TieredCache | None:
        if root is not None:
            return self._cache(self._roots[root].cache_key)
        return next(iter(self._caches.values()), None)

    async def aclose(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109 - shared by waits
        """End every job within ``timeout`` seconds, close the resolvers, flush and close the
        caches (lookups still work, in memory). Never raises for a part that fails to close."""
        if self._queue is not None:
            await self._queue.shutdown(timeout=timeout)
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
