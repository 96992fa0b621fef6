"""The cache the rest of the program talks to: memory first, SQLite behind it.

Lookups sit on the counting hot path (one per block of every edit), so a memory hit is a lock,
a dict lookup and a counter. Writes land in memory at once and reach SQLite in batches on a
background thread (:mod:`.writer`). A put of the value the cache already holds is not queued
at all, so a warm run that learns nothing new writes nothing.

A run that needs many rows (a CLI run over a repository, a document with dozens of file
references) asks for them up front with :meth:`TieredCache.prefetch_fingerprints` and
:meth:`TieredCache.prefetch_counts`: a few ``WHERE … IN (…)`` queries fill the memory tier,
and the per-file lookups that follow are memory hits.

Everything degrades instead of failing: with ``path=None`` (``cache.path: ":memory:"``/null), or
when the store disables itself (corrupt file, unwritable folder), the same API works memory-only.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from prompt_tokens.cache.entries import (
    ABSENT,
    CountValue,
    FingerprintValue,
    HttpEntry,
    PendingWrites,
    for_log,
    has_credentials,
)
from prompt_tokens.cache.memory import MemoryLRU
from prompt_tokens.cache.prefetch import PrefetchMixin
from prompt_tokens.cache.rows import TOUCH_INTERVAL_S, WriteBatch, fold_i64
from prompt_tokens.cache.store import BUSY_TIMEOUT_MS, TABLES, SqliteStore
from prompt_tokens.cache.writer import BatchWriter, close_at_exit

LOOKUP_TABLES = ("counts", "fingerprints", "http")
"""The tables this cache looks up one key at a time (``results`` is read by whole runs)."""

if TYPE_CHECKING:
    from prompt_tokens.settings import CacheSettings

log = logging.getLogger(__name__)

CacheSource = Literal["memory", "disk", "miss"]

_MEMORY_STRINGS = (":memory:", "")


class TieredCache(PrefetchMixin):
    """Memory LRU in front of an optional SQLite store. Thread-safe; never raises on lookups
    or writes because of the cache file."""

    def __init__(
        self,
        path: str | None,
        memory_entries: int = 10_000,
        *,
        clock: Callable[[], float] = time.time,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
        reads: bool = True,
    ) -> None:
        """``path=None`` (or ``":memory:"``) keeps everything in memory.

        ``reads=False``: the file is written but never read, for a worker of a run that
        began with no cache file: each of its thousands of point reads (three a file)
        would miss, and a row another worker wrote meanwhile only saves a recount.

        ``clock`` supplies the timestamps written to the file (tests pin it to make pruning
        deterministic); ``busy_timeout_ms`` is SQLite's wait for another process's write lock.
        """
        if path in _MEMORY_STRINGS:
            path = None
        self._path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._memory: MemoryLRU[tuple[str, ...], Any] = MemoryLRU(memory_entries)
        self._pending = PendingWrites()
        self._lookups = {t: {"memory_hits": 0, "disk_hits": 0, "misses": 0} for t in LOOKUP_TABLES}
        self._closing = False
        self._reads = reads
        self._store: SqliteStore | None = None
        self._writer: BatchWriter | None = None
        if path is not None:
            self._store = SqliteStore(path, busy_timeout_ms=busy_timeout_ms)
            self._writer = BatchWriter(self._store, self._take_pending)
        self._exit_hook = close_at_exit(self.close) if self._store is not None else None

    @classmethod
    def from_settings(cls, cache_settings: CacheSettings) -> TieredCache:
        return cls(cache_settings.path, cache_settings.memory_entries)

    # -- state ---------------------------------------------------------------------------------

    @property
    def path(self) -> str | None:
        """The configured file, or None when the cache is memory-only by configuration."""
        return self._path

    @property
    def persistent(self) -> bool:
        """Whether writes currently reach a file (False after the store disabled itself)."""
        return self._live_store() is not None

    @property
    def disabled_reason(self) -> str | None:
        return self._store.disabled_reason if self._store is not None else None

    def _live_store(self) -> SqliteStore | None:
        store = self._store
        if store is None or self._closing or not store.enabled:
            return None
        return store

    def _read_store(self) -> SqliteStore | None:
        """The store lookups read: None for a cache that only writes (``reads=False``)."""
        return self._live_store() if self._reads else None

    # -- counts --------------------------------------------------------------------------------

    def get_count(self, encoding: str, sha256: str) -> int | None:
        """Tokens of the content with this hash in this encoding, or None."""
        return self.lookup_count(encoding, sha256)[0]

    def lookup_count(self, encoding: str, sha256: str) -> tuple[int | None, CacheSource]:
        """Like :meth:`get_count`, also saying which tier answered (for hover "cache state")."""
        key = ("c", encoding, sha256)
        stats = self._lookups["counts"]
        with self._lock:
            hit = self._memory.get(key)
            if hit is ABSENT:
                self._memory.pop(key)
                stats["misses"] += 1
                return None, "miss"
            if hit is not None:
                return self._count_hit_locked(key, hit, stats)
            pending = self._pending.counts.get((encoding, sha256))
            if pending is not None:
                stats["memory_hits"] += 1
                return pending[2], "memory"
            store = self._read_store()
        row = store.get_count(encoding, sha256) if store is not None else None
        with self._lock:
            if row is None:
                stats["misses"] += 1
                if log.isEnabledFor(logging.DEBUG):
                    log.debug("cache miss count %s:%s", encoding, sha256[:12])
                return None, "miss"
            tokens, used_at = row
            return self._count_hit_locked(key, (tokens, used_at, True), stats)

    def _count_hit_locked(
        self, key: tuple[str, ...], hit: CountValue, stats: dict[str, int]
    ) -> tuple[int, CacheSource]:
        """Report a hit (``unreported``: from the file), refreshing a stale last-use time."""
        tokens, touched, unreported = hit
        now = self._clock()
        stale = now - touched >= TOUCH_INTERVAL_S
        if stale or unreported:
            self._memory.put(key, (tokens, now if stale else touched, False))
        if stale:
            self._enqueue_locked(self._pending.count_touches, (key[1], key[2]), now)
        source: CacheSource = "disk" if unreported else "memory"
        stats["disk_hits" if unreported else "memory_hits"] += 1
        if log.isEnabledFor(logging.DEBUG):  # the hot path: skip building args
            log.debug("cache hit (%s) count %s:%s", source, key[1], key[2][:12])
        return tokens, source

    def put_count(self, encoding: str, sha256: str, tokens: int, size: int) -> None:
        """Remember a count. Takes the hash, never the text: the file cannot leak content.

        The same count already known is not written again (nothing changed)."""
        tokens, size = int(tokens), int(size)
        key = ("c", encoding, sha256)
        with self._lock:
            known = self._memory.get(key)
            if known and known[0] == tokens:
                return
            pending = self._pending.counts.get((encoding, sha256))
            if pending is not None and pending[2] == tokens:
                return
            now = self._clock()
            self._memory.put(key, (tokens, now, False))
            self._pending.count_touches.pop((encoding, sha256), None)
            self._enqueue_locked(
                self._pending.counts, (encoding, sha256), (encoding, sha256, tokens, size, now)
            )

    # -- file fingerprints ---------------------------------------------------------------------

    def get_fingerprint(self, path: str, size: int, mtime_ns: int, inode: int) -> str | None:
        """The sha256 recorded for ``path`` if size, mtime_ns and inode all still match."""
        key = ("f", path)
        want = (int(size), fold_i64(mtime_ns), fold_i64(inode))
        stats = self._lookups["fingerprints"]
        with self._lock:
            hit = self._memory.get(key)
            if hit is ABSENT:
                self._memory.pop(key)
                stats["misses"] += 1
                return None
            if hit is not None and hit[:3] == want:
                return self._fingerprint_hit_locked(key, hit, stats)
            pending = self._pending.fingerprints.get(path)
            if (
                pending is not None
                and (pending[1], fold_i64(pending[2]), fold_i64(pending[3])) == want
            ):
                stats["memory_hits"] += 1
                return pending[4]
            # A stale memory entry still asks the file: another process may have seen the
            # new version of the file already.
            store = self._read_store()
        row = store.get_fingerprint(path, size, mtime_ns, inode) if store is not None else None
        with self._lock:
            if row is None:
                stats["misses"] += 1
                log.debug("cache miss fingerprint %s", path)
                return None
            sha, seen_at = row
            return self._fingerprint_hit_locked(key, (*want, sha, seen_at, True), stats)

    def _fingerprint_hit_locked(
        self, key: tuple[str, ...], hit: FingerprintValue, stats: dict[str, int]
    ) -> str:
        size, mtime_ns, inode, sha, touched, unreported = hit
        now = self._clock()
        stale = now - touched >= TOUCH_INTERVAL_S
        if stale or unreported:
            self._memory.put(key, (size, mtime_ns, inode, sha, now if stale else touched, False))
        if stale:
            self._enqueue_locked(self._pending.fingerprint_touches, key[1], now)
        stats["disk_hits" if unreported else "memory_hits"] += 1
        if log.isEnabledFor(logging.DEBUG):  # the hot path: skip building args
            log.debug("cache hit (%s) fingerprint %s", "disk" if unreported else "memory", key[1])
        return str(sha)

    def put_fingerprint(self, path: str, size: int, mtime_ns: int, inode: int, sha256: str) -> None:
        """Record that ``path`` with this (size, mtime_ns, inode) has content ``sha256``
        (not written again when that is what the cache already holds)."""
        size, mtime_ns, inode = int(size), int(mtime_ns), int(inode)
        stored = (size, fold_i64(mtime_ns), fold_i64(inode), sha256)
        with self._lock:
            known = self._memory.get(("f", path))
            if known and known[:4] == stored:
                return
            pending = self._pending.fingerprints.get(path)
            if pending is not None and pending[1:5] == (size, mtime_ns, inode, sha256):
                return
            now = self._clock()
            self._memory.put(("f", path), (*stored, now, False))
            self._pending.fingerprint_touches.pop(path, None)
            self._enqueue_locked(
                self._pending.fingerprints, path, (path, size, mtime_ns, inode, sha256, now)
            )

    # -- HTTP ----------------------------------------------------------------------------------

    def get_http(self, url: str) -> HttpEntry | None:
        """What is known about ``url``, expired or not (the fetcher decides to revalidate)."""
        key = ("h", url)
        stats = self._lookups["http"]
        with self._lock:
            hit = self._memory.get(key)
            if hit is None:
                hit = self._pending.http.get(url)
            if hit is not None:
                stats["memory_hits"] += 1
                if log.isEnabledFor(logging.DEBUG):  # the hot path: skip building args
                    log.debug("cache hit (memory) http %s", for_log(url))
                return hit
            store = None if has_credentials(url) else self._read_store()
        row = store.get_http(url) if store is not None else None
        with self._lock:
            if row is None:
                stats["misses"] += 1
                log.debug("cache miss http %s", for_log(url))
                return None
            entry = HttpEntry(*row)
            self._memory.put(key, entry)
            stats["disk_hits"] += 1
            log.debug("cache hit (disk) http %s", for_log(url))
            return entry

    def put_http(self, entry: HttpEntry) -> None:
        """Remember a fetch's validators and content hash (URLs with credentials: memory only)."""
        with self._lock:
            if self._memory.get(("h", entry.url)) == entry:
                return
            self._memory.put(("h", entry.url), entry)
            if has_credentials(entry.url):
                log.debug("not persisting %s: URL carries credentials", for_log(entry.url))
                return
            self._enqueue_locked(self._pending.http, entry.url, entry)

    # -- background writing --------------------------------------------------------------------

    def _enqueue_locked(self, table: dict[Any, Any], key: Any, value: Any) -> None:
        """Queue a row for the writer thread (caller holds ``_lock``); no-op when memory-only."""
        if self._writer is None or self._live_store() is None:
            return
        table[key] = value
        self._writer.notify(len(self._pending))

    def _take_pending(self) -> WriteBatch | None:
        with self._lock:
            if not len(self._pending):
                return None
            batch = self._pending.to_batch()
            self._pending = PendingWrites()
        return batch

    def flush(self) -> None:
        """Block until every write made before this call is committed (or skipped as busy)."""
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        """Flush, stop the writer and close the file. Idempotent; lookups keep working in memory."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
        if self._exit_hook is not None:
            atexit.unregister(self._exit_hook)
        if self._writer is not None:
            self._writer.close()
        if self._store is not None:
            self._store.close()

    def __enter__(self) -> TieredCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- maintenance ---------------------------------------------------------------------------

    def clear(self) -> int:
        """Forget everything, in memory and on disk; returns the rows removed from the file.

        May raise ``CacheBusyError`` if another process holds the write lock through all retries.
        """
        removed = 0
        with self._lock:
            self._memory.clear()
            self._pending = PendingWrites()
            store = self._live_store()
        if store is not None and self._writer is not None:
            with self._writer.exclusive():
                removed = store.clear()
        log.info("Cache cleared (%d rows removed from disk)", removed)
        return removed

    def prune(
        self,
        max_age_s: float | None = None,
        max_rows: int | None = None,
        *,
        vacuum: bool = False,
    ) -> int:
        """Drop file rows unused for ``max_age_s`` seconds and all but the ``max_rows`` most
        recently used per table; returns rows removed. Memory is left alone (it is bounded).

        May raise ``CacheBusyError`` like :meth:`clear`.
        """
        self.flush()
        store = self._live_store()
        if store is None or self._writer is None:
            return 0
        cutoff = self._clock() - max_age_s if max_age_s is not None else None
        with self._writer.exclusive():
            removed = store.prune(cutoff, max_rows, vacuum=vacuum)
        log.info("Cache pruned: %d rows removed", removed)
        return removed

    def stats(self) -> dict[str, Any]:
        """Figures for ``prompt-tokens cache stats`` and ``promptTokens.jobs``.

        ``entries`` are rows in the file when persistent, else entries held in memory.
        """
        self.flush()
        store = self._live_store()
        with self._lock:
            memory_keys = [k for k, v in self._memory.items() if v is not ABSENT]
            lookups = {t: dict(v) for t, v in self._lookups.items()}
            pending = len(self._pending)
        if store is not None:
            entries = store.entries()
        else:
            tags = {"c": "counts", "f": "fingerprints", "h": "http"}
            entries = dict.fromkeys(TABLES, 0)
            for key in memory_keys:
                entries[tags[key[0]]] += 1
        return {
            "path": self._path,
            "persistent": store is not None,
            "disabled_reason": self.disabled_reason,
            "file_size_bytes": self._store.file_size() if self._store is not None else 0,
            "memory_entries": len(memory_keys),
            "memory_max_entries": self._memory.maxsize,
            "pending_writes": pending,
            "entries": entries,
            "lookups": lookups,
        }


__all__ = ["CacheSource", "HttpEntry", "TieredCache"]
