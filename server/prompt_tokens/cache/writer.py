"""The background writer: pending cache writes reach SQLite in batches, off the hot path.

A commit costs milliseconds and the editor must never wait for one, so puts land in memory and
a daemon thread commits whatever is pending every ``FLUSH_INTERVAL_S`` (at once when
``FLUSH_BATCH`` rows wait). ``flush()`` is the synchronisation point for the CLI, shutdown and
tests: it returns when every write made before it is committed (or skipped as busy).

A cache still open at interpreter exit is flushed by an ``atexit`` hook, so a CLI run that
forgets ``close()`` keeps its counts. The hook holds the cache weakly and is removed on close.
"""

from __future__ import annotations

import atexit
import functools
import logging
import threading
import weakref
from collections.abc import Callable
from contextlib import AbstractContextManager

from prompt_tokens.cache.rows import WriteBatch
from prompt_tokens.cache.store import SqliteStore

log = logging.getLogger(__name__)

FLUSH_INTERVAL_S = 0.2
"""How long a write may wait in memory before the background writer commits it."""
FLUSH_BATCH = 500
"""A batch this large is committed at once instead of waiting for the interval."""


class BatchWriter:
    """Commits batches taken with ``take`` (which swaps out the pending writes) to ``store``."""

    def __init__(self, store: SqliteStore, take: Callable[[], WriteBatch | None]) -> None:
        self._store = store
        self._take = take
        self._io_lock = threading.Lock()  # orders commits: flush() waits for in-flight ones
        self._wake = threading.Event()  # something is pending
        self._full = threading.Event()  # a full batch is pending, or we are closing
        self._thread: threading.Thread | None = None
        self._closing = False

    def exclusive(self) -> AbstractContextManager[bool]:
        """Hold off commits (``clear``/``prune`` must not interleave with a batch)."""
        return self._io_lock

    def notify(self, pending: int) -> None:
        """``pending`` rows now wait (called with the cache's lock held, after each enqueue)."""
        if pending == 1:
            self._wake.set()
            if self._thread is None and not self._closing:
                self._thread = threading.Thread(
                    target=self._run, name="prompt-tokens-cache-writer", daemon=True
                )
                self._thread.start()
        if pending >= FLUSH_BATCH:
            self._full.set()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            if self._closing:
                return
            self._full.wait(FLUSH_INTERVAL_S)
            if self._closing:
                return
            try:
                self.flush()
            except Exception:
                # A bug, not a cache failure (those are handled in the store): keep writing.
                log.exception("Cache writer failed; dropping one batch")

    def flush(self) -> None:
        with self._io_lock:
            if not self._closing:
                self._wake.clear()
                self._full.clear()
            batch = self._take()
            if batch is not None and len(batch):
                self._store.write(batch)

    def close(self) -> None:
        """Stop the thread after a last flush (idempotent)."""
        if self._closing:
            return
        self._closing = True
        self._wake.set()
        self._full.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        self.flush()


def close_at_exit(close: Callable[[], None]) -> Callable[[], None]:
    """Register ``close`` (a bound method) to run at interpreter exit without keeping its
    object alive; returns the hook, for :func:`atexit.unregister` when closed earlier."""
    hook = functools.partial(_call_if_alive, weakref.WeakMethod(close))
    atexit.register(hook)
    return hook


def _call_if_alive(ref: weakref.WeakMethod[Callable[[], None]]) -> None:
    method = ref()
    if method is None:
        return
    try:
        method()
    except Exception:
        log.debug("Closing a cache at exit failed", exc_info=True)
