"""Hover on the first line of an agent file: what its agent loads with it (Markdown).

On a Claude Code memory file or rule, a Copilot instructions file, a Cursor rule or an AGENTS.md
the answer is the agent's start-up context in the folder it works in — "Claude Code loads 4 files
here: 6,120 tokens", then the files with their tokens and the conditional ones apart — as
``prompt-tokens context`` counts it (``agents.context``), exactly, with the workspace's
tokenizer. The runtime remembers the answer until a file or folder it read changes, so hovering
again does not read the files again. On a SKILL.md the hover also gives the skill's three
numbers (listing always, body on activation, linked files on demand).

The agent's files are counted as saved on disk (the skill's numbers use the buffer's text).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from lsprotocol import types

from prompt_tokens.agents.entries import AgentContext, ContextFile
from prompt_tokens.lsp.base import PromptTokensServer
from prompt_tokens.lsp.state import OpenDocument

log = logging.getLogger(__name__)

AGENT_LABELS = {
    "claude-code": "Claude Code",
    "copilot": "GitHub Copilot",
    "codex": "Codex",
    "cursor": "Cursor",
}
MAX_ROWS = 20


def _files(n: int) -> str:
    return f"{n:,} file" + ("" if n == 1 else "s")


def headline(ctx: AgentContext) -> str:
    """``Claude Code loads 4 files here: 6,120 tokens``."""
    label = AGENT_LABELS.get(ctx.agent, ctx.agent)
    return f"{label} loads {_files(len(ctx.always))} here: {ctx.total:,} tokens"


def _shown(f: ContextFile, root: str) -> str:
    p = Path(f.path)
    if f.scope == "user":
        try:
            return "~/" + p.relative_to(Path.home()).as_posix()
        except ValueError:
            return f.path
    try:
        return p.relative_to(root).as_posix()
    except ValueError:
        return f.path


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _rows(files: tuple[ContextFile, ...], root: str, *, condition: bool) -> list[str]:
    rows = []
    for f in files[:MAX_ROWS]:
        extra = f" — {f.condition}" if condition and f.condition else ""
        rows.append(f"| `{_cell(_shown(f, root))}` | {f.role}{_cell(extra)} | {f.tokens:,} |")
    if len(files) > MAX_ROWS:
        rows.append(f"| … {len(files) - MAX_ROWS:,} more | | |")
    return rows


def context_markdown(ctx: AgentContext) -> str:
    parts = [f"**{headline(ctx)}**"]
    if ctx.always:
        parts.append(
            "| file | role | tokens |\n|---|---|---:|\n"
            + "\n".join(_rows(ctx.always, ctx.root, condition=False))
        )
    if ctx.conditional:
        parts.append(
            f"Loaded on a condition: {_files(len(ctx.conditional))}, "
            f"{ctx.conditional_total:,} tokens\n\n| file | role — when | tokens |\n|---|---|---:|\n"
            + "\n".join(_rows(ctx.conditional, ctx.root, condition=True))
        )
    return "\n\n".join(parts)


def skill_markdown(summary: dict[str, Any]) -> str:
    skill = summary.get("skill")
    if not isinstance(skill, dict):
        return ""
    metadata, body, resources = skill["metadata"], skill["body"], skill["resources"]
    return (
        f"**Skill `{_cell(str(skill['name']))}`**\n\n"
        f"| loaded | tokens |\n|---|---:|\n"
        f"| always (name + description) | {metadata:,} |\n"
        f"| on activation (body) | {body:,} |\n"
        f"| on demand ({_files(int(skill['resourceFiles']))} linked) | {resources:,} |"
    )


def hover(ls: PromptTokensServer, doc: OpenDocument, pos: types.Position) -> types.Hover | None:
    """The agent hover on line 0 of an agent file; None elsewhere and for other files."""
    if pos.line != 0 or doc.path is None:
        return None
    try:
        parts = []
        summary = doc.result.agent if doc.result is not None else None
        if summary is None:
            summary = ls.runtime.agent_summary(doc.root, doc.path, doc.state.text())
        if summary is not None:
            parts.append(skill_markdown(summary))
        ctx = ls.runtime.agent_context(doc.root, doc.path)
        if ctx is not None:
            parts.append(context_markdown(ctx))
    except (OSError, ValueError) as exc:
        log.warning("%s: no agent hover: %s", doc.path, exc)
        return None
    parts = [p for p in parts if p]
    if not parts:
        return None
    end = doc.state.line_end(0)
    return types.Hover(
        contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value="\n\n".join(parts)),
        range=types.Range(types.Position(0, 0), types.Position(0, end)),
    )
