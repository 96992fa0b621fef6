"""Copilot (VS Code) and Cursor start-up context: instructions, applyTo, rule types, @file."""

from __future__ import annotations

from pathlib import Path

import pytest

from prompt_tokens.agents.context import agent_context
from prompt_tokens.agents.cursor import rule_type
from prompt_tokens.agents.entries import AgentContext, ContextOptions
from tests.conftest import plain_count


def count(text: str) -> int:
    return plain_count("cl100k_base", text)


def put(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def run(agent: str, directory: Path, **options: object) -> AgentContext:
    return agent_context(agent, directory, count=count, options=ContextOptions(**options))  # type: ignore[arg-type]


def table(ctx: AgentContext, base: Path) -> dict[str, tuple[str, str, str | None, int]]:
    out = {}
    for f in ctx.files:
        p = Path(f.path)
        key = str(p.relative_to(base)) if p.is_relative_to(base) else f"~/{p.name}"
        out[key] = (f.role, f.loaded, f.condition, f.tokens)
    return out


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    return root


def test_copilot_always_and_targeted_instructions(repo: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    put(home, ".claude/CLAUDE.md", "user claude\n")
    put(home, ".copilot/instructions/me.instructions.md", "---\napplyTo: '**'\n---\nmine\n")
    put(repo, ".github/copilot-instructions.md", "Use TypeScript.\n")
    put(repo, "AGENTS.md", "agents root\n")
    put(repo, "sub/AGENTS.md", "nested AGENTS.md: experimental, only its path is added")
    put(repo, "CLAUDE.md", "claude root\n")
    put(repo, ".github/instructions/py.instructions.md", "---\napplyTo: '**/*.py'\n---\nPEP 8.\n")
    put(
        repo,
        ".github/instructions/team/docs.instructions.md",
        "---\ndescription: Docs style\n---\nBe brief.\n",
    )
    put(repo, ".github/instructions/manual.instructions.md", "Attach me.\n")
    put(repo, ".github/instructions/readme.md", "not an instructions file")
    put(repo, ".claude/rules/r.md", "claude-format rule\n")
    put(repo, ".github/prompts/review.prompt.md", "prompt files load when invoked")
    ctx = run("copilot", repo / "sub", home=home)
    assert table(ctx, repo) == {
        ".github/copilot-instructions.md": (
            "instructions",
            "always",
            None,
            count("Use TypeScript.\n"),
        ),
        "AGENTS.md": ("instructions", "always", None, count("agents root\n")),
        "CLAUDE.md": ("instructions", "always", None, count("claude root\n")),
        "~/CLAUDE.md": ("instructions", "always", None, count("user claude\n")),
        ".github/instructions/manual.instructions.md": (
            "instructions",
            "conditional",
            "only when attached by hand (no applyTo)",
            count("Attach me.\n"),
        ),
        ".github/instructions/py.instructions.md": (
            "instructions",
            "conditional",
            "applyTo: **/*.py",
            count("PEP 8.\n"),
        ),
        ".github/instructions/team/docs.instructions.md": (
            "instructions",
            "conditional",
            "when the agent finds it relevant: Docs style",
            count("Be brief.\n"),
        ),
        ".claude/rules/r.md": (
            "instructions",
            "conditional",
            "paths: **",
            count("claude-format rule\n"),
        ),
        "~/me.instructions.md": ("instructions", "conditional", "applyTo: **", count("mine\n")),
    }
    assert ctx.total == sum(
        count(t) for t in ("Use TypeScript.\n", "agents root\n", "claude root\n", "user claude\n")
    )
    assert {f.scope for f in ctx.files if f.path.startswith(str(home))} == {"user"}


def test_copilot_skills_from_its_three_locations(repo: Path) -> None:
    for folder in (".github", ".claude", ".agents"):
        put(
            repo,
            f"{folder}/skills/s-{folder[1:]}/SKILL.md",
            f"---\nname: s-{folder[1:]}\ndescription: d\n---\nbody\n",
        )
    ctx = run("copilot", repo)
    assert sorted(f.role for f in ctx.files) == ["skill"] * 3 + ["skill-metadata"] * 3
    assert sorted(f.tokens for f in ctx.always) == sorted(
        count(f"s-{n}: d") for n in ("github", "claude", "agents")
    )
    assert ctx.total == sum(count(f"s-{n}: d") for n in ("github", "claude", "agents"))
    assert ctx.conditional_total == 3 * count("body\n")


@pytest.mark.parametrize(
    ("data", "loaded", "condition"),
    [
        ({"alwaysApply": True, "globs": "**/*.ts"}, "always", None),
        (
            {"alwaysApply": False, "globs": "**/*.ts, **/*.tsx"},
            "conditional",
            "globs: **/*.ts, **/*.tsx",
        ),
        ({"globs": ["a/**", "b/**"], "description": "x"}, "conditional", "globs: a/**, b/**"),
        (
            {"description": "Use for migrations"},
            "conditional",
            "agent requested: Use for migrations",
        ),
        ({"alwaysApply": "true"}, "conditional", "manual: only when mentioned as @r"),
        ({}, "conditional", "manual: only when mentioned as @r"),
    ],
)
def test_cursor_rule_types(data: dict[str, object], loaded: str, condition: str | None) -> None:
    assert rule_type(data, "r") == (loaded, condition)


def test_cursor_workspace(repo: Path) -> None:
    put(
        repo,
        ".cursor/rules/core.mdc",
        "---\ndescription: core\nglobs:\nalwaysApply: true\n---\nCore. See @docs/arch.md and @Next.js 14.\n",
    )
    put(
        repo,
        ".cursor/rules/ts/ts.mdc",
        "---\ndescription: TS\nglobs: **/*.ts, **/*.tsx\nalwaysApply: false\n---\nStrict TS.\n",
    )
    put(
        repo,
        ".cursor/rules/mig.mdc",
        "---\ndescription: DB migrations\n---\nMigrate carefully @db/missing.sql\n",
    )
    put(repo, ".cursor/rules/plain.md", "ignored: rules must be .mdc")
    put(repo, "docs/arch.md", "architecture\n")
    put(repo, ".cursorrules", "legacy rules\n")
    put(repo, "AGENTS.md", "agents\n")
    put(repo, "web/AGENTS.md", "web agents\n")
    put(repo, "web/.cursor/rules/web.mdc", "---\nalwaysApply: true\n---\nweb rule\n")
    ctx = run("cursor", repo / "web")
    assert table(ctx, repo) == {
        ".cursor/rules/core.mdc": (
            "rule",
            "always",
            None,
            count("Core. See @docs/arch.md and @Next.js 14.\n"),
        ),
        "docs/arch.md": ("import", "always", None, count("architecture\n")),
        ".cursor/rules/mig.mdc": (
            "rule",
            "conditional",
            "agent requested: DB migrations",
            count("Migrate carefully @db/missing.sql\n"),
        ),
        ".cursor/rules/ts/ts.mdc": (
            "rule",
            "conditional",
            "globs: **/*.ts, **/*.tsx",
            count("Strict TS.\n"),
        ),
        "web/.cursor/rules/web.mdc": (
            "rule",
            "conditional",
            "working in web/",
            count("web rule\n"),
        ),
        ".cursorrules": ("rule", "always", None, count("legacy rules\n")),
        "AGENTS.md": ("instructions", "always", None, count("agents\n")),
        "web/AGENTS.md": ("instructions", "conditional", "working in web/", count("web agents\n")),
    }
    assert ctx.files[1].imported_by == str(repo / ".cursor/rules/core.mdc")
    assert ctx.notes == (f"{repo / '.cursor/rules/mig.mdc'}: @db/missing.sql not found",)
    assert ctx.total == sum(
        count(t)
        for t in (
            "Core. See @docs/arch.md and @Next.js 14.\n",
            "architecture\n",
            "legacy rules\n",
            "agents\n",
        )
    )
