"""``prompt-tokens count``, and the counting run ``check`` shares.

Each file is counted through the workspace engine (``runtime.Runtime``) under the settings of
its workspace root (the nearest folder with ``.prompt-tokens.toml`` or ``.git``, or
``--root``): the same engine, cache and rules as the language server, so the CLI and the
editor can never disagree. Exit codes (SPEC "CI"): 0, or 2 when a path given by name could not
be counted (missing, not a regular file, a symlink loop, unreadable, binary) — the other files
are still counted and printed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from prompt_tokens.cli import prefork
from prompt_tokens.cli.discovery import Expansion, expand_paths
from prompt_tokens.cli.known import KnownRun
from prompt_tokens.cli.output import (
    count_json,
    error,
    print_findings,
    print_json,
    progress_bar,
    render_table,
    warn,
)
from prompt_tokens.cli.rootconfig import (
    RootConfig,
    flag_overrides,
    real_path,
    root_of,
    settings_for,
)
from prompt_tokens.errors import PromptTokensError, UsageError
from prompt_tokens.results import DocumentResult

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

    from prompt_tokens.runtime import Runtime

EXIT_OK = 0
EXIT_USAGE = 2


@attrs.define
class Counted:
    """One file of a run: where it lives, its root, and its result (None: it failed)."""

    label: str
    path: str  # absolute ('-' for standard input)
    root: str
    named: bool  # given by name: a failure exits 2 (found in a folder: skipped)
    result: DocumentResult | None = None
    data: bytes | None = attrs.field(default=None, repr=False)  # standard input's bytes
    seen: tuple[int, int, int] | None = attrs.field(default=None, repr=False)
    """(size, mtime_ns, inode) as the folder walk found it (``Named.seen``; None: not walked)."""


@attrs.define
class CountRun:
    """Everything a counting run found, for ``count`` to print and ``check`` to judge."""

    items: list[Counted]
    roots: dict[str, RootConfig]
    expansion: Expansion
    failed_by_name: int = 0

    @property
    def results(self) -> list[DocumentResult]:
        return [i.result for i in self.items if i.result is not None]

    @property
    def exit_code(self) -> int:
        bad = self.failed_by_name or self.expansion.problems
        return EXIT_USAGE if bad else EXIT_OK


def plan(args: argparse.Namespace) -> CountRun:
    """Expand the paths and settle each root's settings (once per root)."""
    flags = flag_overrides(args)
    if args.root and not Path(args.root).is_dir():
        raise UsageError(f"--root {args.root}: not a folder")
    expansion = expand_paths(args.paths)
    if [f.label for f in expansion.files].count("-") > 1:
        raise UsageError("stdin (-) can be counted only once")
    run = CountRun([], {}, expansion)
    memo: dict[str, str | None] = {}
    dirs: dict[str, str] = {}
    cwd = os.getcwd()
    given = Path(args.root).resolve() if args.root else None
    for named in expansion.files:
        stdin = named.label == "-"
        doc_path = (
            os.path.join(cwd, "-") if stdin else real_path(named.label, dirs, link=named.link)
        )
        root = root_of(given, doc_path, memo)
        if root not in run.roots:
            config = run.roots[root] = settings_for(Path(root), flags)
            for msg in config.problems:
                warn(msg)
        data = sys.stdin.buffer.read() if stdin else None
        path = "-" if stdin else str(doc_path)
        run.items.append(Counted(named.label, path, root, named.named, data=data, seen=named.seen))
    return run


class Runtimes:
    """The engine, started only when a run has something to count: a warm run whose every
    result is known never imports it (nor tiktoken, asyncio's threads, the resolver)."""

    def __init__(self) -> None:
        self._rt: Runtime | None = None
        self._roots: set[str] = set()

    def get(self, roots: dict[str, RootConfig]) -> Runtime:
        if self._rt is None:
            from prompt_tokens.runtime import Runtime

            self._rt = Runtime(workers=4)
        for root, config in roots.items():
            if root not in self._roots:
                self._roots.add(root)
                self._rt.set_settings(root, config.settings, folders=[root])
        return self._rt

    @property
    def started(self) -> Runtime | None:
        return self._rt

    async def aclose(self) -> None:
        if self._rt is not None:
            await self._rt.aclose()


def _failure(label: str, outcome: BaseException) -> str:
    if isinstance(outcome, OSError):
        msg = outcome.strerror or str(outcome)
    elif isinstance(outcome, PromptTokensError):
        msg = str(outcome)
    else:  # a bug, not the user's input: still one line, and the way to learn more
        msg = f"internal error: {type(outcome).__name__}: {outcome} (run with -vv for details)"
    return msg if msg.startswith(label) else f"{label}: {msg}"


@attrs.define
class Prepared:
    """A run whose known results are in place: what is left to count, and where to keep it."""

    run: CountRun
    known: KnownRun
    todo: list[Counted]


def prepare(args: argparse.Namespace) -> Prepared:
    """Plan the run and take every result the cache still holds for unchanged files
    (``known_results``). Synchronous, so a run with nothing left to count never starts an
    event loop or the engine. The caller closes ``known``."""
    run = plan(args)
    for problem in run.expansion.problems:
        error(problem)
    if not run.items and not run.expansion.problems:
        raise UsageError("no files to count")
    reuse = not getattr(args, "exact_remote", False)  # vendor counts come from the network
    known = KnownRun(run, references=not args.no_references, enabled=reuse)
    try:
        todo = known.take(run.items)
    except BaseException:
        known.close()
        raise
    return Prepared(run, known, todo)


