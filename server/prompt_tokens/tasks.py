"""One way to run a background task: kept alive, its failure logged, never "never retrieved".

asyncio keeps only a weak reference to a task, so a task nobody holds can vanish mid-run, and an
exception nobody retrieves is reported at garbage collection, far from its cause. Every place
that starts a task in the background goes through :func:`supervise`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, MutableSet
from typing import Any

log = logging.getLogger(__name__)


def supervise(
    task: asyncio.Future[Any],
    keep: MutableSet[Any] | None = None,
    *,
    what: str = "background task",
    on_error: Callable[[BaseException], None] | None = None,
    quiet: bool = False,
) -> asyncio.Future[Any]:
    """Hold ``task`` in ``keep`` until it ends; then log (unless ``quiet``) and report its error.

    ``quiet`` is for futures whose waiters see the exception themselves (coalesced work): it is
    still retrieved, so asyncio does not complain when every waiter has gone.
    """
    if keep is not None:
        keep.add(task)

    def done(t: asyncio.Future[Any]) -> None:
        if keep is not None:
            keep.discard(t)
        if t.cancelled():
            return
        exc = t.exception()
        if exc is None or quiet:
            return
        name = t.get_name() if isinstance(t, asyncio.Task) else what
        log.error("%s %s failed", what, name, exc_info=exc)
        if on_error is not None:
            on_error(exc)

    task.add_done_callback(done)
    return task
