"""ReferenceResolver: a document's reference occurrences → counted ``ReferenceResult`` s.

Semantics (SPEC "What is counted in a document"):

- ``resolve`` returns one result per occurrence, in the given order (``results[i]`` belongs to
  ``occurrences[i]``), followed by the nested results (``span`` None, ``depth`` ≥ 1, ``via`` =
  the referencing file's real path) in depth-first document order.
- Files and URLs are attachments: the first reference to a target counts its tokens, later
  ones (top-level or nested) are ``duplicate`` with ``tokens`` 0 and ``own_tokens`` set.
- File references inside referenced prompt-like files (``files.NESTED_SUFFIXES``) are followed
  to ``references.maxDepth`` levels (0 turns following off). A file that is an ancestor in the
  chain (including the document itself) is a cycle: ``reference-cycle``, not followed. A file
  at the last level that still references others gets a ``reference-depth`` warning.
- A nested failure also puts a warning (with the nested code) on the top-level reference it
  came through, so editors show it on a range the user wrote.
- Variables substitute: each occurrence counts its value; a value that is one reference
  (``@docs/a.md``, ``@https://…``) counts that content (relative to the document's folder)
  at each occurrence, and the file's own references are followed as attachments. Undefined →
  ``variable-undefined``, 0 tokens.

Codes: ``reference-not-found`` (missing, a folder, not a regular file), ``reference-outside-
workspace``, ``reference-too-large``, ``reference-binary``, ``reference-fetch-failed`` (HTTP
errors, blocked networks, fetching disabled, bad URL), ``reference-cycle``,
``variable-undefined``; warnings ``reference-encoding`` (invalid UTF-8 replaced),
``reference-depth``, and a stale URL count served when revalidation failed
(``reference-fetch-failed`` as a warning).

Work: file counting runs on a small thread pool owned by the resolver (at most ``workers`` files
at once, each big file streaming, on two threads of its own when its tokenizer releases the
GIL), coalesced by (file, encoding) across concurrent resolutions; URL fetches are coalesced
by the ``HttpFetcher``. A group of file references (a document's, or a file's nested ones) is
first looked up in the cache in one batch; only the files it does not answer become jobs.
The ``JobQueue`` is accepted but not used for these leaf jobs: a document job that awaits
reference jobs on the same bounded queue can deadlock it, and the queue's own transient-error
retries would multiply the fetcher's HTTP retries.

The parts: :mod:`.leaves` starts the work, :mod:`.walk` assembles one document's results,
:mod:`.outcome` fills them; :mod:`.files` and :mod:`.http` count.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cachetools import LRUCache

from prompt_tokens.cache.tiered import TieredCache
from prompt_tokens.jobs.queue import JobQueue
from prompt_tokens.references.files import FileCounter, FileInfo
from prompt_tokens.references.graph import DependencyGraph, doc_key
from prompt_tokens.references.inflight import Inflight
from prompt_tokens.references.leaves import Leaves
from prompt_tokens.references.locate import normalize_overlay
from prompt_tokens.references.variables import value_hash
from prompt_tokens.references.walk import Walk
from prompt_tokens.results import Occurrence, ReferenceResult
from prompt_tokens.settings import Settings
from prompt_tokens.tokenizer.encodings import get_encoding
from prompt_tokens.workspace import find_root

if TYPE_CHECKING:  # httpx and the fetcher load on the first URL (start-up of runs without any)
    import httpx

    from prompt_tokens.references.http import HttpFetcher, UrlInfo

log = logging.getLogger(__name__)

WARM_MIN = 2
"""Fewest files worth a batched cache lookup; one file is one job anyway."""

_FileJobKey = tuple[str, str, bool, str | None]


class ReferenceResolver:
    """Resolves and counts references; owns the dependency graph. One per workspace."""

    def __init__(
        self,
        settings: Settings,
        cache: TieredCache,
        *,
        roots: Sequence[Path] = (),
        queue: JobQueue | None = None,
        http_client: httpx.AsyncClient | None = None,
        http_options: Mapping[str, Any] | None = None,
        workers: int = 4,
    ) -> None:
        self.settings = settings
        self.cache = cache
        self.roots = [os.path.realpath(os.fspath(r)) for r in roots]
        self.queue = queue
        self.graph = DependencyGraph()
        self.files = FileCounter(
            cache,
            max_bytes=settings.references.max_bytes,
            markdown_links=settings.references.markdown_links,
        )
        self._http: HttpFetcher | None = None
        self._http_client = http_client
        self._http_options = dict(http_options or {})
        self._workers = max(1, workers)
        self._pool: ThreadPoolExecutor | None = None
        self._file_jobs: Inflight[_FileJobKey, FileInfo] = Inflight("file count")
        self._values: LRUCache[tuple[str, str], int] = LRUCache(10_000)

    @property
    def http(self) -> HttpFetcher:
        """The URL fetcher, made on first use."""
        if self._http is None:
            # Lazy import: httpx costs tens of milliseconds of start-up, and most runs of the
            # CLI (and many workspaces) never fetch a URL.
            from prompt_tokens.references.http import HttpFetcher

            self._http = HttpFetcher(
                self.settings.http,
                self.cache,
                max_bytes=self.settings.references.max_bytes,
                client=self._http_client,
                **self._http_options,
            )
        return self._http

    # -- lifecycle / settings ----------------------------------------------------------------

    def update_settings(self, settings: Settings, roots: Sequence[Path] | None = None) -> None:
        """Apply new settings (and workspace folders) to later resolutions."""
        self.settings = settings
        if roots is not None:
            self.roots = [os.path.realpath(os.fspath(r)) for r in roots]
        self.files.max_bytes = settings.references.max_bytes
        self.files.markdown_links = settings.references.markdown_links
        if self._http is not None:
            self._http.settings = settings.http
            self._http.max_bytes = settings.references.max_bytes

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="pt-refs")
        return self._pool

    # -- shared leaf work (what a walk's ``Leaves`` asks for) -------------------------------

    def file_job(
        self, real: str, encoding: str, want_nested: bool, overlay_text: str | None, label: str
    ) -> asyncio.Future[FileInfo]:
        """Count one file (or open buffer) on the pool, coalesced across resolutions."""
        overlay_key = None if overlay_text is None else value_hash(overlay_text)
        key = (real, encoding, want_nested, overlay_key)
        fut = self._file_jobs.running(key)
        if fut is not None:
            return fut
        if overlay_text is not None:
            work = functools.partial(
                self.files.count_text, real, overlay_text, encoding, want_nested=want_nested
            )
        else:
            work = functools.partial(self.files.count, real, encoding, want_nested=want_nested)
        loop = asyncio.get_running_loop()
        return self._file_jobs.start(
            key, loop.run_in_executor(self._executor(), functools.partial(work, display=label))
        )

    async def fetch_url(self, url: str, encoding: str) -> UrlInfo:
        return await self.http.count(url, encoding)

    async def cached_files(
        self, reals: Sequence[str], encoding: str, want_nested: bool
    ) -> dict[str, FileInfo]:
        """The counts the cache knows for ``reals`` as they are on disk, in one batched lookup
        on a worker thread. Best effort: the rest are counted one by one anyway."""
        if len(reals) < WARM_MIN:
            return {}
        loop = asyncio.get_running_loop()
        work = functools.partial(
            self.files.count_cached, list(reals), encoding, want_nested=want_nested
        )
        try:
            return await loop.run_in_executor(self._executor(), work)
        except RuntimeError as exc:  # the pool was shut down: the resolver is closing
            log.debug("cache lookup for %d files skipped: %s", len(reals), exc)
            return {}

    def count_value(self, encoding: str, value: str) -> int:
        sha = value_hash(value)
        key = (encoding, sha)
        n = self._values.get(key)
        if n is None:
            # A value whose UTF-8 bytes decode back to itself (no BOM to drop, no lone
            # surrogate) is a content like a file's: its count is shared through the cache,
            # so a warm run does not load a tokenizer just to count variable values.
            data = value.encode("utf-8", "surrogatepass")
            shared = value.isascii() or _round_trips(data)
            n = self.cache.get_count(encoding, sha) if shared else None
            if n is None:
                n = get_encoding(encoding).count(value)
                if shared:
                    self.cache.put_count(encoding, sha, n, len(data))
            self._values[key] = n
        return n

    # -- resolution --------------------------------------------------------------------------

    def roots_for(self, doc_path: Path | None) -> list[str]:
        """The workspace folders; without any, the document's project root (nearest folder
        with ``.git``/``.prompt-tokens.toml``), else its folder; for stdin the current folder."""
        if self.roots:
            return self.roots
        if doc_path is None:
            return [os.path.realpath(os.getcwd())]
        root = find_root(Path(os.path.abspath(doc_path)))
        return [
            os.path.realpath(
                root if root is not None else os.path.dirname(os.path.abspath(doc_path))
            )
        ]

    def _walk(
        self,
        doc_path: Path | None,
        encoding: str,
        variables: Mapping[str, str],
        overlay: Mapping[str, str] | None,
    ) -> Walk:
        """A walk for one resolution, with its own leaves (its futures, cancelled at the end)."""
        refs = self.settings.references
        leaves = Leaves(
            self,
            encoding=encoding,
            max_depth=refs.max_depth,
            roots=self.roots_for(doc_path),
            allow_outside=refs.allow_outside_workspace,
            overlay=normalize_overlay(overlay),
        )
        if doc_path is not None:
            doc_real: str | None = os.path.realpath(os.fspath(doc_path))
            base_dir = os.path.dirname(os.path.abspath(doc_path))
        else:
            doc_real, base_dir = None, os.getcwd()
        return Walk(
            leaves,
            enabled=set(refs.enabled),
            doc_real=doc_real,
            base_dir=base_dir,
            variables=variables,
            count_value=functools.partial(self.count_value, encoding),
        )

    async def resolve(
        self,
        doc_path: Path | None,
        occurrences: Sequence[Occurrence],
        *,
        encoding: str,
        variables: Mapping[str, str],
        overlay: Mapping[str, str] | None = None,
    ) -> list[ReferenceResult]:
        walk = self._walk(doc_path, encoding, variables, overlay)
        try:
            results = await walk.run(occurrences)
        finally:
            walk.leaves.cancel_pending()
        if doc_path is not None:
            doc = doc_key(doc_path)
            self.graph.set_dependencies(doc, walk.targets)
            self.graph.set_variable_values(doc, walk.var_values)
        return results


__all__ = ["ReferenceResolver"]


def _round_trips(data: bytes) -> bool:
    """``data`` is valid UTF-8 without a leading BOM: decoding it as a file gives the value."""
    if data.startswith(b"\xef\xbb\xbf"):
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
