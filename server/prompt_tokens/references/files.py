"""Local files: whether a referenced file may be read, and its exact count.

Where a reference points, and whether it is inside the workspace, is :mod:`.locate`'s job.

Counting (``FileCounter.count``, run in a worker thread):

1. ``stat``: missing → ``reference-not-found``; a folder → ``reference-not-found`` with "is a
   folder" (folders are not expanded: reference the files you mean); not a regular file (FIFO,
   device) → ``reference-not-found`` "is not a regular file" (never opened, it could block);
   larger than ``references.maxBytes`` → ``reference-too-large`` without reading.
2. fingerprint ``(realpath, size, mtime_ns, inode)`` → sha256 from the cache, then
   ``(encoding, sha256)`` → tokens. A hit is not read again, unless its nested references
   are needed and not known: in memory ``sha256 → nested occurrences``; in the SQLite file
   only an integer per hash (``scan_key``: how many file references, whether the bytes were
   valid UTF-8), so a new process skips reading files without references and reads and scans,
   but does not tokenize, the others.
3. Otherwise the file is read once through the shared decoder (BOM dropped, NUL in the first
   8 KiB → ``reference-binary``, invalid UTF-8 → U+FFFD plus a warning), hashed, and tokenized
   only when ``(encoding, sha256)`` is not cached; files over ``STREAM_ABOVE`` bytes stream
   through ``count_stream`` in safe-cut blocks. A file that changed while it was
   read gets no fingerprint entry (the next lookup reads it again).

Open editor buffers (``overlay``) win over the disk: their text is hashed and counted the same
way, cache state ``open-buffer``.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from collections.abc import Collection, Iterator, Sequence

import attrs
from cachetools import LRUCache

from prompt_tokens.agents.plausible import looks_like_path
from prompt_tokens.cache.tiered import TieredCache
from prompt_tokens.errors import (
    NotFoundError,
    PromptTokensError,
    TooLargeError,
)
from prompt_tokens.references.syntax import markdown_links_enabled, scan
from prompt_tokens.results import Occurrence
from prompt_tokens.tokenizer.counter import count_stream
from prompt_tokens.tokenizer.encodings import get_encoding
from prompt_tokens.tokenizer.textio import StreamDecoder

# Files whose own file references are followed (prompt-like text). Code files are not scanned:
# a Python decorator ``@app.route`` is not a reference.
NESTED_SUFFIXES = (".md", ".markdown", ".mdx", ".mdc", ".txt", ".prompt", ".prompty")

STREAM_ABOVE = 1 << 20  # bytes; smaller files are decoded and counted in one piece
READ_CHUNK = 1 << 20


def scan_key(md: bool, scanned: bool) -> str:
    """Pseudo-encoding under which ``FileCounter`` remembers, per content hash, how many file
    references it found and whether the bytes were valid UTF-8 (an integer; no content)."""
    return f"refs-v1:{'md' if md else 'plain'}" if scanned else "refs-v1:unscanned"


def scannable(path: str) -> bool:
    return path.lower().endswith(NESTED_SUFFIXES)


@attrs.define
class FileInfo:
    """What counting one file produced (no text)."""

    path: str  # realpath
    sha256: str
    size: int
    tokens: int
    cache: str  # "memory" | "disk" | "miss" | "open-buffer"
    invalid_utf8: bool = False
    nested: list[Occurrence] | None = None  # file references inside; None: not scanned


@attrs.define
class _Meta:
    invalid_utf8: bool
    nested: dict[bool, list[Occurrence]] = attrs.field(factory=dict)  # markdown_links → occs


class FileCounter:
    """Counts files and open buffers; thread-safe (called from worker threads)."""

    def __init__(
        self,
        cache: TieredCache,
        *,
        max_bytes: int,
        markdown_links: str | bool = "auto",
        nested_kinds: Collection[str] = ("file",),
        meta_entries: int = 20_000,
    ) -> None:
        self.cache = cache
        self.max_bytes = max_bytes
        self.markdown_links = markdown_links
        self.nested_kinds = tuple(nested_kinds)
        self._meta: LRUCache[str, _Meta] = LRUCache(meta_entries)
        self._lock = threading.Lock()
        self.reads = 0  # files opened and read (figures for tests and benchmarks)
        self.tokenized = 0  # contents tokenized (count-cache misses)

    # -- helpers -----------------------------------------------------------------------------

    def _get_meta(self, sha: str) -> _Meta | None:
        with self._lock:
            return self._meta.get(sha)

    def _remember(self, sha: str, invalid: bool, md: bool, nested: list[Occurrence] | None) -> None:
        with self._lock:
            meta = self._meta.get(sha)
            if meta is None:
                meta = _Meta(invalid)
                self._meta[sha] = meta
            meta.invalid_utf8 = invalid
            if nested is not None:
                meta.nested[md] = nested

    def _scan(self, text: str, md: bool) -> list[Occurrence]:
        """References inside a referenced file. An ``@name`` that cannot be a path (a package
        scope, a decorator, a handle: ``agents.plausible``) is text here too, as in documents;
        the rule reads the token only, so the result may be cached by content."""
        return [
            o
            for o in scan(text, kinds=self.nested_kinds, markdown_links=md)
            if o.syntax != "at" or o.kind != "file" or looks_like_path(o.target)
        ]

    def _tokens(
        self, encoding: str, sha: str, text: str | None, chunks: Iterator[bytes] | None
    ) -> tuple[int, str]:
        n, state = self.cache.lookup_count(encoding, sha)
        if n is not None:
            return n, state
        self.tokenized += 1
        if text is not None:
            n = get_encoding(encoding).count(text)
        else:
            assert chunks is not None
            n = count_stream(chunks, encoding, max_bytes=self.max_bytes).tokens
        return n, "miss"

    # -- counting ----------------------------------------------------------------------------

    def prefetch(self, reals: Sequence[str], encoding: str, want_nested: bool) -> dict[str, str]:
        """Fetch what counting ``reals`` will look up, in a few batched queries: their
        fingerprints, then each content's count and scan facts (``scan_key``). Returns the
        fingerprinted ones (realpath → sha256). Nothing is read or checked here: counting
        still compares every fingerprint with the file's ``stat``."""
        shas = self.cache.prefetch_fingerprints(reals)
        keys: list[tuple[str, str]] = []
        for real, sha in shas.items():
            md = markdown_links_enabled(self.markdown_links, real)
            keys.append((encoding, sha))
            keys.append((scan_key(md, want_nested and scannable(real)), sha))
        self.cache.prefetch_counts(keys)
        return shas

    def count_cached(
        self, reals: Sequence[str], encoding: str, *, want_nested: bool
    ) -> dict[str, FileInfo]:
        """The files among ``reals`` whose count the cache knows for their current ``stat``,
        after one batched prefetch; the others (unknown, changed, missing, refused) are left
        to :meth:`count`, which reads them or says why not."""
        out: dict[str, FileInfo] = {}
        for real in self.prefetch(reals, encoding, want_nested):
            md = markdown_links_enabled(self.markdown_links, real)
            try:
                st = self._stat(real, real)
            except PromptTokensError:
                continue
            hit = self._from_cache(real, st, encoding, md, want_nested and scannable(real))
            if hit is not None:
                out[real] = hit
        return out

    def count(self, real: str, encoding: str, *, want_nested: bool, display: str = "") -> FileInfo:
        """Count the file at ``real`` (a realpath). Raises a ``PromptTokensError`` subclass."""
        label = display or real
        md = markdown_links_enabled(self.markdown_links, real)
        want_nested = want_nested and scannable(real)
        st = self._stat(real, label)
        hit = self._from_cache(real, st, encoding, md, want_nested)
        if hit is not None:
            return hit
        try:
            return self._read_and_count(real, encoding, label, md, want_nested)
        except OSError as exc:  # e.g. permissions changed or the disk failed mid-read
            raise NotFoundError(f"Cannot read {label}: {exc.strerror or exc}") from None

    def _stat(self, real: str, label: str) -> os.stat_result:
        """``stat`` of a file that may be read: anything else raises, naming the reason."""
        try:
            st = os.stat(real)
        except (FileNotFoundError, NotADirectoryError):
            raise NotFoundError(f"File not found: {label}") from None
        except OSError as exc:
            raise NotFoundError(f"Cannot read {label}: {exc.strerror or exc}") from None
        if stat.S_ISDIR(st.st_mode):
            raise NotFoundError(
                f"{label} is a folder, not a file (folders are not expanded: reference the files)"
            )
        if not stat.S_ISREG(st.st_mode):
            raise NotFoundError(f"{label} is not a regular file, not read")
        if st.st_size > self.max_bytes:
            raise TooLargeError(
                f"{label} is larger than references.maxBytes ({st.st_size:,} > {self.max_bytes:,} bytes)"
            )
        return st

    def _from_cache(
        self, real: str, st: os.stat_result, encoding: str, md: bool, want_nested: bool
    ) -> FileInfo | None:
        """The file's figures when the cache knows all of them (no read), else None."""
        sha = self.cache.get_fingerprint(real, st.st_size, st.st_mtime_ns, st.st_ino)
        if sha is None:
            return None
        meta = self._get_meta(sha) or self._persisted_meta(sha, md, want_nested)
        if meta is None or (want_nested and md not in meta.nested):
            return None
        n, state = self.cache.lookup_count(encoding, sha)
        if n is None:
            return None
        return FileInfo(
            path=real,
            sha256=sha,
            size=st.st_size,
            tokens=n,
            cache=state,
            invalid_utf8=meta.invalid_utf8,
            nested=meta.nested.get(md) if want_nested else None,
        )

    def _persisted_meta(self, sha: str, md: bool, want_nested: bool) -> _Meta | None:
        """What an earlier process learned when it read this content, from the cache file.

        Stored as an integer under a pseudo-encoding (see ``scan_key``): ``2 * nested + invalid``.
        Only "no nested references" can skip the read (the references themselves are not
        stored), which is the common case for referenced files."""
        n, _ = self.cache.lookup_count(scan_key(md, want_nested), sha)
        if n is None:
            return None
        nested_count, invalid = divmod(n, 2)
        if want_nested and nested_count:
            return None
        meta = _Meta(bool(invalid))
        if want_nested:
            meta.nested[md] = []
        with self._lock:
            self._meta.setdefault(sha, meta)
        return meta

    def _read_and_count(
        self, real: str, encoding: str, label: str, md: bool, want_nested: bool
    ) -> FileInfo:
        try:
            fh = open(real, "rb")
        except FileNotFoundError:
            raise NotFoundError(f"File not found: {label}") from None
        except OSError as exc:
            raise NotFoundError(f"Cannot read {label}: {exc.strerror or exc}") from None
        with fh:
            self.reads += 1
            before = os.fstat(fh.fileno())
            dec = StreamDecoder(max_bytes=self.max_bytes, label=label)
            keep_text = want_nested or before.st_size <= STREAM_ABOVE
            parts: list[str] = []
            while chunk := fh.read(READ_CHUNK):
                piece = dec.feed(chunk)
                if keep_text:
                    parts.append(piece)
            tail = dec.feed(b"", final=True)
            if keep_text:
                parts.append(tail)
            stats = dec.stats()
            text = "".join(parts) if keep_text else None
            after = os.fstat(fh.fileno())
            nested = self._scan(text, md) if (want_nested and text is not None) else None

            def chunks() -> Iterator[bytes]:
                fh.seek(0)
                while c := fh.read(READ_CHUNK):
                    yield c

            small = text is not None and len(text) <= STREAM_ABOVE
            n, state = self._tokens(
                encoding, stats.sha256, text if small else None, None if small else chunks()
            )
        unchanged = (before.st_size, before.st_mtime_ns, before.st_ino) == (
            after.st_size,
            after.st_mtime_ns,
            after.st_ino,
        ) and after.st_size == stats.size
        if state == "miss":
            self.cache.put_count(encoding, stats.sha256, n, stats.size)
        if unchanged:
            self.cache.put_fingerprint(
                real, after.st_size, after.st_mtime_ns, after.st_ino, stats.sha256
            )
        facts = 2 * len(nested or ()) + int(stats.invalid_utf8)
        self.cache.put_count(scan_key(md, want_nested), stats.sha256, facts, stats.size)
        self._remember(stats.sha256, stats.invalid_utf8, md, nested)
        return FileInfo(
            path=real,
            sha256=stats.sha256,
            size=stats.size,
            tokens=n,
            cache=state,
            invalid_utf8=stats.invalid_utf8,
            nested=nested,
        )

    def count_text(
        self, real: str, text: str, encoding: str, *, want_nested: bool, display: str = ""
    ) -> FileInfo:
        """Count an open buffer's text (overlay) as if it were the file's content."""
        data = text.encode("utf-8", "surrogatepass")
        if len(data) > self.max_bytes:
            raise TooLargeError(
                f"{display or real} is larger than references.maxBytes ({len(data):,} > {self.max_bytes:,} bytes)"
            )
        sha = hashlib.sha256(data).hexdigest()
        md = markdown_links_enabled(self.markdown_links, real)
        want_nested = want_nested and scannable(real)
        n, state = self._tokens(encoding, sha, text, None)
        if state == "miss":
            self.cache.put_count(encoding, sha, n, len(data))
        nested = None
        if want_nested:
            meta = self._get_meta(sha)
            nested = meta.nested.get(md) if meta else None
            if nested is None:
                nested = self._scan(text, md)
                self._remember(sha, False, md, nested)
        return FileInfo(
            path=real, sha256=sha, size=len(data), tokens=n, cache="open-buffer", nested=nested
        )
