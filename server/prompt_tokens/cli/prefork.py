"""Counting workers forked before the folders are walked, for a run that is surely cold.

A cold run over a big tree spends its first few tenths of a second in this process alone:
listing the files, finding their roots and settings, looking up what is known, then importing
the engine and loading the tokenizer for the workers to inherit. Forked first, the workers
import and load while this process walks and plans, on the core it leaves idle.

Only when nothing can be reused, so the workers are wanted whatever the folder holds, unless
it holds little (then they are stopped at once): ``--no-cache``, or no cache file yet at the
path the folders' roots use. A warm run (a cache file exists) never forks early; it is decided
after the lookup, as before.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from prompt_tokens.cli import shards
from prompt_tokens.cli.rootconfig import flag_overrides, root_of, settings_for
from prompt_tokens.errors import PromptTokensError

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

log = logging.getLogger(__name__)


@contextlib.contextmanager
def early_workers(args: argparse.Namespace) -> Iterator[ProcessPoolExecutor | None]:
    """:func:`start_if_cold` for the length of a run: whatever happens, no worker outlives it
    (those the run used were shut down by it already)."""
    pool = start_if_cold(args)
    try:
        yield pool
    finally:
        shards.stop_workers(pool)


def start_if_cold(args: argparse.Namespace) -> ProcessPoolExecutor | None:
    """The workers of a run over folders that has no cache to reuse, forked now; None
    otherwise (the run decides later, as it always did)."""
    if getattr(args, "exact_remote", False):
        return None
    folders = [p for p in args.paths if p != "-" and os.path.isdir(os.path.expanduser(p))]
    encodings = _cold_encodings(args, folders) if folders else None
    if encodings is None:
        return None
    workers = shards.worker_count()  # imports multiprocessing: only for a cold run
    if not workers:
        return None
    log.debug("a cold run over folders: %d workers forked before the walk", workers)
    return shards.start_workers(workers, encodings)


def _cold_encodings(args: argparse.Namespace, folders: list[str]) -> set[str] | None:
    """The default encodings of the folders' roots, or None when one of them has a cache
    file already (or the flags are bad: ``plan`` reports that, as always)."""
    try:
        flags = flag_overrides(args)
    except PromptTokensError:
        return None
    given = Path(args.root).resolve() if args.root and os.path.isdir(args.root) else None
    memo: dict[str, str | None] = {}
    encodings: set[str] = set()
    for folder in folders:
        real = os.path.realpath(os.path.expanduser(folder))
        root = root_of(given, os.path.join(real, "-"), memo)
        settings = settings_for(Path(root), flags).settings
        path = settings.cache.path
        if path is not None and path != ":memory:" and os.path.exists(path):
            return None
        encodings.add(shards.default_encoding(settings))
    return encodings
