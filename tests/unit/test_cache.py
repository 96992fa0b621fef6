"""The two-tier cache against a real SQLite file: round-trips, sharing, failures, maintenance.

No timing assertions and no sleeps: ``flush()`` is the synchronisation point, and processes are
waited for with ``communicate()``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prompt_tokens.cache import HttpEntry, MemoryLRU, SqliteStore, TieredCache, failures, schema
from prompt_tokens.cache import store as store_module
from prompt_tokens.cache.rows import WriteBatch
from prompt_tokens.errors import CacheBusyError
from prompt_tokens.settings import CacheSettings

ENC = "cl100k_base"
SAMPLE_TEXT = "Confidential prompt: the launch code is zebra-7-walnut-quasar.\n" * 20


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def http_entry(url: str = "https://api.example.com/v1/items", **kw: Any) -> HttpEntry:
    fields: dict[str, Any] = {
        "url": url,
        "etag": '"abc123"',
        "last_modified": "Wed, 21 Oct 2015 07:28:00 GMT",
        "sha256": sha("body"),
        "size": 4,
        "content_type": "application/json",
        "fetched_at": 1000.0,
        "expires_at": 4600.0,
    }
    fields.update(kw)
    return HttpEntry(**fields)


def cache_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.name.startswith("prompt_tokens.cache")
    ]


class Clock:
    """A settable clock, so ages are exact instead of depending on the wall clock."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "nested" / "folder" / "cache.sqlite3"


@pytest.fixture
def make_cache() -> Iterator[Callable[..., TieredCache]]:
    """Build caches that are always closed at teardown (no writer threads left behind)."""
    made: list[TieredCache] = []

    def make(path: str | Path | None, memory_entries: int = 10_000, **kw: Any) -> TieredCache:
        cache = TieredCache(None if path is None else str(path), memory_entries, **kw)
        made.append(cache)
        return cache

    yield make
    for cache in made:
        cache.close()


