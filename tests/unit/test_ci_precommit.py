"""The ``prompt-tokens-check`` pre-commit hook, run for real by PyPI's ``pre-commit``.

pre-commit clones the hook repository at ``rev``, builds a virtualenv and pip-installs the package
into it (from PyPI: the dependencies), then runs the hook on the project's files. The hook
repository here is a commit of this working tree (committed or not), so the test checks the
hook definition and the package exactly as they are now.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.unit.ci_repo import count, git

ROOT = Path(__file__).resolve().parents[2]
HOOK_FILES = ("server", "pyproject.toml", "README.md", ".pre-commit-hooks.yaml")


def hook_repo(dest: Path) -> str:
    """A git repository holding this tree's package and hook file; returns its HEAD commit."""
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "-co", "--exclude-standard", "--", *HOOK_FILES],
        capture_output=True,
        check=True,
    ).stdout.decode()
    for rel in filter(None, listed.split("\0")):
        if (ROOT / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dest / rel)
    git(dest, "init", "-q")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "hook")
    return git(dest, "rev-parse", "HEAD").strip()


def pre_commit(project: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"}
    env.pop("PYTHONPATH", None)  # the hook must run the package pre-commit installed
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", "--all-files"],
        cwd=project,
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )


def test_hook_definition() -> None:
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "prompt-tokens-check"
    assert (hook["entry"], hook["language"], hook["pass_filenames"]) == (
        "prompt-tokens check", "python", True,
    )  # fmt: skip
    files, exclude = re.compile(hook["files"]), re.compile(hook["exclude"])

    def selected(path: str) -> bool:
        return bool(files.search(path)) and not exclude.search(path)

    for path in (
        "AGENTS.md", "CLAUDE.md", ".github/prompts/review.prompt.md",
        ".github/instructions/py.instructions.md", ".cursor/rules/style.mdc", ".cursorrules",
        "prompts/summarize.prompty", "templates/answer.jinja", "t/x.j2", "t/card.hbs",
        "prompts/system.txt", "skills/pdf/SKILL.md", "docs/CHANGES.prompt.md",
    ):  # fmt: skip
        assert selected(path), path
    for path in ("CHANGELOG.md", "LICENSE.txt", "requirements-dev.txt", "src/app.py", "ci.yaml"):
        assert not selected(path), path


@pytest.mark.timeout(900)
def test_pre_commit_runs_the_hook_for_real(tmp_path: Path) -> None:
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    rev = hook_repo(hooks)
    project = tmp_path / "project"
    project.mkdir()
    git(project, "init", "-q")
    (project / ".prompt-tokens.toml").write_text("budget = 60\n")
    prompt = "# Review\n\nYou are a careful reviewer. Answer briefly.\n"
    (project / "review.prompt.md").write_text(prompt)
    (project / "CHANGELOG.md").write_text("- a change\n" * 200)  # excluded: never a prompt
    (project / ".pre-commit-config.yaml").write_text(
        yaml.safe_dump(
            {"repos": [{"repo": str(hooks), "rev": rev, "hooks": [{"id": "prompt-tokens-check"}]}]}
        )
    )
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "start")
    home = tmp_path / "pre-commit-home"

    ok = pre_commit(project, home)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "prompt-tokens check" in ok.stdout and "Passed" in ok.stdout

    grown = prompt + "Explain every step of your reasoning in detail. " * 20
    (project / "review.prompt.md").write_text(grown)
    git(project, "add", "-A")
    failed = pre_commit(project, home)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "Failed" in failed.stdout and "- hook id: prompt-tokens-check" in failed.stdout
    tokens = count(grown)
    assert f"review.prompt.md: {tokens:,} tokens exceed the budget of 60" in failed.stdout
    assert "CHANGELOG.md" not in failed.stdout  # the exclude kept it out
