"""One call run in a forked child process while this process goes on with other work.

Why a process and not a thread: ``rs_bpe`` holds the GIL while it counts, so a thread that
scans a big file's references only takes turns with the count; a forked child scans on the
other core. The child inherits everything loaded (no imports, no pickled arguments) and sends
back only the call's result. Used only where forking is safe: a CLI process with no event loop,
on Linux.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

T = TypeVar("T")


def can_fork() -> bool:
    """Linux with the fork start method (multiprocessing imported only there: a warm CLI run
    that forks nothing does not pay for it)."""
    if not sys.platform.startswith("linux"):
        return False
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


def cores() -> int:
    """The cores this process may run on (its affinity, which a container or ``taskset`` may
    narrow), not the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class ChildLost(Exception):
    """The child ended without an answer (killed, or out of memory): do the call here."""


def _child(send: Connection, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        answer: tuple[bool, Any] = (True, fn(*args))
    except Exception as exc:  # sent back and raised in the parent, as a thread's would be
        answer = (False, exc)
    try:
        send.send(answer)
    except Exception:  # the exception itself does not pickle: send its message
        send.send((False, RuntimeError(str(answer[1]))))
    finally:
        send.close()


class Forked(Generic[T]):
    """``fn(*args)`` running in a forked child; :meth:`result` waits for it.

    The child is daemonic, so it ends with this process if this one exits first."""

    def __init__(self, fn: Callable[..., T], *args: Any) -> None:
        import multiprocessing

        ctx = multiprocessing.get_context("fork")
        self._recv, send = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(target=_child, args=(send, fn, args), daemon=True)
        self._proc.start()
        send.close()  # the child holds the only writer: its exit means end of file here

    def result(self) -> T:
        """The call's value; its exception re-raised; :class:`ChildLost` if it died."""
        import pickle

        try:
            ok, value = self._recv.recv()
        except (EOFError, OSError, pickle.UnpicklingError) as exc:
            raise ChildLost(str(exc) or "no answer") from None
        finally:
            self._recv.close()
            self._proc.join()
        if not ok:
            raise value
        result: T = value
        return result

    def cancel(self) -> None:
        """Stop the child if it is still running (its answer is no longer wanted)."""
        if self._proc.exitcode is None:
            self._proc.terminate()
        self._proc.join()
        self._recv.close()
