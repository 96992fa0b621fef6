"""``context_report``: the right file set per agent in one nested repository, SPEC's JSON shape."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest

from prompt_tokens.agents.context import ContextError, agent_context, context_report, parse_agents
from prompt_tokens.agents.entries import AGENT_NAMES, ContextOptions
from tests.conftest import plain_count

SPEC_SCHEMA = {
    "type": "object",
    "required": ["agents"],
    "properties": {
        "agents": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["agent", "model", "budget", "total", "exact", "files"],
                "properties": {
                    "agent": {"enum": list(AGENT_NAMES)},
                    "model": {"type": ["string", "null"]},
                    "budget": {"type": ["integer", "null"]},
                    "total": {"type": "integer", "minimum": 0},
                    "exact": {"type": "boolean"},
                    "notes": {"type": "array", "items": {"type": "string"}},
                    "files": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": [
                                "path",
                                "role",
                                "loaded",
                                "condition",
                                "tokens",
                                "imported_by",
                            ],
                            "properties": {
                                "path": {"type": "string"},
                                "role": {
                                    "enum": [
                                        "memory",
                                        "import",
                                        "rule",
                                        "instructions",
                                        "skill-metadata",
                                        "skill",
                                        "skill-resource",
                                    ]
                                },
                                "loaded": {"enum": ["always", "conditional"]},
                                "condition": {"type": ["string", "null"]},
                                "tokens": {"type": "integer", "minimum": 0},
                                "imported_by": {"type": ["string", "null"]},
                                "scope": {"enum": ["project", "user"]},
                                "note": {"type": ["string", "null"]},
                            },
                        },
                    },
                },
            },
        }
    },
}


def count(text: str) -> int:
    return plain_count("cl100k_base", text)


def put(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


TREE = {
    "CLAUDE.md": "Root memory. @docs/style.md\n",
    "docs/style.md": "Style guide.\n",
    "AGENTS.md": "Shared agent rules.\n",
    ".github/copilot-instructions.md": "Copilot rules.\n",
    ".github/instructions/ts.instructions.md": "---\napplyTo: '**/*.ts'\n---\nTS rules.\n",
    ".cursor/rules/base.mdc": "---\nalwaysApply: true\n---\nCursor base.\n",
    ".cursor/rules/py.mdc": "---\nglobs: **/*.py\n---\nPython.\n",
    ".claude/rules/db.md": "---\npaths: db/**\n---\nDB rule.\n",
    ".claude/skills/ship/SKILL.md": "---\nname: ship\ndescription: Ship it.\n---\nSteps.\n",
    "apps/web/CLAUDE.md": "Web memory.\n",
    "apps/web/AGENTS.md": "Web agent rules.\n",
    "apps/web/src/AGENTS.md": "below the folder: nobody loads it at start-up\n",
}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    for rel, text in TREE.items():
        put(root, rel, text)
    return root


def listing(report_agent: object, repo: Path) -> list[tuple[str, str, str]]:
    return [
        (str(Path(f.path).relative_to(repo)), f.role, f.loaded)
        for f in report_agent.files  # type: ignore[attr-defined]
    ]


def test_each_agent_loads_its_own_set_in_a_nested_repository(repo: Path) -> None:
    report = context_report(repo / "apps" / "web", count=count)
    by = {a.agent: a for a in report.agents}
    assert list(by) == list(AGENT_NAMES)
    assert listing(by["claude-code"], repo) == [
        ("CLAUDE.md", "memory", "always"),
        ("docs/style.md", "import", "conditional"),  # outside apps/web: an external import
        (".claude/rules/db.md", "rule", "conditional"),
        ("apps/web/CLAUDE.md", "memory", "always"),
        (".claude/skills/ship/SKILL.md", "skill-metadata", "always"),
        (".claude/skills/ship/SKILL.md", "skill", "conditional"),
    ]
    assert listing(by["codex"], repo) == [
        ("AGENTS.md", "instructions", "always"),
        ("apps/web/AGENTS.md", "instructions", "always"),
    ]
    assert listing(by["copilot"], repo) == [
        (".github/copilot-instructions.md", "instructions", "always"),
        ("AGENTS.md", "instructions", "always"),
        ("CLAUDE.md", "instructions", "always"),
        (".github/instructions/ts.instructions.md", "instructions", "conditional"),
        (".claude/rules/db.md", "instructions", "conditional"),
        (".claude/skills/ship/SKILL.md", "skill-metadata", "always"),
        (".claude/skills/ship/SKILL.md", "skill", "conditional"),
    ]
    assert listing(by["cursor"], repo) == [
        (".cursor/rules/base.mdc", "rule", "always"),
        (".cursor/rules/py.mdc", "rule", "conditional"),
        ("AGENTS.md", "instructions", "always"),
        ("apps/web/AGENTS.md", "instructions", "conditional"),
    ]
    assert by["codex"].total == count(TREE["AGENTS.md"]) + count(TREE["apps/web/AGENTS.md"])
    assert by["claude-code"].total == (
        count(TREE["CLAUDE.md"]) + count(TREE["apps/web/CLAUDE.md"]) + count("ship: Ship it.")
    )
    assert by["cursor"].total == count("Cursor base.\n") + count(TREE["AGENTS.md"])


def test_json_matches_spec_shape(repo: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    put(home, ".claude/CLAUDE.md", "user\n")
    report = context_report(
        repo,
        count=count,
        options=ContextOptions(home=home),
        model="gpt-4o",
        budget=128_000,
        exact=True,
    )
    data = report.to_json()
    jsonschema.validate(data, SPEC_SCHEMA)
    first = data["agents"][0]
    assert (first["agent"], first["model"], first["budget"], first["exact"]) == (
        "claude-code",
        "gpt-4o",
        128_000,
        True,
    )
    assert first["total"] == sum(f["tokens"] for f in first["files"] if f["loaded"] == "always")
    assert first["files"][0]["scope"] == "user"


def test_an_estimate_is_marked(repo: Path) -> None:
    ctx = agent_context("claude-code", repo, count=lambda t: len(t) // 4, exact=False)
    assert ctx.to_json()["exact"] is False


@pytest.mark.parametrize(
    ("value", "agents"),
    [
        ("all", AGENT_NAMES),
        ("", AGENT_NAMES),
        ("codex", ("codex",)),
        ("cursor, copilot,cursor", ("cursor", "copilot")),
    ],
)
def test_parse_agents(value: str, agents: tuple[str, ...]) -> None:
    assert parse_agents(value) == agents


def test_bad_input_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ContextError, match=r"^unknown agent 'gemini' \(one of claude-code"):
        parse_agents("gemini")
    with pytest.raises(ContextError, match="not a folder"):
        agent_context("codex", tmp_path / "missing", count=count)
    with pytest.raises(ContextError, match="unknown agent"):
        agent_context("gemini", tmp_path, count=count)  # type: ignore[arg-type]


def test_unreadable_and_binary_files_become_notes(repo: Path) -> None:
    put(repo, ".claude/skills/ship/logo.png", "")
    (repo / ".claude/skills/ship/logo.png").write_bytes(b"\x89PNG\x00\x00")
    skill = repo / ".claude/skills/ship/SKILL.md"
    skill.write_text(TREE[".claude/skills/ship/SKILL.md"] + "![logo](logo.png) [logo](logo.png)\n")
    ctx = agent_context("claude-code", repo, count=count)
    assert any(n.endswith("logo.png skipped: binary file") for n in ctx.notes)
    (repo / "AGENTS.md").unlink()
    (repo / "AGENTS.md").mkdir()  # a folder where a file is expected
    assert [Path(f.path).name for f in agent_context("codex", repo, count=count).files] == []
