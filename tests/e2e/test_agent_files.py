"""Agent files in the editor: references read in the file's dialect, the agent hover on line 0
(what the agent loads there, exact against plain tiktoken and an independent walk of the same
folder), a skill's three numbers in the hover and in documentStats."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types

from prompt_tokens.agents.context import agent_context
from prompt_tokens.agents.entries import ContextOptions
from tests.e2e.conftest import Session, count
from tests.e2e.test_hover import hover

MEMORY = "# Project memory\n\nStyle: @docs/style.md; tests use @pytest.mark.asyncio.\n"
STYLE = "Short sentences. Active voice.\n"
NESTED = "# App memory\n\nThe app lives here. @notes.md\n"
NOTES = "Notes for the app, imported relative to apps/web.\n"


def _md(h: types.Hover | None) -> str:
    assert h is not None and isinstance(h.contents, types.MarkupContent)
    return h.contents.value


def expected(folder: Path) -> tuple[int, int]:
    """(files loaded always, their tokens) for Claude Code in ``folder``, counted apart."""
    ctx = agent_context(
        "claude-code", folder, count=count, options=ContextOptions(home=Path.home())
    )
    return len(ctx.always), ctx.total


async def test_claude_memory_counts_imports_and_says_what_claude_code_loads(
    session: Session,
) -> None:
    (session.ws / ".git").mkdir(exist_ok=True)
    session.write("docs/style.md", STYLE)
    session.write("CLAUDE.md", MEMORY)
    session.write("apps/web/notes.md", NOTES)
    uri = session.open("apps/web/CLAUDE.md", NESTED)
    status = await session.ready(uri)
    assert status["tokens"]["total"] == count(NESTED) + count(NOTES)

    root_uri = session.open("CLAUDE.md", MEMORY, write=False)
    status = await session.ready(root_uri)
    # the decorator is plain text: no warning, the import counts
    assert status["tokens"]["total"] == count(MEMORY) + count(STYLE)
    diags = session.client.diagnostics.get(root_uri, [])
    assert not [d for d in diags if d.code == "reference-not-found"]

    md = _md(await hover(session, uri, 0, 2))
    n, total = expected(session.ws / "apps" / "web")
    assert n >= 3  # both memories and the app's import (plus any user-level files)
    assert f"**Claude Code loads {n} files here: {total:,} tokens**" in md
    assert "`apps/web/notes.md` | import" in md and "`docs/style.md` | import" in md
    assert f"| {count(NOTES):,} |" in md
    # asked again: the same answer
    assert _md(await hover(session, uri, 0, 2)) == md
    assert await hover(session, uri, 1, 0) is None  # only the first line


async def test_a_skill_shows_its_three_numbers(session: Session) -> None:
    (session.ws / ".git").mkdir(exist_ok=True)
    body = "# PDF\n\nFill forms; details in [the forms guide](forms.md).\n"
    skill = "---\nname: pdf\ndescription: Work with PDF files.\n---\n" + body
    forms = "Forms guide: field by field.\n"
    session.write(".claude/skills/pdf/forms.md", forms)
    uri = session.open(".claude/skills/pdf/SKILL.md", skill)
    await session.ready(uri)
    stats = await session.client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="promptTokens.documentStats", arguments=[uri])
    )
    skill_stats = stats["agent"]["skill"] if isinstance(stats, dict) else stats.agent.skill
    got = {k: skill_stats[k] for k in ("metadata", "body", "resources")}
    assert got == {
        "metadata": count("pdf: Work with PDF files."),
        "body": count(body),
        "resources": count(forms),
    }
    md = _md(await hover(session, uri, 0, 1))
    assert "**Skill `pdf`**" in md
    assert f"| on activation (body) | {count(body):,} |" in md
    assert f"| on demand (1 file linked) | {count(forms):,} |" in md


async def test_a_copilot_prompt_never_reads_a_participant_as_a_file(session: Session) -> None:
    session.write("workspace", "a file named like the participant\n")
    text = "Ask @workspace, then #file:guide.md\n"
    session.write("guide.md", STYLE)
    uri = session.open("ask.prompt.md", text)
    status = await session.ready(uri)
    assert status["tokens"]["total"] == count(text) + count(STYLE)
