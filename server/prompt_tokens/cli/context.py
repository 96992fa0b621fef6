"""``prompt-tokens context [DIR]``: what each coding agent puts in its context window at
start-up in DIR, file by file, against the model's window.

The rules per agent are ``prompt_tokens.agents``'; this module settles the tokenizer (the
model or encoding of DIR's ``.prompt-tokens.toml``, or the flags), counts every file exactly
with it through the workspace engine, and prints one table per agent. User-level files
(``~/.claude/CLAUDE.md``, ``~/.codex/AGENTS.md``…) are read from the real home folder and
marked ``user``; ``--no-user`` describes the repository alone.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from prompt_tokens import environment
from prompt_tokens.agents.context import ContextError, context_report, parse_agents
from prompt_tokens.agents.entries import AgentContext, ContextFile, ContextOptions, ContextReport
from prompt_tokens.cli.models import row_for
from prompt_tokens.cli.output import print_json, warn
from prompt_tokens.cli.rootconfig import flag_overrides, settings_for
from prompt_tokens.cli.table import Cell, Styled, print_rows
from prompt_tokens.errors import UsageError
from prompt_tokens.runtime import Runtime
from prompt_tokens.workspace import find_root

CONTEXT_HEADERS = (
    ("file", "left"), ("role", "left"), ("loaded", "left"), ("tokens", "right"),
    ("imported by", "left"),
)  # fmt: skip


def _options(no_user: bool) -> ContextOptions:
    if no_user:
        return ContextOptions()
    codex_home = environment.codex_home()
    return ContextOptions(
        home=Path.home(), codex_home=Path(codex_home).expanduser() if codex_home else None
    )


async def _report(args: argparse.Namespace, folder: Path) -> ContextReport:
    flags = flag_overrides(args) | {"cache": {"path": None}}  # counts of whole files: no cache
    root = find_root(folder) or folder
    config = settings_for(root, flags)
    for msg in config.problems:
        warn(msg)
    rt = Runtime()
    try:
        rt.set_settings(str(root), config.settings, folders=[root])
        doc = rt.configure(str(root), "")
        model = doc.model.name if doc.model is not None else None
        row = row_for(model)
        return context_report(
            folder,
            count=rt.text_counter(str(root)),
            agents=parse_agents(args.agent),
            options=_options(args.no_user),
            model=model,
            budget=doc.budget,
            exact=row.exact if row is not None else True,
        )
    finally:
        await rt.aclose()


def _shown(path: str, root: str, scope: str) -> str:
    """A path relative to the repository (``~/…`` for the user's own files)."""
    p = Path(path)
    if scope == "user":
        try:
            return "~/" + p.relative_to(Path.home()).as_posix()
        except ValueError:
            return path
    try:
        return p.relative_to(root).as_posix()
    except ValueError:
        return os.path.relpath(p, root)


def _row(f: ContextFile, agent: AgentContext, approx: str) -> list[Cell]:
    loaded = "always" if f.loaded == "always" else (f.condition or "conditional")
    by = _shown(f.imported_by, agent.root, "project") if f.imported_by else ""
    name = _shown(f.path, agent.root, f.scope) + (" (user)" if f.scope == "user" else "")
    if f.note:
        name += f"  [{f.note}]"
    style = "" if f.loaded == "always" else "dim"
    return [Styled(name, style), f.role, loaded, f"{approx}{f.tokens:,}", by]


def _summary(agent: AgentContext) -> str:
    approx = "" if agent.exact else "≈ "
    text = f"total: {approx}{agent.total:,} tokens loaded at start-up"
    row = row_for(agent.model)
    if row is not None and row.context_window:
        pct = round(100 * agent.total / row.context_window)
        text += f" ({pct}% of {agent.model}'s {row.context_window:,}-token window)"
    elif agent.budget:
        text += (
            f" ({round(100 * agent.total / agent.budget)}% of the {agent.budget:,}-token budget)"
        )
    if agent.conditional:
        text += f"; {agent.conditional_total:,} more on conditions"
    return text


def render(report: ContextReport) -> None:
    for i, agent in enumerate(report.agents):
        if i:
            sys.stdout.write("\n")
        approx = "" if agent.exact else "≈"
        sys.stdout.write(f"{agent.agent}\n")
        if agent.files:
            rows = [_row(f, agent, approx) for f in [*agent.always, *agent.conditional]]
            print_rows(CONTEXT_HEADERS, rows, sys.stdout)
        else:
            sys.stdout.write("no instruction files here\n")
        for note in agent.notes:
            sys.stdout.write(f"note: {note}\n")
        sys.stdout.write(_summary(agent) + "\n")


def cmd_context(args: argparse.Namespace) -> int:
    folder = Path(args.dir).expanduser()
    if not folder.is_dir():
        raise UsageError(f"{args.dir}: not a folder")
    try:
        report = asyncio.run(_report(args, folder.resolve()))
    except ContextError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print_json(report.to_json())
    else:
        render(report)
    return 0
