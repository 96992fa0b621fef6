"""Load a prompt document from disk for the CLI, skipping work the cache already did.

A warm re-run of ``prompt-tokens check`` over a big repository should not re-read or re-encode
unchanged prompts. The file's fingerprint (path, size, mtime_ns, inode) gives its sha256, which
gives its token count; the number of references found in that content is cached too, so a
file without references is not even read past its front matter. Only hashes and numbers go
into the cache, never text.

A cold count streams the file through ``count_stream`` (safe-cut blocks), so the
text is never held whole for counting. The whole text is built only when the reference scanner
needs it: the raw bytes are watched for the scanner's triggers on the way (every reference
syntax starts with one of them), and a document without any is never held whole.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Collection, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import BinaryIO

import attrs

from prompt_tokens.cache.tiered import TieredCache
from prompt_tokens.errors import NotFoundError
from prompt_tokens.forked import ChildLost, Forked
from prompt_tokens.results import Occurrence
from prompt_tokens.tokenizer.counter import (
    STREAM_THREADS,
    count_stream,
    count_text,
    count_text_parallel,
)
from prompt_tokens.tokenizer.encodings import get_encoding
from prompt_tokens.tokenizer.textio import (
    DecodeStats,
    StreamDecoder,
    decode_bytes,
    decode_stream,
)

HEAD_BYTES = 64 * 1024  # front matter lives at the very top
WHOLE_BYTES = 256 * 1024
"""Files up to this size are read once, whole: most prompts are a few KiB, and one read, one
decode and one encode cost less than the streaming machinery (and the second read a scan
would need)."""
READ_BYTES = 256 * 1024  # the transient copies of one read stay small (a few MiB in all)
APART_BYTES = 4 * 1024 * 1024
"""Files from this size may be scanned in a forked child: below it the fork (a few ms for a
process with the engine loaded) costs about what the scan does."""

REF_TRIGGERS: tuple[bytes, ...] = (b"@", b"#file:", b"#fetch:", b"{{", b"${input:")
"""Byte strings one of which every reference contains (``references.syntax``'s table): ``@path``
and ``@https://``, ``#file:``/``#fetch:``, ``{{ var }}``, ``${input:var}``."""
LINK_TRIGGER = b"]("
"""…and ``[text](path)`` when Markdown links count as references."""


INCLUDE_TRIGGERS: tuple[bytes, ...] = (b"{%", b"${file:")
"""…and template includes (``{% include %}``, Prompty ``${file:}``; ``{{> p}}`` has ``{{``)."""


def ref_triggers(markdown_links: bool, includes: bool = False) -> tuple[bytes, ...]:
    """What :class:`TriggerWatch` looks for under these scanner settings."""
    out = (*REF_TRIGGERS, LINK_TRIGGER) if markdown_links else REF_TRIGGERS
    return (*out, *INCLUDE_TRIGGERS) if includes else out


class TriggerWatch:
    """Sees whether a byte stream contains any trigger, across chunk seams.

    All triggers are ASCII, so a byte search is the same as a search in the decoded text."""

    def __init__(self, triggers: tuple[bytes, ...]) -> None:
        self._triggers = triggers
        self._keep = max(len(t) for t in triggers) - 1
        self._tail = b""
        self.seen = False

    def feed(self, chunk: bytes) -> None:
        if self.seen or not chunk:
            return
        window = self._tail + chunk
        self.seen = any(t in window for t in self._triggers)
        self._tail = window[-self._keep :] if self._keep else b""


@attrs.define
class LoadedDocument:
    text: str  # the whole text when references were scanned, else only its head
    text_tokens: int
    occurrences: list[Occurrence] | None  # None: not scanned (references off)
    sha256: str  # of the content counted


def refs_key(kinds: Collection[str], markdown_links: bool) -> str:
    """Pseudo-encoding under which the number of references in some content is cached."""
    return f"doc-refs-v1:{','.join(sorted(kinds))}:{'md' if markdown_links else 'plain'}"


def _chunks(fh: BinaryIO, head: bytes, watch: TriggerWatch | None) -> Iterator[bytes]:
    """The file's bytes from the start, ``head`` (already read) first, fed to ``watch``."""
    chunk = head
    while chunk:
        if watch is not None:
            watch.feed(chunk)
        yield chunk
        chunk = fh.read(READ_BYTES)


def _regular_stat(path: str) -> os.stat_result:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise NotFoundError("no such file") from None
    if stat.S_ISDIR(st.st_mode):
        raise NotFoundError("is a folder")
    return st


@attrs.define
class _Pass:
    """What one streaming pass over the file learned."""

    sha256: str
    size: int
    tokens: int
    unchanged: bool  # the file's fingerprint after the pass is the one before it


def load_document(
    path: str,
    cache: TieredCache,
    *,
    encoding_for: Callable[[str, str | None], str],
    scan: Callable[[str], list[Occurrence]] | None,
    scan_key: str = "",
    triggers: tuple[bytes, ...] = (*REF_TRIGGERS, LINK_TRIGGER),
    scan_pieces: Callable[[Iterable[str]], list[Occurrence]] | None = None,
    threads: int = STREAM_THREADS,
    scan_apart: bool = False,
) -> LoadedDocument:
    """Read, count and scan ``path`` — or as little of it as the cache allows.

    ``scan_pieces``: the same scan over a text given in pieces, holding only a window of it;
    with it a big file is never held whole, even when it has references. ``threads``: how
    many threads tokenize a big file (1 in a worker process: the processes are the threads);
    ``scan_apart``: a big file's references are scanned in a forked child while this process
    counts it (only where forking is safe: a CLI process with cores to spare).

    ``encoding_for(head_text, sha256 or None)`` returns the document's encoding (front matter
    may choose it; the content's sha256 when the file's fingerprint already gives it);
    ``scan(text)`` finds its references, or is None when references are off; ``scan_key``
    names the scanner's settings (see :func:`refs_key`) for the cached reference count;
    ``triggers``: what a text the scanner finds anything in contains (:func:`ref_triggers`).
    """
    st = _regular_stat(path)
    fp = (st.st_size, st.st_mtime_ns, st.st_ino)
    with open(path, "rb") as fh:
        head_bytes = fh.read(HEAD_BYTES)
        ended = len(head_bytes) < HEAD_BYTES  # the whole file: decoded once, as a whole
        decoder = StreamDecoder(label="the file")
        head = decoder.feed(head_bytes, final=ended)
        sha = cache.get_fingerprint(path, *fp)
        encoding = encoding_for(head, sha)
        tokens = cache.get_count(encoding, sha) if sha is not None else None
        n_refs: int | None = 0
        if scan is not None:
            n_refs = cache.get_count(scan_key, sha) if sha is not None else None
        if tokens is not None and n_refs == 0:
            return LoadedDocument(head, tokens, [] if scan else None, sha or "")
        if st.st_size <= WHOLE_BYTES:
            whole = _Whole(path, fp, cache, encoding, scan, scan_key, triggers)
            if ended:
                return whole.take(fh, head_bytes, head, decoder.stats(), sha, tokens, n_refs)
            return whole.load(fh, head_bytes, sha, tokens, n_refs)
        if scan is not None and scan_pieces is not None and tokens is None and n_refs is None:
            both = _Both(
                path,
                fp,
                cache,
                encoding,
                scan,
                scan_pieces,
                scan_key,
                threads,
                scan_apart and st.st_size >= APART_BYTES,
            )
            return both.load(fh, head_bytes, head)
        watch = TriggerWatch(triggers) if scan is not None and n_refs is None else None
        done = None
        if tokens is None or watch is not None:
            done = _stream_pass(fh, head_bytes, encoding, tokens, watch, sha, threads)
            after = os.fstat(fh.fileno())
            done.unchanged = (after.st_size, after.st_mtime_ns, after.st_ino) == fp
    if done is not None:
        if done.unchanged:
            cache.put_fingerprint(path, *fp, done.sha256)
        cache.put_count(encoding, done.sha256, done.tokens, done.size)
        tokens = done.tokens
    assert tokens is not None
    if scan is None:
        return LoadedDocument(head, tokens, None, done.sha256 if done else sha or "")
    if watch is not None and not watch.seen and done is not None:
        cache.put_count(scan_key, done.sha256, 0, done.size)
        return LoadedDocument(head, tokens, [], done.sha256)
    if scan_pieces is not None:
        streamed = _scan_streamed(path, cache, scan_pieces, scan_key, done.sha256 if done else sha)
        if streamed is not None:
            return LoadedDocument(head, tokens, *streamed)
    # Changed between the passes (or no streaming scan): count and scan one text, whole.
    return _scan_whole(path, cache, encoding, tokens, done, scan, scan_key)


def _scan_streamed(
    path: str,
    cache: TieredCache,
    scan_pieces: Callable[[Iterable[str]], list[Occurrence]],
    scan_key: str,
    sha_counted: str | None,
) -> tuple[list[Occurrence], str] | None:
    """The references of the content counted, found streaming; None if the file changed."""
    occurrences, sha_scanned, size = _scan_stream(path, scan_pieces)
    if sha_scanned != sha_counted:
        return None
    cache.put_count(scan_key, sha_scanned, len(occurrences), size)
    return occurrences, sha_scanned


@attrs.define
class _Whole:
    """One small file read whole: decoded, counted and scanned from memory, once."""

    path: str
    fp: tuple[int, int, int]
    cache: TieredCache
    encoding: str
    scan: Callable[[str], list[Occurrence]] | None
    scan_key: str
    triggers: tuple[bytes, ...]

    def load(
        self, fh: BinaryIO, head: bytes, sha: str | None, tokens: int | None, n_refs: int | None
    ) -> LoadedDocument:
        """``sha``, ``tokens``, ``n_refs``: what the cache knew from the file's fingerprint
        (forgotten if the content read is not that one: it changed since the ``stat``)."""
        data = head + fh.read()
        text, stats = decode_bytes(data, label="the file")
        return self.take(fh, data, text, stats, sha, tokens, n_refs)

    def take(
        self,
        fh: BinaryIO,
        data: bytes,
        text: str,
        stats: DecodeStats,
        sha: str | None,
        tokens: int | None,
        n_refs: int | None,
    ) -> LoadedDocument:
        """The file's whole ``data`` and its ``text`` (decoded, with its ``stats``), counted
        and scanned."""
        after = os.fstat(fh.fileno())
        if sha is not None and stats.sha256 != sha:
            tokens = n_refs = None
        if (after.st_size, after.st_mtime_ns, after.st_ino) == self.fp:
            self.cache.put_fingerprint(self.path, *self.fp, stats.sha256)
        if tokens is None:
            tokens = count_text(get_encoding(self.encoding), text)
            self.cache.put_count(self.encoding, stats.sha256, tokens, stats.size)
        if self.scan is None:
            return LoadedDocument(text, tokens, None, stats.sha256)
        if n_refs == 0 or not any(t in data for t in self.triggers):
            occurrences: list[Occurrence] = []
        else:
            occurrences = self.scan(text)
        if n_refs is None:
            self.cache.put_count(self.scan_key, stats.sha256, len(occurrences), stats.size)
        return LoadedDocument(text, tokens, occurrences, stats.sha256)


def _stream_pass(
    fh: BinaryIO,
    head: bytes,
    encoding: str,
    tokens: int | None,
    watch: TriggerWatch | None,
    sha: str | None,
    threads: int = STREAM_THREADS,
) -> _Pass:
    """Count the file streaming (unless ``tokens`` is known), watching for triggers."""
    chunks = _chunks(fh, head, watch)
    if tokens is None:
        counted = count_stream(chunks, encoding, label="the file", threads=threads)
        return _Pass(counted.stats.sha256, counted.stats.size, counted.tokens, False)
    size = sum(len(c) for c in chunks)  # only the triggers were wanted: no decoding
    assert sha is not None
    return _Pass(sha, size, tokens, False)


@attrs.define
class _Both:
    """A big file never seen: counted streaming while a thread finds its references in a
    second stream of the same file, neither holding the text whole. With tiktoken (which
    releases the GIL) the scan's Python runs while it encodes; rs_bpe holds the GIL, so the
    two take turns, which still costs less than tiktoken's count alone."""

    path: str
    fp: tuple[int, int, int]
    cache: TieredCache
    encoding: str
    scan: Callable[[str], list[Occurrence]]
    scan_pieces: Callable[[Iterable[str]], list[Occurrence]]
    scan_key: str
    threads: int
    apart: bool  # scan in a forked child, on another core, not in a thread

    def load(self, fh: BinaryIO, head_bytes: bytes, head: str) -> LoadedDocument:
        with _scanning(self.path, self.scan_pieces, self.apart) as scanned:
            done = _stream_pass(fh, head_bytes, self.encoding, None, None, None, self.threads)
            after = os.fstat(fh.fileno())
            occurrences, sha_scanned, size = scanned()
        if (after.st_size, after.st_mtime_ns, after.st_ino) == self.fp:
            self.cache.put_fingerprint(self.path, *self.fp, done.sha256)
        self.cache.put_count(self.encoding, done.sha256, done.tokens, done.size)
        if sha_scanned != done.sha256:  # changed while read: count and scan one text, whole
            return _scan_whole(
                self.path, self.cache, self.encoding, done.tokens, done, self.scan, self.scan_key
            )
        self.cache.put_count(self.scan_key, sha_scanned, len(occurrences), size)
        return LoadedDocument(head, done.tokens, occurrences, sha_scanned)


_Scanned = tuple[list[Occurrence], str, int]


@contextmanager
def _scanning(
    path: str, scan_pieces: Callable[[Iterable[str]], list[Occurrence]], apart: bool
) -> Iterator[Callable[[], _Scanned]]:
    """:func:`_scan_stream` started beside the caller's count; yields what waits for it.

    Apart, it runs in a forked child; a child that dies without an answer (killed, out of
    memory) costs only time: the scan is done here instead."""
    if not apart:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pt-scan") as pool:
            yield pool.submit(_scan_stream, path, scan_pieces).result
        return
    child = Forked(_scan_stream, path, scan_pieces)

    def wait() -> _Scanned:
        try:
            return child.result()
        except ChildLost:
            return _scan_stream(path, scan_pieces)

    try:
        yield wait
    finally:
        child.cancel()


def _scan_stream(path: str, scan_pieces: Callable[[Iterable[str]], list[Occurrence]]) -> _Scanned:
    """The references of the file streamed: (occurrences, sha256, size) of what was read."""
    with open(path, "rb") as fh:
        pieces, decoder = decode_stream(iter(lambda: fh.read(READ_BYTES), b""), label="the file")
        occurrences = scan_pieces(pieces)
    stats = decoder.stats()
    return occurrences, stats.sha256, stats.size


def _scan_whole(
    path: str,
    cache: TieredCache,
    encoding: str,
    tokens: int,
    done: _Pass | None,
    scan: Callable[[str], list[Occurrence]],
    scan_key: str,
) -> LoadedDocument:
    """The reference scanner needs the whole text: read it (once more, from the page cache)."""
    with open(path, "rb") as fh:
        data = fh.read()
    text, stats = decode_bytes(data, label="the file")
    del data
    if done is not None and stats.sha256 != done.sha256:  # changed since the counting pass
        tokens = count_text_parallel(text, encoding)
        cache.put_count(encoding, stats.sha256, tokens, stats.size)
    occurrences = scan(text)
    cache.put_count(scan_key, stats.sha256, len(occurrences), stats.size)
    return LoadedDocument(text, tokens, occurrences, stats.sha256)
