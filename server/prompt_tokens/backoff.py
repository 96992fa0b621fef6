"""One retry policy for transient failures: exponential backoff with jitter, Retry-After obeyed.

HTTP fetches (timeouts, connection errors, 429, 5xx) and SQLite writes that find the database
locked by another process are the same problem: try again a little later, a little later each
time, and not all at the same moment as every other waiter (jitter). A server that says when to
come back (``Retry-After``, carried as ``TransientError.retry_after``) is believed, up to a cap,
so a hostile or confused server cannot park a count for an hour.

The loop itself is tenacity's; this module only states the policy once, so the two callers
cannot drift apart. Only :class:`~prompt_tokens.errors.TransientError` is retried: anything
else (a 404, a corrupt file, a bug) is raised at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import attrs

from prompt_tokens.errors import TransientError

log = logging.getLogger(__name__)

T = TypeVar("T")


def _retry_after_or(fallback: Callable[[Any], float], cap: float) -> Callable[[Any], float]:
    """A tenacity wait: the exception's ``retry_after`` (capped) when it has one, else the
    fallback strategy."""

    def wait(retry_state: Any) -> float:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        after = getattr(exc, "retry_after", None)
        if after is not None:
            return min(max(0.0, float(after)), cap)
        return float(fallback(retry_state))

    return wait


def _replay_first(first: BaseException, fn: Callable[[], T]) -> Callable[[], T]:
    """``fn``, except that its first call raises ``first`` (the failure already seen)."""
    pending: list[BaseException] = [first]

    def again() -> T:
        if pending:
            raise pending.pop()
        return fn()

    return again


@attrs.frozen
class Backoff:
    """``retries`` more attempts after the first, waiting ``min(max_s, base_s * 2**n)`` plus up
    to ``base_s`` of jitter, or what the failure's ``retry_after`` asks (at most
    ``max_retry_after_s``)."""

    retries: int
    base_s: float
    max_s: float
    max_retry_after_s: float = 60.0
    what: str = "operation"
    """Named in the debug line logged before each wait."""

    def _options(self) -> dict[str, Any]:
        import tenacity  # only once something failed: tenacity imports asyncio, and start-up
        # of a CLI run that never retries should not pay for it

        return {
            "stop": tenacity.stop_after_attempt(1 + max(0, self.retries)),
            # wait_exponential_jitter's own parameters were renamed in tenacity 9.2; the sum of
            # the two long-standing strategies is the same curve on every supported version.
            "wait": _retry_after_or(
                tenacity.wait_exponential(multiplier=self.base_s, max=self.max_s)
                + tenacity.wait_random(0, self.base_s),
                self.max_retry_after_s,
            ),
            "retry": tenacity.retry_if_exception_type(TransientError),
            "reraise": True,
            "before_sleep": self._log_retry,
        }

    def _log_retry(self, state: Any) -> None:
        if not log.isEnabledFor(logging.DEBUG):
            return
        delay = state.next_action.sleep if state.next_action is not None else 0.0
        exc = state.outcome.exception() if state.outcome is not None else None
        log.debug("%s: retry %d in %.3f s (%s)", self.what, state.attempt_number, delay, exc)

    def call(self, fn: Callable[[], T], *, sleep: Callable[[float], None] = time.sleep) -> T:
        """Run ``fn`` until it succeeds, fails permanently or the retries are spent (the last
        ``TransientError`` is raised as it was). The first try is a plain call."""
        try:
            return fn()
        except TransientError as exc:
            again = _replay_first(exc, fn)
        import tenacity

        return tenacity.Retrying(sleep=sleep, **self._options())(again)

    async def call_async(
        self,
        fn: Callable[[], Awaitable[T]],
        *,
        sleep: Callable[[float], Awaitable[Any]] | None = None,
    ) -> T:
        """The same for a coroutine function; waits with ``sleep`` (injectable for tests)."""
        try:
            return await fn()
        except TransientError as exc:
            first = exc
        pending: list[BaseException] = [first]

        async def again() -> T:
            if pending:
                raise pending.pop()
            return await fn()

        import asyncio

        import tenacity

        wait = sleep if sleep is not None else asyncio.sleep
        return await tenacity.AsyncRetrying(sleep=wait, **self._options())(again)


__all__ = ["Backoff"]
