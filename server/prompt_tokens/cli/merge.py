"""One ``check`` report from the reports of several workspace roots.

Budgets are judged per root (each root's ``[[budgets]]`` globs match paths relative to it), but
a run prints one report: the merged one is rooted at the roots' common folder, each path
prefixed with its root's place under it. With a single root (the usual ``check .``) the report
is that root's, unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import attrs

from prompt_tokens.ci.delta import FileDelta
from prompt_tokens.ci.gitbase import repo_prefix
from prompt_tokens.ci.report import CheckReport, build_report


def relative(path: str, root: str) -> str:
    """``path`` relative to ``root`` with ``/`` separators (``-`` stays ``-``)."""
    if path == "-":
        return path
    return Path(os.path.relpath(path, root)).as_posix()


def _join(prefix: str, path: str) -> str:
    return f"{prefix}/{path}" if prefix else path


def _moved(delta: FileDelta | None, prefix: str) -> FileDelta | None:
    if delta is None:
        return None
    return attrs.evolve(
        delta,
        path=_join(prefix, delta.path),
        old_path=None if delta.old_path is None else _join(prefix, delta.old_path),
    )


def merge_reports(reports: Sequence[CheckReport]) -> CheckReport:
    """``reports`` as one; an empty run gives an empty report rooted at the current folder."""
    if not reports:
        return build_report(os.getcwd(), [])
    if len(reports) == 1:
        return reports[0]
    common = os.path.commonpath([r.root for r in reports])
    files, aggregates, deleted, problems = [], [], [], []
    for r in reports:
        prefix = relative(r.root, common)
        prefix = "" if prefix == "." else prefix
        files += [
            attrs.evolve(f, path=_join(prefix, f.path), delta=_moved(f.delta, prefix))
            for f in r.files
        ]
        aggregates += [
            attrs.evolve(a, paths=tuple(_join(prefix, p) for p in a.paths)) for a in r.aggregates
        ]
        deleted += [d for d in (_moved(d, prefix) for d in r.deleted) if d is not None]
        problems += [p for p in r.problems if p not in problems]
    first = reports[0]
    return CheckReport(
        root=common,
        files=tuple(files),
        aggregates=tuple(aggregates),
        deleted=tuple(deleted),
        base_revision=first.base_revision,
        base_commit=first.base_commit,
        max_increase=first.max_increase,
        problems=tuple(problems),
        repo_prefix=repo_prefix(Path(common)),
    )
