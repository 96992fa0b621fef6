"""The cache the rest of the program talks to: memory first, SQLite behind it.

Lookups sit on the counting hot path (one per block of every edit), so a memory hit is a lock,
a dict lookup and a counter. Writes land in memory at once and reach SQLite in batches on a
background thread, because a commit costs milliseconds and the editor must never wait for one.
``flush()`` is the synchronisation point for the CLI, shutdown and tests.

Everything degrades instead of failing: with ``path=None`` (``cache.path: ":memory:"``/null), or
when the store disables itself (corrupt file, unwritable folder), the same API works memory-only.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import attrs

from prompt_tokens.cache.memory import MemoryLRU
from prompt_tokens.cache.store import BUSY_TIMEOUT_MS, TABLES, SqliteStore, WriteBatch

if TYPE_CHECKING:
    from prompt_tokens.settings import CacheSettings

log = logging.getLogger(__name__)

CacheSource = Literal["memory", "disk", "miss"]

FLUSH_INTERVAL_S = 0.2
"""How long a write may wait in memory before the background writer commits it."""
FLUSH_BATCH = 500
"""A batch this large is committed at once instead of waiting for the interval."""
TOUCH_INTERVAL_S = 3600.0
"""``used_at``/``seen_at`` are refreshed at most this often per key: pruning works in days, and
writing a timestamp on every hit would turn reads into writes."""

_MEMORY_STRINGS = (":memory:", "")


@attrs.frozen
class HttpEntry:
    """What is remembered about a fetched URL: validators and the content's hash, never the body.

    ``fetched_at``/``expires_at`` are Unix timestamps; past ``expires_at`` the fetcher
    revalidates with ``etag``/``last_modified`` and, on 304, counts by ``sha256`` again.
    """

    url: str
    etag: str | None
    last_modified: str | None
    sha256: str
    size: int
    content_type: str | None
    fetched_at: float
    expires_at: float

    def is_fresh(self, now: float) -> bool:
        return now < self.expires_at


_HttpRow = tuple[str, str | None, str | None, str, int, str | None, float, float]


def _http_row(e: HttpEntry) -> _HttpRow:
    return (
        e.url,
        e.etag,
        e.last_modified,
        e.sha256,
        int(e.size),
        e.content_type,
        float(e.fetched_at),
        float(e.expires_at),
    )


def _has_credentials(url: str) -> bool:
    """``user:pass@host`` URLs stay in memory: no credentials in the cache file (SPEC "Trust")."""
    try:
        return "@" in urlsplit(url).netloc
    except ValueError:
        return True


def _for_log(url: str) -> str:
    """A URL without userinfo, query or fragment: enough to debug, nothing secret."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable url>"
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path}"


@attrs.define
class _Pending:
    """Writes not yet committed, keyed by primary key so repeated puts collapse to one row."""

    counts: dict[tuple[str, str], tuple[str, str, int, int, float]] = attrs.field(factory=dict)
    count_touches: dict[tuple[str, str], float] = attrs.field(factory=dict)
    fingerprints: dict[str, tuple[str, int, int, int, str, float]] = attrs.field(factory=dict)
    fingerprint_touches: dict[str, float] = attrs.field(factory=dict)
    http: dict[str, HttpEntry] = attrs.field(factory=dict)

    def __len__(self) -> int:
        return (
            len(self.counts)
            + len(self.count_touches)
            + len(self.fingerprints)
            + len(self.fingerprint_touches)
            + len(self.http)
        )

    def to_batch(self) -> WriteBatch:
        return WriteBatch(
            counts=list(self.counts.values()),
            count_touches=[(t, e, s) for (e, s), t in self.count_touches.items()],
            fingerprints=list(self.fingerprints.values()),
            fingerprint_touches=[(t, p) for p, t in self.fingerprint_touches.items()],
            http=[_http_row(e) for e in self.http.values()],
        )


# Caches still open at interpreter exit get flushed, so a CLI run that forgets close() keeps
# its counts. Weak: a cache that was closed and dropped is not kept alive by this.
_OPEN: weakref.WeakSet[TieredCache] = weakref.WeakSet()
_atexit_registered = False
_atexit_lock = threading.Lock()


def _close_all() -> None:
    for cache in list(_OPEN):
        try:
            cache.close()
        except Exception:
            log.debug("Closing a cache at exit failed", exc_info=True)


