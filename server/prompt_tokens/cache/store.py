"""The persistent tier: one SQLite file, shared safely by every prompt-tokens process.

What is stored is deliberately small and content-free (SPEC "Cache and privacy"): hashes, sizes,
token counts, file fingerprints, URLs and HTTP validators. Never document or file text, so the
cache file is no more sensitive than a directory listing.

Failure policy, because a cache must never be the reason counting fails:

* ``database is locked``/``busy`` is another process writing; it becomes
  :class:`~prompt_tokens.errors.CacheBusyError` and writes are retried a few times with
  exponential backoff and jitter.
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
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import attrs
import sqlite_utils

from prompt_tokens.errors import CacheBusyError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 5000
BUSY_RETRIES = 4
BUSY_BACKOFF_S = 0.05
TABLES = ("counts", "fingerprints", "http")

T = TypeVar("T")

# SQLite primary result codes (``sqlite_errorcode & 0xff``).
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26


# ---- schema ----------------------------------------------------------------------------------


def _migrate_to_v1(db: sqlite_utils.Database) -> None:
    """The first schema. Later versions add a ``_migrate_to_vN`` and register it below."""
    db.table("counts").create(
        {
            "encoding": str,
            "sha256": str,
            "tokens": int,
            "size": int,
            "created_at": float,
            "used_at": float,
        },
        pk=("encoding", "sha256"),
        not_null=("encoding", "sha256", "tokens", "size", "created_at", "used_at"),
        if_not_exists=True,
    )
    db.table("fingerprints").create(
        {
            "path": str,
            "size": int,
            "mtime_ns": int,
            "inode": int,
            "sha256": str,
            "seen_at": float,
        },
        pk="path",
        not_null=("path", "size", "mtime_ns", "inode", "sha256", "seen_at"),
        if_not_exists=True,
    )
    db.table("http").create(
        {
            "url": str,
            "etag": str,
            "last_modified": str,
            "sha256": str,
            "size": int,
            "content_type": str,
            "fetched_at": float,
            "expires_at": float,
        },
        pk="url",
        not_null=("url", "sha256", "size", "fetched_at", "expires_at"),
        if_not_exists=True,
    )
    # Pruning orders by these; without an index every prune is a full scan.
    db.execute("CREATE INDEX IF NOT EXISTS counts_used_at ON counts(used_at)")
    db.execute("CREATE INDEX IF NOT EXISTS fingerprints_seen_at ON fingerprints(seen_at)")
    db.execute("CREATE INDEX IF NOT EXISTS http_fetched_at ON http(fetched_at)")


# version -> function that upgrades a database at version - 1 to it.
MIGRATIONS: dict[int, Callable[[sqlite_utils.Database], None]] = {1: _migrate_to_v1}


class _Incompatible(Exception):
    """The file is a SQLite database, but not one this version can use.

    ``ours`` says it is a prompt-tokens cache (from a newer version): moving it aside and
    starting afresh is fine. Someone else's database is left alone and we run memory-only.
    """

    def __init__(self, reason: str, *, ours: bool = True) -> None:
        super().__init__(reason)
        self.ours = ours


class _StoreFailure(Exception):
    """A non-transient SQLite failure; ``corrupt`` says whether moving the file aside may help."""

    def __init__(self, reason: str, *, corrupt: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.corrupt = corrupt


def _classify(exc: BaseException) -> Exception:
    """Map a sqlite3 exception to ``CacheBusyError`` (retry) or ``_StoreFailure`` (give up)."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    msg = str(exc) or type(exc).__name__
    low = msg.lower()
    if primary in (_SQLITE_BUSY, _SQLITE_LOCKED) or "locked" in low or "busy" in low:
        return CacheBusyError(f"Cache database is busy: {msg}")
    corrupt = (
        primary in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
        or "not a database" in low
        or "malformed" in low
    )
    return _StoreFailure(msg, corrupt=corrupt)


_OPEN_ERRORS = (sqlite3.Error, CacheBusyError, _StoreFailure, _Incompatible, OSError)


def _explain(exc: BaseException) -> tuple[str, str | None]:
    """A one-line reason for a failure, and the move-aside label if a fresh file could fix it."""
    if isinstance(exc, sqlite3.Error):
        exc = _classify(exc)
    if isinstance(exc, _StoreFailure):
        return exc.reason, "corrupt" if exc.corrupt else None
    if isinstance(exc, _Incompatible):
        return str(exc), "incompatible" if exc.ours else None
    return str(exc) or type(exc).__name__, None


