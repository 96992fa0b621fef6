"""The queue's thread pool: how many threads, at which CPU priority.

CPU work (tokenizing) runs in these threads so it never blocks the event loop that answers
the editor.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger(__name__)

DEFAULT_THREAD_NICE = 10
"""Nice increment of job threads on Linux (see :func:`lower_thread_priority`); 0 = off."""


def default_threads() -> int:
    """Half the cores, at least one: a counting job keeps about two cores busy.

    ``count_stream`` may encode on two threads of its own, so more concurrent thread jobs than
    this only adds threads that take turns on the same cores, and every extra runnable thread
    is one more the event loop has to wait behind when it wakes (measured with
    ``benchmarks/bench_loop.py`` on a shared 2-core VM: 4 concurrent counting jobs gave a
    loop-delay p95 of 6.8-10 ms, 1 job gave 0.4-3.4 ms, at about the same MB/s).
    """
    return max(1, (os.cpu_count() or 2) // 2)


def lower_thread_priority(nice: int) -> None:
    """Add ``nice`` to this thread's nice value (threads it starts inherit it).

    Why: tokenizing keeps every core busy, and a thread at the same priority as the event
    loop makes the loop wait for a time slice each time a timer or a message wakes it. At a
    higher nice value the kernel hands the waking loop thread a core at once. Not more than
    that (no ``SCHED_IDLE``): a starved thread holding the GIL would stall the loop instead.
    Linux only: elsewhere the call would renice the whole process, loop included.
    """
    if nice <= 0 or not sys.platform.startswith("linux"):
        return
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except OSError as exc:  # sandboxes may refuse; the job still runs
        log.debug("could not lower job thread priority: %s", exc)


def job_executor(threads: int, nice: int) -> ThreadPoolExecutor:
    """A pool of ``threads`` threads named ``pt-job-N``, each ``nice`` steps nicer than the loop."""
    return ThreadPoolExecutor(
        threads, thread_name_prefix="pt-job", initializer=lower_thread_priority, initargs=(nice,)
    )
