"""The persistent tier: one SQLite file, shared safely by every prompt-tokens process.

What is stored is deliberately small and content-free (SPEC "Cache and privacy"): hashes, sizes,
token counts, file fingerprints, URLs and HTTP validators. Never document or file text, so the
cache file is no more sensitive than a directory listing.

Failure policy, because a cache must never be the reason counting fails:

* ``database is locked``/``busy`` is another process writing; it becomes
  :class:`~prompt_tokens.errors.CacheBusyError` and writes are retried a few times with the
  shared backoff policy (:mod:`prompt_tokens.backoff`).
* Anything else (a corrupt file, a read-only or missing folder, a full disk) disables the store:
  one ``log.warning`` and the caller carries on memory-only. A corrupt or incompatible file is
  first moved aside to ``<path>.corrupt-<timestamp>`` and a fresh file is created, so the
  user's old file is never deleted by us.
* Read and write methods never raise; they return a miss or ``False``. Only the explicit
  maintenance commands (``clear``, ``prune``) raise ``CacheBusyError`` when the write lock stays
  taken, so ``prompt-tokens cache clear`` can say "busy, try again" instead of lying.

Two connections are used: a reader for the hot path and a writer for the background batches.
In WAL mode readers never wait for writers, so a lookup is not stuck behind another process's
write transaction.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from prompt_tokens.backoff import Backoff
from prompt_tokens.cache.failures import OPEN_ERRORS, StoreFailure, classify, explain
from prompt_tokens.cache.opening import close_quietly, move_aside, open_connections
from prompt_tokens.cache.rows import (
    FingerprintRow,
    HttpRow,
    ResultRow,
    WriteBatch,
    apply_batch,
    fold_i64,
    select_counts,
    select_fingerprints,
    select_results,
    upsert_results,
)
from prompt_tokens.cache.schema import TABLES, rollback
from prompt_tokens.errors import CacheBusyError

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
BUSY_RETRIES = 4
BUSY_BACKOFF_S = 0.05
BUSY_MAX_BACKOFF_S = 1.0

T = TypeVar("T")

# Per table: the column that says how recently a row was useful (what prune orders by).
_AGE_COLUMN = {
    "counts": "used_at",
    "fingerprints": "seen_at",
    "http": "fetched_at",
    "results": "used_at",
}


class SqliteStore:
    """The SQLite tier. Safe to share between threads; every method is synchronous."""

    def __init__(
        self,
        path: str,
        *,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
        busy_retries: int = BUSY_RETRIES,
    ) -> None:
        self._path = os.path.abspath(os.path.expanduser(path))
        self._busy_timeout_ms = busy_timeout_ms
        self._backoff = Backoff(
            retries=busy_retries,
            base_s=BUSY_BACKOFF_S,
            max_s=BUSY_MAX_BACKOFF_S,
            what=f"cache {self._path} busy",
        )
        self._read_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._rdb: sqlite3.Connection | None = None
        self._wdb: sqlite3.Connection | None = None
        self._disabled_reason: str | None = None
        self._busy_warned = False
        self._closed = False
        self.moved_aside: str | None = None
        """Where a corrupt or incompatible file was moved, if that happened at open."""
        self._start()

    # -- public state --------------------------------------------------------------------------

    @property
    def path(self) -> str:
        return self._path

    @property
    def enabled(self) -> bool:
        return self._disabled_reason is None and not self._closed

    @property
    def disabled_reason(self) -> str | None:
        return self._disabled_reason

    # -- opening -------------------------------------------------------------------------------

    def _open(self) -> None:
        self._wdb, self._rdb = open_connections(self._path, self._busy_timeout_ms, self._retry_busy)

    def _start(self) -> None:
        """Open, moving a corrupt or incompatible file aside once; warn at most once."""
        try:
            self._open()
            return
        except OPEN_ERRORS as exc:
            problem, label = explain(exc)
        if label is None:
            self._disable(problem)
            return
        try:
            self.moved_aside = move_aside(self._path, label)
            self._open()
        except OPEN_ERRORS as exc:
            self._disable(f"{problem}; starting a new file failed too: {explain(exc)[0]}")
            return
        where = f"moved it to {self.moved_aside} and " if self.moved_aside else ""
        log.warning(
            "Cache file %s was unusable (%s); %sstarted a new one.", self._path, problem, where
        )

    # -- failure handling ------------------------------------------------------------------------

    def _disable(self, reason: str) -> None:
        """Stop using the file for the rest of the process; the one and only warning."""
        with self._state_lock:  # the reader and the writer thread may both fail at once
            if self._disabled_reason is not None:
                return
            self._disabled_reason = reason
        log.warning(
            "Cache file %s is unusable (%s); continuing with the in-memory cache only.",
            self._path,
            reason,
        )

    def _retry_busy(self, fn: Callable[[], T]) -> T:
        """Run ``fn``; retry ``database is locked`` with the shared backoff policy.

        Raises ``CacheBusyError`` when retries are exhausted and ``StoreFailure`` for any other
        SQLite error, so callers decide between "skip this time" and "disable".
        """

        def attempt() -> T:
            try:
                return fn()
            except sqlite3.Error as exc:
                raise classify(exc) from exc

        return self._backoff.call(attempt)

    def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` in an IMMEDIATE transaction on the writer connection, with busy retries."""
        db = self._wdb
        assert db is not None

        def tx() -> T:
            db.execute("BEGIN IMMEDIATE")
            try:
                result = fn(db)
                db.execute("COMMIT")
            except BaseException:
                rollback(db)
                raise
            return result

        with self._write_lock:
            return self._retry_busy(tx)

    def _query(self, fn: Callable[[sqlite3.Connection], T], default: T) -> T:
        """``fn`` on the reader connection, or ``default`` on busy *or* any failure."""
        if not self.enabled or self._rdb is None:
            return default
        try:
            with self._read_lock:
                return fn(self._rdb)
        except sqlite3.Error as exc:
            err = classify(exc)
            if isinstance(err, CacheBusyError):
                log.debug("Cache %s busy on read; treating as a miss", self._path)
            else:
                self._disable(explain(exc)[0])
            return default

    def _read(self, sql: str, params: Sequence[object]) -> tuple[Any, ...] | None:
        """One row from the reader connection, or None on a miss *or* any failure."""
        row = self._query(lambda conn: conn.execute(sql, list(params)).fetchone(), None)
        return tuple(row) if row is not None else None

    # -- reads (hot path; never raise) -----------------------------------------------------------

    def get_count(self, encoding: str, sha256: str) -> tuple[int, float] | None:
        """``(tokens, used_at)`` or None."""
        row = self._read(
            "SELECT tokens, used_at FROM counts WHERE encoding = ? AND sha256 = ?",
            (encoding, sha256),
        )
        return (int(row[0]), float(row[1])) if row else None

    def get_counts(self, encoding: str, shas: Sequence[str]) -> list[tuple[str, int, float]]:
        """``(sha256, tokens, used_at)`` for those of ``shas`` stored in ``encoding``."""
        return self._query(lambda conn: select_counts(conn, encoding, shas), [])

    def get_fingerprint(
        self, path: str, size: int, mtime_ns: int, inode: int
    ) -> tuple[str, float] | None:
        """``(sha256, seen_at)`` when the stored fingerprint matches all four values."""
        row = self._read(
            "SELECT sha256, seen_at FROM fingerprints"
            " WHERE path = ? AND size = ? AND mtime_ns = ? AND inode = ?",
            (path, int(size), fold_i64(mtime_ns), fold_i64(inode)),
        )
        return (str(row[0]), float(row[1])) if row else None

    def get_fingerprints(self, paths: Sequence[str]) -> list[FingerprintRow]:
        """The stored rows ``(path, size, mtime_ns, inode, sha256, seen_at)`` of ``paths``
        (mtime and inode folded as stored; unchecked against the files)."""
        return self._query(lambda conn: select_fingerprints(conn, paths), [])

    def get_http(self, url: str) -> HttpRow | None:
        """The stored row ``(url, etag, last_modified, sha256, size, content_type, fetched_at,
        expires_at)`` or None."""
        row = self._read(
            "SELECT url, etag, last_modified, sha256, size, content_type, fetched_at, expires_at"
            " FROM http WHERE url = ?",
            (url,),
        )
        return row if row else None

    def get_results(self, keys: Sequence[str]) -> list[ResultRow]:
        """The stored whole-document results of ``keys`` (batched; [] when off or busy)."""
        return self._query(lambda conn: select_results(conn, keys), [])

    def put_results(self, rows: Sequence[ResultRow]) -> bool:
        """Store whole-document results in one transaction, now (the run is ending)."""
        if not self.enabled or not rows:
            return False
        try:
            self._write(lambda conn: upsert_results(conn, rows, time.time()))
        except CacheBusyError as exc:
            log.debug("%s; %d results not stored", exc, len(rows))
            return False
        except StoreFailure as exc:
            self._disable(exc.reason)
            return False
        return True

    # -- writes (background thread; never raise) -------------------------------------------------

    def write(self, batch: WriteBatch) -> bool:
        """Write one batch in one transaction. False when skipped (busy) or the store is off."""
        if not self.enabled or not len(batch):
            return False
        try:
            self._write(lambda conn: apply_batch(conn, batch))
        except CacheBusyError as exc:
            # Only a cache: the values are in memory and a later run recounts at worst.
            level = logging.DEBUG if self._busy_warned else logging.WARNING
            self._busy_warned = True
            log.log(level, "%s; %d cache writes skipped.", exc, len(batch))
            return False
        except StoreFailure as exc:
            self._disable(exc.reason)
            return False
        except (OverflowError, ValueError, TypeError) as exc:
            # A value SQLite cannot hold (a caller bug); the batch was rolled back. Not a reason
            # to stop using the file, and not a reason to break the caller either.
            log.warning("Cache %s: %d writes dropped: %s", self._path, len(batch), exc)
            return False
        log.debug("Cache %s: wrote %d rows", self._path, len(batch))
        return True

    # -- maintenance (explicit commands) ---------------------------------------------------------

    def entries(self) -> dict[str, int]:
        """Rows per table (0s when the store is off)."""
        out = dict.fromkeys(TABLES, 0)
        for table in TABLES:
            row = self._read(f"SELECT count(*) FROM {table}", ())
            if not self.enabled:
                return dict.fromkeys(TABLES, 0)
            out[table] = int(row[0]) if row else 0
        return out

    def file_size(self) -> int:
        """Bytes on disk, the WAL included (it can be most of the file between checkpoints)."""
        total = 0
        for suffix in ("", "-wal"):
            try:
                total += os.path.getsize(self._path + suffix)
            except OSError:
                pass
        return total

    def clear(self) -> int:
        """Delete every row (the schema stays) and VACUUM best-effort; returns rows removed.

        Raises ``CacheBusyError`` if another process keeps the write lock through all retries.
        """
        if not self.enabled:
            return 0

        def wipe(conn: sqlite3.Connection) -> int:
            return sum(conn.execute(f"DELETE FROM {t}").rowcount for t in TABLES)

        removed = self._maintenance(wipe)
        self._vacuum()
        return removed

    def prune(
        self,
        cutoff: float | None = None,
        max_rows: int | None = None,
        *,
        vacuum: bool = False,
    ) -> int:
        """Remove rows last useful before ``cutoff`` and beyond the newest ``max_rows`` per table.

        Age is ``used_at`` for counts, ``seen_at`` for fingerprints and ``fetched_at`` for HTTP
        entries. Raises ``CacheBusyError`` like :meth:`clear`.
        """
        if not self.enabled or (cutoff is None and max_rows is None):
            return 0

        def delete(conn: sqlite3.Connection) -> int:
            removed = 0
            for table, col in _AGE_COLUMN.items():
                if cutoff is not None:
                    removed += conn.execute(
                        f"DELETE FROM {table} WHERE {col} < ?", [cutoff]
                    ).rowcount
                if max_rows is not None:
                    removed += conn.execute(
                        f"DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table}"
                        f" ORDER BY {col} DESC LIMIT -1 OFFSET ?)",
                        [max(0, int(max_rows))],
                    ).rowcount
            return removed

        removed = self._maintenance(delete)
        if vacuum and removed:
            self._vacuum()
        return removed

    def _maintenance(self, fn: Callable[[sqlite3.Connection], int]) -> int:
        try:
            return self._write(fn)
        except StoreFailure as exc:
            self._disable(exc.reason)
            return 0

    def _vacuum(self) -> None:
        """Shrink the file; skipped quietly when another process is busy with it."""
        db = self._wdb
        if db is None or not self.enabled:
            return
        try:
            with self._write_lock:
                db.execute("VACUUM")
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            log.debug("Cache %s: VACUUM skipped (%s)", self._path, exc)

    def close(self) -> None:
        """Close both connections (idempotent)."""
        if self._closed:
            return
        self._closed = True
        with self._write_lock:
            if self._wdb is not None:
                close_quietly(self._wdb)
        with self._read_lock:
            if self._rdb is not None:
                close_quietly(self._rdb)


__all__ = ["BUSY_TIMEOUT_MS", "TABLES", "SqliteStore", "WriteBatch"]
