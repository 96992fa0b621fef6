"""Property: random submit/cancel/supersede/coalesce sequences never lose or double-run a job.

Each example drives a fresh queue inside ``asyncio.run``. Every submitted function has a unique
number, blocks on its own gate and returns its number, so the test can tell exactly which
function ran, how often, and whose result each handle received.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from prompt_tokens.errors import PermanentError, TransientError
from prompt_tokens.jobs import Job, JobCancelled, JobContext, JobQueue, Priority, Superseded

KEYS = [None, "k1", "k2", "k3"]
GROUPS = [None, "doc:a", "doc:b"]
MAX_ATTEMPTS = 3

submit_op = st.tuples(
    st.just("submit"),
    st.sampled_from(KEYS),
    st.sampled_from(GROUPS),
    st.sampled_from(list(Priority)),
    st.sampled_from(["ok", "ok", "fail", "transient"]),
    st.booleans(),  # in a thread
)
ops_strategy = st.lists(
    st.one_of(
        submit_op,
        submit_op,
        st.tuples(st.just("cancel_handle"), st.integers(0, 40)),
        st.tuples(st.just("cancel_waiter_task"), st.integers(0, 40)),
        st.tuples(st.just("cancel_key"), st.sampled_from(KEYS[1:])),
        st.tuples(st.just("cancel_group"), st.sampled_from(GROUPS[1:])),
        st.tuples(st.just("release"), st.integers(0, 40)),
        st.tuples(st.just("yield"), st.integers(1, 4)),
    ),
    max_size=40,
)


@dataclass
class World:
    runs: Counter[int] = field(default_factory=Counter)
    completions: Counter[int] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    async_gates: dict[int, asyncio.Event] = field(default_factory=dict)
    thread_gates: dict[int, threading.Event] = field(default_factory=dict)
    kinds: dict[int, str] = field(default_factory=dict)
    handles: list[tuple[int, Job[int]]] = field(default_factory=list)
    owner: dict[int, int] = field(default_factory=dict)  # execution id -> function number
    waiter_tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    def job(self, n: int, kind: str, in_thread: bool) -> Any:
        def outcome(attempt: int) -> int:
            if kind == "fail":
                raise PermanentError(f"job {n} failed")
            if kind == "transient" and attempt == 1:
                raise TransientError(f"job {n} busy")
            with self.lock:
                self.completions[n] += 1
            return n

        if in_thread:
            gate = self.thread_gates[n] = threading.Event()

            def in_thread_fn(ctx: JobContext) -> int:
                with self.lock:
                    self.runs[n] += 1
                gate.wait(timeout=10)
                return outcome(ctx.attempt)

            return in_thread_fn

        agate = self.async_gates[n] = asyncio.Event()

        async def async_fn(ctx: JobContext) -> int:
            self.runs[n] += 1
            await agate.wait()
            return outcome(ctx.attempt)

        return async_fn

    def release(self, n: int) -> None:
        if n in self.async_gates:
            self.async_gates[n].set()
        if n in self.thread_gates:
            self.thread_gates[n].set()

    def release_all(self) -> None:
        for n in list(self.async_gates) + list(self.thread_gates):
            self.release(n)


async def no_sleep(delay: float) -> None:
    await asyncio.sleep(0)


async def scenario(ops: list[tuple[Any, ...]], abrupt: bool, workers: int, threads: int) -> None:
    world = World()
    queue = JobQueue(
        workers, threads=threads, max_attempts=MAX_ATTEMPTS, sleep=no_sleep, rng=lambda: 0.5
    )
    submitted = 0
    try:
        for op in ops:
            name = op[0]
            if name == "submit":
                _, key, group, priority, kind, in_thread = op
                n = submitted
                submitted += 1
                world.kinds[n] = kind
                fn = world.job(n, kind, in_thread)
                handle = queue.submit(
                    fn, key=key, supersede=group, priority=priority, in_thread=in_thread
                )
                if not handle.coalesced:
                    world.owner[handle.id] = n
                world.handles.append((n, handle))
            elif name == "cancel_handle" and world.handles:
                world.handles[op[1] % len(world.handles)][1].cancel()
            elif name == "cancel_waiter_task" and world.handles:
                handle = world.handles[op[1] % len(world.handles)][1]
                entered = asyncio.Event()

                async def wait_for(h: Job[int], entered: asyncio.Event = entered) -> int:
                    entered.set()
                    return await h

                task = asyncio.create_task(wait_for(handle))
                world.waiter_tasks.append(task)
                await entered.wait()
                task.cancel()
            elif name == "cancel_key":
                queue.cancel(op[1])
            elif name == "cancel_group":
                queue.cancel_group(op[1])
            elif name == "release":
                world.release(op[1])
            elif name == "yield":
                for _ in range(op[1]):
                    await asyncio.sleep(0)

        if abrupt:
            await queue.shutdown(timeout=0)
            world.release_all()  # let abandoned threads end
        else:
            world.release_all()
            await asyncio.wait_for(queue.join(), timeout=10)
            await queue.shutdown(timeout=5)
        await asyncio.gather(*world.waiter_tasks, return_exceptions=True)
    finally:
        world.release_all()

    # Nothing leaked.
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []

    # Every handle resolved.
    for _, handle in world.handles:
        assert handle.done(), handle

    # Nothing ran twice (a transient failure is one extra run, never more than the limit).
    for n, count in world.runs.items():
        limit = MAX_ATTEMPTS if world.kinds[n] == "transient" else 1
        assert count <= min(limit, 2), (n, count)
        assert world.completions[n] <= 1
    coalesced = {n for n, h in world.handles if h.coalesced}
    assert not coalesced & set(world.runs), "a coalesced submit's own function ran"

    # Every outcome is the one its execution produced.
    for n, handle in world.handles:
        exc = handle.exception()
        owner = world.owner[handle.id]
        if exc is None:
            assert handle.result() == owner
            assert world.completions[owner] == 1
            if not handle.coalesced:
                assert owner == n
        elif isinstance(exc, Superseded):
            assert handle.record.group is not None
        elif not isinstance(exc, JobCancelled):
            assert world.kinds[owner] in ("fail", "transient")

    counters = queue.counters
    assert counters["submitted"] == submitted
    assert counters["coalesced"] == len(coalesced)
    executions = submitted - len(coalesced)
    assert counters["done"] + counters["failed"] + counters["cancelled"] == executions
    assert counters["queued"] == counters["running"] == counters["retrying"] == 0


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(ops=ops_strategy, abrupt=st.booleans(), workers=st.integers(1, 3), threads=st.integers(1, 2))
@example(  # found by this test: a job cancelled before its task's first step kept its worker
    ops=[("submit", None, None, Priority.ACTIVE, "ok", False), ("yield", 1), ("cancel_handle", 0)],
    abrupt=False,
    workers=1,
    threads=1,
)
def test_random_operation_sequences_never_lose_or_double_run_a_job(
    ops: list[tuple[Any, ...]], abrupt: bool, workers: int, threads: int
) -> None:
    asyncio.run(scenario(ops, abrupt, workers, threads))
