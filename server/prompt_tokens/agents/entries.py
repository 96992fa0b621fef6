"""What an agent loads, as data: one ``ContextFile`` per file, grouped per agent.

The JSON shape is SPEC's (``{"agents": [{"agent", "model", "budget", "total", "exact",
"files": [{"path", "role", "loaded", "condition", "tokens", "imported_by"}]}]}``) plus three
additive keys: ``scope`` per file (``"user"`` for files from the home folder, which SPEC asks to
mark), ``note`` per file (e.g. how Codex truncated it) and ``notes`` per agent (files skipped
and why), so nothing the loader dropped is silent.

``tokens`` is the caller's ``count`` over the exact text the agent puts in context for that file
(after what its loader strips or truncates). The framing an agent adds around each file
("Contents of …:" headers, separators) is the agent's, not the file's, and is not counted.
``total`` sums the files loaded always; conditional files are listed apart with their condition.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, get_args

import attrs

AgentName = Literal["claude-code", "copilot", "codex", "cursor"]
AGENT_NAMES: tuple[str, ...] = get_args(AgentName)
Role = Literal[
    "memory", "import", "rule", "instructions", "skill-metadata", "skill", "skill-resource"
]
Loaded = Literal["always", "conditional"]
Scope = Literal["project", "user"]
Count = Callable[[str], int]

CODEX_MAX_BYTES = 32 * 1024  # Codex's default ``project_doc_max_bytes``


@attrs.frozen
class ContextOptions:
    """Where user-level files live and the agents' limits (their documented defaults).

    ``home`` None: no user-level files are read (tests pass a temporary folder; the CLI passes
    the real home). ``codex_home`` None: ``home/.codex`` (Codex's ``CODEX_HOME`` default).
    ``claude_above_root``: Claude Code reads CLAUDE.md files in every folder up to ``/``, also
    above the repository; off by default so a report describes the repository itself.
    """

    home: Path | None = None
    codex_home: Path | None = None
    codex_max_bytes: int = CODEX_MAX_BYTES
    codex_fallback_filenames: tuple[str, ...] = ()
    claude_max_hops: int = 4
    claude_above_root: bool = False
    max_file_bytes: int = 50_000_000

    @property
    def codex_dir(self) -> Path | None:
        if self.codex_home is not None:
            return self.codex_home
        return self.home / ".codex" if self.home is not None else None


@attrs.frozen
class ContextFile:
    path: str
    role: Role
    loaded: Loaded
    tokens: int
    condition: str | None = None
    imported_by: str | None = None
    scope: Scope = "project"
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "role": self.role,
            "loaded": self.loaded,
            "condition": self.condition,
            "tokens": self.tokens,
            "imported_by": self.imported_by,
            "scope": self.scope,
            "note": self.note,
        }


@attrs.frozen
class AgentContext:
    agent: AgentName
    directory: str
    root: str
    files: tuple[ContextFile, ...] = ()
    model: str | None = None
    budget: int | None = None
    exact: bool = True
    notes: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        """Tokens of the files loaded always (SPEC: ``total`` sums those)."""
        return sum(f.tokens for f in self.files if f.loaded == "always")

    @property
    def conditional_total(self) -> int:
        return sum(f.tokens for f in self.files if f.loaded == "conditional")

    @property
    def always(self) -> tuple[ContextFile, ...]:
        return tuple(f for f in self.files if f.loaded == "always")

    @property
    def conditional(self) -> tuple[ContextFile, ...]:
        return tuple(f for f in self.files if f.loaded == "conditional")

    def to_json(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "model": self.model,
            "budget": self.budget,
            "total": self.total,
            "exact": self.exact,
            "files": [f.to_json() for f in self.files],
            "notes": list(self.notes),
        }


@attrs.frozen
class ContextReport:
    agents: tuple[AgentContext, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"agents": [a.to_json() for a in self.agents]}


class Collector:
    """Builds one agent's file list: counts each file once, keeps load order, records notes.

    Local to one ``context`` call (no shared state); ``add`` refuses a path already listed, which
    is how imports reached twice and cycles are loaded once, as the agents do.
    """

    def __init__(self, count: Count) -> None:
        self._count = count
        self._seen: set[str] = set()
        self.files: list[ContextFile] = []
        self.notes: list[str] = []

    def seen(self, path: Path | str) -> bool:
        return str(path) in self._seen

    def add(
        self,
        path: Path | str,
        text: str,
        role: Role,
        loaded: Loaded,
        *,
        condition: str | None = None,
        imported_by: Path | str | None = None,
        scope: Scope = "project",
        note: str | None = None,
        key: str | None = None,
    ) -> ContextFile | None:
        """List ``path`` once (``key`` when one file yields two entries, as a skill's listing
        and body do); None when it is already listed."""
        key = key or str(path)
        if key in self._seen:
            return None
        self._seen.add(key)
        entry = ContextFile(
            path=str(path),
            role=role,
            loaded=loaded,
            tokens=self._count(text) if text else 0,
            condition=condition,
            imported_by=str(imported_by) if imported_by is not None else None,
            scope=scope,
            note=note,
        )
        self.files.append(entry)
        return entry

    def note(self, message: str) -> None:
        if message not in self.notes:
            self.notes.append(message)

    def result(
        self,
        agent: AgentName,
        directory: Path,
        root: Path,
        *,
        model: str | None,
        budget: int | None,
        exact: bool,
    ) -> AgentContext:
        return AgentContext(
            agent=agent,
            directory=str(directory),
            root=str(root),
            files=tuple(self.files),
            model=model,
            budget=budget,
            exact=exact,
            notes=tuple(self.notes),
        )
