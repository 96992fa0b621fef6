"""The cyclic garbage collector kept off the keystroke path of big documents.

At start-up everything alive is frozen out of collections (``lifecycle.tune_gc``). A big
document opened later brings hundreds of thousands of objects (its blocks, occurrences,
placed diagnostics) that the collector would otherwise walk again and again while the user
types: a full collection in a 10 MB prompt takes ~80 ms and lands on some keystroke. So:

- when a big document's first count is done, before it is reported, one full collection runs
  and everything alive is frozen (the open took seconds; this adds a fraction of one);
- after every later count of a big document what is alive and not frozen yet, which is
  only what was made since the last count, is frozen too (``gc.freeze`` moves the
  collector's lists aside in constant time). A keystroke there keeps thousands of new
  objects (an occurrence, a result and a diagnostic per reference after the edit); without
  this every ninth keystroke or so of a 10 MB prompt paid 20-40 ms for a collection of an
  older generation walking what the keystrokes before it kept. It is not collected first:
  that cost 0.5 ms a keystroke in the 2 MB code-heavy benchmark prompt and ~2 ms in the
  10 MB prose one (``bench_lsp.py``), and a keystroke's count leaves nothing in a cycle to
  find: the job queue's execution and its context no longer point at each other (that
  cycle kept every keystroke's snapshot: the server grew by ~60 MB a second while typing
  in the 10 MB prompt), nor does a replaced block and its scan unit; tests check both
  (``test_jobs.py``, ``test_document.py``). Whatever else ends in a cycle waits, frozen,
  for the pause;
- once nothing was counted for ``IDLE_S``, the full collection runs again: cyclic garbage
  made while typing (frozen objects are still freed by reference counting; only cycles
  among them wait) is collected while the user pauses.

This module imports no feature module.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time

log = logging.getLogger(__name__)

BIG_CHARS = 1_000_000
"""Documents from this size on get the treatment above."""
IDLE_S = 2.0


def collect_and_freeze() -> None:
    """One full collection (the frozen objects are let back in first), then freeze what is
    left alive."""
    started = time.perf_counter()
    gc.unfreeze()
    found = gc.collect()
    gc.freeze()
    if log.isEnabledFor(logging.DEBUG):  # counting the frozen objects walks them all (~14 ms/M)
        log.debug(
            "collected %d objects, froze %d in %.1f ms",
            found,
            gc.get_freeze_count(),
            1000 * (time.perf_counter() - started),
        )


class IdleCollector:
    """Runs :func:`collect_and_freeze` once counting has paused for ``IDLE_S``."""

    def __init__(self) -> None:
        self._timer: asyncio.TimerHandle | None = None

    def counted(self, chars: int, *, first: bool) -> None:
        """A count of a ``chars``-character document was published (``first``: its first)."""
        if chars < BIG_CHARS:
            return
        if first:
            collect_and_freeze()
        else:
            gc.freeze()
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(IDLE_S, self._fire)

    def _fire(self) -> None:
        self._timer = None
        collect_and_freeze()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
