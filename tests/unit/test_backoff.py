"""The one retry policy (HTTP fetches and SQLite busy retries): which failures are retried,
how long it waits, and that a server's Retry-After is obeyed up to a cap. Sleeps are recorded,
not slept."""

from __future__ import annotations

import pytest

from prompt_tokens.backoff import Backoff
from prompt_tokens.errors import CacheBusyError, FetchError, TransientFetchError


class Flaky:
    """Fails with the given exceptions in turn, then returns "ok"."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


def test_transient_failures_are_retried_with_growing_jittered_waits() -> None:
    waits: list[float] = []
    fn = Flaky(*(CacheBusyError("locked") for _ in range(4)))
    policy = Backoff(retries=4, base_s=0.05, max_s=0.3)
    assert policy.call(fn, sleep=waits.append) == "ok"
    assert fn.calls == 5
    floors = [0.05, 0.1, 0.2, 0.3]  # base * 2**n, capped at max_s ...
    assert all(f <= w <= f + 0.05 for f, w in zip(floors, waits, strict=True)), waits  # + jitter


def test_retries_run_out_and_the_last_failure_is_raised() -> None:
    waits: list[float] = []
    last = TransientFetchError("HTTP 503 (3rd)")
    fn = Flaky(TransientFetchError("1st"), TransientFetchError("2nd"), last)
    with pytest.raises(TransientFetchError) as info:
        Backoff(retries=2, base_s=0.01, max_s=1.0).call(fn, sleep=waits.append)
    assert info.value is last and fn.calls == 3 and len(waits) == 2


def test_permanent_failures_and_bugs_are_not_retried() -> None:
    for exc in (FetchError("HTTP 404"), ValueError("a bug")):
        waits: list[float] = []
        fn = Flaky(exc)
        with pytest.raises(type(exc)):
            Backoff(retries=5, base_s=0.01, max_s=1.0).call(fn, sleep=waits.append)
        assert fn.calls == 1 and waits == []


def test_retry_after_is_obeyed_up_to_its_cap() -> None:
    waits: list[float] = []
    fn = Flaky(
        TransientFetchError("429", retry_after=2.0),
        TransientFetchError("429", retry_after=3600.0),
        TransientFetchError("429", retry_after=-5.0),
    )
    policy = Backoff(retries=3, base_s=0.5, max_s=30.0, max_retry_after_s=10.0)
    assert policy.call(fn, sleep=waits.append) == "ok"
    assert waits == [2.0, 10.0, 0.0]


async def test_the_async_loop_follows_the_same_policy() -> None:
    waits: list[float] = []

    async def sleep(delay: float) -> None:
        waits.append(delay)

    calls = 0

    async def fetch() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise TransientFetchError("timed out", retry_after=1.5 if calls == 2 else None)
        return "body"

    assert await Backoff(retries=3, base_s=0.1, max_s=5.0).call_async(fetch, sleep=sleep) == "body"
    assert calls == 3 and 0.1 <= waits[0] <= 0.2 and waits[1] == 1.5
