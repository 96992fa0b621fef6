"""Where a file reference points, and whether it may be followed.

Locating (``locate``): ``~`` expanded; relative to the referencing file's folder (the current
folder for stdin); absolute paths as they are; then ``realpath`` (symlinks resolved) and the
workspace check on the real path, so a symlink that escapes the workspace is refused like the
path it points to (``reference-outside-workspace``; checked before existence, so the refusal
says nothing about what exists outside). The trailing-punctuation rule: the trimmed token is
used unless a file with the untrimmed name exists.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs

from prompt_tokens.errors import OutsideWorkspaceError, PromptTokensError


@attrs.define
class Located:
    """Where a file reference points. ``error`` set: refused before any I/O on the target."""

    raw: str  # the path as used (trimmed, or untrimmed when that file exists)
    path: str  # absolute, ``~`` expanded, not yet symlink-resolved
    real: str  # realpath
    extra: int = 0  # characters of trailing punctuation taken back (untrimmed chosen)
    error: PromptTokensError | None = None


def roots_contain(real: str, roots: Sequence[str]) -> bool:
    for root in roots:
        if real == root or real.startswith(root.rstrip(os.sep) + os.sep):
            return True
    return False


def locate(
    target: str,
    untrimmed: str | None,
    base_dir: str,
    roots: Sequence[str],
    *,
    allow_outside: bool,
    overlay: Mapping[str, str] | None = None,
) -> Located:
    def absolute(raw: str) -> str:
        p = os.path.expanduser(raw)
        return os.path.normpath(os.path.join(base_dir, p))

    raw = target
    extra = 0
    if untrimmed is not None and untrimmed != target:
        cand = absolute(untrimmed)
        if os.path.isfile(cand) or (overlay is not None and os.path.realpath(cand) in overlay):
            raw, extra = untrimmed, len(untrimmed) - len(target)
    path = absolute(raw)
    real = os.path.realpath(path)
    loc = Located(raw=raw, path=path, real=real, extra=extra)
    if not allow_outside and not roots_contain(real, roots):
        via = f" (it resolves to {real})" if real != path else ""
        where = ", ".join(roots) if roots else "no workspace folder"
        loc.error = OutsideWorkspaceError(
            f"{raw} is outside the workspace ({where}){via}; "
            "set references.allowOutsideWorkspace to allow it"
        )
    return loc


def normalize_overlay(overlay: Mapping[str, str] | None) -> dict[str, str]:
    """Overlay keys as realpaths (an editor may name a file through a symlink)."""
    if not overlay:
        return {}
    return {os.path.realpath(os.fspath(Path(k).expanduser())): v for k, v in overlay.items()}
