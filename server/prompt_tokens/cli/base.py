"""``check --base REV``: every counted file as it was at REV, counted exactly like it is now.

The base texts come from git's objects (``ci.gitbase``: no checkout, the work tree is never
touched) and are counted through the same workspace engine and settings as the work tree, as
the text of the file's path at the base (after a rename, its old path), so references resolve
from the same folder. The files they reference are read at the base too: each base text, and
each file a base count reached that exists at REV, is given to the engine as an overlay over
the disk, round by round until no new referenced file turns up (at most the reference depth
plus one rounds). A referenced file that did not exist at REV but exists now is counted from
the disk: git has nothing to show for it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs

from prompt_tokens.ci.gitbase import BaseSnapshot, open_base, read_texts, repo_root
from prompt_tokens.cli.count import CountRun
from prompt_tokens.cli.discovery import MATCH_ENDINGS
from prompt_tokens.errors import PromptTokensError, UsageError
from prompt_tokens.results import DocumentResult, ReferenceResult
from prompt_tokens.runtime import CountRequest, Runtime
from prompt_tokens.workspace import find_root


@attrs.define
class BaseCounts:
    """What the base revision holds for this run's files (absolute paths throughout)."""

    revision: str
    commit: str
    base_path: dict[str, str] = attrs.field(factory=dict)  # path now → path at the base
    totals: dict[str, int] = attrs.field(factory=dict)  # path at the base → its total there
    deleted: dict[str, str] = attrs.field(factory=dict)  # gone path → its workspace root
    problems: list[str] = attrs.field(factory=list)


def _snapshots(spec: str, roots: Iterable[str]) -> dict[str, BaseSnapshot]:
    """One snapshot per repository, keyed by each workspace root that lives in it."""
    by_repo: dict[Path, BaseSnapshot] = {}
    out: dict[str, BaseSnapshot] = {}
    for root in roots:
        repo = repo_root(Path(root))
        if repo not in by_repo:
            by_repo[repo] = open_base(spec, Path(root))
        out[root] = by_repo[repo]
    return out


def _owner(path: str, roots: Sequence[str], given_root: str | None) -> str:
    """The workspace root a deleted file belonged to: as the counted files' roots are found."""
    if given_root is not None:
        return given_root
    found = str(find_root(Path(path)) or "")
    if found in roots:
        return found
    inside = [r for r in roots if path.startswith(r.rstrip(os.sep) + os.sep)]
    return max(inside, key=len) if inside else roots[0]


def _file_refs(results: Iterable[DocumentResult]) -> set[str]:
    refs: list[ReferenceResult] = [r for d in results for r in d.references]
    return {r.target for r in refs if r.kind == "file" and r.target}


class _Reader:
    """Reads base texts across snapshots into one overlay (absolute base path → text)."""

    def __init__(self, snapshots: dict[str, BaseSnapshot], max_bytes: int, out: BaseCounts):
        self.snapshots = {s.repo_root: s for s in snapshots.values()}
        self.max_bytes = max_bytes
        self.out = out
        self.overlay: dict[str, str] = {}

    def _locate(self, path: str) -> tuple[BaseSnapshot, str] | None:
        for snap in self.snapshots.values():
            rel = snap.repo_path(Path(path))
            if rel is not None and rel in snap.files:
                return snap, rel
        return None

    def read(self, paths: Iterable[str]) -> list[str]:
        """Read the ones git has at the base and the overlay lacks; returns those read."""
        wanted: dict[Path, list[str]] = {}
        for path in paths:
            found = self._locate(path) if path not in self.overlay else None
            if found is not None:
                wanted.setdefault(found[0].repo_root, []).append(found[1])
        read: list[str] = []
        for repo, rels in wanted.items():
            texts, problems = read_texts(self.snapshots[repo], rels, max_bytes=self.max_bytes)
            self.out.problems.extend(problems)
            for rel, text in texts.items():
                full = str(repo / rel)
                self.overlay[full] = text
                read.append(full)
        return read


async def count_base(
    rt: Runtime,
    run: CountRun,
    spec: str,
    *,
    references: bool,
    given_root: str | None,
) -> BaseCounts:
    """Count the run's files (and the deleted ones under its folders) at ``spec``."""
    if any(i.path == "-" for i in run.items):
        raise UsageError("--base compares files: standard input (-) has no base revision")
    roots = list(run.roots)
    snapshots = _snapshots(spec, roots)
    first = next(iter(snapshots.values()))
    out = BaseCounts(spec, first.commit)
    for item in run.items:
        snap = snapshots[item.root]
        rel = snap.repo_path(Path(item.path))
        old = snap.base_path(rel) if rel is not None else None
        if old is not None:
            out.base_path[item.path] = str(snap.repo_root / old)
    for snap in {s.repo_root: s for s in snapshots.values()}.values():
        for rel in snap.deleted_within(run.expansion.folders, MATCH_ENDINGS):
            full = str(snap.repo_root / rel)
            out.deleted[full] = _owner(full, roots, given_root)
    max_bytes = min(c.settings.references.max_bytes for c in run.roots.values())
    reader = _Reader(snapshots, max_bytes, out)
    reader.read([*out.base_path.values(), *out.deleted])
    owner = {out.base_path[i.path]: i.root for i in run.items if i.path in out.base_path}
    owner.update(out.deleted)
    depth = max(c.settings.references.max_depth for c in run.roots.values())
    documents = [p for p in owner if p in reader.overlay]
    for _round in range(depth + 2 if references else 1):
        requests = [CountRequest(owner[p], p, p, text=reader.overlay[p]) for p in documents]
        outcomes = await rt.count_files(requests, references=references, overlay=reader.overlay)
        results = [o for o in outcomes if isinstance(o, DocumentResult)]
        if not references or not reader.read(_file_refs(results)):
            break
    _collect(out, documents, outcomes)
    return out


def _collect(
    out: BaseCounts, documents: Sequence[str], outcomes: Sequence[DocumentResult | BaseException]
) -> None:
    for path, outcome in zip(documents, outcomes, strict=True):
        if isinstance(outcome, DocumentResult):
            out.totals[path] = outcome.tokens.total
        elif isinstance(outcome, PromptTokensError | OSError):
            out.problems.append(f"{path} at {out.revision}: {outcome}; not compared")
        else:
            out.problems.append(
                f"{path} at {out.revision}: internal error: {type(outcome).__name__}: "
                f"{outcome}; not compared"
            )
