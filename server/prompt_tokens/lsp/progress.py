"""``$/progress`` for work that takes longer than ~0.5 s (big documents, big referenced files).

A recount runs inside :meth:`ProgressReporter.watch`: nothing is sent for quick counts; after
``DELAY_S`` a work-done progress is created (only when the client supports
``window.workDoneProgress``), reports follow what the job reports (block counting fraction,
which reference is being resolved), and it ends with the count. The progress is cancellable:
a user cancel calls the watcher's ``on_cancel`` (the recount is cancelled and its status
becomes ``error``). pygls itself handles ``window/workDoneProgress/cancel``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, Protocol

from lsprotocol import types
from pygls.progress import Progress

log = logging.getLogger(__name__)

DELAY_S = 0.5
REPORT_INTERVAL_S = 0.2


class Watch:
    """What a running piece of work tells its (maybe not yet visible) progress."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.fraction: float | None = None
        self.message = ""
        self.token: str | None = None
        self.began = False
        self.cancelled = False

    def report(self, fraction: float | None = None, message: str | None = None) -> None:
        if fraction is not None:
            self.fraction = max(0.0, min(1.0, fraction))
        if message is not None:
            self.message = message


class Host(Protocol):
    """What a reporter needs of the server (the server class satisfies it; naming it here
    keeps this module free of the server's imports)."""

    shutting_down: bool

    @property
    def work_done_progress(self) -> Progress: ...

    def supports(self, capability: str) -> bool: ...

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]: ...


class ProgressReporter:
    def __init__(self, server: Host) -> None:
        self.server = server
        self.watches: set[Watch] = set()
        self.started = 0
        """Progress tokens created so far (for tests and ``promptTokens.jobs``)."""

    def supported(self) -> bool:
        return self.server.supports("window.work_done_progress")

    @contextlib.asynccontextmanager
    async def watch(
        self, title: str, on_cancel: Callable[[], None] | None = None
    ) -> AsyncIterator[Watch]:
        w = Watch(title)
        self.watches.add(w)
        runner: list[asyncio.Task[Any]] = []

        def start() -> None:  # a timer, not a task: most work ends well before DELAY_S
            runner.append(self.server.spawn(self._run(w, on_cancel), name=f"progress:{title}"))

        timer = asyncio.get_running_loop().call_later(DELAY_S, start)
        try:
            yield w
        finally:
            # not awaited: awaiting here could swallow a cancellation of the task using us
            self.watches.discard(w)
            timer.cancel()
            for task in runner:
                task.cancel()
            if w.began and w.token is not None:
                self._send_end(w)

    async def _run(self, w: Watch, on_cancel: Callable[[], None] | None) -> None:
        if not self.supported() or self.server.shutting_down:
            return
        token = str(uuid.uuid4())
        try:
            await asyncio.wait_for(self.server.work_done_progress.create_async(token), 5)
        except (TimeoutError, Exception) as exc:
            log.debug("window/workDoneProgress/create failed: %s", exc)
            return
        w.token = token
        self.started += 1
        self.server.work_done_progress.begin(
            token,
            types.WorkDoneProgressBegin(
                title=w.title,
                cancellable=on_cancel is not None,
                message=w.message or None,
                percentage=_percentage(w.fraction),
            ),
        )
        w.began = True
        fut = self.server.work_done_progress.tokens.get(token)
        if fut is not None and on_cancel is not None:

            def cancelled(f: Any) -> None:
                if f.cancelled() and not w.cancelled:
                    w.cancelled = True
                    log.info("progress %r cancelled by the user", w.title)
                    on_cancel()

            fut.add_done_callback(cancelled)
        last: tuple[float | None, str] = (w.fraction, w.message)
        last_at = time.monotonic()
        while True:
            await asyncio.sleep(REPORT_INTERVAL_S)
            now = (w.fraction, w.message)
            if now != last or time.monotonic() - last_at > 5:
                self.server.work_done_progress.report(
                    token,
                    types.WorkDoneProgressReport(
                        message=w.message or None, percentage=_percentage(w.fraction)
                    ),
                )
                last, last_at = now, time.monotonic()

    def _send_end(self, w: Watch) -> None:
        try:
            self.server.work_done_progress.end(
                w.token or "",
                types.WorkDoneProgressEnd(message="cancelled" if w.cancelled else "done"),
            )
            self.server.work_done_progress.tokens.pop(w.token or "", None)
        except Exception:
            log.debug("could not end progress %s", w.token, exc_info=True)


def _percentage(fraction: float | None) -> int | None:
    return None if fraction is None else round(100 * fraction)
