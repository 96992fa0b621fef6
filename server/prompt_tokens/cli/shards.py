"""A big cold run counted in worker processes, one per core.

Counting holds the GIL (rs_bpe), and so do reading front matter, finding references and
building results: over thousands of small files that Python alone is as long as tokenizing.
Forked workers run the whole engine on their share of the files at once, each with its own
runtime over the same SQLite cache file (WAL; busy writes retry), counting its small files in
batches first (``prompt_tokens.precount``). Results and dependencies come back pickled; the
parent prints and keeps them exactly as an in-process run would.

Fork only (Linux): workers start in milliseconds with everything imported, and the parent
forks before it has started any thread or event loop. Elsewhere, or for small runs, the run
stays in one process.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from prompt_tokens import environment
from prompt_tokens.errors import PromptTokensError
from prompt_tokens.forked import can_fork, cores
from prompt_tokens.results import DocumentResult

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

    from prompt_tokens.cli.rootconfig import RootConfig
    from prompt_tokens.settings import Settings

log = logging.getLogger(__name__)

MIN_FILES = 64
MIN_BYTES = 4 << 20
"""Below both, forking costs more than it saves."""
FILE_COST = 12 << 10
"""What a file costs whatever its size, in bytes of counting: its Python (reading, front
matter, references, results) takes about as long as tokenizing ~12 KiB (a worker's ~1 ms per
file against ~12 MB/s counted, on the real-file tree)."""
LAST_SHARE = 16
"""No chunk is smaller than 1/16 of a worker's share: each costs a runtime of its own (~10 ms)."""

Job = tuple[str, str, str]  # (root, label, absolute path)
Outcome = DocumentResult | BaseException
Done = tuple[Outcome, list[str] | None]  # the outcome, and the files it rests on


def worth_sharding(n_files: int, n_bytes: int) -> int:
    """How many worker processes to use for a run (0: count in this process)."""
    if n_files < MIN_FILES and n_bytes < MIN_BYTES:
        return 0
    return worker_count()


def worker_count() -> int:
    """Worker processes this machine and ``PROMPT_TOKENS_WORKERS`` allow (0: none)."""
    if not can_fork():
        return 0
    workers = min(environment.workers() or cores(), 8)
    return workers if workers > 1 else 0


