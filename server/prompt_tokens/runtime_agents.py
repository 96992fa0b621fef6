"""The facade's agent side: which dialect a document is read in, its reference scanner, and
what its agent loads (a skill's three numbers, an agent's start-up files).

Kept apart from ``runtime`` because it is one concern with its own memory (the compiled
dialect overrides per settings, the remembered agent loads), and so the facade stays small.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import attrs

from prompt_tokens.agents.dialects import (
    Dialect,
    DialectError,
    DialectMap,
    parse_overrides,
    rules_for,
)
from prompt_tokens.agents.entries import AgentContext, ContextOptions
from prompt_tokens.agents.loads import AgentLoads, agent_of
from prompt_tokens.agents.references import links_for
from prompt_tokens.agents.scanning import DialectScanner, file_exists_near
from prompt_tokens.agents.skills import skill_summary
from prompt_tokens.doc_loader import refs_key
from prompt_tokens.references.blocks import BlockScanner
from prompt_tokens.results import Occurrence
from prompt_tokens.settings import Settings
from prompt_tokens.tokenizer.textio import decode_bytes

log = logging.getLogger(__name__)


@attrs.frozen
class Scanner:
    """How the references of one document are found, under the settings of its root."""

    scan: Callable[[str], list[Occurrence]]
    key: tuple[Any, ...]
    """What the scan results depend on (``DocumentState.occurrences`` re-scans when it changes)."""
    cache_key: str
    """The pseudo-encoding under which reference counts of a content are cached."""
    scan_pieces: Callable[[Iterable[str]], list[Occurrence]] | None = None
    """``scan`` of the text that pieces make (decoded chunks cut anywhere), holding only a
    window of it: for files too big to keep whole."""


class Agents:
    """Dialects and agent loads for the runtime (one per :class:`~prompt_tokens.runtime.Runtime`)."""

    def __init__(self, home: Path | None = None) -> None:
        self._maps: dict[tuple[tuple[str, str], ...], DialectMap] = {}
        self._loads = AgentLoads(ContextOptions(home=home or Path.home()))

    def scanner(self, settings: Settings, root: str, path: str | None) -> Scanner | None:
        """The incremental block scanner read in the document's dialect (SPEC "Agent
        dialects"), so the key and the cache key name the dialect too; None when references
        are off."""
        refs = settings.references
        if not refs.enabled:
            return None
        dialect = self.dialect(settings, root, path)
        links = links_for(rules_for(dialect), refs.markdown_links, path or "")
        scan = DialectScanner(
            BlockScanner(tuple(refs.enabled), links), dialect, file_exists_near(path)
        )
        return Scanner(
            scan=scan,
            key=scan.key,
            cache_key=f"{refs_key(refs.enabled, links)}:{dialect}",
            scan_pieces=scan.scan_pieces,
        )

    def dialect(self, settings: Settings, root: str, path: str | None) -> Dialect:
        """``dialects`` overrides first, then the path's own kind."""
        rules = tuple((r.glob, r.dialect) for r in settings.dialects)
        found = self._maps.get(rules)
        if found is None:
            try:
                overrides = parse_overrides([{"glob": g, "dialect": d} for g, d in rules])
            except DialectError as exc:
                log.warning("dialects: %s; detecting dialects from paths only", exc)
                overrides = ()
            found = self._maps[rules] = DialectMap(overrides)
        return found.dialect_of(path or "", root)

    def summary(
        self, dialect: Dialect, path: str, text: str | None, count: Callable[[str], int]
    ) -> dict[str, Any] | None:
        """An Agent Skill's three numbers (front matter listed always, body on activation,
        linked files on demand), counted with ``count``; None for other dialects. Blocking
        (reads the linked files)."""
        if dialect != "skill" or not path or path == "-":
            return None
        if text is None:
            text, _ = decode_bytes(Path(path).read_bytes(), label=path)
        return {"dialect": dialect, "skill": skill_summary(Path(path), text, count).to_json()}

    def context(
        self, dialect: Dialect, path: str, count: Callable[[str], int], tokenizer: str
    ) -> AgentContext | None:
        """What the agent of a ``dialect`` file loads where it works; remembered until a file
        or folder it read changes. None for a file no agent loads. Blocking."""
        agent = agent_of(dialect)
        if agent is None or not path or path == "-":
            return None
        return self._loads.context(agent, Path(path), count, tokenizer=tokenizer)
