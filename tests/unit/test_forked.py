"""A call run in a forked child: its value or its exception comes back, a child that dies
without an answer is told apart, and a cancelled child does not outlive the call."""

from __future__ import annotations

import os
import signal
import time

import pytest

from prompt_tokens.errors import NotFoundError
from prompt_tokens.forked import ChildLost, Forked, can_fork, cores

pytestmark = pytest.mark.skipif(not can_fork(), reason="fork is Linux-only here by design")


def _pid_and(value: int) -> tuple[int, int]:
    return os.getpid(), value * 2


def _raise(message: str) -> None:
    raise NotFoundError(message)


def _die() -> None:
    os._exit(7)


class _Unpicklable(Exception):
    def __reduce__(self) -> object:
        raise TypeError("no pickling")


def _raise_unpicklable() -> None:
    raise _Unpicklable("odd failure")


def test_the_value_comes_back_from_another_process() -> None:
    pid, doubled = Forked(_pid_and, 21).result()
    assert doubled == 42 and pid != os.getpid()


def test_the_exception_is_raised_here() -> None:
    with pytest.raises(NotFoundError, match="gone"):
        Forked(_raise, "gone").result()


def test_an_exception_that_does_not_pickle_comes_back_as_its_message() -> None:
    with pytest.raises(RuntimeError, match="odd failure"):
        Forked(_raise_unpicklable).result()


def test_a_child_that_dies_is_a_lost_child() -> None:
    with pytest.raises(ChildLost):
        Forked(_die).result()


def test_cancel_stops_a_running_child() -> None:
    child = Forked(time.sleep, 60)
    child.cancel()
    assert child._proc.exitcode == -signal.SIGTERM  # stopped and reaped, not run to its end
    with pytest.raises(ChildLost):
        child.result()


def test_cores_is_what_this_process_may_use() -> None:
    assert 1 <= cores() <= (os.cpu_count() or 1)
