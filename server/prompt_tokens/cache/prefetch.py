"""Batched lookups: the rows a whole run needs, in a few queries, into the memory tier.

One point query per file fingerprint and per count made a warm CLI run over a repository
cost more than counting it: thousands of round trips through the reader connection. A caller
that knows its work up front (the CLI's file list, a document's file references) asks for all
of it here; the lookups that follow are memory hits, and a key the file does not have is
remembered as absent (:data:`~prompt_tokens.cache.entries.ABSENT`) for its next lookup.

Mixed into :class:`~prompt_tokens.cache.tiered.TieredCache`, whose lock, memory tier and
pending writes it uses; kept apart because it is the one part that thinks in batches.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from prompt_tokens.cache.entries import ABSENT, PendingWrites
from prompt_tokens.cache.memory import MemoryLRU
from prompt_tokens.cache.store import SqliteStore


class PrefetchMixin:
    """``prefetch_counts``, ``prefetch_fingerprints`` and ``prefetch_files``."""

    _lock: threading.Lock
    _memory: MemoryLRU[tuple[str, ...], Any]
    _pending: PendingWrites

    def _read_store(self) -> SqliteStore | None:
        raise NotImplementedError

    def prefetch_counts(self, keys: Iterable[tuple[str, str]]) -> int:
        """Load the stored counts of ``(encoding, sha256)`` keys into memory, a few queries for
        all of them; returns how many of the keys are now known in memory.

        Keys already in memory are not asked for. A key the file lacks is remembered as absent
        for the next lookup, which then costs no query either."""
        wanted: dict[str, list[str]] = {}
        known = 0
        with self._lock:
            store = self._read_store()
            for encoding, sha in dict.fromkeys(keys):
                hit = self._memory.get(("c", encoding, sha))
                if hit:
                    known += 1
                elif hit is None and (encoding, sha) not in self._pending.counts:
                    wanted.setdefault(encoding, []).append(sha)
        if store is None or not wanted:
            return known
        found = {enc: store.get_counts(enc, shas) for enc, shas in wanted.items()}
        with self._lock:
            for encoding, rows in found.items():
                for sha, tokens, used_at in rows:
                    self._fill_locked(("c", encoding, sha), (tokens, used_at, True))
                    known += 1
                have = {sha for sha, _, _ in rows}
                for sha in wanted[encoding]:
                    if sha not in have:
                        self._fill_locked(("c", encoding, sha), ABSENT)
        return known

    def _fill_locked(self, key: tuple[str, ...], value: Any) -> None:
        """Store a prefetched value unless a put got there first (that one is newer)."""
        if self._memory.get(key) is None:
            self._memory.put(key, value)

    def prefetch_fingerprints(self, paths: Iterable[str]) -> dict[str, str]:
        """Load the stored fingerprints of ``paths`` into memory in a few queries.

        Returns ``path → sha256`` for every path with a fingerprint (in memory or in the
        file), not yet checked against the file on disk (:meth:`get_fingerprint` does that),
        which is what :meth:`prefetch_counts` needs next. Paths the file does not know are
        remembered as absent for their next lookup."""
        out: dict[str, str] = {}
        wanted: list[str] = []
        with self._lock:
            store = self._read_store()
            for path in dict.fromkeys(paths):
                hit = self._memory.get(("f", path))
                pending = self._pending.fingerprints.get(path)
                if hit:
                    out[path] = hit[3]
                elif pending is not None:
                    out[path] = pending[4]
                elif hit is None:
                    wanted.append(path)
        if store is None or not wanted:
            return out
        rows = store.get_fingerprints(wanted)
        with self._lock:
            for path, size, mtime_ns, inode, sha, seen_at in rows:
                self._fill_locked(("f", path), (size, mtime_ns, inode, sha, seen_at, True))
                out[path] = sha
            for path in wanted:
                if path not in out:
                    self._fill_locked(("f", path), ABSENT)
        return out

    def prefetch_files(self, paths: Iterable[str], encodings: Iterable[str]) -> int:
        """Both prefetches for a run over ``paths``: their fingerprints, then the count of each
        fingerprinted content in each of ``encodings`` (real or pseudo-encodings such as the
        reference-scan keys). Returns how many counts are now known in memory."""
        shas = self.prefetch_fingerprints(paths)
        encs = list(dict.fromkeys(encodings))
        return self.prefetch_counts((enc, sha) for sha in shas.values() for enc in encs)