async def count_rest(args: argparse.Namespace, runtimes: Runtimes, prep: Prepared) -> None:
    """Count what ``prepare`` left, through the engine, and keep the new results."""
    if prep.todo:
        rt = runtimes.get(prep.run.roots)
        outcomes = await _count_items(args, rt, prep.todo)
        _take_outcomes(prep.run, prep.todo, outcomes)
        prep.known.remember(prep.todo, lambda i: rt.file_dependencies(i.root, i.path))
    if getattr(args, "stats", False):
        print_stats(prep, runtimes.started)


def count_in_workers(
    args: argparse.Namespace, prep: Prepared, pool: ProcessPoolExecutor | None = None
) -> None:
    """Count a big cold run's files in worker processes (``shards``), before any event loop
    or thread exists; what they could not count stays in ``prep.todo`` for the engine here.
    ``pool``: workers forked before the walk (``prefork``); stopped if the run needs none."""
    from prompt_tokens.cli import shards

    files = [i for i in prep.todo if i.path != "-"]
    sizes = [i.seen[0] if i.seen is not None else _size(i.path) for i in files]
    workers = shards.worth_sharding(len(files), sum(sizes)) if files else 0
    if getattr(args, "exact_remote", False) or not workers:
        shards.stop_workers(pool)
        return
    jobs = [(i.root, i.label, i.path) for i in files]
    prep.known.figures["workers"] = workers
    with progress_bar(len(files), sum(sizes)) as step:

        def keep(part: list[int], got: list[shards.Done] | None) -> None:
            """A chunk's results kept at once (the last chunk's alone are left for the end)."""
            for _ in part:
                step("")
            if got is None:
                return
            items = [files[i] for i in part]
            deps = {item.label: dep for item, (_, dep) in zip(items, got, strict=True)}
            for item, (outcome, _) in zip(items, got, strict=True):
                if isinstance(outcome, DocumentResult):
                    outcome.path = item.label
                    item.result = outcome
            prep.known.remember(items, lambda i: deps.get(i.label))

        done = shards.count_sharded(
            prep.run.roots,
            jobs,
            sizes,
            workers=workers,
            references=not args.no_references,
            on_chunk=keep,
            pool=pool,
            cold=pool is not None,  # forked early: only for a run with no cache file
        )
    # failures reported in the files' order, whichever chunk ended first
    counted = [(item, got[0]) for item, got in zip(files, done, strict=True) if got is not None]
    _take_outcomes(prep.run, [item for item, _ in counted], [outcome for _, outcome in counted])
    gone = {id(item) for item, _ in counted}
    prep.todo = [i for i in prep.todo if id(i) not in gone]


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def print_stats(prep: Prepared, rt: Runtime | None) -> None:
    for root in prep.run.roots:
        figures = rt.stats(root) if rt is not None else {}
        print_json({**figures, "results": prep.known.figures}, sys.stderr)


async def _count_items(
    args: argparse.Namespace, rt: Runtime, todo: list[Counted]
) -> list[DocumentResult | BaseException]:
    from prompt_tokens.runtime import CountRequest

    requests = [CountRequest(i.root, i.label, i.path, i.data) for i in todo]
    total_bytes = sum(os.path.getsize(i.path) for i in todo if i.path != "-")
    with progress_bar(len(requests), total_bytes) as step:
        outcomes = await rt.count_files(requests, references=not args.no_references, on_done=step)
    if getattr(args, "exact_remote", False):
        # Imported only for this flag: the vendor clients (and httpx) stay out of start-up.
        from prompt_tokens.cli.exact_remote import exact_remote

        outcomes, notes = await exact_remote(rt, requests, outcomes)
        for note in notes:
            warn(note)
    return outcomes


def _take_outcomes(
    run: CountRun, todo: list[Counted], outcomes: list[DocumentResult | BaseException]
) -> None:
    for item, outcome in zip(todo, outcomes, strict=True):
        if isinstance(outcome, DocumentResult):
            item.result = outcome
        elif item.named:
            run.failed_by_name += 1
            error(_failure(item.label, outcome))
        else:  # found in a folder: skipped with a warning, as a repository may hold anything
            warn(f"{_failure(item.label, outcome)}; skipped")


async def _count(args: argparse.Namespace, prep: Prepared) -> None:
    runtimes = Runtimes()
    try:
        await count_rest(args, runtimes, prep)
    finally:
        await runtimes.aclose()


def cmd_count(args: argparse.Namespace) -> int:
    with prefork.early_workers(args) as pool:
        prep = prepare(args)
        try:
            count_in_workers(args, prep, pool)
            if prep.todo:
                import asyncio  # only when something is left to count

                asyncio.run(_count(args, prep))
            elif args.stats:
                print_stats(prep, None)
        finally:
            prep.known.close()
    results = prep.run.results
    if args.json:
        print_json(count_json(results))
    elif results:
        render_table(results, sys.stdout)
    print_findings(results)
    return prep.run.exit_code
