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
at once, each big file streaming on its own two threads), coalesced by (file, encoding) across
concurrent resolutions; URL fetches are coalesced by the ``HttpFetcher``. The ``JobQueue`` is
accepted but not used for these leaf jobs: a document job that awaits reference jobs on the
same bounded queue can deadlock it, and the queue's own transient-error retries would multiply
the fetcher's HTTP retries.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from cachetools import LRUCache

from prompt_tokens.cache.tiered import TieredCache
from prompt_tokens.errors import PromptTokensError
from prompt_tokens.jobs.queue import JobQueue
from prompt_tokens.references.files import FileCounter, FileInfo, locate, normalize_overlay
from prompt_tokens.references.graph import DependencyGraph, doc_key, url_key, var_key
from prompt_tokens.references.http import HttpFetcher, UrlInfo
from prompt_tokens.references.variables import reference_in_value, value_hash
from prompt_tokens.results import Occurrence, ReferenceResult, Span
from prompt_tokens.settings import Settings
from prompt_tokens.tokenizer.encodings import get_encoding
from prompt_tokens.workspace import find_root

log = logging.getLogger(__name__)

BatchItem = tuple["Path | None", Sequence[Occurrence], str, Mapping[str, str]]

_SYNTAX_PREFIX = {"at": "@", "file": "#file:", "fetch": "#fetch:"}


def _raw(occ: Occurrence) -> str:
    if occ.raw:
        return occ.raw
    if occ.kind == "variable":
        return f"${{input:{occ.target}}}" if occ.syntax == "input" else f"{{{{ {occ.target} }}}}"
    if occ.syntax == "link":
        return f"[]({occ.target})"
    return _SYNTAX_PREFIX.get(occ.syntax, "@") + occ.target


def _extend(span: Span | None, extra: int) -> Span | None:
    """The span grown by ``extra`` ASCII characters (trailing punctuation taken back)."""
    if span is None or extra == 0:
        return span
    return Span(
        span.line, span.start, span.end_line, span.end + extra, span.offset, span.end_offset + extra
    )


def _fail(res: ReferenceResult, exc: PromptTokensError) -> ReferenceResult:
    res.status = "error"
    res.error = str(exc)
    res.code = exc.code
    res.tokens = 0
    return res


def _unexpected(exc: Exception, what: str, code: str) -> PromptTokensError:
    """A bug must not take the document's count down: log it, report it on the reference."""
    log.error("Unexpected error while resolving %s", what, exc_info=exc)
    return PromptTokensError(
        f"internal error while resolving {what} ({type(exc).__name__}: {exc}); please report it",
        code=code,
    )


def _warn(res: ReferenceResult, message: str, code: str) -> None:
    if res.warning:
        res.warning = f"{res.warning}; {message}"
    else:
        res.warning = message
        res.warning_code = code


