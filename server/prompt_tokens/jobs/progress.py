"""Progress reports from a running job to the ``on_progress`` hook, always on the loop thread.

A thread job reports from its own thread; the LSP's hook sends ``$/progress`` and must run on
the event loop, so reports from other threads are handed over with ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

from prompt_tokens.jobs.handles import Execution
from prompt_tokens.jobs.records import JobRecord

log = logging.getLogger(__name__)

ProgressHook = Callable[[JobRecord, "float | None", str], None]
"""``on_progress(record, fraction, message)``: called on the event loop thread."""


class ProgressRelay:
    """Records each report on the job's record and passes it to the hook."""

    def __init__(self, hook: ProgressHook | None) -> None:
        self._hook = hook
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Called on the loop thread when the queue binds to ``loop``."""
        self._loop = loop
        self._loop_thread = threading.get_ident()

    def report(self, execution: Execution, fraction: float | None, message: str) -> None:
        loop = self._loop
        if loop is None or execution.finished:
            return
        if threading.get_ident() == self._loop_thread:
            self._on_loop(execution, fraction, message)
            return
        try:
            loop.call_soon_threadsafe(self._on_loop, execution, fraction, message)
        except RuntimeError:
            pass  # loop closed: nobody left to tell

    def _on_loop(self, execution: Execution, fraction: float | None, message: str) -> None:
        if execution.finished:
            return
        record = execution.record
        record.progress = None if fraction is None else min(1.0, max(0.0, float(fraction)))
        record.message = message
        if self._hook is not None:
            try:
                self._hook(record, record.progress, message)
            except Exception:
                log.exception("progress hook failed for job %d", record.id)