def chunks(sizes: Sequence[int], workers: int) -> list[list[int]]:
    """Indexes of the files (by their ``sizes``) in chunks, in the order they are handed out.

    Each chunk is half of what is left per worker (guided self-scheduling): the first ones
    are big (few hand-offs) and the last ones small, so whichever worker ends its chunk last
    ends it soon after the other; equal chunks left a worker idle for a tenth of a second
    and more at the end of a 2,000-file run. Big files go first, small ones fill the end."""
    costs = [size + FILE_COST for size in sizes]
    order = sorted(range(len(costs)), key=lambda i: -costs[i])
    left = sum(costs)
    smallest = left / (max(1, workers) * LAST_SHARE)
    parts: list[list[int]] = []
    part: list[int] = []
    held = 0
    for i in order:
        part.append(i)
        held += costs[i]
        if held >= max(left / (2 * max(1, workers)), smallest):
            parts.append(sorted(part))
            left -= held
            part, held = [], 0
    if part:
        parts.append(sorted(part))
    return parts


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling, else the same one line as a PromptTokensError or a
    RuntimeError (the parent words a failure by its type; see ``count._failure``)."""
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        if isinstance(exc, PromptTokensError):
            return PromptTokensError(str(exc))
        return RuntimeError(f"{type(exc).__name__}: {exc}")


def count_chunk(
    roots: dict[str, RootConfig], jobs: list[Job], references: bool, cold: bool = False
) -> list[Done]:
    """In a worker: count ``jobs`` with a runtime of its own. ``cold``: the run began with
    no cache file, so its caches are written and never read."""
    import asyncio

    return asyncio.run(_count_chunk(roots, jobs, references, cold))


async def _count_chunk(
    roots: dict[str, RootConfig], jobs: list[Job], references: bool, cold: bool
) -> list[Done]:
    from prompt_tokens.runtime import CountRequest, Runtime

    # one file at a time: the cores are the workers
    rt = Runtime(workers=1, blocking=True, cache_reads=not cold)
    try:
        for root in {j[0] for j in jobs}:
            rt.set_settings(root, roots[root].settings, folders=[root])
        requests = [CountRequest(root, label, path) for root, label, path in jobs]
        outcomes = await rt.count_files(requests, references=references, limit=1, precount=True)
        out: list[Done] = []
        for (root, _, path), outcome in zip(jobs, outcomes, strict=True):
            if isinstance(outcome, DocumentResult):
                out.append((outcome, rt.file_dependencies(root, path)))
            else:
                out.append((_portable(outcome), None))
        return out
    finally:
        await rt.aclose()


def default_encoding(settings: Settings) -> str:
    """The encoding a root's documents are counted with unless their front matter says
    otherwise (its model's, else its ``encoding``)."""
    from prompt_tokens.errors import UnknownModelError
    from prompt_tokens.models import lookup_model

    if settings.model:
        try:
            return lookup_model(settings.model).encoding
        except UnknownModelError:
            pass
    return settings.encoding


def _load_encodings(names: Iterable[str]) -> None:
    from prompt_tokens.tokenizer.encodings import get_encoding

    for name in names:
        try:
            get_encoding(name)
        except (PromptTokensError, OSError, ValueError) as exc:
            log.debug("tokenizer %s not preloaded: %s", name, exc)


def _warm(encodings: tuple[str, ...]) -> None:
    """A worker forked before the walk: the engine imported and the tokenizer loaded while
    the parent lists the files. Never raises (a broken pool would lose the run's workers):
    whatever is missing is loaded by the first file that needs it."""
    try:
        import prompt_tokens.runtime  # noqa: F401

        _load_encodings(encodings)
    except Exception as exc:
        log.debug("worker not warmed up: %s", exc)


def start_workers(workers: int, encodings: Iterable[str] = ()) -> ProcessPoolExecutor:
    """Fork ``workers`` processes now (with the fork start method every worker is forked at
    the first submit, before the pool's own thread starts), each warming up with
    ``encodings``."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_warm,
        initargs=(tuple(encodings),),
    )
    pool.submit(os.getpid)
    return pool


def stop_workers(pool: ProcessPoolExecutor | None) -> None:
    """Workers forked for a run that needed none (it turned out small): stopped now, not
    after they finish warming up (``shutdown`` alone would wait for that at exit). Python
    3.11 has no public way to terminate a pool's processes (3.14's ``terminate_workers``)."""
    if pool is None:
        return
    processes = getattr(pool, "_processes", None) or {}
    for proc in list(processes.values()):
        proc.terminate()
    pool.shutdown(wait=True, cancel_futures=True)


def count_sharded(
    roots: dict[str, RootConfig],
    jobs: Sequence[Job],
    sizes: Sequence[int],
    *,
    workers: int,
    references: bool,
    on_chunk: Callable[[list[int], list[Done] | None], None] | None = None,
    pool: ProcessPoolExecutor | None = None,
    cold: bool = False,
) -> list[Done | None]:
    """Count ``jobs`` in ``workers`` forked processes; outcomes in the order of ``jobs``.
    ``on_chunk(indexes, outcomes)`` as each chunk ends (None: its worker failed), so the
    caller keeps what is done while the workers go on.

    A chunk whose worker died (killed, out of memory) is None in each of its places: the
    caller counts those files itself, so nothing is lost. ``pool``: workers forked already
    (``start_workers``, before the walk), used and shut down here; ``cold``: the run began
    with no cache file (``count_chunk``)."""
    from concurrent.futures import as_completed

    if pool is None:
        import prompt_tokens.runtime  # noqa: F401 - imported once here, inherited by every worker

        # loaded here, the workers share the tokenizer's tables instead of building each its own
        _load_encodings({default_encoding(config.settings) for config in roots.values()})
        pool = start_workers(workers)
    parts = chunks(sizes, workers)
    done: list[Done | None] = [None] * len(jobs)
    with pool:
        try:
            futures = {
                pool.submit(count_chunk, roots, [jobs[i] for i in part], references, cold): part
                for part in parts
            }
        except RuntimeError as exc:  # BrokenProcessPool: a worker died before any chunk
            log.info("the counting workers are gone (%s); the files are counted here", exc)
            return done
        for future in as_completed(futures):
            part = futures[future]
            got: list[Done] | None = None
            try:
                got = future.result()
                for i, item in zip(part, got, strict=True):
                    done[i] = item
            except Exception as exc:
                log.info("a counting worker failed (%s); its files are counted here", exc)
                got = None
            if on_chunk is not None:
                on_chunk(part, got)
    return done