def _short(path: str, base: str) -> str:
    try:
        rel = os.path.relpath(path, base)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


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
        self.http = HttpFetcher(
            settings.http,
            cache,
            max_bytes=settings.references.max_bytes,
            client=http_client,
            **dict(http_options or {}),
        )
        self._workers = max(1, workers)
        self._pool: ThreadPoolExecutor | None = None
        self._file_jobs: dict[tuple[str, str, bool, str | None], asyncio.Future[FileInfo]] = {}
        self._values: LRUCache[tuple[str, str], int] = LRUCache(10_000)

    # -- lifecycle / settings ----------------------------------------------------------------

    def update_settings(self, settings: Settings, roots: Sequence[Path] | None = None) -> None:
        """Apply new settings (and workspace folders) to later resolutions."""
        self.settings = settings
        if roots is not None:
            self.roots = [os.path.realpath(os.fspath(r)) for r in roots]
        self.files.max_bytes = settings.references.max_bytes
        self.files.markdown_links = settings.references.markdown_links
        self.http.settings = settings.http
        self.http.max_bytes = settings.references.max_bytes

    async def aclose(self) -> None:
        await self.http.aclose()
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="pt-refs")
        return self._pool

    # -- shared leaf work --------------------------------------------------------------------

    def _file_job(
        self, real: str, encoding: str, want_nested: bool, overlay_text: str | None, label: str
    ) -> asyncio.Future[FileInfo]:
        """Count one file (or open buffer) on the pool, coalesced across resolutions."""
        loop = asyncio.get_running_loop()
        key = (
            real,
            encoding,
            want_nested,
            None if overlay_text is None else value_hash(overlay_text),
        )
        fut = self._file_jobs.get(key)
        if fut is not None and not fut.done() and fut.get_loop() is loop:
            return fut
        if overlay_text is not None:
            text = overlay_text

            def work() -> FileInfo:
                return self.files.count_text(
                    real, text, encoding, want_nested=want_nested, display=label
                )
        else:

            def work() -> FileInfo:
                return self.files.count(real, encoding, want_nested=want_nested, display=label)

        fut = loop.run_in_executor(self._executor(), work)
        self._file_jobs[key] = fut

        def done(f: asyncio.Future[FileInfo]) -> None:
            if self._file_jobs.get(key) is f:
                del self._file_jobs[key]
            if not f.cancelled():
                f.exception()

        fut.add_done_callback(done)
        return fut

    def count_value(self, encoding: str, value: str) -> int:
        key = (encoding, value_hash(value))
        n = self._values.get(key)
        if n is None:
            n = len(get_encoding(encoding).encode_ordinary(value))
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

    async def resolve(
        self,
        doc_path: Path | None,
        occurrences: Sequence[Occurrence],
        *,
        encoding: str,
        variables: Mapping[str, str],
        overlay: Mapping[str, str] | None = None,
    ) -> list[ReferenceResult]:
        walk = _Walk(self, doc_path, encoding, variables, overlay)
        try:
            results = await walk.run(occurrences)
        finally:
            walk.cancel_pending()
        if doc_path is not None:
            doc = doc_key(doc_path)
            self.graph.set_dependencies(doc, walk.targets)
            self.graph.set_variable_values(doc, walk.var_values)
        return results

    async def resolve_many(
        self,
        items: Sequence[BatchItem],
        limit: int = 8,
        *,
        overlay: Mapping[str, str] | None = None,
    ) -> list[list[ReferenceResult]]:
        """Resolve many documents with at most ``limit`` at once; shared files and URLs are
        counted/fetched once (coalescing + cache). Results in the order of ``items``."""
        sem = asyncio.Semaphore(max(1, limit))

        async def one(item: BatchItem) -> list[ReferenceResult]:
            doc_path, occs, encoding, variables = item
            async with sem:
                return await self.resolve(
                    doc_path, occs, encoding=encoding, variables=variables, overlay=overlay
                )

        return list(await asyncio.gather(*(one(it) for it in items)))