class TieredCache:
    """Memory LRU in front of an optional SQLite store. Thread-safe; never raises on lookups
    or writes because of the cache file."""

    def __init__(
        self,
        path: str | None,
        memory_entries: int = 10_000,
        *,
        clock: Callable[[], float] = time.time,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
    ) -> None:
        """``path=None`` (or ``":memory:"``) keeps everything in memory.

        ``clock`` supplies the timestamps written to the file (tests pin it to make pruning
        deterministic); ``busy_timeout_ms`` is SQLite's wait for another process's write lock.
        """
        if path in _MEMORY_STRINGS:
            path = None
        self._path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._io_lock = threading.Lock()  # orders batch commits: flush() waits for in-flight ones
        self._memory: MemoryLRU[tuple[str, ...], Any] = MemoryLRU(memory_entries)
        self._pending = _Pending()
        self._lookups = {t: {"memory_hits": 0, "disk_hits": 0, "misses": 0} for t in TABLES}
        self._wake = threading.Event()  # something is pending
        self._full = threading.Event()  # a full batch is pending, or we are closing
        self._writer: threading.Thread | None = None
        self._closing = False
        self._store: SqliteStore | None = (
            SqliteStore(path, busy_timeout_ms=busy_timeout_ms) if path is not None else None
        )
        _register(self)

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
            if hit is not None:
                tokens, touched = hit
                now = self._clock()
                if now - touched >= TOUCH_INTERVAL_S:
                    self._memory.put(key, (tokens, now))
                    self._enqueue_locked(self._pending.count_touches, (encoding, sha256), now)
                stats["memory_hits"] += 1
                if log.isEnabledFor(logging.DEBUG):  # the hot path: skip building args
                    log.debug("cache hit (memory) count %s:%s", encoding, sha256[:12])
                return tokens, "memory"
            pending = self._pending.counts.get((encoding, sha256))
            if pending is not None:
                stats["memory_hits"] += 1
                log.debug("cache hit (memory, unwritten) count %s:%s", encoding, sha256[:12])
                return pending[2], "memory"
            store = self._live_store()
        row = store.get_count(encoding, sha256) if store is not None else None
        with self._lock:
            if row is None:
                stats["misses"] += 1
                log.debug("cache miss count %s:%s", encoding, sha256[:12])
                return None, "miss"
            tokens, used_at = row
            now = self._clock()
            self._memory.put(key, (tokens, now))
            if now - used_at >= TOUCH_INTERVAL_S:
                self._enqueue_locked(self._pending.count_touches, (encoding, sha256), now)
            stats["disk_hits"] += 1
            log.debug("cache hit (disk) count %s:%s", encoding, sha256[:12])
            return tokens, "disk"

    def put_count(self, encoding: str, sha256: str, tokens: int, size: int) -> None:
        """Remember a count. Takes the hash, never the text: the file cannot leak content."""
        tokens, size = int(tokens), int(size)
        with self._lock:
            now = self._clock()
            self._memory.put(("c", encoding, sha256), (tokens, now))
            self._pending.count_touches.pop((encoding, sha256), None)
            self._enqueue_locked(
                self._pending.counts, (encoding, sha256), (encoding, sha256, tokens, size, now)
            )

    # -- file fingerprints ---------------------------------------------------------------------

    def get_fingerprint(self, path: str, size: int, mtime_ns: int, inode: int) -> str | None:
        """The sha256 recorded for ``path`` if size, mtime_ns and inode all still match."""
        key = ("f", path)
        stats = self._lookups["fingerprints"]
        with self._lock:
            hit = self._memory.get(key)
            if hit is not None and hit[:3] == (size, mtime_ns, inode):
                sha, touched = hit[3], hit[4]
                now = self._clock()
                if now - touched >= TOUCH_INTERVAL_S:
                    self._memory.put(key, (*hit[:4], now))
                    self._enqueue_locked(self._pending.fingerprint_touches, path, now)
                stats["memory_hits"] += 1
                if log.isEnabledFor(logging.DEBUG):  # the hot path: skip building args
                    log.debug("cache hit (memory) fingerprint %s", path)
                return str(sha)
            pending = self._pending.fingerprints.get(path)
            if pending is not None and pending[1:4] == (size, mtime_ns, inode):
                stats["memory_hits"] += 1
                return pending[4]
            # A stale memory entry still asks the file: another process may have seen the
            # new version of the file already.
            store = self._live_store()
        row = store.get_fingerprint(path, size, mtime_ns, inode) if store is not None else None
        with self._lock:
            if row is None:
                stats["misses"] += 1
                log.debug("cache miss fingerprint %s", path)
                return None
            sha, seen_at = row
            now = self._clock()
            self._memory.put(key, (size, mtime_ns, inode, sha, now))
            if now - seen_at >= TOUCH_INTERVAL_S:
                self._enqueue_locked(self._pending.fingerprint_touches, path, now)
            stats["disk_hits"] += 1
            log.debug("cache hit (disk) fingerprint %s", path)
            return sha

    def put_fingerprint(self, path: str, size: int, mtime_ns: int, inode: int, sha256: str) -> None:
        """Record that ``path`` with this (size, mtime_ns, inode) has content ``sha256``."""
        size, mtime_ns, inode = int(size), int(mtime_ns), int(inode)
        with self._lock:
            now = self._clock()
            self._memory.put(("f", path), (size, mtime_ns, inode, sha256, now))
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
                    log.debug("cache hit (memory) http %s", _for_log(url))
                return hit
            store = None if _has_credentials(url) else self._live_store()
        row = store.get_http(url) if store is not None else None
        with self._lock:
            if row is None:
                stats["misses"] += 1
                log.debug("cache miss http %s", _for_log(url))
                return None
            entry = HttpEntry(*row)
            self._memory.put(key, entry)
            stats["disk_hits"] += 1
            log.debug("cache hit (disk) http %s", _for_log(url))
            return entry

    def put_http(self, entry: HttpEntry) -> None:
        """Remember a fetch's validators and content hash (URLs with credentials: memory only)."""
        with self._lock:
            self._memory.put(("h", entry.url), entry)
            if _has_credentials(entry.url):
                log.debug("not persisting %s: URL carries credentials", _for_log(entry.url))
                return
            self._enqueue_locked(self._pending.http, entry.url, entry)

    # -- background writing --------------------------------------------------------------------

    def _enqueue_locked(self, table: dict[Any, Any], key: Any, value: Any) -> None:
        """Queue a row for the writer thread (caller holds ``_lock``); no-op when memory-only."""
        if self._live_store() is None:
            return
        table[key] = value
        n = len(self._pending)
        if n == 1:
            self._wake.set()
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._run_writer, name="prompt-tokens-cache-writer", daemon=True
                )
                self._writer.start()
        if n >= FLUSH_BATCH:
            self._full.set()

    def _run_writer(self) -> None:
        """Commit whatever is pending every FLUSH_INTERVAL_S, or at once when a batch is full."""
        while True:
            self._wake.wait()
            if self._closing:
                return
            self._full.wait(FLUSH_INTERVAL_S)
            if self._closing:
                return
            try:
                self._write_pending()
            except Exception:
                # A bug, not a cache failure (those are handled in the store): keep writing.
                log.exception("Cache writer failed; dropping one batch")

    def _write_pending(self) -> None:
        with self._io_lock:
            with self._lock:
                if not self._closing:
                    self._wake.clear()
                    self._full.clear()
                if not len(self._pending):
                    return
                batch = self._pending.to_batch()
                self._pending = _Pending()
            store = self._store
            if store is not None:
                store.write(batch)

    def flush(self) -> None:
        """Block until every write made before this call is committed (or skipped as busy)."""
        if self._store is None:
            return
        self._write_pending()

    def close(self) -> None:
        """Flush, stop the writer and close the file. Idempotent; lookups keep working in memory."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
            self._wake.set()
            self._full.set()
            writer = self._writer
        if writer is not None and writer is not threading.current_thread():
            writer.join()
        self._write_pending()
        if self._store is not None:
            self._store.close()
        _OPEN.discard(self)

    def __enter__(self) -> TieredCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- maintenance ---------------------------------------------------------------------------

    def clear(self) -> int:
        """Forget everything, in memory and on disk; returns the rows removed from the file.

        May raise ``CacheBusyError`` if another process holds the write lock through all retries.
        """
        with self._io_lock:
            with self._lock:
                self._memory.clear()
                self._pending = _Pending()
                store = self._live_store()
            removed = store.clear() if store is not None else 0
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
        if store is None:
            return 0
        cutoff = self._clock() - max_age_s if max_age_s is not None else None
        with self._io_lock:
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
            memory_keys = self._memory.keys()
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


def _register(cache: TieredCache) -> None:
    global _atexit_registered
    _OPEN.add(cache)
    with _atexit_lock:
        if not _atexit_registered:
            atexit.register(_close_all)
            _atexit_registered = True
