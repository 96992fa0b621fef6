"""What an agent loads alongside one of its files — remembered until a file it read changes.

An editor asks on every hover of an agent file's first line ("Claude Code loads 4 files here:
6,120 tokens"). Building the answer reads and counts every file of the agent's chain; asking
again must not. ``AgentLoads.context(path, count)`` keeps, per (agent, folder), the last
``AgentContext`` with the stamps (size and modification time) of every file it lists and of
every folder it looked in — the folders of the chain and the agents' own subfolders
(``.claude``, ``.claude/rules``, ``.github``, ``.cursor/rules``…), whose modification time
changes when a file is created or deleted in them. A second hover costs those ``stat`` calls.

Which folder: the agent works in the folder that holds the file, or — for a file kept in an
agent's own folder (``.claude/rules/x.md``, ``.github/copilot-instructions.md``,
``.cursor/rules/y.mdc``, ``.claude/skills/s/SKILL.md``) — in the folder that holds that one.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import attrs

from prompt_tokens.agents.context import agent_context
from prompt_tokens.agents.dialects import Dialect, rules_for
from prompt_tokens.agents.entries import AgentContext, AgentName, ContextOptions, Count
from prompt_tokens.agents.fs import chain

AGENT_FOLDERS = (".claude", ".github", ".cursor", ".codex")
_WATCHED = (
    ".claude",
    ".claude/rules",
    ".claude/skills",
    ".github",
    ".github/instructions",
    ".cursor",
    ".cursor/rules",
)
MAX_ENTRIES = 64

Stamp = tuple[str, int, int] | tuple[str, None, None]


def agent_of(dialect: Dialect) -> AgentName | None:
    agent = rules_for(dialect).agent
    return agent  # type: ignore[return-value]


def working_folder(path: Path) -> Path:
    """The folder an agent works in when it loads the file at ``path``."""
    parts = path.parent.parts
    for i, part in enumerate(parts):
        if part in AGENT_FOLDERS:
            return Path(*parts[:i]) if i else Path(path.anchor or ".")
    return path.parent


def _stamp(path: str) -> Stamp:
    try:
        st = os.stat(path)
    except OSError:
        return (path, None, None)
    return (path, st.st_mtime_ns, st.st_size)


def _watched(ctx: AgentContext) -> list[str]:
    root, folder = Path(ctx.root), Path(ctx.directory)
    dirs = {str(f) for f in chain(root, folder)} if folder.is_relative_to(root) else set()
    dirs.add(str(folder))
    out = set(dirs)
    for d in dirs:
        out.update(os.path.join(d, sub) for sub in _WATCHED)
    out.update(os.path.dirname(f.path) for f in ctx.files)
    out.update(f.path for f in ctx.files)
    return sorted(out)


def _stamps(paths: Iterable[str]) -> tuple[Stamp, ...]:
    return tuple(_stamp(p) for p in paths)


@attrs.define
class _Entry:
    context: AgentContext
    watched: list[str]
    stamps: tuple[Stamp, ...]


@attrs.define
class AgentLoads:
    """The last answers, per (agent, folder); one per runtime (no state is shared further)."""

    options: ContextOptions = attrs.field(factory=ContextOptions)
    _entries: dict[tuple[str, str, str], _Entry] = attrs.field(factory=dict, init=False)
    computed: int = attrs.field(default=0, init=False)
    """How many answers were built from the files (not from memory): figures for tests."""

    def context(
        self, agent: AgentName, path: Path, count: Count, *, tokenizer: str = ""
    ) -> AgentContext:
        """What ``agent`` loads in the folder it works in for ``path``; ``tokenizer`` names
        the one behind ``count`` (another tokenizer: another answer)."""
        folder = working_folder(path)
        key = (agent, str(folder), tokenizer)
        entry = self._entries.get(key)
        if entry is not None and _stamps(entry.watched) == entry.stamps:
            return entry.context
        ctx = agent_context(agent, folder, count=count, options=self.options)
        watched = _watched(ctx)
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.pop(next(iter(self._entries)))
        self._entries[key] = _Entry(ctx, watched, _stamps(watched))
        self.computed += 1
        return ctx
