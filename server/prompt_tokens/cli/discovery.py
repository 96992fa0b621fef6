"""Which files a command line names: paths checked by name, folders walked for prompt files.

A path given by name must be something we can read without waiting: a regular file (a FIFO
would block ``open`` until someone writes, a device may never end), reachable (a symlink loop
or a missing path is a typo to report). Each bad name is one line and exit 2, and the other
names are still counted. Inside a folder the same kinds are skipped quietly: a repository may
hold anything.

Folders are walked for every prompt kind (Markdown, Cursor rules, Prompty, templates, agent
files). Inside a git work tree git itself lists the files, so its ignore rules apply exactly;
outside git, ``.gitignore`` files are honoured through ``pathspec`` (git's own matching rules).
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs

log = logging.getLogger("prompt_tokens")

PROMPT_SUFFIXES = (
    ".md", ".markdown", ".mdx", ".mdc", ".txt", ".prompt", ".prompty", ".jinja", ".jinja2",
    ".j2", ".mustache", ".hbs", ".tmpl", ".yaml", ".yml",
)  # fmt: skip
"""Endings of the file kinds a folder walk counts: Markdown (with Copilot's ``*.prompt.md``,
``*.instructions.md``, ``*.agent.md``, ``*.chatmode.md``, ``SKILL.md``, ``AGENTS.md``,
``CLAUDE.md``), Cursor rules (``*.mdc``), Prompty, dotprompt, and templates."""
PROMPT_NAMES = (".cursorrules",)
"""Whole file names counted too (Cursor's legacy rules file has no suffix)."""
MATCH_ENDINGS = PROMPT_SUFFIXES + PROMPT_NAMES
"""What a lower-cased file name must end with to be counted (names are endings too)."""
SKIP_DIRS = frozenset(
    {".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__", ".tox"}
)
AGENT_DIRS = frozenset({".github", ".cursor", ".claude", ".agents"})
"""Hidden folders that hold agent files (Copilot, Cursor rules, Claude Code, skills): walked
even outside git, where other hidden folders (caches, editor state) are skipped."""


def is_prompt_file(name: str) -> bool:
    lower = name.lower()
    return lower.endswith(PROMPT_SUFFIXES) or lower in PROMPT_NAMES


@attrs.frozen
class Named:
    """One path of the command line, after the checks: a file to count or standard input."""

    label: str  # as given (or as found under a folder given)
    named: bool  # given by name (its problems exit 2), not found by walking a folder
    seen: tuple[int, int, int] | None = attrs.field(default=None, eq=False, repr=False)
    """(size, mtime_ns, inode) of the file as the walk found it (None: not walked); a warm
    run checks its known results against it instead of asking the file system again."""
    link: bool | None = attrs.field(default=None, eq=False, repr=False)
    """Whether the name itself is a symbolic link, as the walk saw it (None: not asked)."""


@attrs.define
class Expansion:
    files: list[Named] = attrs.field(factory=list)
    problems: list[str] = attrs.field(factory=list)  # one line per bad name (exit 2)
    folders: list[Path] = attrs.field(factory=list)  # folders walked


def _git_files(folder: Path) -> list[str] | None:
    """Tracked and untracked-but-not-ignored files, when ``folder`` is inside a git work tree."""
    try:
        out = subprocess.run(
            ["git", "-C", str(folder), "ls-files", "-z", "--cached", "--others",
             "--exclude-standard"],
            capture_output=True,
            check=True,
            timeout=30,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return [
        os.path.join(folder, p) for p in out.decode("utf-8", "surrogateescape").split("\0") if p
    ]


class _Ignores:
    """The ``.gitignore`` files met on a walk outside git; the deepest one that has an opinion
    on a path decides (git's precedence), negations included (``pathspec.GitIgnoreSpec``)."""

    def __init__(self) -> None:
        self._specs: dict[Path, Any] = {}  # pathspec.GitIgnoreSpec

    def enter(self, folder: str, filenames: list[str]) -> None:
        """``folder`` (as ``os.walk`` spells it) is entered; its ``.gitignore`` is read, if any."""
        if ".gitignore" not in filenames:
            return
        file = Path(folder, ".gitignore")
        try:
            lines = file.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return
        import pathspec  # only for trees that have a .gitignore outside git

        try:
            self._specs[Path(folder)] = pathspec.GitIgnoreSpec.from_lines(lines)
        except ValueError as exc:
            log.warning("%s: not used (%s)", file, exc)

    def __bool__(self) -> bool:
        return bool(self._specs)

    def ignored(self, path: Path, is_dir: bool) -> bool:
        for folder in path.parents:
            spec = self._specs.get(folder)
            if spec is None:
                continue
            rel = path.relative_to(folder).as_posix() + ("/" if is_dir else "")
            verdict = spec.check_file(rel).include
            if verdict is not None:
                return bool(verdict)
        return False


def _walk_plain(folder: Path) -> list[str]:
    ignores = _Ignores()
    listed: list[str] = []

    def unreadable(exc: OSError) -> None:
        log.warning("%s: cannot be listed (%s); skipped", exc.filename, exc.strerror or exc)

    for dirpath, dirnames, filenames in os.walk(folder, onerror=unreadable):
        ignores.enter(dirpath, filenames)
        dirnames[:] = sorted(
            d
            for d in dirnames
            if d not in SKIP_DIRS
            and (not d.startswith(".") or d in AGENT_DIRS)
            and not (ignores and ignores.ignored(Path(dirpath, d), is_dir=True))
        )
        listed.extend(
            os.path.join(dirpath, f)
            for f in filenames
            if is_prompt_file(f)
            and not (ignores and ignores.ignored(Path(dirpath, f), is_dir=False))
        )
    return listed


def walk(folder: Path) -> Iterator[Path]:
    """Prompt files under ``folder``, sorted: git's ignore rules inside git, ``.gitignore``
    files (through pathspec) outside; only regular files (FIFOs, sockets, loops skipped)."""
    return (Path(p) for p in walk_names(folder))


def walk_names(folder: Path) -> Iterator[str]:
    """:func:`walk` as strings, as ``str(Path(...))`` spells them (a run over thousands of
    files builds no ``Path`` for each)."""
    return (named.label for named in walk_found(folder))


def walk_found(folder: Path) -> Iterator[Named]:
    """:func:`walk_names` with what one ``lstat`` of each file told (a ``stat`` too for a
    link): two system calls a file fewer for a run that then needs both."""
    listed = _git_files(folder)
    if listed is None:
        listed = _walk_plain(folder)
    top = str(folder)
    prefix = "" if top == "." else top.rstrip(os.sep) + os.sep
    for full in sorted(listed, key=lambda p: p.split(os.sep)):  # the order of Path.parts
        if not is_prompt_file(os.path.basename(full)):
            continue
        rest = full[len(prefix) :] if full.startswith(prefix) else full
        if any(part in SKIP_DIRS for part in rest.split(os.sep)):
            continue
        found = _regular(full)
        if found is not None:
            yield Named(_tidy(full), False, *found)


def _tidy(path: str) -> str:
    """``str(Path(path))``; a walk of ``.`` gives every path a ``./``, dropped on strings."""
    if not _untidy(path):
        return path
    rest = path
    while rest.startswith("./"):
        rest = rest[2:]
    if rest and not rest.startswith("/") and not _untidy(rest):
        return rest
    return str(Path(path))


def _untidy(path: str) -> bool:
    """What ``Path`` would spell differently (``./``, ``/./``, ``//``, a trailing ``/`` or
    ``/.``, nothing at all)."""
    return (
        not path
        or path.startswith("./")
        or "/./" in path
        or "//" in path
        or path.endswith(("/", "/."))
    )


def _regular(path: str) -> tuple[tuple[int, int, int], bool] | None:
    """(its fingerprint, whether the name is a link) for a regular file (through links);
    None for anything else, or nothing."""
    try:
        st = os.lstat(path)
        link = stat.S_ISLNK(st.st_mode)
        if link:
            st = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino), link


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _stat_problem(raw: str, exc: OSError) -> str:
    if exc.errno == errno.ENOENT:
        return f"{raw}: no such file or folder"
    if exc.errno == errno.ELOOP:
        return f"{raw}: a symbolic link loop; not read"
    return f"{raw}: {exc.strerror or exc}"


def expand_paths(paths: Sequence[str]) -> Expansion:
    """The files ``paths`` name: folders walked, ``-`` kept for standard input, every bad name
    turned into a problem line (never opened: a FIFO is refused by its ``stat``)."""
    out = Expansion()
    for raw in paths:
        if raw == "-":
            out.files.append(Named("-", True))
            continue
        p = Path(raw).expanduser()
        try:
            mode = os.stat(p).st_mode
        except OSError as exc:
            out.problems.append(_stat_problem(raw, exc))
            continue
        if stat.S_ISDIR(mode):
            out.folders.append(p)
            found = list(walk_found(p))
            if not found:
                log.warning(
                    "%s: no prompt files found (looked for %s)", raw, ", ".join(MATCH_ENDINGS)
                )
            out.files.extend(found)
        elif stat.S_ISREG(mode):
            out.files.append(Named(str(p), True))
        else:
            out.problems.append(f"{raw}: {_kind(mode)}, not a file to count; not read")
    return out
