"""One document's leaf work, started ahead: file counts and URL fetches run while it assembles.

A resolution walks its references in document order (duplicates and cycles depend on that
order), but waiting for each file in turn would serialise the I/O. So every file and URL the
document names is started at once, nested files as soon as their parent is scanned, and the
walk then only awaits futures that are usually done.

Before a group of files starts, the cache is asked about all of them at once
(``FileCounter.count_cached``: one batched SQLite lookup, one worker-thread trip): on a warm
run every unchanged file is answered there, instead of costing a thread hop and two SQLite
queries each.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from prompt_tokens.references.files import FileInfo
from prompt_tokens.references.locate import Located, locate
from prompt_tokens.references.variables import reference_in_value
from prompt_tokens.results import Occurrence
from prompt_tokens.tasks import supervise

if TYPE_CHECKING:  # the HTTP module (and httpx) load only when a URL is fetched
    from prompt_tokens.references.fetched import UrlInfo


class LeafWork(Protocol):
    """What the resolver offers a walk (coalesced across concurrent resolutions)."""

    def file_job(
        self, real: str, encoding: str, want_nested: bool, overlay_text: str | None, label: str
    ) -> asyncio.Future[FileInfo]: ...

    async def fetch_url(self, url: str, encoding: str) -> UrlInfo: ...

    async def cached_files(
        self, reals: Sequence[str], encoding: str, want_nested: bool
    ) -> dict[str, FileInfo]: ...


class Leaves:
    """The futures of one resolution, by file realpath and by URL."""

    def __init__(
        self,
        work: LeafWork,
        *,
        encoding: str,
        max_depth: int,
        roots: Sequence[str],
        allow_outside: bool,
        overlay: Mapping[str, str],
    ) -> None:
        self.work = work
        self.encoding = encoding
        self.max_depth = max_depth
        self.roots = roots
        self.allow_outside = allow_outside
        self.overlay = overlay
        self.files: dict[str, asyncio.Future[FileInfo]] = {}
        self.urls: dict[str, asyncio.Future[UrlInfo]] = {}
        self._tasks: set[asyncio.Future[Any]] = set()
        self._located: dict[tuple[str, str | None, str], Located] = {}

    def locate(self, target: str, untrimmed: str | None, base_dir: str) -> Located:
        """Where a reference points (memoised: starting and assembling both ask, and
        ``realpath`` is a system call per path component)."""
        key = (target, untrimmed, base_dir)
        loc = self._located.get(key)
        if loc is None:
            loc = self._located[key] = locate(
                target,
                untrimmed,
                base_dir,
                self.roots,
                allow_outside=self.allow_outside,
                overlay=self.overlay,
            )
        return loc

    def _keep(self, fut: asyncio.Future[Any]) -> None:
        # Waiters see the exception through their own await; retrieved here so an abandoned
        # future (the document was recounted meanwhile) does not complain at exit.
        supervise(fut, self._tasks, what="reference", quiet=True)

    def file_info(
        self, real: str, label: str, depth: int, known: FileInfo | None = None
    ) -> asyncio.Future[FileInfo]:
        """The count of ``real`` (``known``: already answered by the cache)."""
        fut = self.files.get(real)
        if fut is not None:
            return fut
        if known is not None and not (known.nested and depth < self.max_depth):
            fut = asyncio.get_running_loop().create_future()
            fut.set_result(known)
        else:
            if known is not None:
                inner: asyncio.Future[FileInfo] = asyncio.get_running_loop().create_future()
                inner.set_result(known)
            else:
                inner = self.work.file_job(
                    real, self.encoding, self.max_depth > 0, self.overlay.get(real), label
                )
            fut = asyncio.ensure_future(self._then_nested(inner, real, depth))
            self._keep(fut)
        self.files[real] = fut
        return fut

    async def _then_nested(
        self, inner: asyncio.Future[FileInfo], real: str, depth: int
    ) -> FileInfo:
        """The file's count; once it is scanned, its own file references start too."""
        info = await asyncio.shield(inner)
        if info.nested and depth < self.max_depth:
            base = os.path.dirname(real)
            found: dict[str, str] = {}
            for occ in info.nested:
                loc = self.locate(occ.target, occ.untrimmed, base)
                if loc.error is None:
                    found.setdefault(loc.real, loc.raw)
            await self.start_files(found, depth + 1)
        return info

    def url_info(self, url: str) -> asyncio.Future[UrlInfo]:
        fut = self.urls.get(url)
        if fut is None:
            fut = asyncio.ensure_future(self.work.fetch_url(url, self.encoding))
            self.urls[url] = fut
            self._keep(fut)
        return fut

    async def start_files(self, files: Mapping[str, str], depth: int) -> None:
        """Start counting ``files`` (realpath → label) not started yet. Those the cache
        answers (one batched lookup, one trip to a worker thread for all of them) are done
        at once; the others are counted one job each."""
        new = {real: label for real, label in files.items() if real not in self.files}
        if not new:
            return
        on_disk = [real for real in new if real not in self.overlay]
        known = await self.work.cached_files(on_disk, self.encoding, self.max_depth > 0)
        for real, label in new.items():
            self.file_info(real, label, depth, known.get(real))

    async def start(
        self,
        occurrences: Sequence[Occurrence],
        *,
        enabled: set[str],
        base_dir: str,
        doc_real: str | None,
        variables: Mapping[str, str],
    ) -> None:
        """Start the work of every reference among ``occurrences`` (URLs first: the slowest)."""
        files: dict[str, str] = {}
        for occ in occurrences:
            if occ.kind not in enabled:
                continue
            if occ.kind == "url":
                self.url_info(occ.target)
            elif occ.kind == "file":
                loc = self.locate(occ.target, occ.untrimmed, base_dir)
                if loc.error is None and loc.real != doc_real:
                    files.setdefault(loc.real, loc.raw)
            elif occ.kind == "variable":
                value = variables.get(occ.target)
                ref = reference_in_value(value) if value is not None else None
                if ref is not None and ref[0] == "url" and "url" in enabled:
                    self.url_info(ref[1])
                elif ref is not None and ref[0] == "file" and "file" in enabled:
                    loc = self.locate(ref[1], None, base_dir)
                    if loc.error is None:
                        files.setdefault(loc.real, loc.raw)
        await self.start_files(files, 0)

    def cancel_pending(self) -> None:
        for task in list(self._tasks):
            task.cancel()
