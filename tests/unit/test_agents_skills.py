"""Agent Skills in Claude Code's context: listing always, body on activation, files on demand."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from prompt_tokens.agents.context import agent_context
from prompt_tokens.agents.entries import AgentContext, ContextOptions
from prompt_tokens.agents.metadata import read_header
from prompt_tokens.agents.skills import CLAUDE_LISTING_CHARS, CLAUDE_STYLE, listing_text
from tests.conftest import plain_count

CORPUS_SKILLS = Path("/work/shared/corpus/skills/skills")


def count(text: str) -> int:
    return plain_count("cl100k_base", text)


def put(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def claude(directory: Path, **options: object) -> AgentContext:
    return agent_context("claude-code", directory, count=count, options=ContextOptions(**options))  # type: ignore[arg-type]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    return root


DEPLOY = (
    "---\nname: deploy\ndescription: Deploy the app. Use when asked to ship.\n"
    "license: MIT\nallowed-tools: Bash(git:*)\n---\n"
    "# Deploy\nFollow [the runbook](reference/runbook.md) and [examples](./examples.md).\n"
    "Template: @template.md\nScripts run, they are not read: scripts/ship.sh\n"
    "[site](https://example.com) [missing](nope.md)\n"
)


def test_three_numbers_per_skill(repo: Path) -> None:
    skill = put(repo, ".claude/skills/deploy/SKILL.md", DEPLOY)
    put(repo, ".claude/skills/deploy/reference/runbook.md", "runbook\n")
    put(repo, ".claude/skills/deploy/examples.md", "examples\n")
    put(repo, ".claude/skills/deploy/template.md", "template\n")
    put(repo, ".claude/skills/deploy/scripts/ship.sh", "echo ship\n")
    ctx = claude(repo)
    body = DEPLOY[DEPLOY.index("# Deploy") :]
    listing = "deploy: Deploy the app. Use when asked to ship."
    assert [(Path(f.path).name, f.role, f.loaded, f.tokens) for f in ctx.files] == [
        ("SKILL.md", "skill-metadata", "always", count(listing)),
        ("SKILL.md", "skill", "conditional", count(body)),
        ("runbook.md", "skill-resource", "conditional", count("runbook\n")),
        ("examples.md", "skill-resource", "conditional", count("examples\n")),
        ("template.md", "skill-resource", "conditional", count("template\n")),
    ]
    assert ctx.total == count(listing)
    assert ctx.files[2].condition == "on demand: linked from deploy's SKILL.md"
    assert ctx.files[4].condition == "attached with deploy's body (@ reference)"
    assert {f.imported_by for f in ctx.files[2:]} == {str(skill)}
    assert ctx.notes == (f"{skill}: nope.md not found",)


def test_listing_rules(repo: Path, tmp_path: Path) -> None:
    put(
        repo,
        ".claude/skills/no-desc/SKILL.md",
        "---\nname: no-desc\n---\n# Title\n\nFirst paragraph\nwraps here.\n\nSecond.\n",
    )
    put(
        repo,
        ".claude/skills/folder-name/SKILL.md",
        "---\ndescription: d\nwhen_to_use: when x\n---\nb\n",
    )
    put(
        repo,
        ".claude/skills/manual/SKILL.md",
        "---\nname: manual\ndescription: d\ndisable-model-invocation: true\n---\nb\n",
    )
    long = "y" * (CLAUDE_LISTING_CHARS + 100)
    put(repo, ".claude/skills/long/SKILL.md", f"---\nname: long\ndescription: {long}\n---\nb\n")
    ctx = claude(repo)
    listed = {Path(f.path).parent.name: f.tokens for f in ctx.files if f.role == "skill-metadata"}
    assert listed == {
        "folder-name": count("folder-name: d when x"),
        "long": count("long: " + "y" * CLAUDE_LISTING_CHARS),
        "no-desc": count("no-desc: First paragraph wraps here."),
    }
    manual = [f for f in ctx.files if Path(f.path).parent.name == "manual"]
    assert [(f.role, f.condition) for f in manual] == [
        ("skill", "only when you invoke /manual (disable-model-invocation)")
    ]


def test_personal_skill_overrides_project_and_parents_count(repo: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    put(
        home,
        ".claude/skills/deploy/SKILL.md",
        "---\nname: deploy\ndescription: personal\n---\nmine\n",
    )
    put(
        repo,
        ".claude/skills/deploy/SKILL.md",
        "---\nname: deploy\ndescription: project\n---\nours\n",
    )
    put(repo, ".claude/skills/lint/SKILL.md", "---\nname: lint\ndescription: root lint\n---\nl\n")
    put(
        repo, "pkg/.claude/skills/test/SKILL.md", "---\nname: test\ndescription: pkg test\n---\nt\n"
    )
    put(
        repo,
        "pkg/deeper/.claude/skills/nested/SKILL.md",
        "---\nname: nested\ndescription: below\n---\nn\n",
    )
    ctx = claude(repo / "pkg", home=home)
    listed = [(f.scope, Path(f.path).parent.name) for f in ctx.files if f.role == "skill-metadata"]
    assert listed == [("user", "deploy"), ("project", "test"), ("project", "lint")]
    assert any("skill 'deploy' already listed" in n for n in ctx.notes)


def test_corpus_skills_listing_and_bodies_are_exact(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    shutil.copytree(CORPUS_SKILLS, repo / ".claude" / "skills")
    ctx = claude(repo)
    metadata = [f for f in ctx.files if f.role == "skill-metadata"]
    assert len(metadata) == 12
    expected_total = 0
    for skill in sorted((repo / ".claude" / "skills").glob("*/SKILL.md")):
        text = skill.read_text(encoding="utf-8")
        header = read_header(text)
        name = header.data.get("name") or skill.parent.name
        expected_total += count(
            listing_text(str(name), header, text[header.body_start :], CLAUDE_STYLE)
        )
        body = next(f for f in ctx.files if f.role == "skill" and f.path == str(skill))
        assert body.tokens == count(text[header.body_start :])
    assert ctx.total == expected_total
    resources = [f for f in ctx.files if f.role == "skill-resource"]
    assert resources, "the corpus skills link reference files"
    for f in resources:
        assert f.tokens == count(Path(f.path).read_text(encoding="utf-8"))
