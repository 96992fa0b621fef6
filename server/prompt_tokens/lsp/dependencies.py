"""Referenced files changing: on disk (``workspace/didChangeWatchedFiles``) or, for clients that
cannot watch files, found by a light poll of the referenced files' ``stat``.

Each change recounts exactly the open documents whose last count depended on that file (the
resolver's dependency graph, which also lists missing files, so creating one recounts its
referrers). A file that is open in the editor is ignored here: its buffer is what counts, and
buffer edits are handled in ``sync``. A change to ``.prompt-tokens.toml`` reloads the settings
of its folder.
"""

from __future__ import annotations

import asyncio
import logging
import os

from lsprotocol import types

from prompt_tokens.lsp import counting, reconfigure
from prompt_tokens.lsp.base import PromptTokensServer
from prompt_tokens.workspace import CONFIG_FILE

log = logging.getLogger(__name__)

POLL_INTERVAL_S = 2.0

Stamp = tuple[int, int, int] | None


def file_changed(ls: PromptTokensServer, path: str) -> set[str]:
    """React to ``path`` changing on disk; returns the URIs scheduled for a recount."""
    if os.path.basename(path) == CONFIG_FILE:
        reconfigure.config_file_changed(ls, path, known_roots_only=True)
        return set()
    if ls.uri_for_path(path) is not None:
        return set()  # open in the editor: the buffer wins over the disk
    return counting.schedule_dependents(ls, path, delay_s=0.0)


def _stamp(path: str) -> Stamp:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def _stamps(paths: set[str]) -> dict[str, Stamp]:
    return {p: _stamp(p) for p in paths}


def _watched_files(ls: PromptTokensServer) -> set[str]:
    configs = {os.path.join(root, CONFIG_FILE) for root in ls.workspaces}
    return ls.runtime.referenced_files() | configs


async def poll(ls: PromptTokensServer) -> None:
    """Fallback for clients without file watching: stat the referenced files every 2 s.

    A file seen for the first time counts as changed when it is newer than the resolution
    of a document using it (it may have changed between that count and this first look)."""
    stamps: dict[str, Stamp] = {}
    while not ls.shutting_down:
        await asyncio.sleep(POLL_INTERVAL_S)
        if ls.watching_files or not ls.docs:
            continue
        files = _watched_files(ls)
        now = await asyncio.to_thread(_stamps, files)
        for path, stamp in now.items():
            if path in stamps:
                changed = stamps[path] != stamp
            else:
                changed = stamp is not None and _newer_than_its_counts(ls, path, stamp)
            if changed:
                log.info("%s changed on disk", path)
                file_changed(ls, path)
        stamps = now


def _newer_than_its_counts(ls: PromptTokensServer, path: str, stamp: Stamp) -> bool:
    assert stamp is not None
    mtime = stamp[1] / 1e9
    for uri in ls.dependents([path]):
        memo = ls.docs[uri].ref_memo
        if memo is not None and mtime >= memo.wall - 0.01:
            return True
    return False


def start_polling(ls: PromptTokensServer) -> None:
    if not ls.watching_files:
        ls.spawn(poll(ls), name="poll referenced files")


def did_change_watched_files(
    ls: PromptTokensServer, params: types.DidChangeWatchedFilesParams
) -> None:
    for change in params.changes:
        path = ls.uri_path(change.uri)
        if path is not None:
            file_changed(ls, path)
