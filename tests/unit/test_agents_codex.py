"""Codex's start-up context: the AGENTS.md chain, overrides, fallbacks and the byte cap."""

from __future__ import annotations

from pathlib import Path

import pytest

from prompt_tokens.agents.context import agent_context
from prompt_tokens.agents.entries import CODEX_MAX_BYTES, AgentContext, ContextOptions
from tests.conftest import plain_count


def count(text: str) -> int:
    return plain_count("cl100k_base", text)


def put(root: Path, rel: str, data: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")
    return path


def codex(directory: Path, **options: object) -> AgentContext:
    return agent_context("codex", directory, count=count, options=ContextOptions(**options))  # type: ignore[arg-type]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    return root


def test_chain_one_file_per_folder_override_first(repo: Path) -> None:
    put(repo.parent, "AGENTS.md", "above the project root: never read")
    put(repo, "AGENTS.md", "root rules\n")
    put(repo, "svc/AGENTS.md", "shadowed by the override")
    put(repo, "svc/AGENTS.override.md", "svc override\n")
    put(repo, "svc/api/AGENTS.md", "api rules\n")
    put(repo, "svc/api/deep/AGENTS.md", "below the folder: not read")
    ctx = codex(repo / "svc" / "api")
    assert [str(Path(f.path).relative_to(repo)) for f in ctx.files] == [
        "AGENTS.md",
        "svc/AGENTS.override.md",
        "svc/api/AGENTS.md",
    ]
    assert {(f.role, f.loaded, f.scope) for f in ctx.files} == {
        ("instructions", "always", "project")
    }
    assert ctx.total == count("root rules\n") + count("svc override\n") + count("api rules\n")


def test_fallback_filenames_after_agents_md(repo: Path) -> None:
    put(repo, "TEAM.md", "fallback\n")
    put(repo, "a/AGENTS.md", "a\n")
    put(repo, "a/TEAM.md", "not used: AGENTS.md comes first")
    ctx = codex(repo / "a", codex_fallback_filenames=("TEAM.md",))
    assert [Path(f.path).name for f in ctx.files] == ["TEAM.md", "AGENTS.md"]
    plain = codex(repo / "a")
    assert [Path(f.path).name for f in plain.files] == ["AGENTS.md"]


def test_user_level_override_then_agents_md_first_non_empty(repo: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    put(home, ".codex/AGENTS.override.md", "  \n\n")  # empty: skipped
    put(home, ".codex/AGENTS.md", "global\n")
    put(repo, "AGENTS.md", "project\n")
    ctx = codex(repo, home=home)
    assert [(Path(f.path).name, f.scope) for f in ctx.files] == [
        ("AGENTS.md", "user"),
        ("AGENTS.md", "project"),
    ]
    put(home, ".codex/AGENTS.override.md", "override wins\n")
    assert codex(repo, home=home).files[0].tokens == count("override wins\n")
    other = tmp_path / "codex-home"
    put(other, "AGENTS.md", "CODEX_HOME\n")
    assert codex(repo, home=home, codex_home=other).files[0].path == str(other / "AGENTS.md")


def test_byte_cap_truncates_the_crossing_file_and_drops_the_rest(repo: Path) -> None:
    first = "a" * 30_000 + "\n"
    second = "b" * 5_000
    put(repo, "AGENTS.md", first)
    put(repo, "x/AGENTS.md", second)
    put(repo, "x/y/AGENTS.md", "never reached\n")
    ctx = codex(repo / "x" / "y")
    assert CODEX_MAX_BYTES == 32_768
    left = CODEX_MAX_BYTES - len(first.encode())
    assert [f.tokens for f in ctx.files] == [count(first), count(second[:left])]
    assert (
        ctx.files[1].note == f"truncated to {left:,} of 5,000 bytes (project_doc_max_bytes 32,768)"
    )
    assert ctx.notes == (
        f"{repo / 'x/y/AGENTS.md'} not loaded: project_doc_max_bytes (32,768) used up",
    )
    assert ctx.total == count(first) + count(second[:left])
    assert codex(repo, codex_max_bytes=0).files == ()


def test_a_cut_inside_utf8_becomes_a_replacement_character(repo: Path) -> None:
    text = "é" * 10  # 20 bytes
    put(repo, "AGENTS.md", text)
    ctx = codex(repo, codex_max_bytes=5)
    assert ctx.files[0].tokens == count("éé\ufffd")


def test_whitespace_only_files_are_skipped_and_cost_nothing(repo: Path) -> None:
    put(repo, "AGENTS.md", "\n \n")
    put(repo, "a/AGENTS.md", "x" * 10)
    ctx = codex(repo / "a", codex_max_bytes=10)
    assert [Path(f.path).parent.name for f in ctx.files] == ["a"]
    assert ctx.files[0].note is None


def test_without_a_project_root_only_the_folder(tmp_path: Path) -> None:
    put(tmp_path, "AGENTS.md", "parent")
    put(tmp_path, "w/AGENTS.md", "here\n")
    ctx = codex(tmp_path / "w")
    assert [f.path for f in ctx.files] == [str(tmp_path / "w" / "AGENTS.md")]


def test_codex_expands_no_imports(repo: Path) -> None:
    put(repo, "AGENTS.md", "See @docs/a.md\n")
    put(repo, "docs/a.md", "not loaded by Codex\n")
    assert [Path(f.path).name for f in codex(repo).files] == ["AGENTS.md"]
