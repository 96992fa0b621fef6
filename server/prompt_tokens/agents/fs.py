"""Reading the files agents load: the repository root, the folder chain, text, file lists.

Every function here answers a missing, unreadable or oversized file with a value (None or a
reason), never an exception: a cloned repository can hold anything, and one odd file must not
stop a report about the others.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import attrs


def repository_root(directory: Path) -> Path | None:
    """The nearest folder at or above ``directory`` holding ``.git`` (a folder, or the file a
    worktree or submodule has), as Codex and Claude Code find the project root."""
    for folder in (directory, *directory.parents):
        if (folder / ".git").exists():
            return folder
    return None


def chain(root: Path, directory: Path) -> list[Path]:
    """Folders from ``root`` down to ``directory``, both included (just ``directory`` when it
    is not inside ``root``)."""
    if directory != root and root not in directory.parents:
        return [directory]
    rel = directory.relative_to(root)
    out = [root]
    for part in rel.parts:
        out.append(out[-1] / part)
    return out


def ancestors_to_filesystem_root(directory: Path) -> list[Path]:
    """``/`` (excluded, as Claude Code excludes it) … down to ``directory``."""
    return [p for p in reversed((directory, *directory.parents)) if p != Path(p.anchor)]


def is_inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


@attrs.frozen
class Read:
    data: bytes | None = None
    error: str | None = None

    @property
    def binary(self) -> bool:
        """A NUL byte in the first 8 KiB: not text, its "tokens" would mean nothing."""
        return self.data is not None and b"\x00" in self.data[:8192]

    @property
    def text(self) -> str | None:
        """UTF-8 with invalid bytes replaced (what the agents' lossy decoders give)."""
        return None if self.data is None else self.data.decode("utf-8", errors="replace")


def read(path: Path, max_bytes: int) -> Read:
    try:
        if not path.is_file():
            return Read(error="not found")
        size = path.stat().st_size
        if size > max_bytes:
            return Read(error=f"larger than {max_bytes:,} bytes ({size:,})")
        return Read(data=path.read_bytes())
    except OSError as exc:
        return Read(error=exc.strerror or type(exc).__name__)


def files_under(folder: Path, suffix: str) -> list[Path]:
    """Files ending in ``suffix`` below ``folder``, recursively, symlinks followed once,
    in path order (a stable order; the agents document none)."""
    if not folder.is_dir():
        return []
    return sorted(_walk(folder, suffix), key=lambda p: p.relative_to(folder).as_posix())


def _walk(folder: Path, suffix: str) -> Iterator[Path]:
    visited: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in visited:
            dirnames[:] = []
            continue
        visited.add(real)
        for name in filenames:
            if name.endswith(suffix):
                path = Path(dirpath) / name
                if path.is_file():
                    yield path


def skill_files(folder: Path) -> list[Path]:
    """``folder/*/SKILL.md``: one skill per subfolder."""
    if not folder.is_dir():
        return []
    try:
        subs = sorted(p for p in folder.iterdir() if p.is_dir())
    except OSError:
        return []
    return [p / "SKILL.md" for p in subs if (p / "SKILL.md").is_file()]
