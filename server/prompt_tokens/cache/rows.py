"""The rows the cache file holds, the batches that write them and the queries that read many.

Writing is idempotent and lazy on purpose: every statement leaves a row alone when it already
holds the value being written (only a last-use time older than ``TOUCH_INTERVAL_S`` is worth
refreshing), so a warm run that recomputes nothing new changes nothing in the file: SQLite
commits an empty transaction without writing a page, and other processes' readers are not
invalidated.

Reads of many keys go in chunks of ``IN_CHUNK`` parameters, well under SQLite's variable limit
(999 before 3.32), so one run's lookups are a handful of queries instead of one per file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence

import attrs

TOUCH_INTERVAL_S = 86_400.0
"""``used_at``/``seen_at`` are refreshed at most this often per row: pruning works in days
(``cache prune --max-age-days``), and a timestamp written on every hit would turn reads into
writes."""

IN_CHUNK = 500
"""Keys per ``WHERE … IN (…)`` query."""

CountRow = tuple[str, str, int, int, float]  # (encoding, sha256, tokens, size, now)
FingerprintRow = tuple[str, int, int, int, str, float]  # (path, size, mtime_ns, inode, sha, seen)
HttpRow = tuple[str, str | None, str | None, str, int, str | None, float, float]


def fold_i64(value: int) -> int:
    """Fold an unsigned 64-bit value (some file systems' inode numbers) into SQLite's INTEGER."""
    value = int(value)
    return value - (1 << 64) if value >= (1 << 63) else value


@attrs.define
class WriteBatch:
    """Rows collected by the tiered cache between two flushes (already deduplicated by key)."""

    counts: list[CountRow] = attrs.field(factory=list)
    # (used_at, encoding, sha256)
    count_touches: list[tuple[float, str, str]] = attrs.field(factory=list)
    fingerprints: list[FingerprintRow] = attrs.field(factory=list)
    # (seen_at, path)
    fingerprint_touches: list[tuple[float, str]] = attrs.field(factory=list)
    # (url, etag, last_modified, sha256, size, content_type, fetched_at, expires_at)
    http: list[HttpRow] = attrs.field(factory=list)

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
    " WHERE (counts.tokens, counts.size) IS NOT (excluded.tokens, excluded.size)"
    " OR excluded.used_at - counts.used_at >= ?"
)
_TOUCH_COUNT = "UPDATE counts SET used_at = ?1 WHERE encoding = ?2 AND sha256 = ?3 AND used_at < ?1"
_UPSERT_FINGERPRINT = (
    "INSERT INTO fingerprints (path, size, mtime_ns, inode, sha256, seen_at)"
    " VALUES (?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns,"
    " inode = excluded.inode, sha256 = excluded.sha256, seen_at = excluded.seen_at"
    " WHERE (fingerprints.size, fingerprints.mtime_ns, fingerprints.inode, fingerprints.sha256)"
    " IS NOT (excluded.size, excluded.mtime_ns, excluded.inode, excluded.sha256)"
    " OR excluded.seen_at - fingerprints.seen_at >= ?"
)
_TOUCH_FINGERPRINT = "UPDATE fingerprints SET seen_at = ?1 WHERE path = ?2 AND seen_at < ?1"
_UPSERT_HTTP = (
    "INSERT INTO http"
    " (url, etag, last_modified, sha256, size, content_type, fetched_at, expires_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (url) DO UPDATE SET etag = excluded.etag,"
    " last_modified = excluded.last_modified, sha256 = excluded.sha256, size = excluded.size,"
    " content_type = excluded.content_type, fetched_at = excluded.fetched_at,"
    " expires_at = excluded.expires_at"
    " WHERE (http.etag, http.last_modified, http.sha256, http.size, http.content_type,"
    " http.fetched_at, http.expires_at) IS NOT (excluded.etag, excluded.last_modified,"
    " excluded.sha256, excluded.size, excluded.content_type, excluded.fetched_at,"
    " excluded.expires_at)"
)


def apply_batch(conn: sqlite3.Connection, batch: WriteBatch) -> None:
    """Write ``batch`` on ``conn`` (inside the caller's transaction)."""
    touch = TOUCH_INTERVAL_S
    if batch.counts:
        conn.executemany(
            _UPSERT_COUNT, [(e, s, t, z, now, now, touch) for e, s, t, z, now in batch.counts]
        )
    if batch.count_touches:
        conn.executemany(_TOUCH_COUNT, batch.count_touches)
    if batch.fingerprints:
        conn.executemany(
            _UPSERT_FINGERPRINT,
            [
                (p, z, fold_i64(m), fold_i64(i), s, t, touch)
                for p, z, m, i, s, t in batch.fingerprints
            ],
        )
    if batch.fingerprint_touches:
        conn.executemany(_TOUCH_FINGERPRINT, batch.fingerprint_touches)
    if batch.http:
        conn.executemany(_UPSERT_HTTP, batch.http)


def in_chunks(keys: Sequence[str], size: int = IN_CHUNK) -> Iterator[tuple[str, list[str]]]:
    """``(placeholders, chunk)`` for each slice of ``keys``: ``"?, ?, ?"`` and its values."""
    for start in range(0, len(keys), size):
        chunk = list(keys[start : start + size])
        yield ", ".join("?" * len(chunk)), chunk


def select_counts(
    conn: sqlite3.Connection, encoding: str, shas: Sequence[str]
) -> list[tuple[str, int, float]]:
    """``(sha256, tokens, used_at)`` of the rows that exist, in a few queries."""
    out: list[tuple[str, int, float]] = []
    for marks, chunk in in_chunks(shas):
        sql = (
            f"SELECT sha256, tokens, used_at FROM counts WHERE encoding = ? AND sha256 IN ({marks})"
        )
        for sha, tokens, used_at in conn.execute(sql, [encoding, *chunk]).fetchall():
            out.append((str(sha), int(tokens), float(used_at)))
    return out


def select_fingerprints(conn: sqlite3.Connection, paths: Sequence[str]) -> list[FingerprintRow]:
    """``(path, size, mtime_ns, inode, sha256, seen_at)`` of the rows that exist (mtime and
    inode as stored, i.e. folded by :func:`fold_i64`)."""
    out: list[FingerprintRow] = []
    for marks, chunk in in_chunks(paths):
        sql = (
            "SELECT path, size, mtime_ns, inode, sha256, seen_at FROM fingerprints"
            f" WHERE path IN ({marks})"
        )
        for path, size, mtime_ns, inode, sha, seen_at in conn.execute(sql, chunk).fetchall():
            out.append((str(path), int(size), int(mtime_ns), int(inode), str(sha), float(seen_at)))
    return out


ResultRow = tuple[str, str, str]
"""``(key, fingerprint, result)`` of the ``results`` table (both JSON; see ``known_results``)."""


def select_results(conn: sqlite3.Connection, keys: Sequence[str]) -> list[ResultRow]:
    """The rows of ``keys`` that exist, in a few queries."""
    out: list[ResultRow] = []
    for marks, chunk in in_chunks(keys):
        sql = f"SELECT key, fingerprint, result FROM results WHERE key IN ({marks})"
        out.extend((str(k), str(f), str(r)) for k, f, r in conn.execute(sql, chunk).fetchall())
    return out


def upsert_results(conn: sqlite3.Connection, rows: Sequence[ResultRow], now: float) -> None:
    conn.executemany(
        "INSERT INTO results (key, fingerprint, result, used_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (key) DO UPDATE SET fingerprint = excluded.fingerprint,"
        " result = excluded.result, used_at = excluded.used_at",
        [(k, f, r, now) for k, f, r in rows],
    )
