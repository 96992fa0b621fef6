"""A real git repository with a base and a change, and the check pipeline run over it.

Shared by the CI tests: every format is produced from this repository, so each test checks
numbers that came from real git objects and real token counts.

History (``main...feature`` = B1; ``main`` moved on to M2 after the branch):

    B1  main:  docs/guide.md, docs/style.md, notes/old-name.md, docs/gone.md,
               .github/instructions/{python,web}.instructions.md
    M2  main:  docs/style.md edited (only on main)
    F1  feature (HEAD): docs/guide.md grown, notes/old-name.md → notes/new-name.md (git mv),
               docs/gone.md deleted, docs/added.md added
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from prompt_tokens.ci.budgets import PriceLookup, parse_budgets
from prompt_tokens.ci.delta import parse_max_increase
from prompt_tokens.ci.gitbase import open_base, read_texts
from prompt_tokens.ci.report import CheckReport, FileInput, ReportDiagnostic, build_report
from prompt_tokens.workspace import load_config
from tests.conftest import plain_count

CORPUS = Path("/work/shared/corpus/cursor-rules/.cursor/rules")
ENCODING = "cl100k_base"


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.invalid",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.invalid",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, env=env
    ).stdout


def corpus_text(name: str) -> str:
    return (CORPUS / name).read_text(encoding="utf-8")


def count(text: str) -> int:
    return plain_count(ENCODING, text)


def write(repo: Path, rel: str, text: str) -> None:
    path = repo / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def make_repo(repo: Path) -> Path:
    repo.mkdir(parents=True, exist_ok=True)
    git(repo, "init", "-q", "-b", "main")
    write(repo, "docs/guide.md", corpus_text("python-cursorrules-prompt-file-best-practices.mdc"))
    write(repo, "docs/style.md", "# Style\n\nWrite short sentences.\n")
    write(repo, "notes/old-name.md", corpus_text("htmx-basic-cursorrules-prompt-file.mdc"))
    write(repo, "docs/gone.md", "# Gone\n\nThis file is deleted on the branch.\n")
    write(repo, ".github/instructions/python.instructions.md", "Use type hints.\n" * 40)
    write(repo, ".github/instructions/web.instructions.md", "Prefer semantic HTML.\n" * 30)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    git(repo, "branch", "feature")
    write(repo, "docs/style.md", "# Style\n\nWrite short sentences. Use the active voice.\n")
    git(repo, "commit", "-q", "-am", "main moves on")
    git(repo, "checkout", "-q", "feature")
    guide = (repo / "docs/guide.md").read_text(encoding="utf-8")
    write(repo, "docs/guide.md", guide + "\n## Also\n\n" + "Always explain the trade-offs.\n" * 25)
    git(repo, "mv", "notes/old-name.md", "notes/new-name.md")
    git(repo, "rm", "-q", "docs/gone.md")
    write(repo, "docs/added.md", "# Added\n\nA new prompt on the branch.\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "feature")
    return repo


def prompt_files(repo: Path) -> list[str]:
    out = git(repo, "ls-files", "-co", "--exclude-standard")
    return sorted(p for p in out.splitlines() if p.endswith(".md"))


def run_check(
    repo: Path,
    *,
    base: str | None = None,
    config: Mapping[str, Any] | None = None,
    max_increase: str | None = None,
    price_for: PriceLookup | None = None,
    model: str | None = None,
    diagnostics: Mapping[str, list[ReportDiagnostic]] | None = None,
) -> CheckReport:
    """What ``check`` does, with plain tiktoken as the counter: budgets from the raw config
    (``config``, else the repository's ``.prompt-tokens.toml``),
    the base from git objects (renames followed), deleted files, then the report."""
    problems: list[str] = []
    if config is None:
        config, problems = load_config(repo)
    table, more = parse_budgets(config)
    problems += more
    paths = prompt_files(repo)
    snapshot = open_base(base, repo) if base else None
    base_paths = {p: snapshot.base_path(p) for p in paths} if snapshot else {}
    deleted = snapshot.deleted_within([repo], (".md",)) if snapshot else []
    texts: dict[str, str] = {}
    if snapshot is not None:
        wanted = [bp for bp in base_paths.values() if bp] + deleted
        texts, more = read_texts(snapshot, wanted)
        problems += more
    inputs = []
    for p in paths:
        bp = base_paths.get(p)
        inputs.append(
            FileInput(
                p,
                count((repo / p).read_text(encoding="utf-8")),
                0,
                ENCODING,
                8192,
                model=model,
                diagnostics=tuple((diagnostics or {}).get(p, ())),
                count_json={"path": p, "references": [], "exact": True},
                base_path=bp,
                base_total=count(texts[bp]) if bp in texts else None,
            )
        )
    return build_report(
        str(repo),
        inputs,
        budgets=table,
        price_for=price_for or (lambda _m: None),
        base_revision=base,
        base_commit=snapshot.commit if snapshot else None,
        deleted={p: count(texts[p]) for p in deleted},
        max_increase=parse_max_increase(max_increase) if max_increase else None,
        problems=problems,
    )