class _Walk:
    """One resolution of one document: prefetches concurrently, assembles in order."""

    def __init__(
        self,
        resolver: ReferenceResolver,
        doc_path: Path | None,
        encoding: str,
        variables: Mapping[str, str],
        overlay: Mapping[str, str] | None,
    ) -> None:
        self.r = resolver
        refs = resolver.settings.references
        self.enabled = set(refs.enabled)
        self.max_depth = refs.max_depth
        self.allow_outside = refs.allow_outside_workspace
        self.encoding = encoding
        self.variables = variables
        self.overlay = normalize_overlay(overlay)
        self.roots = resolver.roots_for(doc_path)
        if doc_path is not None:
            self.doc_real: str | None = os.path.realpath(os.fspath(doc_path))
            self.base_dir = os.path.dirname(os.path.abspath(doc_path))
        else:
            self.doc_real = None
            self.base_dir = os.getcwd()
        self.files: dict[str, asyncio.Future[FileInfo]] = {}
        self.urls: dict[str, asyncio.Future[UrlInfo]] = {}
        self.tasks: list[asyncio.Future[Any]] = []
        self.seen: set[str] = set()
        self.nested: list[ReferenceResult] = []
        self.nested_errors: list[ReferenceResult] = []
        self.targets: set[str] = set()
        self.var_values: dict[str, str | None] = {}

    # -- futures (prefetch) ------------------------------------------------------------------

    def _locate(self, target: str, untrimmed: str | None, base_dir: str) -> Any:
        return locate(
            target,
            untrimmed,
            base_dir,
            self.roots,
            allow_outside=self.allow_outside,
            overlay=self.overlay,
        )

    def file_info(self, real: str, label: str, depth: int) -> asyncio.Future[FileInfo]:
        fut = self.files.get(real)
        if fut is None:
            want_nested = self.max_depth > 0
            inner = self.r._file_job(
                real, self.encoding, want_nested, self.overlay.get(real), label
            )
            fut = asyncio.ensure_future(self._with_prefetch(inner, real, depth))
            self.files[real] = fut
            self.tasks.append(fut)
            fut.add_done_callback(lambda f: None if f.cancelled() else f.exception())
        return fut

    async def _with_prefetch(
        self, inner: asyncio.Future[FileInfo], real: str, depth: int
    ) -> FileInfo:
        info = await asyncio.shield(inner)
        if info.nested and depth < self.max_depth:
            base = os.path.dirname(real)
            for occ in info.nested:
                loc = self._locate(occ.target, occ.untrimmed, base)
                if loc.error is None and loc.real not in self.files:
                    self.file_info(loc.real, loc.raw, depth + 1)
        return info

    def url_info(self, url: str) -> asyncio.Future[UrlInfo]:
        fut = self.urls.get(url)
        if fut is None:
            fut = asyncio.ensure_future(self.r.http.count(url, self.encoding))
            self.urls[url] = fut
            self.tasks.append(fut)
            fut.add_done_callback(lambda f: None if f.cancelled() else f.exception())
        return fut

    def cancel_pending(self) -> None:
        for t in self.tasks:
            if not t.done():
                t.cancel()

    def _prefetch(self, occurrences: Sequence[Occurrence]) -> None:
        for occ in occurrences:
            if occ.kind not in self.enabled:
                continue
            if occ.kind == "url":
                self.url_info(occ.target)
            elif occ.kind == "file":
                loc = self._locate(occ.target, occ.untrimmed, self.base_dir)
                if loc.error is None and loc.real != self.doc_real:
                    self.file_info(loc.real, loc.raw, 0)
            elif occ.kind == "variable":
                value = self.variables.get(occ.target)
                ref = reference_in_value(value) if value is not None else None
                if ref is not None and ref[0] == "url" and "url" in self.enabled:
                    self.url_info(ref[1])
                elif ref is not None and ref[0] == "file" and "file" in self.enabled:
                    loc = self._locate(ref[1], None, self.base_dir)
                    if loc.error is None:
                        self.file_info(loc.real, loc.raw, 0)

    # -- assembly ----------------------------------------------------------------------------

    async def run(self, occurrences: Sequence[Occurrence]) -> list[ReferenceResult]:
        self._prefetch(occurrences)
        out: list[ReferenceResult] = []
        root_stack: tuple[str, ...] = (self.doc_real,) if self.doc_real else ()
        for occ in occurrences:
            self.nested_errors = []
            res = await self._one(occ, root_stack)
            if self.nested_errors:
                first = self.nested_errors[0]
                n = len(self.nested_errors)
                what = "1 nested reference" if n == 1 else f"{n} nested references"
                _warn(res, f"{what} failed: {first.error}", first.code or "reference-not-found")
            out.append(res)
        return out + self.nested

    async def _one(self, occ: Occurrence, stack: tuple[str, ...]) -> ReferenceResult:
        raw = _raw(occ)
        if occ.kind not in self.enabled:
            res = ReferenceResult(kind=occ.kind, target=occ.target, raw=raw, span=occ.span)
            res.warning = f"{occ.kind} references are turned off (references.enabled)"
            return res
        if occ.kind == "file":
            return await self._file(
                occ.target, occ.untrimmed, self.base_dir, 0, None, occ.span, stack, raw
            )
        if occ.kind == "url":
            return await self._url(occ.target, occ.span, raw)
        if occ.kind == "variable":
            return await self._variable(occ, stack, raw)
        res = ReferenceResult(kind=occ.kind, target=occ.target, raw=raw, span=occ.span)
        return _fail(
            res,
            PromptTokensError(f"Unknown reference kind '{occ.kind}'", code="reference-not-found"),
        )

    def _cycle_error(self, stack: tuple[str, ...], real: str) -> PromptTokensError:
        chain = [*stack[stack.index(real) :], real]
        described = " → ".join(_short(p, self.base_dir) for p in chain)
        return PromptTokensError(
            f"Reference cycle: {described}; not followed", code="reference-cycle"
        )

    async def _file(
        self,
        target: str,
        untrimmed: str | None,
        base_dir: str,
        depth: int,
        via: str | None,
        span: Span | None,
        stack: tuple[str, ...],
        raw: str,
    ) -> ReferenceResult:
        loc = self._locate(target, untrimmed, base_dir)
        res = ReferenceResult(
            kind="file",
            target=loc.real,
            raw=raw,
            span=_extend(span, loc.extra),
            depth=depth,
            via=via,
        )
        if depth > 0:
            self.nested.append(res)  # pre-order: the parent before its children
        self.targets.add("file:" + loc.real)
        if loc.error is not None:
            return self._failed(res, loc.error)
        if loc.real in stack:
            return self._failed(res, self._cycle_error(stack, loc.real))
        try:
            info = await self.file_info(loc.real, loc.raw, depth)
        except PromptTokensError as exc:
            return self._failed(res, exc)
        except Exception as exc:
            return self._failed(res, _unexpected(exc, loc.real, "reference-not-found"))
        self._fill_file(res, info, loc.raw)
        if loc.real in self.seen:
            res.duplicate = True
            res.tokens = 0
            return res
        self.seen.add(loc.real)
        res.tokens = info.tokens
        await self._children(res, info, depth, (*stack, loc.real))
        return res

    async def _children(
        self, res: ReferenceResult, info: FileInfo, depth: int, stack: tuple[str, ...]
    ) -> None:
        if not info.nested:
            return
        if depth >= self.max_depth:
            n = len(info.nested)
            if self.max_depth > 0:
                _warn(
                    res,
                    f"{n} reference{'s' if n != 1 else ''} inside {os.path.basename(info.path)} not followed: "
                    f"references.maxDepth ({self.max_depth}) reached",
                    "reference-depth",
                )
            return
        base = os.path.dirname(info.path)
        for occ in info.nested:
            await self._file(
                occ.target, occ.untrimmed, base, depth + 1, info.path, None, stack, _raw(occ)
            )

    def _fill_file(self, res: ReferenceResult, info: FileInfo, raw: str) -> None:
        """A counted file's figures (``tokens`` is the caller's: duplicates count 0)."""
        res.own_tokens = info.tokens
        res.bytes = info.size
        res.cache = info.cache
        if info.invalid_utf8:
            _warn(
                res,
                f"{raw} is not valid UTF-8: invalid bytes counted as U+FFFD",
                "reference-encoding",
            )

    def _failed(self, res: ReferenceResult, exc: PromptTokensError) -> ReferenceResult:
        _fail(res, exc)
        if res.depth > 0:
            self.nested_errors.append(res)
        return res

    async def _url(self, url: str, span: Span | None, raw: str) -> ReferenceResult:
        res = ReferenceResult(kind="url", target=url, raw=raw, span=span)
        self.targets.add(url_key(url))
        if not await self._fetch_into(res, url):
            return res
        if url_key(url) in self.seen:
            res.duplicate = True
            res.tokens = 0
            return res
        self.seen.add(url_key(url))
        return res

    async def _fetch_into(self, res: ReferenceResult, url: str) -> bool:
        """Fetch ``url`` and fill ``res`` with its figures, or with the error; True if fetched."""
        try:
            info = await self.url_info(url)
        except PromptTokensError as exc:
            _fail(res, exc)
            return False
        except Exception as exc:
            _fail(res, _unexpected(exc, url, "reference-fetch-failed"))
            return False
        self._fill_url(res, info)
        return True

    def _fill_url(self, res: ReferenceResult, info: UrlInfo) -> None:
        res.tokens = res.own_tokens = info.tokens
        res.bytes = info.size
        res.cache = info.cache
        res.fetched_at = info.fetched_at
        if info.warning:
            _warn(res, info.warning, "reference-fetch-failed")
        if info.invalid_utf8:
            _warn(
                res,
                f"{info.url} is not valid text in its charset: invalid bytes counted as U+FFFD",
                "reference-encoding",
            )

    async def _variable(self, occ: Occurrence, stack: tuple[str, ...], raw: str) -> ReferenceResult:
        name = occ.target
        res = ReferenceResult(kind="variable", target=name, raw=raw, span=occ.span)
        self.targets.add(var_key(name))
        value = self.variables.get(name)
        self.var_values[name] = value_hash(value) if value is not None else None
        if value is None:
            return _fail(
                res,
                PromptTokensError(f"Variable '{name}' is not defined", code="variable-undefined"),
            )
        ref = reference_in_value(value)
        if ref is None or ref[0] not in self.enabled:
            res.tokens = res.own_tokens = self.r.count_value(self.encoding, value)
            res.bytes = len(value.encode("utf-8", "surrogatepass"))
            return res
        kind, target = ref
        if kind == "url":
            self.targets.add(url_key(target))
            await self._fetch_into(res, target)
            return res
        loc = self._locate(target, None, self.base_dir)
        self.targets.add("file:" + loc.real)
        if loc.error is not None:
            return _fail(res, loc.error)
        if loc.real in stack:
            return _fail(res, self._cycle_error(stack, loc.real))
        try:
            info = await self.file_info(loc.real, loc.raw, 0)
        except PromptTokensError as exc:
            return _fail(res, exc)
        except Exception as exc:
            return _fail(res, _unexpected(exc, loc.real, "reference-not-found"))
        self._fill_file(res, info, loc.raw)
        res.tokens = info.tokens
        await self._children(res, info, 0, (*stack, loc.real))
        return res


__all__ = ["BatchItem", "ReferenceResolver"]