def _i64(value: int) -> int:
    """Fold an unsigned 64-bit value (some file systems' inode numbers) into SQLite's INTEGER."""
    value = int(value)
    return value - (1 << 64) if value >= (1 << 63) else value


# ---- batches ---------------------------------------------------------------------------------


@attrs.define
class WriteBatch:
    """Rows collected by the tiered cache between two flushes (already deduplicated by key)."""

    # (encoding, sha256, tokens, size, now)
    counts: list[tuple[str, str, int, int, float]] = attrs.field(factory=list)
    # (used_at, encoding, sha256)
    count_touches: list[tuple[float, str, str]] = attrs.field(factory=list)
    # (path, size, mtime_ns, inode, sha256, seen_at)
    fingerprints: list[tuple[str, int, int, int, str, float]] = attrs.field(factory=list)
    # (seen_at, path)
    fingerprint_touches: list[tuple[float, str]] = attrs.field(factory=list)
    # (url, etag, last_modified, sha256, size, content_type, fetched_at, expires_at)
    http: list[tuple[str, str | None, str | None, str, int, str | None, float, float]] = (
        attrs.field(factory=list)
    )

    def __len__(self) -> int:
        return (
            len(self.counts)
            + len(self.count_touches)
            + len(self.fingerprints)
            + len(self.fingerprint_touches)
            + len(self.http)
        )


_UPSERT_COUNT = (
    "INSERT INTO counts (encoding, sha256, tokens, size, created_at, used_at)"
    " VALUES (?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (encoding, sha256) DO UPDATE SET tokens = excluded.tokens,"
    " size = excluded.size, used_at = max(counts.used_at, excluded.used_at)"
)
_TOUCH_COUNT = "UPDATE counts SET used_at = max(used_at, ?) WHERE encoding = ? AND sha256 = ?"
_UPSERT_FINGERPRINT = (
    "INSERT INTO fingerprints (path, size, mtime_ns, inode, sha256, seen_at)"
    " VALUES (?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns,"
    " inode = excluded.inode, sha256 = excluded.sha256, seen_at = excluded.seen_at"
)
_TOUCH_FINGERPRINT = "UPDATE fingerprints SET seen_at = max(seen_at, ?) WHERE path = ?"
_UPSERT_HTTP = (
    "INSERT INTO http"
    " (url, etag, last_modified, sha256, size, content_type, fetched_at, expires_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (url) DO UPDATE SET etag = excluded.etag,"
    " last_modified = excluded.last_modified, sha256 = excluded.sha256, size = excluded.size,"
    " content_type = excluded.content_type, fetched_at = excluded.fetched_at,"
    " expires_at = excluded.expires_at"
)
# Per table: the column that says how recently a row was useful (what prune orders by).
_AGE_COLUMN = {"counts": "used_at", "fingerprints": "seen_at", "http": "fetched_at"}


