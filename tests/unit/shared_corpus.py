"""Where the shared real-prompt corpus is: ``shared/corpus`` beside the repository (or beside
the folder of worktrees). It is part of the test setup, so a missing corpus fails loudly."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def corpus_dir() -> Path:
    for parent in ROOT.parents:
        candidate = parent / "shared" / "corpus"
        if candidate.is_dir():
            return candidate
    raise AssertionError(f"no shared/corpus beside {ROOT} or its parents")


def corpus_files() -> list[Path]:
    """Every text file of the corpus (prompts, rules, skills and the files beside them)."""
    out = []
    for path in sorted(corpus_dir().rglob("*")):
        if path.is_file() and path.name != "LICENSE" and b"\0" not in path.read_bytes()[:8192]:
            out.append(path)
    return out
