"""Getting a usable cache file: connections, WAL, the schema, and moving a bad file aside.

Opening is where a cache file shows what it is: missing folder, someone else's database, a
newer schema, random bytes. Each ends as an exception the store turns into "use a new file" or
"memory only" (:mod:`.failures`); nothing here decides that, and nothing here deletes a file.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from prompt_tokens.cache.schema import compatible_version, migrate

log = logging.getLogger(__name__)

T = TypeVar("T")
RetryBusy = Callable[[Callable[[], Any]], Any]


def connect(path: str, busy_timeout_ms: int) -> sqlite3.Connection:
    """A connection in autocommit mode: transactions are explicit ``BEGIN IMMEDIATE … COMMIT``."""
    conn = sqlite3.connect(
        path, timeout=busy_timeout_ms / 1000, check_same_thread=False, isolation_level=None
    )
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        conn.execute("PRAGMA recursive_triggers = OFF")
    except BaseException:
        conn.close()
        raise
    return conn


def open_connections(
    path: str, busy_timeout_ms: int, retry_busy: RetryBusy
) -> tuple[sqlite3.Connection, sqlite3.Connection]:
    """``(writer, reader)`` on ``path``: folder created, schema checked before anything is
    changed, WAL on, schema brought up to date. ``retry_busy`` wraps each step that another
    process opening the same file at once may find locked."""
    folder = Path(path).parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(f"cannot create the folder {folder}: {exc.strerror or exc}") from exc
    wdb = connect(path, busy_timeout_ms)
    try:
        retry_busy(lambda: compatible_version(wdb))
        mode = retry_busy(lambda: _journal_wal(wdb))
        if mode != "wal":
            log.debug("Cache %s: journal_mode is %s (WAL not available)", path, mode)
        wdb.execute("PRAGMA synchronous = NORMAL")
        retry_busy(lambda: migrate(wdb, path))
        rdb = connect(path, busy_timeout_ms)
    except BaseException:
        close_quietly(wdb)
        raise
    return wdb, rdb


def move_aside(path: str, label: str) -> str | None:
    """Rename the file (and its -wal/-shm) out of the way; never delete the user's file.

    Returns where it went, or None when another process moved it first (the new file, if
    any, is theirs to share)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = f"{path}.{label}-{stamp}"
    n = 1
    while os.path.exists(target):
        target = f"{path}.{label}-{stamp}-{n}"
        n += 1
    try:
        os.replace(path, target)
    except FileNotFoundError:
        return None
    for suffix in ("-wal", "-shm"):
        try:
            os.replace(path + suffix, target + suffix)
        except FileNotFoundError:
            pass
    return target


def close_quietly(conn: sqlite3.Connection) -> None:
    try:
        conn.close()
    except sqlite3.Error:
        pass


def _journal_wal(conn: sqlite3.Connection) -> str:
    row = conn.execute("PRAGMA journal_mode = WAL").fetchone()
    return str(row[0]).lower() if row else ""
