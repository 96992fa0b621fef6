"""The workspace engine: the one object both front ends (CLI and language server) count through.

It owns the job queue, the cache(s) and, for each settings root (a workspace folder or project
root), the settings, the reference resolver and the counting engine. Front ends hand it settings
and documents and get results back; nothing outside this module (and ``roots``, its
bookkeeping of settings roots) touches the queue, the cache, the resolver or the dependency
graph, so the engine's insides can change behind this facade without the front ends noticing —
and the CLI and the server can never count differently.

Settings are held once per root: :meth:`Runtime.set_settings` is the only way in, and it passes
them on to the engine's parts itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import attrs

from prompt_tokens import environment
from prompt_tokens.agents.dialects import Dialect, rules_for
from prompt_tokens.agents.entries import AgentContext
from prompt_tokens.agents.references import links_for
from prompt_tokens.doc_config import CachedConfigure
from prompt_tokens.doc_loader import load_document, ref_triggers
from prompt_tokens.document import DocumentState
from prompt_tokens.engine import DocConfig, describe_error
from prompt_tokens.errors import PromptTokensError
from prompt_tokens.forked import can_fork, cores
from prompt_tokens.jobs.inline import InlinePolicy
from prompt_tokens.jobs.queue import (
    JobCancelled,
    JobContext,
    JobQueue,
    JobRecord,
    Priority,
    QueueClosed,
)
from prompt_tokens.remote.service import ExactCount, RemoteCounts
from prompt_tokens.results import DocumentResult, Occurrence, ReferenceResult
from prompt_tokens.roots import Roots, SettingsChange
from prompt_tokens.runtime_agents import Agents, Scanner
from prompt_tokens.runtime_upkeep import Upkeep
from prompt_tokens.settings import CacheSettings, Settings
from prompt_tokens.tokenizer.counter import STREAM_THREADS, count_text
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

T = TypeVar("T")

STOPPED: tuple[type[Exception], ...] = (JobCancelled, QueueClosed)
"""What a count raises when a newer count of the same document superseded it, or the engine
is shutting down: not a failure, the newer work (or nothing) takes over."""

ProgressCallback = Callable[[float | None, str | None], None]
"""``progress(fraction or None, message or None)``, called on the event loop thread."""


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
    text: str | None = None
    """The content, already decoded (a file as it was at a git revision), counted as the
    text of ``path``: its references resolve from that file's folder."""


class Runtime(Upkeep):
    """The workspace engine. One per front end; ``workers`` bounds the queue's concurrent jobs.

    ``blocking``: file work (reading, counting, scanning) runs on the event loop's thread, not
    in a thread of its own: for a worker process that counts one file at a time, where the
    hand-off to a thread costs more than it overlaps. Such a process also scans a big file's
    references in a forked child while it counts the file, when it may use another core.
    ``cache_reads=False``: the cache files are written, never read (a worker of a run that
    began with none: every read would miss)."""

    def __init__(
        self, *, workers: int = 2, blocking: bool = False, cache_reads: bool = True
    ) -> None:
        self._workers = workers
        self._blocking = blocking
        self._scan_apart = blocking and can_fork() and (environment.workers() or cores()) > 1
        self._queue: JobQueue | None = None
        self._roots = Roots(self._jobs, cache_reads=cache_reads)
        self._progress: dict[int, ProgressCallback] = {}
        self._inline = InlinePolicy()
        self._remote = RemoteCounts(self._jobs)
        self._agents = Agents()

    # -- settings ------------------------------------------------------------------------------

    def set_settings(
        self, root: str, settings: Settings, *, folders: Sequence[str | Path] = ()
    ) -> SettingsChange:
        """Settings of ``root`` from now on; ``folders``: the workspace folders references may
        reach (none: each document's project root). Returns which documents must be recounted."""
        return self._roots.set_settings(root, settings, folders)

    def settings(self, root: str) -> Settings:
        """The settings of ``root`` (``KeyError`` if :meth:`set_settings` never named it)."""
        return self._roots.settings(root)

    def use_cache(self, cache: CacheSettings | None) -> None:
        """One cache for every root from now on (the language server's: its first folder's
        settings); None: each root the cache its own settings name (the CLI's). A root whose
        cache changes starts over with a new resolver."""
        self._roots.use_cache(cache)

    def _jobs(self) -> JobQueue:
        if self._queue is None:
            self._queue = JobQueue(workers=self._workers, on_progress=self._on_progress)
        return self._queue

    def _on_progress(self, record: JobRecord, fraction: float | None, message: str) -> None:
        callback = self._progress.get(record.id)
        if callback is not None:
            callback(fraction, message or None)

    # -- counting ------------------------------------------------------------------------------

    def configure(self, root: str, head: str) -> DocConfig:
        """Encoding, budget, model and variables of a document from its first line and front
        matter (``head``) under the settings of ``root``."""
        return self._roots.engine(root).configure(head)

    def scanner(self, root: str, path: str | None) -> Scanner | None:
        """How references are found in the document at ``path``; None when they are off
        (read in the document's dialect: ``runtime_agents``)."""
        return self._agents.scanner(self.settings(root), root, path)

    def dialect(self, root: str, path: str | None) -> Dialect:
        """The dialect of the document at ``path`` under the settings of ``root``."""
        return self._agents.dialect(self.settings(root), root, path)

    def agent_summary(self, root: str, path: str, text: str | None = None) -> dict[str, Any] | None:
        """A skill's three numbers for results and hovers (None for other dialects). Blocking."""
        return self._agents.summary(self.dialect(root, path), path, text, self.text_counter(root))

    def agent_context(self, root: str, path: str) -> AgentContext | None:
        """What the agent of the file at ``path`` loads where it works (None: no agent's file),
        remembered until a file it read changes. Blocking."""
        encoding = self.configure(root, "").encoding
        return self._agents.context(
            self.dialect(root, path), path, self.text_counter(root), encoding
        )

    def text_counter(self, root: str) -> Callable[[str], int]:
        """The exact count of a whole text under the settings of ``root`` (its model's or
        encoding's tokenizer): for texts that are not documents, such as the files an agent
        loads (``prompt-tokens context``)."""
        encoding = get_encoding(self.configure(root, "").encoding)
        return partial(count_text, encoding)

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
        editing goes first. Cheap counts run on the event loop, others on a worker thread
        (``jobs.inline``).
        """

        pending = snapshot.pending_chars()

        def count(ctx: JobContext) -> tuple[int, list[Occurrence]]:
            def report(done: int, total: int) -> None:
                ctx.report(
                    done / total if total else None, f"{name}: {done:,} of {total:,} characters"
                )

            started = time.perf_counter()
            if not snapshot.count_pending(cancelled=lambda: ctx.cancelled, progress=report):
                raise JobCancelled("superseded while counting")
            occ = snapshot.occurrences(scanner.scan, scanner.key) if scanner is not None else []
            tokens = snapshot.text_tokens
            assert tokens is not None
            self._inline.measured(group, pending, time.perf_counter() - started)
            return tokens, occ

        async def count_on_loop(ctx: JobContext) -> tuple[int, list[Occurrence]]:
            return count(ctx)

        inline = self._inline.inline(group, pending, len(snapshot))
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

    async def _off_loop(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self._blocking:
            return fn(*args, **kwargs)
        return await asyncio.to_thread(fn, *args, **kwargs)

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
        again). Without ``occurrences`` the text is scanned here, in its dialect."""
        if occurrences is None and references and resolved is None:
            scanner = self.scanner(root, path)
            occurrences = scanner.scan(text) if scanner is not None else []
        result = await self._roots.engine(root).count_document(
            path,
            text,
            text_tokens=text_tokens,
            occurrences=occurrences,
            overlay=overlay,
            references=references,
            sections=sections,
            resolved=resolved,
        )
        await self._add_agent(root, path, result, text)
        return result

    async def _add_agent(
        self, root: str, path: str, result: DocumentResult, text: str | None
    ) -> None:
        """``result.agent`` for the dialects that have one (a one-line lookup for the rest)."""
        if self.dialect(root, path) == "skill" and path != "-":
            try:
                result.agent = await self._off_loop(self.agent_summary, root, path, text)
            except (OSError, ValueError, PromptTokensError) as exc:
                log.warning("%s: no skill summary: %s", path, exc)

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
        engine = self._roots.engine(root)
        scanner = self.scanner(root, path) if references else None
        rules = rules_for(self.dialect(root, path))
        links = links_for(rules, self.settings(root).references.markdown_links, path)
        cache = self._roots.cache(root)
        configure = CachedConfigure(engine.configure, cache)
        loaded = await self._off_loop(
            load_document,
            path,
            cache,
            encoding_for=configure,
            scan=scanner.scan if scanner is not None else None,
            scan_key=scanner.cache_key if scanner is not None else "",
            triggers=ref_triggers(links, includes=bool(rules.includes)),
            scan_pieces=scanner.scan_pieces if scanner is not None else None,
            threads=1 if self._blocking else STREAM_THREADS,
            scan_apart=self._scan_apart,
        )
        configure.record(loaded.sha256)
        result = await engine.count_document(
            path,
            loaded.text,
            config=configure.config,
            text_tokens=loaded.text_tokens,
            occurrences=loaded.occurrences or [],
            references=references,
            sections=False,
        )
        await self._add_agent(root, path, result, None)
        return result

    async def count_files(
        self,
        requests: Sequence[CountRequest],
        *,
        references: bool = True,
        on_done: Callable[[str], None] | None = None,
        overlay: Mapping[str, str] | None = None,
        limit: int = 8,
        precount: bool = False,
    ) -> list[DocumentResult | BaseException]:
        """Count many documents through the queue, several at once; results in order, each
        named by its request's label. A document's failure is returned in its place, not
        raised; ``on_done(label)`` is called as each one ends. ``overlay`` (texts by absolute
        path, winning over the disk) applies to the requests that carry their ``text``.
        ``limit``: documents counted at once (their waits on URLs overlap; their Python does
        not, so a CPU-bound run is faster with fewer). ``precount``: count the small files
        in batches first (``prompt_tokens.precount``; a worker process's whole run). A
        blocking runtime counting one at a time (a CLI worker) skips the queue: it has
        nothing to schedule, and the queue's tasks were a fifth of a known file's cost."""

        await asyncio.to_thread(self._prefetch, requests, references)
        if precount:
            await self._off_loop(self._precount, requests)
        one = partial(self._count_request, references=references, overlay=overlay, on_done=on_done)
        if self._blocking and limit == 1:  # a worker process: one file after another, no queue
            return [await _outcome(one(r)) for r in requests]

        def job(request: CountRequest) -> Callable[[JobContext], Any]:
            async def run(_ctx: JobContext) -> DocumentResult:
                return await one(request)

            return run

        return await self._jobs().batch(
            [job(r) for r in requests], priority=Priority.OPEN, label="count", limit=limit
        )

    async def _count_request(
        self,
        request: CountRequest,
        *,
        references: bool,
        overlay: Mapping[str, str] | None,
        on_done: Callable[[str], None] | None,
    ) -> DocumentResult:
        try:
            if request.text is not None:
                result = await self.count_document(
                    request.root, request.path, request.text, references=references, overlay=overlay
                )
            elif request.data is not None:
                text, _ = decode_bytes(request.data, label="stdin")
                result = await self.count_document(request.root, "-", text, references=references)
            else:
                result = await self.count_file(request.root, request.path, references=references)
            result.path = request.label
            return result
        finally:
            if on_done is not None:
                on_done(request.label)

    async def count_exact(
        self, root: str, text: str, *, label: str = "", group: str | None = None
    ) -> ExactCount | None:
        """The model vendor's exact count of the document ``text`` for its model (settings
        ``remote``; see ``remote.service``); None when no vendor counts that model."""
        cfg, settings = self.configure(root, text), self.settings(root)
        written = cfg.front_matter.model or settings.model
        cache = self._roots.cache(root)
        return await self._remote.count(
            settings, cache, cfg.model, written, text, label=label, group=group
        )

    async def aclose(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109 - shared by waits
        """End every job within ``timeout`` seconds, close the resolvers, flush and close the
        caches (lookups still work, in memory)."""
        if self._queue is not None:
            await self._queue.shutdown(timeout=timeout)
        await self._remote.aclose()
        await self._roots.aclose(timeout)


async def _outcome(counting: Awaitable[DocumentResult]) -> DocumentResult | Exception:
    """A document's result, or its error in its place (as the queue's batches give them)."""
    try:
        return await counting
    except Exception as exc:
        return exc
