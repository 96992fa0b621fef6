"""Where the shared real-prompt corpus is: ``shared/corpus`` beside the repository (or beside
the folder of worktrees), else beside the repository this clone was made from (a fresh clone in
a temporary folder). It is part of the test setup, so a missing corpus fails loudly."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _origin() -> Path | None:
    """The local repository this one was cloned from, if it was cloned from a folder."""
    try:
        url = subprocess.run(
            ["git", "-C", str(ROOT), "config", "--get", "remote.origin.url"],
            capture_output=True, text=True, timeout=10, check=False,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    path = Path(url.removeprefix("file://"))
    return path.resolve() if url and path.is_dir() else None


def corpus_dir() -> Path:
    origin = _origin()
    for base in (ROOT, *([origin] if origin is not None else [])):
        for parent in base.parents:
            candidate = parent / "shared" / "corpus"
            if candidate.is_dir():
                return candidate
    raise AssertionError(f"no shared/corpus beside {ROOT}, its parents or its origin")


def corpus_files() -> list[Path]:
    """Every text file of the corpus (prompts, rules, skills and the files beside them)."""
    out = []
    for path in sorted(corpus_dir().rglob("*")):
        if path.is_file() and path.name != "LICENSE" and b"\0" not in path.read_bytes()[:8192]:
            out.append(path)
    return out
