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
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import attrs

from prompt_tokens.cli.discovery import Expansion, expand_paths
from prompt_tokens.cli.models import check_model
from prompt_tokens.cli.output import (
    count_json,
    error,
    print_findings,
    print_json,
    progress_bar,
    render_table,
    warn,
)
from prompt_tokens.errors import PromptTokensError, UsageError
from prompt_tokens.results import DocumentResult
from prompt_tokens.runtime import CountRequest, Runtime
from prompt_tokens.settings import Settings, deep_merge, parse_settings
from prompt_tokens.tokenizer.encodings import TOKENIZERS
from prompt_tokens.workspace import CONFIG_FILE, find_root, load_config

EXIT_OK = 0
EXIT_USAGE = 2
CLI_ONLY_KEYS = ("budgets",)
"""Keys of ``.prompt-tokens.toml`` only the CLI reads (``check``'s ``[[budgets]]``): not
settings of the engine, so they are taken out before the settings are checked."""


def flag_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the flags set, over each root's ``.prompt-tokens.toml``."""
    raw: dict[str, Any] = {}
    if args.model:
        check_model(args.model)
        raw["model"] = args.model
    if args.encoding:
        if args.encoding not in TOKENIZERS:
            raise UsageError(f"--encoding must be one of {', '.join(TOKENIZERS)}")
        raw["encoding"] = args.encoding
        raw["model"] = None
    if getattr(args, "exact_remote", False):
        raw["remote"] = {"enabled": True}
    if getattr(args, "budget", None) is not None:
        raw["budget"] = args.budget
    if getattr(args, "no_cache", False):
        raw["cache"] = {"path": None}
    elif getattr(args, "cache", None):
        raw["cache"] = {"path": args.cache}
    return raw


@attrs.frozen
class RootConfig:
    """A workspace root's settings and the raw file they came from (``check`` reads its
    ``[[budgets]]``)."""

    settings: Settings
    raw: dict[str, Any]
    problems: list[str]


def settings_for(root: Path, flags: dict[str, Any]) -> RootConfig:
    """``root``'s ``.prompt-tokens.toml`` with the flags over it; problems name the file."""
    toml, problems = load_config(root)
    engine_raw = {k: v for k, v in toml.items() if k not in CLI_ONLY_KEYS}
    settings, more = parse_settings(deep_merge(engine_raw, flags))
    where = f"{root / CONFIG_FILE}: "
    return RootConfig(
        settings, toml, problems + [p.replace("promptTokens.", where, 1) for p in more]
    )


@attrs.define
class Counted:
    """One file of a run: where it lives, its root, and its result (None: it failed)."""

    label: str
    path: str  # absolute ('-' for standard input)
    root: str
    named: bool  # given by name: a failure exits 2 (found in a folder: skipped)
    result: DocumentResult | None = None


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


def _root_of(args: argparse.Namespace, doc_path: Path, memo: dict[Path, Path]) -> Path:
    """The settings root of ``doc_path`` (a file, or ``cwd/-``); ``memo``: by folder, so a
    run over thousands of files walks each folder's ancestors once, not once per file."""
    if args.root:
        return Path(args.root).resolve()
    folder = doc_path.parent
    root = memo.get(folder)
    if root is None:
        root = memo[folder] = find_root(doc_path) or Path.cwd()
    return root


def plan(args: argparse.Namespace, rt: Runtime) -> tuple[CountRun, list[CountRequest]]:
    """Expand the paths, settle each root's settings (once per root) and list the requests."""
    flags = flag_overrides(args)
    if args.root and not Path(args.root).is_dir():
        raise UsageError(f"--root {args.root}: not a folder")
    expansion = expand_paths(args.paths)
    if [f.label for f in expansion.files].count("-") > 1:
        raise UsageError("stdin (-) can be counted only once")
    run = CountRun([], {}, expansion)
    requests: list[CountRequest] = []
    memo: dict[Path, Path] = {}
    for named in expansion.files:
        doc_path = Path.cwd() / "-" if named.label == "-" else Path(named.label).resolve()
        folder = _root_of(args, doc_path, memo)
        root = str(folder)
        if root not in run.roots:
            config = run.roots[root] = settings_for(folder, flags)
            for msg in config.problems:
                warn(msg)
            rt.set_settings(root, config.settings, folders=[folder])
        data = sys.stdin.buffer.read() if named.label == "-" else None
        path = "-" if named.label == "-" else str(doc_path)
        run.items.append(Counted(named.label, path, root, named.named))
        requests.append(CountRequest(root, named.label, path, data))
    return run, requests


def _failure(label: str, outcome: BaseException) -> str:
    if isinstance(outcome, OSError):
        msg = outcome.strerror or str(outcome)
    elif isinstance(outcome, PromptTokensError):
        msg = str(outcome)
    else:  # a bug, not the user's input: still one line, and the way to learn more
        msg = f"internal error: {type(outcome).__name__}: {outcome} (run with -vv for details)"
    return msg if msg.startswith(label) else f"{label}: {msg}"


async def count_all(args: argparse.Namespace, rt: Runtime) -> CountRun:
    """Count every file the command line names; failures become one line each on stderr."""
    run, requests = plan(args, rt)
    for problem in run.expansion.problems:
        error(problem)
    if not requests:
        if not run.expansion.problems:
            raise UsageError("no files to count")
        return run
    total_bytes = sum(os.path.getsize(i.path) for i in run.items if i.path != "-")
    with progress_bar(len(requests), total_bytes) as step:
        outcomes = await rt.count_files(requests, references=not args.no_references, on_done=step)
    if getattr(args, "exact_remote", False):
        # Imported only for this flag: the vendor clients (and httpx) stay out of start-up.
        from prompt_tokens.cli.exact_remote import exact_remote

        outcomes, notes = await exact_remote(rt, requests, outcomes)
        for note in notes:
            warn(note)
    for item, outcome in zip(run.items, outcomes, strict=True):
        if isinstance(outcome, DocumentResult):
            item.result = outcome
            continue
        if item.named:
            run.failed_by_name += 1
            error(_failure(item.label, outcome))
        else:  # found in a folder: skipped with a warning, as a repository may hold anything
            warn(f"{_failure(item.label, outcome)}; skipped")
    if args.stats:
        for root in run.roots:
            print_json(rt.stats(root), sys.stderr)
    return run


async def _count(args: argparse.Namespace) -> CountRun:
    rt = Runtime(workers=4)
    try:
        return await count_all(args, rt)
    finally:
        await rt.aclose()


def cmd_count(args: argparse.Namespace) -> int:
    run = asyncio.run(_count(args))
    results = run.results
    if args.json:
        print_json(count_json(results))
    elif results:
        render_table(results, sys.stdout)
    print_findings(results)
    return run.exit_code