def run_python(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_ok(proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return out


WRITER_SCRIPT = """
    import sys
    from prompt_tokens.cache import TieredCache
    path, prefix, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    cache = TieredCache(path, 100)
    for i in range(n):
        cache.put_count("cl100k_base", f"{prefix}{i:060d}", i, i * 4)
        # A key every writer shares: same content, same count, from both processes.
        cache.put_count("cl100k_base", f"shared{i % 10:058d}", 7, 28)
    persistent = cache.persistent
    cache.close()
    print(persistent, flush=True)
"""


# ---- memory tier -----------------------------------------------------------------------------


def test_memory_lru_evicts_least_recently_used() -> None:
    lru: MemoryLRU[str, int] = MemoryLRU(2)
    lru.put("a", 1)
    lru.put("b", 2)
    assert lru.get("a") == 1  # a is now the most recent
    lru.put("c", 3)  # evicts b
    assert lru.get("b") is None
    assert (lru.get("a"), lru.get("c")) == (1, 3)
    assert len(lru) == 2


def test_memory_lru_of_size_zero_keeps_nothing() -> None:
    lru: MemoryLRU[str, int] = MemoryLRU(0)
    lru.put("a", 1)
    assert lru.get("a") is None
    assert len(lru) == 0


# ---- the SQLite tier on its own --------------------------------------------------------------


def test_store_uses_wal_and_never_raises_on_reads_and_writes(db_path: Path) -> None:
    store = SqliteStore(str(db_path))
    try:
        assert store.enabled and store.disabled_reason is None and store.moved_aside is None
        conn = sqlite3.connect(db_path)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("SELECT value FROM meta").fetchone() == ("2",)
        conn.close()
        batch = WriteBatch(counts=[(ENC, sha("a"), 1, 2, 10.0)])
        assert store.write(batch)
        assert store.get_count(ENC, sha("a")) == (1, 10.0)
        assert not store.write(WriteBatch())  # nothing to do
        # A value SQLite cannot hold: dropped (and rolled back), the store stays usable.
        assert not store.write(WriteBatch(counts=[(ENC, sha("b"), 2**70, 1, 1.0)]))
        assert store.enabled and store.entries()["counts"] == 1
    finally:
        store.close()
    store.close()
    assert not store.enabled
    assert store.get_count(ENC, sha("a")) is None
    assert not store.write(batch)


# What sqlite-utils wrote for schema version 1 (releases before the stdlib-only store), as
# read back from ``sqlite_master`` of such a file.
V1_FILE_SCHEMA = {
    "meta": 'CREATE TABLE "meta" (\n   "key" TEXT PRIMARY KEY,\n   "value" TEXT\n)',
    "counts": 'CREATE TABLE "counts" (\n   "encoding" TEXT NOT NULL,\n   "sha256" TEXT NOT NULL,\n'
    '   "tokens" INTEGER NOT NULL,\n   "size" INTEGER NOT NULL,\n   "created_at" REAL NOT NULL,\n'
    '   "used_at" REAL NOT NULL,\n   PRIMARY KEY ("encoding", "sha256")\n)',
    "fingerprints": 'CREATE TABLE "fingerprints" (\n   "path" TEXT PRIMARY KEY NOT NULL,\n'
    '   "size" INTEGER NOT NULL,\n   "mtime_ns" INTEGER NOT NULL,\n   "inode" INTEGER NOT NULL,\n'
    '   "sha256" TEXT NOT NULL,\n   "seen_at" REAL NOT NULL\n)',
    "http": 'CREATE TABLE "http" (\n   "url" TEXT PRIMARY KEY NOT NULL,\n   "etag" TEXT,\n'
    '   "last_modified" TEXT,\n   "sha256" TEXT NOT NULL,\n   "size" INTEGER NOT NULL,\n'
    '   "content_type" TEXT,\n   "fetched_at" REAL NOT NULL,\n   "expires_at" REAL NOT NULL\n)',
    "counts_used_at": "CREATE INDEX counts_used_at ON counts(used_at)",
    "fingerprints_seen_at": "CREATE INDEX fingerprints_seen_at ON fingerprints(seen_at)",
    "http_fetched_at": "CREATE INDEX http_fetched_at ON http(fetched_at)",
}


V2_TABLES = {
    "results": 'CREATE TABLE "results" (\n   "key" TEXT PRIMARY KEY NOT NULL,\n'
    '   "fingerprint" TEXT NOT NULL,\n   "result" TEXT NOT NULL,\n   "used_at" REAL NOT NULL\n)',
    "results_used_at": "CREATE INDEX results_used_at ON results(used_at)",
}


def test_schema_is_the_one_earlier_releases_wrote(db_path: Path) -> None:
    """Version 1's tables exactly as earlier releases wrote them, plus version 2's."""
    SqliteStore(str(db_path)).close()
    conn = sqlite3.connect(db_path)
    got = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL"))
    conn.close()
    assert got == {**V1_FILE_SCHEMA, **V2_TABLES}


def test_a_file_from_an_earlier_release_is_used_as_it_is(
    db_path: Path, make_cache: Callable[..., TieredCache]
) -> None:
    db_path.parent.mkdir(parents=True)
    conn = sqlite3.connect(db_path)
    with conn:
        for sql in V1_FILE_SCHEMA.values():
            conn.execute(sql)
        conn.execute("INSERT INTO meta VALUES ('schema_version', '1')")
        conn.execute("INSERT INTO counts VALUES (?, ?, 42, 7, 1.0, 1.0)", [ENC, sha("old")])
    conn.close()
    cache = make_cache(db_path)
    assert cache.persistent and cache.lookup_count(ENC, sha("old")) == (42, "disk")
    cache.put_count(ENC, sha("new"), 5, 1)
    cache.close()
    assert not [
        p for p in db_path.parent.iterdir() if ".corrupt-" in p.name or ".incompat" in p.name
    ]
    assert make_cache(db_path).get_count(ENC, sha("new")) == 5


# ---- round-trips -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", [None, ":memory:"])
def test_memory_only_cache_round_trips_everything(
    path: str | None, make_cache: Callable[..., TieredCache]
) -> None:
    cache = make_cache(path)
    assert not cache.persistent
    assert cache.path is None
    cache.put_count(ENC, sha("x"), 3, 1)
    cache.put_fingerprint("/w/a.md", 10, 123, 7, sha("x"))
    cache.put_http(http_entry())
    cache.flush()  # a no-op without a file, but must not fail
    assert cache.lookup_count(ENC, sha("x")) == (3, "memory")
    assert cache.get_fingerprint("/w/a.md", 10, 123, 7) == sha("x")
    assert cache.get_http(http_entry().url) == http_entry()


def test_all_tables_persist_across_two_instances(
    db_path: Path, make_cache: Callable[..., TieredCache]
) -> None:
    first = make_cache(db_path)
    assert first.persistent and first.path == str(db_path)
    first.put_count(ENC, sha("hello"), 1, 5)
    first.put_count("o200k_base", sha("hello"), 2, 5)  # same content, other encoding
    first.put_fingerprint("/w/a.md", 10, 1_700_000_000_123_456_789, 42, sha("a"))
    first.put_http(http_entry())
    first.put_http(http_entry("https://other.example/x", etag=None, content_type=None))
    first.close()
    assert db_path.exists()  # parent folders were created

    second = make_cache(db_path)
    assert second.lookup_count(ENC, sha("hello")) == (1, "disk")
    assert second.lookup_count(ENC, sha("hello")) == (1, "memory")
    assert second.get_count("o200k_base", sha("hello")) == 2
    assert second.lookup_count(ENC, sha("nope")) == (None, "miss")
    assert second.get_fingerprint("/w/a.md", 10, 1_700_000_000_123_456_789, 42) == sha("a")
    assert second.get_http(http_entry().url) == http_entry()
    other = second.get_http("https://other.example/x")
    assert other is not None and other.etag is None and other.content_type is None
    assert second.get_http("https://missing.example/") is None


def test_two_live_instances_share_one_file(
    db_path: Path, make_cache: Callable[..., TieredCache]
) -> None:
    a, b = make_cache(db_path), make_cache(db_path)
    a.put_count(ENC, sha("one"), 11, 3)
    assert b.lookup_count(ENC, sha("one")) == (None, "miss")  # not flushed yet
    a.flush()
    assert b.lookup_count(ENC, sha("one")) == (11, "disk")


def test_a_write_only_cache_fills_the_file_and_never_reads_it(
    db_path: Path, make_cache: Callable[..., TieredCache]
) -> None:
    """A worker of a run that began with no cache file: its rows reach the file for the next
    run, its lookups never ask the file (each would miss), only its own memory."""
    other = make_cache(db_path)
    other.put_count(ENC, sha("theirs"), 7, 6)
    other.put_fingerprint("/w/theirs.md", 6, 1, 2, sha("theirs"))
    other.put_http(http_entry())
    other.close()
    writer = make_cache(db_path, reads=False)
    assert writer.lookup_count(ENC, sha("theirs")) == (None, "miss")
    assert writer.get_fingerprint("/w/theirs.md", 6, 1, 2) is None
    assert writer.get_http(http_entry().url) is None
    assert writer.prefetch_files(["/w/theirs.md"], [ENC]) == 0
    writer.put_count(ENC, sha("mine"), 3, 4)
    writer.put_fingerprint("/w/mine.md", 4, 5, 6, sha("mine"))
    assert writer.lookup_count(ENC, sha("mine"))[0] == 3  # its own, from memory
    writer.close()
    reader = make_cache(db_path)
    assert reader.lookup_count(ENC, sha("mine")) == (3, "disk")
    assert reader.get_fingerprint("/w/mine.md", 4, 5, 6) == sha("mine")
    assert reader.lookup_count(ENC, sha("theirs")) == (7, "disk")


def test_fingerprint_matches_only_when_all_four_values_match(
    db_path: Path, make_cache: Callable[..., TieredCache]
) -> None:
    writer = make_cache(db_path)
    writer.put_fingerprint("/w/a.md", 10, 555, 7, sha("v1"))
    writer.flush()
    for cache in (writer, make_cache(db_path)):  # the memory tier and the disk tier
        assert cache.get_fingerprint("/w/a.md", 10, 555, 7) == sha("v1")
        assert cache.get_fingerprint("/w/a.md", 11, 555, 7) is None
        assert cache.get_fingerprint("/w/a.md", 10, 556, 7) is None
        assert cache.get_fingerprint("/w/a.md", 10, 555, 8) is None
        assert cache.get_fingerprint("/w/b.md", 10, 555, 7) is None


def test_fingerprint_update_replaces_the_old_one(
    db_path: Path, make_cache: Callable[..., TieredCache]
) -> None:
    cache = make_cache(db_path)
    cache.put_fingerprint("/w/a.md", 10, 555, 7, sha("v1"))
    cache.put_fingerprint("/w/a.md", 12, 999, 7, sha("v2"))
    cache.close()
    again = make_cache(db_path)
    assert again.get_fingerprint("/w/a.md", 10, 555, 7) is None
    assert again.get_fingerprint("/w/a.md", 12, 999, 7) == sha("v2")


def test_stale_memory_fingerprint_still_asks_the_file(
    db_path: Path, make_cache: Callable[..., TieredCache]
) -> None:
    """Another server may already have seen the new version of a file."""
    mine, theirs = make_cache(db_path), make_cache(db_path)
    mine.put_fingerprint("/w/a.md", 10, 1, 7, sha("old"))
    theirs.put_fingerprint("/w/a.md", 20, 2, 7, sha("new"))
    theirs.flush()
    assert mine.get_fingerprint("/w/a.md", 20, 2, 7) == sha("new")


def test_unsigned_64_bit_inode_and_large_mtime_round_trip(
    db_path: Path, make_cache: Callable[..., TieredCache]
) -> None:
    cache = make_cache(db_path)
    inode, mtime = 2**64 - 3, 2**63 + 5
    cache.put_fingerprint("/w/a.md", 1, mtime, inode, sha("a"))
    cache.close()
    assert make_cache(db_path).get_fingerprint("/w/a.md", 1, mtime, inode) == sha("a")


def test_http_entry_is_frozen_and_knows_freshness() -> None:
    entry = http_entry()
    with pytest.raises(AttributeError):
        entry.etag = "x"  # type: ignore[misc]
    assert entry.is_fresh(4599.0) and not entry.is_fresh(4600.0)


def test_http_entry_is_replaced_on_refetch(
    db_path: Path, make_cache: Callable[..., TieredCache]
) -> None:
    cache = make_cache(db_path)
    cache.put_http(http_entry(etag='"v1"'))
    cache.flush()
    cache.put_http(http_entry(etag='"v2"', fetched_at=2000.0))
    cache.close()
    got = make_cache(db_path).get_http(http_entry().url)
    assert got is not None and got.etag == '"v2"' and got.fetched_at == 2000.0


def test_url_with_credentials_stays_in_memory(
    db_path: Path, make_cache: Callable[..., TieredCache]
) -> None:
    url = "https://alice:hunter2-secret@api.example.com/v1"
    cache = make_cache(db_path)
    cache.put_http(http_entry(url))
    assert cache.get_http(url) == http_entry(url)
    cache.close()
    assert make_cache(db_path).get_http(url) is None
    assert b"hunter2-secret" not in db_path.read_bytes()


def test_from_settings(db_path: Path) -> None:
    with TieredCache.from_settings(CacheSettings(path=str(db_path), memory_entries=3)) as cache:
        assert cache.persistent and cache.stats()["memory_max_entries"] == 3
    with TieredCache.from_settings(CacheSettings(path=None)) as cache:
        assert not cache.persistent


def test_memory_entries_zero_still_persists(
    db_path: Path, make_cache: Callable[..., TieredCache]
) -> None:
    cache = make_cache(db_path, memory_entries=0)
    cache.put_count(ENC, sha("a"), 1, 1)
    assert cache.lookup_count(ENC, sha("a")) == (1, "memory")  # still pending, not lost
    cache.flush()
    assert cache.lookup_count(ENC, sha("a")) == (1, "disk")
    assert cache.lookup_count(ENC, sha("a")) == (1, "disk")  # nothing kept in memory
    assert cache.stats()["memory_entries"] == 0


def test_evicted_entries_come_back_from_disk(
    db_path: Path, make_cache: Callable[..., TieredCache]
) -> None:
    cache = make_cache(db_path, memory_entries=2)
    for i in range(5):
        cache.put_count(ENC, sha(str(i)), i, 1)
    cache.flush()
    assert cache.lookup_count(ENC, sha("0")) == (0, "disk")
    assert cache.lookup_count(ENC, sha("4")) == (4, "memory")


# ---- hit reporting and stats -----------------------------------------------------------------


def test_lookup_sources_and_counters(db_path: Path, make_cache: Callable[..., TieredCache]) -> None:
    writer = make_cache(db_path)
    writer.put_count(ENC, sha("a"), 1, 1)
    writer.put_fingerprint("/w/a", 1, 1, 1, sha("a"))
    writer.put_http(http_entry())
    writer.close()

    cache = make_cache(db_path)
    assert cache.lookup_count(ENC, sha("a")) == (1, "disk")
    assert cache.lookup_count(ENC, sha("a")) == (1, "memory")
    assert cache.lookup_count(ENC, sha("b")) == (None, "miss")
    cache.get_fingerprint("/w/a", 1, 1, 1)
    cache.get_fingerprint("/w/a", 1, 1, 1)
    cache.get_fingerprint("/w/zzz", 1, 1, 1)
    cache.get_http(http_entry().url)
    cache.get_http("https://nothing.example/")
    lookups = cache.stats()["lookups"]
    assert lookups == {
        "counts": {"memory_hits": 1, "disk_hits": 1, "misses": 1},
        "fingerprints": {"memory_hits": 1, "disk_hits": 1, "misses": 1},
        "http": {"memory_hits": 0, "disk_hits": 1, "misses": 1},
    }


def test_debug_log_reports_hits_and_misses(
    make_cache: Callable[..., TieredCache], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="prompt_tokens.cache")
    cache = make_cache(None)
    cache.get_count(ENC, sha("a"))
    cache.put_count(ENC, sha("a"), 1, 1)
    cache.get_count(ENC, sha("a"))
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert any("miss" in m for m in messages) and any("hit (memory)" in m for m in messages)


def test_stats_shape_persistent(db_path: Path, make_cache: Callable[..., TieredCache]) -> None:
    cache = make_cache(db_path, memory_entries=50)
    cache.put_count(ENC, sha("a"), 1, 1)
    cache.put_count(ENC, sha("b"), 2, 1)
    cache.put_fingerprint("/w/a", 1, 1, 1, sha("a"))
    stats = cache.stats()
    assert stats["path"] == str(db_path)
    assert stats["persistent"] is True
    assert stats["disabled_reason"] is None
    assert stats["entries"] == {"counts": 2, "fingerprints": 1, "http": 0, "results": 0}
    assert stats["file_size_bytes"] > 0
    assert stats["memory_entries"] == 3
    assert stats["memory_max_entries"] == 50
    assert stats["pending_writes"] == 0
    assert set(stats["lookups"]) == {"counts", "fingerprints", "http"}


def test_stats_shape_memory_only(make_cache: Callable[..., TieredCache]) -> None:
    cache = make_cache(None)
    cache.put_count(ENC, sha("a"), 1, 1)
    cache.put_http(http_entry())
    stats = cache.stats()
    assert stats["path"] is None and stats["persistent"] is False
    assert stats["file_size_bytes"] == 0
    assert stats["entries"] == {"counts": 1, "fingerprints": 0, "http": 1, "results": 0}


# ---- sharing between threads and processes ---------------------------------------------------


def test_persistence_across_real_processes(db_path: Path) -> None:
    out = wait_ok(run_python(WRITER_SCRIPT, str(db_path), "child", "25"))
    assert out.strip() == "True"
    with TieredCache(str(db_path)) as cache:
        assert cache.lookup_count(ENC, f"child{3:060d}") == (3, "disk")
        assert cache.stats()["entries"]["counts"] == 25 + 10


def test_pending_writes_survive_interpreter_exit_without_close(db_path: Path) -> None:
    code = """
        import sys
        from prompt_tokens.cache import TieredCache
        cache = TieredCache(sys.argv[1])
        cache.put_count("cl100k_base", "f" * 64, 99, 1)
        # no flush(), no close(): the atexit hook must write it
    """
    wait_ok(run_python(code, str(db_path)))
    with TieredCache(str(db_path)) as cache:
        assert cache.get_count(ENC, "f" * 64) == 99


def test_concurrent_writer_processes(db_path: Path) -> None:
    n = 400
    procs = [run_python(WRITER_SCRIPT, str(db_path), p, str(n)) for p in ("aaaa", "bbbb")]
    outs = [wait_ok(p) for p in procs]
    assert [o.strip() for o in outs] == ["True", "True"]
    with TieredCache(str(db_path)) as cache:
        assert cache.stats()["entries"]["counts"] == 2 * n + 10
        for prefix in ("aaaa", "bbbb"):
            for i in range(0, n, 37):
                assert cache.get_count(ENC, f"{prefix}{i:060d}") == i


def test_concurrent_writer_threads_on_one_and_two_instances(
    db_path: Path, make_cache: Callable[..., TieredCache]
) -> None:
    shared = make_cache(db_path, memory_entries=64)
    other = make_cache(db_path, memory_entries=64)
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def work(cache: TieredCache, tag: str) -> None:
        try:
            barrier.wait()
            for i in range(600):
                cache.put_count(ENC, sha(f"{tag}{i}"), i, 1)
                assert cache.get_count(ENC, sha(f"{tag}{i // 2}")) in (None, i // 2)
                if i % 100 == 0:
                    cache.flush()
            cache.flush()
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=work, args=(c, t))
        for c, t in ((shared, "s1-"), (shared, "s2-"), (other, "o1-"), (other, "o2-"))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with TieredCache(str(db_path), 0) as check:
        assert check.stats()["entries"]["counts"] == 4 * 600
        for tag in ("s1-", "s2-", "o1-", "o2-"):
            assert check.get_count(ENC, sha(f"{tag}599")) == 599


# ---- failures: never raise, warn once ---------------------------------------------------------


def test_corrupt_file_is_moved_aside_and_recreated(
    db_path: Path, make_cache: Callable[..., TieredCache], caplog: pytest.LogCaptureFixture
) -> None:
    db_path.parent.mkdir(parents=True)
    garbage = b"this is not a sqlite database\x00\xff" * 200
    db_path.write_bytes(garbage)
    cache = make_cache(db_path)
    cache.put_count(ENC, sha("a"), 1, 1)
    cache.flush()
    assert cache.lookup_count(ENC, sha("a")) == (1, "memory")
    assert cache.persistent
    aside = [p for p in db_path.parent.iterdir() if ".corrupt-" in p.name]
    assert len(aside) == 1 and aside[0].read_bytes() == garbage  # the old file is kept
    assert len(cache_warnings(caplog)) == 1
    cache.close()
    assert make_cache(db_path).lookup_count(ENC, sha("a")) == (1, "disk")


def test_corrupt_file_that_cannot_be_moved_means_memory_only(
    db_path: Path,
    make_cache: Callable[..., TieredCache],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"garbage" * 500)

    def refuse(src: str, dst: str) -> None:
        raise PermissionError(13, "Permission denied", src)

    monkeypatch.setattr(store_module.os, "replace", refuse)
    cache = make_cache(db_path)
    assert not cache.persistent
    assert cache.stats()["disabled_reason"]
    cache.put_count(ENC, sha("a"), 1, 1)
    cache.put_fingerprint("/w/a", 1, 1, 1, sha("a"))
    cache.put_http(http_entry())
    cache.flush()
    assert cache.lookup_count(ENC, sha("a")) == (1, "memory")
    assert cache.prune(max_age_s=0) == 0 and cache.clear() == 0
    assert db_path.read_bytes() == b"garbage" * 500
    assert len(cache_warnings(caplog)) == 1


def test_unwritable_location_means_memory_only(
    tmp_path: Path, make_cache: Callable[..., TieredCache], caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a regular file where the cache folder should be")
    cache = make_cache(blocker / "sub" / "cache.sqlite3")
    assert not cache.persistent
    assert cache.path == str(blocker / "sub" / "cache.sqlite3")
    cache.put_count(ENC, sha("a"), 1, 1)
    cache.put_fingerprint("/w/a", 1, 1, 1, sha("a"))
    cache.flush()
    assert cache.get_count(ENC, sha("a")) == 1
    assert cache.get_fingerprint("/w/a", 1, 1, 1) == sha("a")
    stats = cache.stats()
    assert stats["persistent"] is False and "folder" in stats["disabled_reason"]
    assert len(cache_warnings(caplog)) == 1


def test_newer_schema_version_is_moved_aside_and_recreated(
    db_path: Path, make_cache: Callable[..., TieredCache], caplog: pytest.LogCaptureFixture
) -> None:
    make_cache(db_path).close()
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    conn.close()
    cache = make_cache(db_path)
    assert cache.persistent
    assert any(".incompatible-" in p.name for p in db_path.parent.iterdir())
    assert len(cache_warnings(caplog)) == 1
    conn = sqlite3.connect(db_path)
    version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    conn.close()
    assert version == (str(schema.SCHEMA_VERSION),)


def test_someone_elses_database_is_left_alone(
    db_path: Path, make_cache: Callable[..., TieredCache], caplog: pytest.LogCaptureFixture
) -> None:
    db_path.parent.mkdir(parents=True)
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount REAL)")
        conn.execute("INSERT INTO invoices (amount) VALUES (12.5)")
    conn.close()
    before = db_path.read_bytes()
    cache = make_cache(db_path)
    assert not cache.persistent
    cache.put_count(ENC, sha("a"), 1, 1)
    cache.close()
    assert db_path.read_bytes() == before
    assert len(cache_warnings(caplog)) == 1


def test_failure_while_running_disables_the_file_once(
    db_path: Path, make_cache: Callable[..., TieredCache], caplog: pytest.LogCaptureFixture
) -> None:
    cache = make_cache(db_path)
    cache.put_count(ENC, sha("a"), 1, 1)
    cache.flush()
    store = cache._store
    assert store is not None and store._wdb is not None and store._rdb is not None
    store._wdb.close()  # simulate the file going away under us
    store._rdb.close()
    cache.put_count(ENC, sha("b"), 2, 1)
    cache.flush()
    assert cache.get_count(ENC, sha("c")) is None
    cache.put_count(ENC, sha("d"), 4, 1)
    cache.flush()
    assert not cache.persistent
    assert cache.lookup_count(ENC, sha("b")) == (2, "memory")
    assert len(cache_warnings(caplog)) == 1
    cache.close()


def test_busy_database_skips_writes_without_raising(
    db_path: Path, make_cache: Callable[..., TieredCache], caplog: pytest.LogCaptureFixture
) -> None:
    cache = make_cache(db_path, busy_timeout_ms=20)
    cache.put_count(ENC, sha("before"), 1, 1)
    cache.flush()
    locker = sqlite3.connect(db_path, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")  # another process holding the write lock
    try:
        cache.put_count(ENC, sha("during"), 2, 1)
        cache.flush()  # retried with backoff, then skipped
        assert cache.lookup_count(ENC, sha("during")) == (2, "memory")
        assert cache.persistent  # busy is transient: the file stays in use
        with pytest.raises(CacheBusyError):  # explicit maintenance does say so
            cache.clear()
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    cache.put_count(ENC, sha("after"), 3, 1)
    cache.flush()
    with TieredCache(str(db_path)) as other:
        assert other.get_count(ENC, sha("after")) == 3
        assert other.get_count(ENC, sha("before")) == 1
    assert len(cache_warnings(caplog)) == 1  # one "busy" warning, then quiet


def test_store_converts_busy_errors() -> None:
    err = failures.classify(sqlite3.OperationalError("database is locked"))
    assert isinstance(err, CacheBusyError) and err.transient
    other = failures.classify(sqlite3.DatabaseError("file is not a database"))
    assert isinstance(other, failures.StoreFailure) and other.corrupt


# ---- batched lookups and idempotent writes ----------------------------------------------------


def fill_file(path: Path, n: int) -> None:
    """``n`` counts (in two encodings) and ``n`` fingerprints, written and closed."""
    with TieredCache(str(path)) as cache:
        for i in range(n):
            cache.put_count(ENC, sha(str(i)), i, i + 1)
            cache.put_count("o200k_base", sha(str(i)), 2 * i, i + 1)
            cache.put_fingerprint(f"/w/{i}.md", i + 1, 10 * i, 2**64 - 1 - i, sha(str(i)))


def reader_selects(cache: TieredCache) -> list[str]:
    """Every statement the cache's reader connection runs from now on."""
    assert cache._store is not None and cache._store._rdb is not None
    seen: list[str] = []
    cache._store._rdb.set_trace_callback(seen.append)
    return seen


def test_prefetch_reads_a_whole_run_in_a_few_queries(
    db_path: Path, make_cache: Callable[..., TieredCache]
) -> None:
    n = 1200  # more keys than SQLite's old 999-variable limit: chunked
    fill_file(db_path, n)
    cache = make_cache(db_path)
    queries = reader_selects(cache)
    paths = [f"/w/{i}.md" for i in range(n)] + ["/w/never-seen.md"]
    shas = cache.prefetch_fingerprints(paths)
    assert shas == {f"/w/{i}.md": sha(str(i)) for i in range(n)}
    keys = [(enc, s) for s in shas.values() for enc in (ENC, "o200k_base")]
    assert cache.prefetch_counts([*keys, (ENC, sha("unknown"))]) == 2 * n
    fetched = len(queries)
    assert fetched == 3 + 2 * 3  # 1,201 paths; 1,201 + 1,200 shas in two encodings; 500 a query
    for i in range(n):  # all answered from memory now, the first use still reported as "disk"
        assert cache.get_fingerprint(f"/w/{i}.md", i + 1, 10 * i, 2**64 - 1 - i) == sha(str(i))
        assert cache.lookup_count(ENC, sha(str(i))) == (i, "disk")
        assert cache.lookup_count(ENC, sha(str(i))) == (i, "memory")
        assert cache.get_count("o200k_base", sha(str(i))) == 2 * i
    # Rows the file lacked are known to be absent: no query for them either.
    assert cache.get_fingerprint("/w/never-seen.md", 1, 1, 1) is None
    assert cache.lookup_count(ENC, sha("unknown")) == (None, "miss")
    assert len(queries) == fetched
    # Asking again costs nothing: everything is in memory.
    assert cache.prefetch_files(paths, [ENC, "o200k_base"]) == 2 * n
    assert len(queries) == fetched + 1  # the one absent path is asked for again, nothing else
    lookups = cache.stats()["lookups"]
    assert lookups["counts"] == {"memory_hits": n, "disk_hits": 2 * n, "misses": 1}
    assert lookups["fingerprints"] == {"memory_hits": 0, "disk_hits": n, "misses": 1}


def test_prefetched_values_are_memory_hits_even_if_the_file_changes_later(
    db_path: Path, make_cache: Callable[..., TieredCache]
) -> None:
    fill_file(db_path, 3)
    cache = make_cache(db_path)
    assert cache.prefetch_files(["/w/0.md", "/w/1.md", "/w/new.md"], [ENC]) == 2
    other = sqlite3.connect(db_path)
    with other:  # another process changes the file after the prefetch
        other.execute("DELETE FROM counts")
        other.execute(
            "INSERT INTO fingerprints VALUES ('/w/new.md', 5, 5, 5, ?, 1.0)", [sha("new")]
        )
    other.close()
    assert cache.get_count(ENC, sha("0")) == 0  # prefetched: memory
    assert cache.get_fingerprint("/w/new.md", 5, 5, 5) is None  # absent at prefetch time...
    assert cache.get_fingerprint("/w/new.md", 5, 5, 5) == sha("new")  # ...once; then the file
    # A stale fingerprint (the file changed on disk since) is not trusted: the file is asked.
    assert cache.get_fingerprint("/w/1.md", 2, 11, 2**64 - 2) is None


def test_prefetch_without_a_file_or_memory(make_cache: Callable[..., TieredCache]) -> None:
    memory_only = make_cache(None)
    memory_only.put_count(ENC, sha("a"), 1, 1)
    memory_only.put_fingerprint("/w/a", 1, 1, 1, sha("a"))
    assert memory_only.prefetch_fingerprints(["/w/a", "/w/b"]) == {"/w/a": sha("a")}
    assert memory_only.prefetch_counts([(ENC, sha("a")), (ENC, sha("b"))]) == 1
    assert memory_only.lookup_count(ENC, sha("b")) == (None, "miss")


def test_prefetch_with_memory_tier_off_still_answers_from_the_file(
    db_path: Path, make_cache: Callable[..., TieredCache]
) -> None:
    fill_file(db_path, 3)
    cache = make_cache(db_path, memory_entries=0)
    assert cache.prefetch_files(["/w/0.md", "/w/2.md"], [ENC]) == 2
    assert cache.lookup_count(ENC, sha("2")) == (2, "disk")
    assert cache.get_fingerprint("/w/2.md", 3, 20, 2**64 - 3) == sha("2")


def data_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA data_version").fetchone()[0])


@pytest.mark.parametrize("memory_entries", [10_000, 0])
def test_warm_run_that_learns_nothing_writes_nothing(
    db_path: Path, make_cache: Callable[..., TieredCache], memory_entries: int
) -> None:
    """What a warm run does, lookups and the puts of values it recomputed: no commit reaches
    the file (``data_version`` changes when another connection commits), not a byte changes.
    With the memory tier off, the statements themselves leave equal rows alone."""
    fill_file(db_path, 50)
    with TieredCache(str(db_path)) as cache:
        cache.put_http(http_entry())
    before = db_path.read_bytes()
    watcher = sqlite3.connect(db_path)
    version = data_version(watcher)
    cache = make_cache(db_path, memory_entries=memory_entries)
    cache.prefetch_files([f"/w/{i}.md" for i in range(50)], [ENC, "o200k_base"])
    for i in range(50):
        path, size, mtime, inode = f"/w/{i}.md", i + 1, 10 * i, 2**64 - 1 - i
        assert cache.get_fingerprint(path, size, mtime, inode) == sha(str(i))
        assert cache.get_count(ENC, sha(str(i))) == i
        cache.put_fingerprint(path, size, mtime, inode, sha(str(i)))  # re-read, same content
        cache.put_count(ENC, sha(str(i)), i, i + 1)
        cache.put_count("o200k_base", sha(str(i)), 2 * i, i + 1)
    entry = cache.get_http(http_entry().url)
    assert entry is not None
    cache.put_http(entry)
    if memory_entries:
        assert len(cache._pending) == 0  # nothing was even queued (stats() would flush first)
    cache.close()
    assert data_version(watcher) == version
    watcher.close()
    assert db_path.read_bytes() == before
    # A real change still lands.
    with TieredCache(str(db_path), memory_entries) as changed:
        changed.put_count(ENC, sha("0"), 99, 1)
    with TieredCache(str(db_path)) as check:
        assert check.get_count(ENC, sha("0")) == 99


def test_touches_wait_a_day(db_path: Path, make_cache: Callable[..., TieredCache]) -> None:
    """Last-use times are refreshed for pruning, but at most once a day per row."""
    clock = Clock()
    writer = make_cache(db_path, clock=clock)
    writer.put_count(ENC, sha("a"), 1, 1)
    writer.close()
    watcher = sqlite3.connect(db_path)
    version = data_version(watcher)
    clock.now += 3600 * 23
    cache = make_cache(db_path, clock=clock)
    assert cache.get_count(ENC, sha("a")) == 1
    cache.flush()
    assert data_version(watcher) == version
    clock.now += 3600 * 2
    assert cache.get_count(ENC, sha("a")) == 1
    cache.flush()
    assert data_version(watcher) != version
    used_at = watcher.execute("SELECT used_at FROM counts").fetchone()[0]
    assert used_at == clock.now
    watcher.close()


def test_opening_the_cache_imports_no_sqlite_helper_library(db_path: Path) -> None:
    code = """
        import sys
        import prompt_tokens.runtime
        from prompt_tokens.cache import TieredCache
        TieredCache(sys.argv[1]).close()
        print(sorted(m for m in ("sqlite_utils", "numpy") if m in sys.modules))
    """
    assert wait_ok(run_python(code, str(db_path))).strip() == "[]"


# ---- maintenance -----------------------------------------------------------------------------


def test_prune_by_age_uses_last_use(db_path: Path, make_cache: Callable[..., TieredCache]) -> None:
    clock = Clock(1_000_000.0)
    cache = make_cache(db_path, clock=clock)
    cache.put_count(ENC, sha("old"), 1, 1)
    cache.put_count(ENC, sha("old-but-used"), 2, 1)
    cache.put_fingerprint("/w/old", 1, 1, 1, sha("old"))
    cache.put_http(http_entry(fetched_at=clock.now))
    clock.now += 10 * 86400
    cache.put_count(ENC, sha("new"), 3, 1)
    assert cache.get_count(ENC, sha("old-but-used")) == 2  # refreshes used_at
    clock.now += 86400
    removed = cache.prune(max_age_s=5 * 86400)
    assert removed == 3  # old count, old fingerprint, old http entry
    cache.close()
    check = make_cache(db_path)
    assert check.stats()["entries"] == {"counts": 2, "fingerprints": 0, "http": 0, "results": 0}
    assert check.get_count(ENC, sha("old")) is None
    assert check.get_count(ENC, sha("old-but-used")) == 2
    assert check.get_count(ENC, sha("new")) == 3


def test_prune_by_rows_keeps_the_most_recently_used_per_table(
    db_path: Path, make_cache: Callable[..., TieredCache]
) -> None:
    clock = Clock()
    cache = make_cache(db_path, clock=clock)
    for i in range(10):
        clock.now += 1
        cache.put_count(ENC, sha(str(i)), i, 1)
        cache.put_fingerprint(f"/w/{i}", 1, 1, 1, sha(str(i)))
    cache.put_http(http_entry())
    assert cache.prune(max_rows=3, vacuum=True) == 7 + 7
    stats = cache.stats()
    assert stats["entries"] == {"counts": 3, "fingerprints": 3, "http": 1, "results": 0}
    cache.close()
    check = make_cache(db_path, memory_entries=0)
    assert [check.get_count(ENC, sha(str(i))) for i in (6, 7, 8, 9)] == [None, 7, 8, 9]
    assert check.prune() == 0  # nothing asked, nothing removed


def test_clear_forgets_memory_and_disk(
    db_path: Path, make_cache: Callable[..., TieredCache]
) -> None:
    cache = make_cache(db_path)
    cache.put_count(ENC, sha("a"), 1, 1)
    cache.put_fingerprint("/w/a", 1, 1, 1, sha("a"))
    cache.flush()
    cache.put_http(http_entry())  # still pending: must not come back after clear
    assert cache.clear() == 2
    assert cache.lookup_count(ENC, sha("a")) == (None, "miss")
    assert cache.get_http(http_entry().url) is None
    assert cache.stats()["entries"] == {"counts": 0, "fingerprints": 0, "http": 0, "results": 0}
    cache.put_count(ENC, sha("b"), 2, 1)  # still usable afterwards
    cache.close()
    assert make_cache(db_path).stats()["entries"]["counts"] == 1


def test_close_is_idempotent_and_lookups_still_work(
    db_path: Path, make_cache: Callable[..., TieredCache]
) -> None:
    cache = make_cache(db_path)
    cache.put_count(ENC, sha("a"), 1, 1)
    cache.close()
    cache.close()
    cache.flush()
    assert not cache.persistent
    assert cache.get_count(ENC, sha("a")) == 1
    cache.put_count(ENC, sha("b"), 2, 1)  # memory only now, no error
    assert cache.get_count(ENC, sha("b")) == 2


# ---- privacy ---------------------------------------------------------------------------------


def test_file_never_contains_document_text(
    db_path: Path, make_cache: Callable[..., TieredCache]
) -> None:
    cache = make_cache(db_path)
    digest = sha(SAMPLE_TEXT)
    cache.put_count(ENC, digest, 321, len(SAMPLE_TEXT.encode()))
    cache.put_fingerprint("/w/prompt.md", len(SAMPLE_TEXT), 1, 2, digest)
    cache.put_http(http_entry("https://user:pa55word@api.example.com/x", sha256=digest))
    cache.put_http(http_entry(sha256=digest))
    cache.flush()
    on_disk = b"".join(
        p.read_bytes() for p in db_path.parent.iterdir() if p.name.startswith(db_path.name)
    )
    assert digest.encode() in on_disk  # the hash is what is stored...
    assert b"zebra-7-walnut-quasar" not in on_disk  # ...never the text
    assert b"pa55word" not in on_disk
    cache.close()


# ---- model check: whatever the interleaving, the cache agrees with a dict --------------------


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["put", "get", "flush", "reopen"]),
            st.integers(0, 12),
            st.integers(0, 1000),
        ),
        max_size=60,
    ),
    st.integers(0, 4),
)
def test_cache_agrees_with_a_dict(ops: list[tuple[str, int, int]], memory_entries: int) -> None:
    model: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "c.sqlite3")
        cache = TieredCache(path, memory_entries)
        try:
            for op, key, value in ops:
                digest = sha(str(key))
                if op == "put":
                    cache.put_count(ENC, digest, value, 1)
                    model[digest] = value
                elif op == "get":
                    assert cache.get_count(ENC, digest) == model.get(digest)
                elif op == "flush":
                    cache.flush()
                else:
                    cache.close()
                    cache = TieredCache(path, memory_entries)
            cache.flush()
            assert cache.stats()["entries"]["counts"] == len(model)
        finally:
            cache.close()