# ---- the store -------------------------------------------------------------------------------


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
        self._busy_retries = busy_retries
        self._read_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._rdb: sqlite_utils.Database | None = None
        self._wdb: sqlite_utils.Database | None = None
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

    def _connect(self) -> sqlite_utils.Database:
        conn = sqlite3.connect(
            self._path,
            timeout=self._busy_timeout_ms / 1000,
            check_same_thread=False,
        )
        try:
            db = sqlite_utils.Database(conn, recursive_triggers=False, execute_plugins=False)
            db.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
        except BaseException:
            conn.close()
            raise
        return db

    def _open(self) -> None:
        """Open both connections, switch to WAL and bring the schema up to date."""
        folder = Path(self._path).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OSError(f"cannot create the folder {folder}: {exc.strerror or exc}") from exc
        wdb = self._connect()
        try:
            self._retry_busy(lambda: _compatible_version(wdb))
            mode = self._retry_busy(lambda: _journal_wal(wdb))
            if mode != "wal":
                log.debug("Cache %s: journal_mode is %s (WAL not available)", self._path, mode)
            wdb.execute("PRAGMA synchronous = NORMAL")
            self._retry_busy(lambda: self._migrate(wdb))
            rdb = self._connect()
        except BaseException:
            wdb.close()
            raise
        self._wdb, self._rdb = wdb, rdb

    def _start(self) -> None:
        """Open, moving a corrupt or incompatible file aside once; warn at most once."""
        try:
            self._open()
            return
        except _OPEN_ERRORS as exc:
            problem, label = _explain(exc)
        if label is None:
            self._disable(problem)
            return
        try:
            self.moved_aside = self._move_aside(label)
            self._open()
        except _OPEN_ERRORS as exc:
            self._disable(f"{problem}; starting a new file failed too: {_explain(exc)[0]}")
            return
        where = f"moved it to {self.moved_aside} and " if self.moved_aside else ""
        log.warning(
            "Cache file %s was unusable (%s); %sstarted a new one.", self._path, problem, where
        )

    def _move_aside(self, label: str) -> str | None:
        """Rename the file (and its -wal/-shm) out of the way; never delete the user's file."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target = f"{self._path}.{label}-{stamp}"
        n = 1
        while os.path.exists(target):
            target = f"{self._path}.{label}-{stamp}-{n}"
            n += 1
        try:
            os.replace(self._path, target)
        except FileNotFoundError:
            # Another process moved it first; the new file (if any) is theirs to share.
            return None
        for suffix in ("-wal", "-shm"):
            try:
                os.replace(self._path + suffix, target + suffix)
            except FileNotFoundError:
                pass
        return target

    def _migrate(self, db: sqlite_utils.Database) -> None:
        """Bring the schema to ``SCHEMA_VERSION`` in one IMMEDIATE transaction.

        IMMEDIATE takes the write lock up front, so two processes opening a new file at once
        serialise here instead of both creating tables (the second then sees version 1).
        """
        db.execute("BEGIN IMMEDIATE")
        try:
            version = _compatible_version(db)
            if version < SCHEMA_VERSION:
                db.table("meta").create({"key": str, "value": str}, pk="key", if_not_exists=True)
                for target in range(version + 1, SCHEMA_VERSION + 1):
                    log.debug("Cache %s: migrating schema to v%d", self._path, target)
                    MIGRATIONS[target](db)
                db.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    [str(SCHEMA_VERSION)],
                )
            db.commit()
        except BaseException:
            _rollback(db)
            raise

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
        """Run ``fn``; retry ``database is locked`` with exponential backoff and jitter.

        Raises ``CacheBusyError`` when retries are exhausted and ``_StoreFailure`` for any other
        SQLite error, so callers decide between "skip this time" and "disable".
        """
        attempt = 0
        while True:
            try:
                return fn()
            except sqlite3.Error as exc:
                err = _classify(exc)
                if isinstance(err, CacheBusyError) and attempt < self._busy_retries:
                    delay = BUSY_BACKOFF_S * (2**attempt) * (0.5 + random.random())
                    log.debug("Cache %s busy; retry %d in %.3fs", self._path, attempt + 1, delay)
                    time.sleep(delay)
                    attempt += 1
                    continue
                raise err from exc

    def _write(self, fn: Callable[[sqlite_utils.Database], T]) -> T:
        """Run ``fn`` in an IMMEDIATE transaction on the writer connection, with busy retries."""
        db = self._wdb
        assert db is not None

        def tx() -> T:
            db.execute("BEGIN IMMEDIATE")
            try:
                result = fn(db)
                db.commit()
            except BaseException:
                _rollback(db)
                raise
            return result

        with self._write_lock:
            return self._retry_busy(tx)

    def _read(self, sql: str, params: Iterable[object]) -> tuple[Any, ...] | None:
        """One row from the reader connection, or None on a miss *or* any failure."""
        if not self.enabled or self._rdb is None:
            return None
        try:
            with self._read_lock:
                row = self._rdb.execute(sql, list(params)).fetchone()
        except sqlite3.Error as exc:
            err = _classify(exc)
            if isinstance(err, CacheBusyError):
                log.debug("Cache %s busy on read; treating as a miss", self._path)
            else:
                self._disable(_explain(exc)[0])
            return None
        return tuple(row) if row is not None else None

    # -- reads (hot path; never raise) -----------------------------------------------------------

    def get_count(self, encoding: str, sha256: str) -> tuple[int, float] | None:
        """``(tokens, used_at)`` or None."""
        row = self._read(
            "SELECT tokens, used_at FROM counts WHERE encoding = ? AND sha256 = ?",
            (encoding, sha256),
        )
        return (int(row[0]), float(row[1])) if row else None

    def get_fingerprint(
        self, path: str, size: int, mtime_ns: int, inode: int
    ) -> tuple[str, float] | None:
        """``(sha256, seen_at)`` when the stored fingerprint matches all four values."""
        row = self._read(
            "SELECT sha256, seen_at FROM fingerprints"
            " WHERE path = ? AND size = ? AND mtime_ns = ? AND inode = ?",
            (path, int(size), _i64(mtime_ns), _i64(inode)),
        )
        return (str(row[0]), float(row[1])) if row else None

    def get_http(
        self, url: str
    ) -> tuple[str, str | None, str | None, str, int, str | None, float, float] | None:
        """The stored row ``(url, etag, last_modified, sha256, size, content_type, fetched_at,
        expires_at)`` or None."""
        row = self._read(
            "SELECT url, etag, last_modified, sha256, size, content_type, fetched_at, expires_at"
            " FROM http WHERE url = ?",
            (url,),
        )
        return row if row else None

    # -- writes (background thread; never raise) -------------------------------------------------

    def write(self, batch: WriteBatch) -> bool:
        """Write one batch in one transaction. False when skipped (busy) or the store is off."""
        if not self.enabled or not len(batch):
            return False

        def apply(db: sqlite_utils.Database) -> None:
            conn = db.conn
            if batch.counts:
                conn.executemany(
                    _UPSERT_COUNT, [(e, s, t, z, now, now) for e, s, t, z, now in batch.counts]
                )
            if batch.count_touches:
                conn.executemany(_TOUCH_COUNT, batch.count_touches)
            if batch.fingerprints:
                conn.executemany(
                    _UPSERT_FINGERPRINT,
                    [(p, z, _i64(m), _i64(i), s, t) for p, z, m, i, s, t in batch.fingerprints],
                )
            if batch.fingerprint_touches:
                conn.executemany(_TOUCH_FINGERPRINT, batch.fingerprint_touches)
            if batch.http:
                conn.executemany(_UPSERT_HTTP, batch.http)

        try:
            self._write(apply)
        except CacheBusyError as exc:
            # Only a cache: the values are in memory and a later run recounts at worst.
            level = logging.DEBUG if self._busy_warned else logging.WARNING
            self._busy_warned = True
            log.log(level, "%s; %d cache writes skipped.", exc, len(batch))
            return False
        except _StoreFailure as exc:
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
        if not self.enabled or self._rdb is None:
            return out
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

        def wipe(db: sqlite_utils.Database) -> int:
            return sum(db.conn.execute(f"DELETE FROM {t}").rowcount for t in TABLES)

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

        def delete(db: sqlite_utils.Database) -> int:
            removed = 0
            for table, col in _AGE_COLUMN.items():
                if cutoff is not None:
                    removed += db.conn.execute(
                        f"DELETE FROM {table} WHERE {col} < ?", [cutoff]
                    ).rowcount
                if max_rows is not None:
                    removed += db.conn.execute(
                        f"DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table}"
                        f" ORDER BY {col} DESC LIMIT -1 OFFSET ?)",
                        [max(0, int(max_rows))],
                    ).rowcount
            return removed

        removed = self._maintenance(delete)
        if vacuum and removed:
            self._vacuum()
        return removed

    def _maintenance(self, fn: Callable[[sqlite_utils.Database], int]) -> int:
        try:
            return self._write(fn)
        except _StoreFailure as exc:
            self._disable(exc.reason)
            return 0

    def _vacuum(self) -> None:
        """Shrink the file; skipped quietly when another process is busy with it."""
        db = self._wdb
        if db is None or not self.enabled:
            return
        try:
            with self._write_lock:
                db.vacuum()
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
                _close_quietly(self._wdb)
        with self._read_lock:
            if self._rdb is not None:
                _close_quietly(self._rdb)


def _journal_wal(db: sqlite_utils.Database) -> str:
    row = db.execute("PRAGMA journal_mode = WAL").fetchone()
    return str(row[0]).lower() if row else ""


def _compatible_version(db: sqlite_utils.Database) -> int:
    """The file's schema version, or ``_Incompatible`` if this version must not touch it.

    Read-only, so it also runs *before* switching to WAL: someone else's database that
    ``cache.path`` points at by mistake must not even get its journal mode changed.
    """
    version = _schema_version(db)
    if version > SCHEMA_VERSION:
        raise _Incompatible(
            f"schema version {version} is newer than this prompt-tokens ({SCHEMA_VERSION})"
        )
    if version == 0:
        foreign = [
            t
            for t in db.table_names()
            if t not in ("meta", *TABLES) and not t.startswith("sqlite_")
        ]
        if foreign:
            raise _Incompatible(
                f"not a prompt-tokens cache (has tables {foreign[:3]}); left untouched",
                ours=False,
            )
    return version


def _schema_version(db: sqlite_utils.Database) -> int:
    if "meta" not in db.table_names():
        return 0
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    try:
        return int(row[0]) if row else 0
    except (TypeError, ValueError):
        raise _Incompatible(f"unreadable schema version {row[0]!r}") from None


def _rollback(db: sqlite_utils.Database) -> None:
    try:
        db.rollback()
    except sqlite3.Error:
        pass


def _close_quietly(db: sqlite_utils.Database) -> None:
    try:
        db.close()
    except sqlite3.Error:
        pass
