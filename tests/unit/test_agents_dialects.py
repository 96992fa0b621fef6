"""Dialect detection from paths, per-glob overrides, and the rules each dialect carries."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prompt_tokens.agents.dialects import (
    DIALECTS,
    DialectError,
    DialectMap,
    DialectOverride,
    default_dialect,
    dialect_of,
    parse_overrides,
    rules_for,
)

CORPUS = Path("/work/shared/corpus")


@pytest.mark.parametrize(
    ("path", "dialect"),
    [
        ("CLAUDE.md", "claude-memory"),
        ("pkg/sub/CLAUDE.md", "claude-memory"),
        ("CLAUDE.local.md", "claude-memory"),
        (".claude/CLAUDE.md", "claude-memory"),
        (".claude/commands/deploy.md", "claude-memory"),
        (".claude/rules/testing.md", "claude-rule"),
        (".claude/rules/frontend/react.md", "claude-rule"),
        ("apps/web/.claude/rules/x.md", "claude-rule"),
        (".claude/skills/deploy/SKILL.md", "skill"),
        ("skills/pdf/SKILL.md", "skill"),
        (".github/skills/x/SKILL.md", "skill"),
        (".github/prompts/review.prompt.md", "copilot"),
        (".github/instructions/py.instructions.md", "copilot"),
        ("agents/planner.agent.md", "copilot"),
        ("modes/old.chatmode.md", "copilot"),
        (".github/copilot-instructions.md", "copilot"),
        ("docs/copilot-instructions.md", "markdown"),
        (".cursor/rules/ts.mdc", "cursor-rule"),
        (".cursor/rules/deep/er/ts.mdc", "cursor-rule"),
        (".cursorrules", "cursor-rule"),
        ("AGENTS.md", "agents-md"),
        ("svc/AGENTS.override.md", "agents-md"),
        ("prompts/greet.prompt", "dotprompt"),
        ("prompts/_header.prompt", "dotprompt"),
        ("templates/a.jinja", "jinja"),
        ("templates/a.jinja2", "jinja"),
        ("templates/a.J2", "jinja"),
        ("chat.prompty", "prompty"),
        ("README.md", "markdown"),
        ("docs/a.mdx", "markdown"),
        ("notes.txt", "text"),
        ("Makefile", "text"),
        ("", "text"),
    ],
)
def test_default_dialect(path: str, dialect: str) -> None:
    assert default_dialect(path) == dialect


def test_windows_separators_are_understood() -> None:
    assert default_dialect(r".claude\rules\x.md") == "claude-rule"
    assert default_dialect(r"C:\repo\.cursor\rules\a.mdc") == "cursor-rule"


def test_names_are_case_sensitive_like_the_agents() -> None:
    # Claude Code looks for CLAUDE.md and Agent Skills for SKILL.md, exactly.
    assert default_dialect("claude.md") == "markdown"
    assert default_dialect("skill.md") == "markdown"


def test_overrides_win_and_first_match_wins() -> None:
    overrides = (
        DialectOverride("prompts/**/*.md", "jinja"),
        DialectOverride("prompts/legacy/*.md", "text"),
        DialectOverride("*.txt", "markdown"),
    )
    m = DialectMap(overrides)
    assert m.dialect_of("prompts/legacy/a.md") == "jinja"
    assert m.dialect_of("notes/a.txt") == "markdown"  # gitignore-style: no slash = any depth
    assert m.dialect_of("CLAUDE.md") == "claude-memory"  # no override matches


def test_overrides_see_paths_relative_to_the_root() -> None:
    m = DialectMap((DialectOverride("/prompts/*.md", "jinja"),))
    assert m.dialect_of("/repo/prompts/a.md", root="/repo") == "jinja"
    assert m.dialect_of("/repo/x/prompts/a.md", root="/repo") == "markdown"
    assert dialect_of("/repo/prompts/a.md", "/repo", [DialectOverride("prompts/a.md", "text")]) == (
        "text"
    )


def test_parse_overrides_accepts_settings_shape() -> None:
    got = parse_overrides(
        [{"glob": "p/**", "dialect": "dotprompt"}, {"glob": "*.x", "dialect": "text"}]
    )
    assert got == (DialectOverride("p/**", "dotprompt"), DialectOverride("*.x", "text"))
    assert parse_overrides(None) == ()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("*.md", "must be a list"),
        ([["*.md", "text"]], "#1 must be a {glob, dialect} table"),
        (
            [{"glob": "*.md", "dialect": "klingon"}],
            "#1: unknown dialect 'klingon' (one of claude-memory",
        ),
        ([{"glob": "", "dialect": "text"}], "#1: glob must be non-empty text"),
        ([{"glob": 3, "dialect": "text"}], "#1: glob must be non-empty text"),
        (
            [{"glob": "a", "dialect": "text"}, {"glob": "b", "dialect": "text", "x": 1}],
            "#2: unknown key(s) x",
        ),
    ],
)
def test_parse_overrides_errors_are_one_line(raw: object, message: str) -> None:
    with pytest.raises(DialectError) as exc:
        parse_overrides(raw)
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


def test_every_dialect_has_rules() -> None:
    assert {rules_for(d).dialect for d in DIALECTS} == set(DIALECTS)  # type: ignore[arg-type]


def test_rules_follow_each_agents_documentation() -> None:
    claude = rules_for("claude-memory")
    assert (claude.at, claude.max_import_hops, claude.strip_html_comments) == ("file", 4, True)
    assert (claude.hash_file, claude.markdown_links, claude.urls) == (False, None, False)
    assert rules_for("claude-rule").strip_front_matter is True
    copilot = rules_for("copilot")
    assert copilot.at == "participant"  # @name is a chat participant, never a file
    assert (
        copilot.markdown_links
        and copilot.hash_file
        and set(copilot.variables) == {"input", "vscode"}
    )
    assert rules_for("skill").links_on_demand is True
    for template in ("dotprompt", "jinja", "prompty"):
        assert rules_for(template).at == "none"  # no template engine reads @paths  # type: ignore[arg-type]
    assert rules_for("dotprompt").includes == ("dotprompt-partial",)
    assert rules_for("jinja").includes == ("jinja-include",)
    assert rules_for("prompty").includes == ("prompty-file",)
    generic = rules_for("markdown")
    assert (generic.at, generic.hash_file, generic.urls, generic.markdown_links) == (
        "file",
        True,
        True,
        None,
    )


def test_corpus_files_get_their_dialects() -> None:
    seen: dict[str, set[str]] = {}
    for path in CORPUS.rglob("*"):
        if path.is_file():
            seen.setdefault(path.suffix, set()).add(default_dialect(path.relative_to(CORPUS)))
    assert seen[".mdc"] == {"cursor-rule"}
    assert seen[".prompty"] == {"prompty"}
    skills = {default_dialect(p.relative_to(CORPUS)) for p in CORPUS.rglob("SKILL.md")}
    assert skills == {"skill"} and len(list(CORPUS.rglob("SKILL.md"))) == 12


_SEGMENTS = st.sampled_from(["a", "b", ".", "..", "", ".claude", "x.md", "SKILL.md", "\\", "/"])
_PATHS = st.lists(_SEGMENTS, max_size=6).map("/".join) | st.lists(_SEGMENTS, max_size=6).map(
    lambda xs: "/" + "/".join(xs)
)


@settings(max_examples=3000, deadline=None)
@given(_PATHS, st.none() | _PATHS)
def test_path_parts_and_relative_paths_match_purepath(path: str, root: str | None) -> None:
    """The string fast paths of dialect lookup give what ``PurePosixPath`` gives."""
    from pathlib import PurePosixPath

    from prompt_tokens.agents import dialects

    p = PurePosixPath(path.replace("\\", "/"))
    assert dialects._parts(path) == p.parts
    want = str(p)
    if root is not None:
        r = PurePosixPath(root.replace("\\", "/"))
        if p.is_absolute() and p.is_relative_to(r):
            want = str(p.relative_to(r))
    assert dialects._relative(path, root) == want
