"""What the tiered cache keeps per key, and the writes it has not committed yet.

Memory values are plain tuples (the lookup path runs once per block of every edit):

* count: ``(tokens, touched_at, unreported)``
* fingerprint: ``(size, mtime_ns, inode, sha256, touched_at, unreported)``, mtime and inode
  folded to signed 64 bits as the file stores them
* HTTP: an :class:`HttpEntry`

``touched_at`` is the last-use time the file holds (or will hold once pending writes land).
``unreported`` marks a row a batched prefetch brought in from the file: its first lookup still
says ``"disk"``, so hover's "cache state" means the same with or without prefetching.
:data:`ABSENT` records that a prefetch found no row, so the lookup that follows need not ask
the file again; it is used once.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import attrs

from prompt_tokens.cache.rows import CountRow, FingerprintRow, HttpRow, WriteBatch

CountValue = tuple[int, float, bool]
FingerprintValue = tuple[int, int, int, str, float, bool]
ABSENT: tuple[()] = ()
"""Memory value meaning "a prefetch asked the file and it has no such row"."""


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

    def row(self) -> HttpRow:
        return (
            self.url,
            self.etag,
            self.last_modified,
            self.sha256,
            int(self.size),
            self.content_type,
            float(self.fetched_at),
            float(self.expires_at),
        )


def has_credentials(url: str) -> bool:
    """``user:pass@host`` URLs stay in memory: no credentials in the cache file (SPEC "Trust")."""
    try:
        return "@" in urlsplit(url).netloc
    except ValueError:
        return True


def for_log(url: str) -> str:
    """A URL without userinfo, query or fragment: enough to debug, nothing secret."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable url>"
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path}"


@attrs.define
class PendingWrites:
    """Writes not yet committed, keyed by primary key so repeated puts collapse to one row."""

    counts: dict[tuple[str, str], CountRow] = attrs.field(factory=dict)
    count_touches: dict[tuple[str, str], float] = attrs.field(factory=dict)
    fingerprints: dict[str, FingerprintRow] = attrs.field(factory=dict)
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
            http=[e.row() for e in self.http.values()],
        )
