"""The cache file's schema: its tables, its version, and the check that a file is ours.

The statements are written out in full (the stdlib ``sqlite3`` module is all the cache needs;
a helper library cost a fifth of a second of start-up for four ``CREATE TABLE``s). They are
exactly what earlier files already contain, so files written by earlier releases open as
they are.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
TABLES = ("counts", "fingerprints", "http", "results")

_V1 = (
    """CREATE TABLE IF NOT EXISTS "counts" (
   "encoding" TEXT NOT NULL,
   "sha256" TEXT NOT NULL,
   "tokens" INTEGER NOT NULL,
   "size" INTEGER NOT NULL,
   "created_at" REAL NOT NULL,
   "used_at" REAL NOT NULL,
   PRIMARY KEY ("encoding", "sha256")
)""",
    """CREATE TABLE IF NOT EXISTS "fingerprints" (
   "path" TEXT PRIMARY KEY NOT NULL,
   "size" INTEGER NOT NULL,
   "mtime_ns" INTEGER NOT NULL,
   "inode" INTEGER NOT NULL,
   "sha256" TEXT NOT NULL,
   "seen_at" REAL NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS "http" (
   "url" TEXT PRIMARY KEY NOT NULL,
   "etag" TEXT,
   "last_modified" TEXT,
   "sha256" TEXT NOT NULL,
   "size" INTEGER NOT NULL,
   "content_type" TEXT,
   "fetched_at" REAL NOT NULL,
   "expires_at" REAL NOT NULL
)""",
    # Pruning orders by these; without an index every prune is a full scan.
    "CREATE INDEX IF NOT EXISTS counts_used_at ON counts(used_at)",
    "CREATE INDEX IF NOT EXISTS fingerprints_seen_at ON fingerprints(seen_at)",
    "CREATE INDEX IF NOT EXISTS http_fetched_at ON http(fetched_at)",
)
_META = """CREATE TABLE IF NOT EXISTS "meta" (
   "key" TEXT PRIMARY KEY,
   "value" TEXT
)"""


def _migrate_to_v1(conn: sqlite3.Connection) -> None:
    """The first schema. Later versions add a ``_migrate_to_vN`` and register it below."""
    for statement in _V1:
        conn.execute(statement)


_V2 = (
    # A document's last result under one settings digest (``known_results``): its counts,
    # spans, reference targets and messages as JSON, with the fingerprints of the files it
    # was made from. No document text.
    """CREATE TABLE IF NOT EXISTS "results" (
   "key" TEXT PRIMARY KEY NOT NULL,
   "fingerprint" TEXT NOT NULL,
   "result" TEXT NOT NULL,
   "used_at" REAL NOT NULL
)""",
    "CREATE INDEX IF NOT EXISTS results_used_at ON results(used_at)",
)


def _migrate_to_v2(conn: sqlite3.Connection) -> None:
    """Whole-document results, so a warm CLI run reads one row per file."""
    for statement in _V2:
        conn.execute(statement)


# version -> function that upgrades a database at version - 1 to it.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    1: _migrate_to_v1,
    2: _migrate_to_v2,
}


class Incompatible(Exception):
    """The file is a SQLite database, but not one this version can use.

    ``ours`` says it is a prompt-tokens cache (from a newer version): moving it aside and
    starting afresh is fine. Someone else's database is left alone and we run memory-only.
    """

    def __init__(self, reason: str, *, ours: bool = True) -> None:
        super().__init__(reason)
        self.ours = ours


def table_names(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return [str(r[0]) for r in rows]


def schema_version(conn: sqlite3.Connection) -> int:
    if "meta" not in table_names(conn):
        return 0
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    try:
        return int(row[0]) if row else 0
    except (TypeError, ValueError):
        raise Incompatible(f"unreadable schema version {row[0]!r}") from None


def compatible_version(conn: sqlite3.Connection) -> int:
    """The file's schema version, or ``Incompatible`` if this version must not touch it.

    Read-only, so it also runs *before* switching to WAL: someone else's database that
    ``cache.path`` points at by mistake must not even get its journal mode changed.
    """
    version = schema_version(conn)
    if version > SCHEMA_VERSION:
        raise Incompatible(
            f"schema version {version} is newer than this prompt-tokens ({SCHEMA_VERSION})"
        )
    if version == 0:
        foreign = [
            t
            for t in table_names(conn)
            if t not in ("meta", *TABLES) and not t.startswith("sqlite_")
        ]
        if foreign:
            raise Incompatible(
                f"not a prompt-tokens cache (has tables {foreign[:3]}); left untouched",
                ours=False,
            )
    return version


def migrate(conn: sqlite3.Connection, label: str) -> None:
    """Bring the schema to ``SCHEMA_VERSION`` in one IMMEDIATE transaction.

    IMMEDIATE takes the write lock up front, so two processes opening a new file at once
    serialise here instead of both creating tables (the second then sees version 1). A file
    already at the current version is only read: opening a cache writes nothing.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = compatible_version(conn)
        if version < SCHEMA_VERSION:
            conn.execute(_META)
            for target in range(version + 1, SCHEMA_VERSION + 1):
                log.debug("Cache %s: migrating schema to v%d", label, target)
                MIGRATIONS[target](conn)
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [str(SCHEMA_VERSION)],
            )
        conn.execute("COMMIT")
    except BaseException:
        rollback(conn)
        raise


def rollback(conn: sqlite3.Connection) -> None:
    try:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass
