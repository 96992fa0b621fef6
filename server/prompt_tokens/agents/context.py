"""``prompt-tokens context``: what each agent loads at start-up when it works in a folder.

``agent_context(agent, directory, count=…)`` lists every file the agent puts in its context
window there, with its role, whether it loads always or only on a condition, the condition, what
imported it, and its tokens (the caller's ``count``, so the figure is exact for whatever
tokenizer the caller uses, or an estimate the caller marks with ``exact=False``).
``context_report`` does that for several agents. The rules per agent, each with the
documentation it follows and what is not covered: ``claude`` (Claude Code and its skills),
``codex``, ``copilot``, ``cursor``; skills: ``skills``.

The repository root is the nearest folder at or above ``directory`` holding ``.git``; without
one the folder itself stands in (Codex then reads only that folder, as it does).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from prompt_tokens.agents.claude import claude_code
from prompt_tokens.agents.codex import codex
from prompt_tokens.agents.copilot import copilot
from prompt_tokens.agents.cursor import cursor
from prompt_tokens.agents.entries import (
    AGENT_NAMES,
    AgentContext,
    AgentName,
    Collector,
    ContextOptions,
    ContextReport,
    Count,
    Scope,
)
from prompt_tokens.agents.fs import chain, repository_root
from prompt_tokens.agents.skills import CLAUDE_STYLE, add_skills


class ContextError(ValueError):
    """Bad input to ``context`` (a folder that is not one, an unknown agent): one line."""


def parse_agents(value: str) -> tuple[AgentName, ...]:
    """``--agent`` value: one name, a comma-separated list, or ``all``."""
    names = [v.strip() for v in value.split(",") if v.strip()]
    if not names or "all" in names:
        return AGENT_NAMES  # type: ignore[return-value]
    unknown = [n for n in names if n not in AGENT_NAMES]
    if unknown:
        raise ContextError(
            f"unknown agent {unknown[0]!r} (one of {', '.join(AGENT_NAMES)}, or all)"
        )
    return tuple(dict.fromkeys(names))  # type: ignore[arg-type]


def _claude(directory: Path, root: Path, options: ContextOptions, out: Collector) -> None:
    claude_code(directory, root, options, out)
    folders: list[tuple[Path, Scope]] = []
    if options.home is not None:
        folders.append((options.home / ".claude" / "skills", "user"))
    folders += [(f / ".claude" / "skills", "project") for f in reversed(chain(root, directory))]
    add_skills(folders, options, out, CLAUDE_STYLE)


_Loader = Callable[[Path, Path, ContextOptions, Collector], None]
_LOADERS: dict[str, _Loader] = {
    "claude-code": _claude,
    "copilot": copilot,
    "cursor": cursor,
}


def agent_context(
    agent: AgentName,
    directory: Path,
    *,
    count: Count,
    options: ContextOptions | None = None,
    model: str | None = None,
    budget: int | None = None,
    exact: bool = True,
) -> AgentContext:
    """What ``agent`` loads at start-up in ``directory``. Raises ``ContextError`` only for a
    folder that does not exist or an unknown agent; unreadable files become notes."""
    if agent not in AGENT_NAMES:
        raise ContextError(f"unknown agent {agent!r} (one of {', '.join(AGENT_NAMES)})")
    folder = Path(directory).expanduser()
    if not folder.is_dir():
        raise ContextError(f"{directory}: not a folder")
    folder = folder.resolve()
    options = options or ContextOptions()
    found = repository_root(folder)
    root = found or folder
    out = Collector(count)
    if agent == "codex":
        codex(folder, found, options, out)
    else:
        _LOADERS[agent](folder, root, options, out)
    return out.result(agent, folder, root, model=model, budget=budget, exact=exact)


def context_report(
    directory: Path,
    *,
    count: Count,
    agents: Iterable[AgentName] = AGENT_NAMES,  # type: ignore[assignment]
    options: ContextOptions | None = None,
    model: str | None = None,
    budget: int | None = None,
    exact: bool = True,
) -> ContextReport:
    """``agent_context`` for each agent, in the order given."""
    return ContextReport(
        tuple(
            agent_context(
                a,
                directory,
                count=count,
                options=options,
                model=model,
                budget=budget,
                exact=exact,
            )
            for a in agents
        )
    )
