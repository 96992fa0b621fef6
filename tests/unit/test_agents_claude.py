"""Claude Code's start-up context: memory chain, rules, @imports, HTML comments, AGENTS.md."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prompt_tokens.agents.claude import (
    EXTERNAL,
    MAX_MEMORY_BYTES,
    import_tokens,
    strip_block_comments,
)
from prompt_tokens.agents.context import agent_context
from prompt_tokens.agents.entries import AgentContext, ContextOptions
from tests.conftest import plain_count


def count(text: str) -> int:
    return plain_count("cl100k_base", text)


def put(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def claude(directory: Path, **options: object) -> AgentContext:
    return agent_context("claude-code", directory, count=count, options=ContextOptions(**options))  # type: ignore[arg-type]


def rows(ctx: AgentContext, base: Path) -> list[tuple[str, str, str]]:
    return [(str(Path(f.path).relative_to(base)), f.role, f.loaded) for f in ctx.files]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    return root


def test_chain_from_repository_root_down_to_the_folder(repo: Path) -> None:
    texts = {
        "CLAUDE.md": "# Root\nUse pnpm.\n",
        ".claude/CLAUDE.md": "Team notes.\n",
        "a/CLAUDE.md": "Package a: strict types.\n",
        "a/CLAUDE.local.md": "My sandbox is http://localhost:3000\n",
        "a/b/CLAUDE.md": "Leaf folder ✓ 日本語\n",
    }
    for rel, text in texts.items():
        put(repo, rel, text)
    put(repo, "a/b/c/CLAUDE.md", "below the folder: loads on demand, not at start-up")
    put(repo, "other/CLAUDE.md", "a sibling folder: never")
    put(repo.parent, "CLAUDE.md", "above the repository")
    ctx = claude(repo / "a" / "b")
    assert rows(ctx, repo) == [
        ("CLAUDE.md", "memory", "always"),
        (".claude/CLAUDE.md", "memory", "always"),
        ("a/CLAUDE.md", "memory", "always"),
        ("a/CLAUDE.local.md", "memory", "always"),
        ("a/b/CLAUDE.md", "memory", "always"),
    ]
    assert [f.tokens for f in ctx.files] == [count(t) for t in texts.values()]
    assert ctx.total == sum(count(t) for t in texts.values())
    assert ctx.root == str(repo) and ctx.directory == str(repo / "a" / "b")
    wide = claude(repo / "a" / "b", claude_above_root=True)
    assert str(repo.parent / "CLAUDE.md") in [f.path for f in wide.files]


def test_user_level_files_are_marked_as_such(repo: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    put(home, ".claude/CLAUDE.md", "Answer briefly.\n")
    put(home, ".claude/rules/style.md", "Prefer tabs.\n")
    put(repo, "CLAUDE.md", "Project.\n")
    ctx = claude(repo, home=home)
    assert [(Path(f.path).name, f.scope, f.role) for f in ctx.files] == [
        ("CLAUDE.md", "user", "memory"),
        ("style.md", "user", "rule"),
        ("CLAUDE.md", "project", "memory"),
    ]
    assert ctx.total == count("Answer briefly.\n") + count("Prefer tabs.\n") + count("Project.\n")
    assert [f.scope for f in claude(repo).files] == ["project"]  # no home given: none read


def test_rules_with_and_without_paths(repo: Path) -> None:
    put(repo, "CLAUDE.md", "root\n")
    put(repo, ".claude/rules/general.md", "Always: write tests.\n")
    put(
        repo,
        ".claude/rules/api/api.md",
        '---\npaths:\n  - "src/api/**/*.ts"\n  - lib/**\n---\n# API\nValidate input.\n',
    )
    put(repo, ".claude/rules/web.md", "---\npaths: src/**/*.{ts,tsx}, web/**\n---\nWeb body\n")
    put(repo, ".claude/rules/bad.md", "---\npaths: [unclosed\n---\nBroken front matter body\n")
    put(repo, ".claude/rules/notes.txt", "not a rule: only .md files are")
    ctx = claude(repo)
    got = {Path(f.path).name: (f.loaded, f.condition, f.tokens) for f in ctx.files}
    assert got == {
        "CLAUDE.md": ("always", None, count("root\n")),
        "api.md": (
            "conditional",
            "paths: src/api/**/*.ts, lib/**",
            count("# API\nValidate input.\n"),
        ),
        "bad.md": ("always", None, count("Broken front matter body\n")),
        "general.md": ("always", None, count("Always: write tests.\n")),
        "web.md": ("conditional", "paths: src/**/*.{ts,tsx}, web/**", count("Web body\n")),
    }
    assert ctx.total == count("root\n") + count("Broken front matter body\n") + count(
        "Always: write tests.\n"
    )


def test_imports_relative_to_the_importing_file(repo: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    personal = put(home, ".claude/my-project.md", "personal\n")
    absolute = put(tmp_path, "abs/shared.md", "absolute\n")
    put(repo, "docs/a.md", "A imports @sub/c.md and @../README\n")
    put(repo, "docs/sub/c.md", "C\n")
    put(repo, "README", "readme without extension\n")
    put(repo, "docs/b.md", "B\n")
    put(repo, "Design Docs/api.md", "spaced\n")
    main = (
        "See @docs/a.md, then @docs/b.md.\n"
        "Not in code: `@docs/code.md` and\n```\n@docs/fence.md\n```\n"
        f"- @~/.claude/my-project.md\n- @{absolute}\n"
        '- @"docs/quoted.md" is not imported\n'
        "- @Design\\ Docs/api.md\n"
        "- mail me@docs/b.md, decorators @pytest.mark.asyncio, scope @org/team-name\n"
        "- typo @docs/missing-guide.md\n"
    )
    for name in ("code.md", "fence.md", "quoted.md"):
        put(repo, f"docs/{name}", "must not load")
    put(repo, "CLAUDE.md", main)
    ctx = claude(repo, home=home)
    assert [
        (str(Path(f.path)), f.role, Path(f.imported_by).name if f.imported_by else None)
        for f in ctx.files
    ] == [
        (str(repo / "CLAUDE.md"), "memory", None),
        (str(repo / "docs/a.md"), "import", "CLAUDE.md"),
        (str(repo / "docs/sub/c.md"), "import", "a.md"),
        (str(repo / "README"), "import", "a.md"),
        (str(repo / "docs/b.md"), "import", "CLAUDE.md"),
        (str(personal), "import", "CLAUDE.md"),
        (str(absolute), "import", "CLAUDE.md"),
        (str(repo / "Design Docs/api.md"), "import", "CLAUDE.md"),
    ]
    # Outside the working folder: external imports wait for the user's approval.
    assert [f.loaded for f in ctx.files] == ["always"] * 5 + ["conditional"] * 2 + ["always"]
    assert ctx.files[5].condition == EXTERNAL
    assert ctx.notes == (f"{repo / 'CLAUDE.md'}: @docs/missing-guide.md not found",)
    assert ctx.total == sum(
        count(t)
        for t in (
            main,
            "A imports @sub/c.md and @../README\n",
            "C\n",
            "readme without extension\n",
            "B\n",
            "spaced\n",
        )
    )


def test_trailing_punctuation_unless_the_file_has_it(repo: Path) -> None:
    put(repo, "odd.md,", "a file whose name ends in a comma\n")
    put(repo, "plain.md", "plain\n")
    put(repo, "CLAUDE.md", "Read @plain.md, and @odd.md, too\n")
    names = [Path(f.path).name for f in claude(repo).files]
    assert names == ["CLAUDE.md", "plain.md", "odd.md,"]


def test_cycles_load_each_file_once(repo: Path) -> None:
    put(repo, "CLAUDE.md", "@a.md\n@b.md\n")
    put(repo, "a.md", "A then @b.md\n")
    put(repo, "b.md", "B then @a.md and @CLAUDE.md\n")
    ctx = claude(repo)
    assert [Path(f.path).name for f in ctx.files] == ["CLAUDE.md", "a.md", "b.md"]
    assert any("import cycle" in n for n in ctx.notes)
    assert ctx.total == count("@a.md\n@b.md\n") + count("A then @b.md\n") + count(
        "B then @a.md and @CLAUDE.md\n"
    )


def test_import_hop_limit_is_four(repo: Path) -> None:
    put(repo, "CLAUDE.md", "@h1.md\n")
    for i in range(1, 7):
        put(repo, f"h{i}.md", f"hop {i} @h{i + 1}.md\n")
    ctx = claude(repo)
    assert [Path(f.path).name for f in ctx.files] == [
        "CLAUDE.md",
        "h1.md",
        "h2.md",
        "h3.md",
        "h4.md",
    ]
    assert ctx.notes == (f"{repo / 'h4.md'}: @h5.md not loaded: import hop limit (4) reached",)
    deeper = claude(repo, claude_max_hops=5)
    assert [Path(f.path).name for f in deeper.files][-1] == "h5.md"


def test_block_html_comments_are_stripped(repo: Path) -> None:
    text = (
        "<!-- maintainers: keep this short -->\n"
        "Keep this.\n"
        "  <!--\n  multi-line\n  note @hidden.md\n  -->\n"
        "Inline <!-- stays --> here.\n"
        "```html\n<!-- inside code: kept -->\n```\n"
        "<!-- c --> after\n"
    )
    put(repo, "hidden.md", "not imported: the comment is stripped")
    put(repo, "CLAUDE.md", text)
    ctx = claude(repo)
    expected = (
        "Keep this.\n"
        "Inline <!-- stays --> here.\n"
        "```html\n<!-- inside code: kept -->\n```\n"
        " after\n"
    )
    assert strip_block_comments(text) == expected
    assert [f.tokens for f in ctx.files] == [count(expected)]


def test_unclosed_comment_runs_to_the_end() -> None:
    assert strip_block_comments("a\n<!-- open\nb\n") == "a\n"
    assert strip_block_comments("a\n<!-->b\n") == "a\nb\n"  # <!--> is an empty comment


@given(st.text(alphabet=st.sampled_from(list("ab \n`~<!->@")), max_size=60))
def test_stripping_only_ever_removes_comments(text: str) -> None:
    out = strip_block_comments(text)
    if "<!--" not in text:
        assert out == text
    assert len(out) <= len(text)


def test_import_tokens() -> None:
    assert import_tokens("@a.md, @b\\ c.md @'q.md' @https://x.io/a.md x@y.md\n`@z.md`") == [
        ("a.md", "a.md,"),
        ("b c.md", None),
    ]


def test_agents_md_when_there_is_no_claude_md(repo: Path) -> None:
    put(repo, "AGENTS.md", "Root agents @docs/x.md\n")
    put(repo, "docs/x.md", "x\n")
    put(repo, "sub/.claude/AGENTS.md", "sub dot-claude agents\n")
    put(repo, "sub/AGENTS.md", "sub agents\n")
    put(repo, ".claude/rules/r.md", "a rule still loads\n")
    ctx = claude(repo / "sub")
    assert rows(ctx, repo) == [
        ("AGENTS.md", "memory", "always"),
        ("docs/x.md", "import", "conditional"),  # outside sub/: external
        (".claude/rules/r.md", "rule", "always"),
        ("sub/AGENTS.md", "memory", "always"),
        ("sub/.claude/AGENTS.md", "memory", "always"),
    ]
    assert any("AGENTS.md loaded instead" in n for n in ctx.notes)
    put(repo, "sub/CLAUDE.local.md", "a local file counts as CLAUDE.md\n")
    assert rows(claude(repo / "sub"), repo) == [
        (".claude/rules/r.md", "rule", "always"),
        ("sub/CLAUDE.local.md", "memory", "always"),
    ]


def test_files_over_4_mib_are_skipped(repo: Path) -> None:
    big = put(repo, "CLAUDE.md", "x " * (MAX_MEMORY_BYTES // 2 + 1))
    ctx = claude(repo)
    assert ctx.files == ()
    assert ctx.notes[0].startswith(f"{big} skipped: larger than 4,194,304 bytes")


def test_no_repository_means_the_folder_alone(tmp_path: Path) -> None:
    put(tmp_path, "CLAUDE.md", "above\n")
    folder = tmp_path / "work"
    put(folder, "CLAUDE.md", "here\n")
    ctx = claude(folder)
    assert [f.path for f in ctx.files] == [str(folder / "CLAUDE.md")]
