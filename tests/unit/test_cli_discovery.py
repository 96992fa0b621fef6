"""Which files a folder walk counts: every agent file kind by default, git's ignore rules inside
git, ``.gitignore`` through pathspec outside it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prompt_tokens.cli.discovery import _tidy, walk
from tests.conftest import plain_count
from tests.unit.cli_helpers import put, run

CORPUS = Path("/work/shared/corpus")

AGENT_FILES = [
    ".cursorrules",
    ".cursor/rules/style.mdc",
    ".github/copilot-instructions.md",
    ".github/prompts/review.prompt.md",
    ".github/instructions/py.instructions.md",
    ".github/agents/planner.agent.md",
    ".github/chatmodes/plan.chatmode.md",
    ".claude/rules/db.md",
    ".claude/skills/ship/SKILL.md",
    "AGENTS.md",
    "CLAUDE.md",
    "CLAUDE.local.md",
    "prompts/summarize.prompty",
    "prompts/answer.prompt",
    "templates/page.jinja",
    "templates/mail.j2",
    "templates/card.hbs",
]
NOT_PROMPTS = ["src/app.py", "image.png", ".cache/notes.md", ".vscode/tasks.md"]


def relative(found: list[Path], root: Path) -> list[str]:
    return [p.relative_to(root).as_posix() for p in found]


def tree(root: Path) -> Path:
    for rel in AGENT_FILES + NOT_PROMPTS:
        put(root, rel, f"text of {rel}\n")
    return root


def test_every_agent_kind_is_walked_outside_git(workspace: Path) -> None:
    tree(workspace)
    assert relative(list(walk(workspace)), workspace) == sorted(AGENT_FILES)


def test_every_agent_kind_is_walked_inside_git(tmp_path: Path) -> None:
    repo = tree(tmp_path / "repo")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / ".gitignore").write_text(".cache/\n.vscode/\n")
    assert relative(list(walk(repo)), repo) == sorted(AGENT_FILES)


def test_gitignore_outside_git_with_pathspec(workspace: Path) -> None:
    for rel in (
        "keep.md",
        "drafts/a.md",
        "drafts/keep-me.md",
        "sub/x.md",
        "sub/gen/y.md",
        "z.log.md",
    ):
        put(workspace, rel, "x\n")
    (workspace / ".gitignore").write_text("drafts/*\n!drafts/keep-me.md\n*.log.md\n")
    (workspace / "sub" / ".gitignore").write_text("gen/\n")
    found = relative(list(walk(workspace)), workspace)
    assert found == ["drafts/keep-me.md", "keep.md", "sub/x.md"]


def test_nested_gitignore_can_re_include(workspace: Path) -> None:
    put(workspace, "a/b.md", "x\n")
    put(workspace, "a/c.md", "x\n")
    (workspace / ".gitignore").write_text("*.md\n")
    (workspace / "a" / ".gitignore").write_text("!b.md\n")
    assert relative(list(walk(workspace)), workspace) == ["a/b.md"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus") / "corpus"
    shutil.copytree(CORPUS, root)
    (root / ".git").mkdir()  # a project root, not a git work tree: the plain walk
    return root


def test_corpus_counts_the_cursor_rules(corpus: Path) -> None:
    """All 257 Cursor rules (``.cursor/rules/*.mdc``, in a hidden folder) are counted, each
    exactly: the text tokens equal plain tiktoken over the file."""
    r = run("count", "--json", "--no-cache", "--no-references", ".", cwd=corpus, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    files = {f["path"]: f for f in json.loads(r.stdout)["files"]}
    rules = sorted(p for p in files if p.endswith(".mdc"))
    on_disk = sorted((corpus / "cursor-rules/.cursor/rules").glob("*.mdc"))
    assert len(rules) == len(on_disk) == 257
    for path in on_disk:
        text = path.read_bytes().decode("utf-8", "replace").removeprefix("\ufeff")
        got = files[str(path.relative_to(corpus))]["tokens"]["text"]
        assert got == plain_count("cl100k_base", text), path
    prompty = [p for p in files if p.endswith(".prompty")]
    skills = [p for p in files if p.endswith("/SKILL.md")]
    assert (len(prompty), len(skills)) == (91, 12)


@given(st.lists(st.sampled_from(["./", ".", "/", "a", "b.md", "..", "//"]), max_size=8))
def test_walked_paths_are_spelled_as_path_spells_them(parts: list[str]) -> None:
    path = "".join(parts)
    assert _tidy(path) == str(Path(path))


def test_the_walk_tells_each_files_fingerprint_and_whether_it_is_a_link(tmp_path: Path) -> None:
    """What one ``lstat`` (and a ``stat`` for a link) found is what ``os.stat`` and
    ``os.path.islink`` say; FIFOs and dangling links are not files to count."""
    from prompt_tokens.cli.discovery import walk_found

    (tmp_path / "a.md").write_text("hello\n", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.prompt.md").write_text("x" * 300, encoding="utf-8")
    (tmp_path / "link.md").symlink_to(tmp_path / "sub" / "b.prompt.md")
    (tmp_path / "dangling.md").symlink_to(tmp_path / "nowhere.md")
    os.mkfifo(tmp_path / "pipe.md")
    found = {Path(n.label).name: n for n in walk_found(tmp_path)}
    assert sorted(found) == ["a.md", "b.prompt.md", "link.md"]
    for named in found.values():
        st = os.stat(named.label)
        assert named.seen == (st.st_size, st.st_mtime_ns, st.st_ino)
        assert named.link == os.path.islink(named.label)
        assert not named.named
    assert found["link.md"].link and found["link.md"].seen == found["b.prompt.md"].seen
