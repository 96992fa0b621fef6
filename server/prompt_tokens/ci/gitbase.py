"""Prompt files at a git revision, read from git's objects without a checkout.

``check --base REV`` compares every prompt with its text at REV. Checking REV out would touch the
user's work tree (and fail on a dirty one); reading blobs does not, and since counts are keyed by
content hash, an unchanged file costs one cache lookup. Everything goes through the real ``git``
binary (the repository's own config, alternates, partial clones and all): ``rev-parse`` and
``merge-base`` resolve the revision, ``ls-tree`` lists it, one ``cat-file --batch`` process reads
every blob, and ``diff --name-status -M`` pairs renamed and deleted files with the work tree.

Errors a user can cause (not a repository, unknown revision, shallow clone without the base)
raise :class:`GitBaseError`, a usage error: one line, and the CLI exits 2.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Literal

import attrs

from prompt_tokens.errors import PermanentError, UsageError
from prompt_tokens.tokenizer.textio import decode_bytes

GIT_TIMEOUT_S = 300
ChangeKind = Literal["added", "deleted", "modified", "renamed", "copied", "type-changed"]
_KINDS: dict[str, ChangeKind] = {
    "A": "added",
    "D": "deleted",
    "M": "modified",
    "R": "renamed",
    "C": "copied",
    "T": "type-changed",
}
_FILE_MODES = ("100644", "100755")  # symlinks (120000) hold a target, submodules a commit


class GitBaseError(UsageError):
    """A base revision that cannot be read; the CLI prints ``str(err)`` and exits 2."""

    code = "git-base"


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _git(cwd: Path, *args: str, stdin: bytes | None = None) -> bytes:
    """Run ``git -C cwd args``; a failure becomes one line quoting git's own first line."""
    try:
        proc = subprocess.run(
            ["git", "-C", str(cwd), *args],
            input=stdin,
            capture_output=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except FileNotFoundError:
        raise GitBaseError("git is not installed or not on PATH (needed for --base)") from None
    except subprocess.TimeoutExpired:
        raise GitBaseError(f"git {args[0]} timed out after {GIT_TIMEOUT_S} s in {cwd}") from None
    if proc.returncode != 0:
        lines = _decode(proc.stderr).strip().splitlines()
        detail = lines[0].removeprefix("fatal: ").removeprefix("error: ") if lines else ""
        raise GitBaseError(f"git {args[0]} failed in {cwd}: {detail or f'exit {proc.returncode}'}")
    return proc.stdout


def repo_root(cwd: Path) -> Path:
    """The top folder of the work tree holding ``cwd``."""
    try:
        out = _git(cwd, "rev-parse", "--show-toplevel")
    except GitBaseError:
        raise GitBaseError(
            f"{cwd}: not inside a git work tree (--base reads the base revision from git)"
        ) from None
    return Path(_decode(out).strip())


def repo_prefix(folder: Path) -> str:
    """``folder`` relative to its repository's top (``"sub/dir/"``), ``""`` at the top or outside
    git: what a report adds to its paths so GitHub places annotations on the right files."""
    try:
        return _decode(_git(folder, "rev-parse", "--show-prefix")).strip()
    except GitBaseError:
        return ""


def _is_shallow(root: Path) -> bool:
    try:
        return _decode(_git(root, "rev-parse", "--is-shallow-repository")).strip() == "true"
    except GitBaseError:
        return False


def _commit(root: Path, rev: str) -> str:
    if not rev or rev.startswith("-") or any(c in rev for c in "\0\n"):
        raise GitBaseError(f"not a git revision: {rev!r}")
    try:
        sha = _decode(_git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")).strip()
    except GitBaseError:
        sha = ""
    if not sha:
        hint = (
            " (this clone is shallow: fetch the base too, e.g. actions/checkout with fetch-depth: 0)"
            if _is_shallow(root)
            else ""
        )
        raise GitBaseError(f"unknown revision '{rev}' in {root}{hint}")
    return sha


def resolve(spec: str, root: Path) -> str:
    """The commit ``spec`` names: ``REV``; ``A...B`` = their merge base (what a pull request is
    compared with; an empty side means HEAD); ``A..B`` = A, as ``git diff A..B`` reads it."""
    spec = spec.strip()
    if "..." in spec:
        left, right = spec.split("...", 1)
        a, b = _commit(root, left or "HEAD"), _commit(root, right or "HEAD")
        try:
            out = _decode(_git(root, "merge-base", a, b)).strip()
        except GitBaseError:
            out = ""
        if not out:
            raise GitBaseError(f"'{spec}': {left or 'HEAD'} and {right or 'HEAD'} share no history")
        return out.split()[0]
    if ".." in spec:
        left, _ = spec.split("..", 1)
        return _commit(root, left or "HEAD")
    return _commit(root, spec)


@attrs.frozen
class TreeEntry:
    """A regular file at the base revision."""

    path: str  # relative to the repository root, '/' separators
    blob: str  # object id: the content address
    size: int
    mode: str


@attrs.frozen
class Change:
    """One line of ``git diff --name-status -M REV``: base revision → work tree."""

    kind: ChangeKind
    path: str  # now (for a deletion: the path that is gone)
    old_path: str | None = None  # renames and copies
    similarity: int | None = None


def parse_ls_tree(out: bytes) -> dict[str, TreeEntry]:
    """``git ls-tree -r -l -z`` records: ``<mode> <type> <oid> <size>\\t<path>\\0``."""
    entries: dict[str, TreeEntry] = {}
    for record in out.split(b"\0"):
        if not record:
            continue
        meta, _, raw_path = record.partition(b"\t")
        mode, kind, oid, size = _decode(meta).split()
        if kind == "blob" and mode in _FILE_MODES:
            path = _decode(raw_path)
            entries[path] = TreeEntry(path, oid, int(size), mode)
    return entries


def parse_name_status(out: bytes) -> list[Change]:
    """``git diff --name-status -z`` records: ``X\\0path\\0`` or ``Rnnn\\0old\\0new\\0``."""
    fields = [_decode(f) for f in out.split(b"\0")]
    changes: list[Change] = []
    i = 0
    while i < len(fields) and fields[i]:
        status = fields[i]
        kind = _KINDS.get(status[0], "modified")  # U (unmerged), X: treat as a change
        if kind in ("renamed", "copied"):
            score = int(status[1:]) if status[1:].isdigit() else None
            changes.append(Change(kind, fields[i + 2], fields[i + 1], score))
            i += 3
        else:
            changes.append(Change(kind, fields[i + 1]))
            i += 2
    return changes


def parse_batch(out: bytes) -> dict[str, bytes]:
    """``git cat-file --batch`` output: ``<oid> blob <size>\\n<content>\\n`` per object."""
    blobs: dict[str, bytes] = {}
    pos = 0
    while pos < len(out):
        end = out.index(b"\n", pos)
        header = _decode(out[pos:end]).split()
        pos = end + 1
        if len(header) == 2 and header[1] == "missing":
            continue
        oid, _kind, size = header[0], header[1], int(header[2])
        blobs[oid] = out[pos : pos + size]
        pos += size + 1
    return blobs


def read_blobs(root: Path, oids: Iterable[str]) -> dict[str, bytes]:
    """Contents of many blobs through one ``git cat-file --batch`` process (not one per file)."""
    wanted = list(dict.fromkeys(oids))
    if not wanted:
        return {}
    out = _git(root, "cat-file", "--batch", stdin=("\n".join(wanted) + "\n").encode())
    blobs = parse_batch(out)
    missing = [oid for oid in wanted if oid not in blobs]
    if missing:
        raise GitBaseError(f"git has no object {missing[0]} in {root} (a partial or broken clone?)")
    return blobs


@attrs.frozen
class BaseSnapshot:
    """The base revision's files, and how the work tree moved away from them."""

    repo_root: Path
    revision: str  # as the user wrote it
    commit: str
    files: Mapping[str, TreeEntry]
    changes: tuple[Change, ...] = ()

    @property
    def renames(self) -> dict[str, str]:
        """Path now → path at the base, for files git pairs as renamed."""
        return {c.path: c.old_path for c in self.changes if c.kind == "renamed" and c.old_path}

    @property
    def deleted(self) -> tuple[str, ...]:
        """Paths at the base that are gone from the work tree (renamed-away ones excluded)."""
        return tuple(c.path for c in self.changes if c.kind == "deleted")

    def repo_path(self, file: Path) -> str | None:
        """``file`` relative to the repository root ('/' separators); None when outside it."""
        rel = os.path.relpath(file.resolve(), self.repo_root.resolve())
        return None if rel == ".." or rel.startswith(".." + os.sep) else Path(rel).as_posix()

    def base_path(self, path: str) -> str | None:
        """Where the file now at ``path`` (repository-relative) was at the base: its old name
        after a rename, the same path when it existed there, None when it is new."""
        old = self.renames.get(path)
        if old is not None:
            return old
        return path if path in self.files else None

    def entry_for(self, file: Path) -> TreeEntry | None:
        """The base version of a work-tree file, following renames; None when it is new."""
        path = self.repo_path(file)
        old = self.base_path(path) if path is not None else None
        return self.files.get(old) if old is not None else None

    def deleted_within(self, folders: Sequence[Path], suffixes: tuple[str, ...]) -> list[str]:
        """Deleted paths the CLI would have counted: under one of ``folders`` and ending with
        one of ``suffixes`` (lower-cased names)."""
        prefixes = [self.repo_path(f) for f in folders]
        out = []
        for path in self.deleted:
            if not path.lower().endswith(suffixes):
                continue
            if any(p is not None and (p == "." or path.startswith(p + "/")) for p in prefixes):
                out.append(path)
        return out


def read_texts(
    snapshot: BaseSnapshot, paths: Iterable[str], *, max_bytes: int | None = None
) -> tuple[dict[str, str], list[str]]:
    """Texts of base paths (repository-relative), decoded exactly as files are (SPEC: UTF-8,
    BOM dropped, NUL bytes mean binary), read through one ``cat-file`` process. A blob larger
    than ``max_bytes`` or binary is left out with a message: its file then has no base count."""
    entries = [snapshot.files[p] for p in dict.fromkeys(paths) if p in snapshot.files]
    problems = [
        f"{e.path} at {snapshot.revision}: larger than {max_bytes:,} bytes, not compared"
        for e in entries
        if max_bytes is not None and e.size > max_bytes
    ]
    wanted = [e for e in entries if max_bytes is None or e.size <= max_bytes]
    blobs = read_blobs(snapshot.repo_root, (e.blob for e in wanted))
    texts: dict[str, str] = {}
    for e in wanted:
        try:
            texts[e.path], _ = decode_bytes(blobs[e.blob], label=f"{e.path} at {snapshot.revision}")
        except PermanentError as exc:
            problems.append(f"{exc}; not compared")
    return texts, problems


def open_base(spec: str, cwd: Path) -> BaseSnapshot:
    """Resolve ``spec`` in the repository holding ``cwd`` and list the base and the changes."""
    root = repo_root(cwd)
    commit = resolve(spec, root)
    files = parse_ls_tree(_git(root, "ls-tree", "-r", "-l", "-z", "--full-tree", commit))
    diff = _git(
        root,
        "diff",
        "--name-status",
        "-z",
        "-M",
        "--no-ext-diff",
        "--ignore-submodules",
        commit,
        "--",
    )
    return BaseSnapshot(root, spec, commit, files, tuple(parse_name_status(diff)))
