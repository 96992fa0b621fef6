"""What went wrong with the cache file, in the two kinds the store acts on.

``database is locked``/``busy`` is another process writing: :class:`CacheBusyError`, retried
with backoff, then skipped. Anything else (corrupt file, read-only folder, full disk) is a
:class:`StoreFailure` that turns the file off for the rest of the process; ``corrupt`` says
whether moving it aside and starting a new one may help.
"""

from __future__ import annotations

import sqlite3

from prompt_tokens.cache.schema import Incompatible
from prompt_tokens.errors import CacheBusyError

# SQLite primary result codes (``sqlite_errorcode & 0xff``).
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26


class StoreFailure(Exception):
    """A non-transient SQLite failure; ``corrupt`` says whether moving the file aside may help."""

    def __init__(self, reason: str, *, corrupt: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.corrupt = corrupt


def classify(exc: BaseException) -> Exception:
    """Map a sqlite3 exception to ``CacheBusyError`` (retry) or ``StoreFailure`` (give up)."""
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
    return StoreFailure(msg, corrupt=corrupt)


OPEN_ERRORS = (sqlite3.Error, CacheBusyError, StoreFailure, Incompatible, OSError)
"""What opening a file may raise that means "not this file", never "crash"."""


def explain(exc: BaseException) -> tuple[str, str | None]:
    """A one-line reason for a failure, and the move-aside label if a fresh file could fix it."""
    if isinstance(exc, sqlite3.Error):
        exc = classify(exc)
    if isinstance(exc, StoreFailure):
        return exc.reason, "corrupt" if exc.corrupt else None
    if isinstance(exc, Incompatible):
        return str(exc), "incompatible" if exc.ours else None
    return str(exc) or type(exc).__name__, None
