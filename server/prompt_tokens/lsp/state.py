"""The language server's data: open documents, settings roots, reference results kept for reuse.

Plain attrs classes without handler logic. This module imports no feature module (and no
pygls): every feature module imports it, so the data never drags a feature in with it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import attrs
from lsprotocol import types

from prompt_tokens.document import DocumentState
from prompt_tokens.estimates import Calibration
from prompt_tokens.lsp.placed import HeldBack, PlacedDiagnostics
from prompt_tokens.results import DocumentResult, Occurrence, ReferenceResult, Section

Range = tuple[int, int, int, int]
"""An LSP range as (start line, start character, end line, end character)."""

HintsShown = tuple[str, int, int, int]
"""What the published inlay hints showed: the total's label, the references still pending,
the references counted and how many of them failed."""


@attrs.define
class RefMemo:
    """The reference results of a count, reused while the references stay the same."""

    key: tuple[Any, ...]
    """What the results depend on besides files and settings (``counting.reference_key``)."""
    occurrences: list[Occurrence]
    results: list[ReferenceResult]
    at: float
    """``time.monotonic()`` when resolved."""
    wall: float = 0.0
    """``time.time()`` when resolution started (files changed after it are newer)."""


@attrs.define(eq=False)
class OpenDocument:
    """One open editor buffer and what the server last computed for it."""

    uri: str
    path: str | None
    """Absolute file-system path (None for ``untitled:`` and other non-file URIs)."""
    language_id: str
    version: int
    state: DocumentState
    root: str
    """The workspace folder (or project root) whose settings apply."""
    result: DocumentResult | None = None
    result_version: int | None = None
    counted_occurrences: list[Occurrence] = attrs.field(factory=list)
    status: str = "counting"
    """Last ``promptTokens/status`` state sent: counting, ready or error."""
    pending_references: int = 0
    """References of the newest count still being resolved (their hints show ``…``)."""
    interim_text_tokens: int | None = None
    error: str | None = None
    hints_shown: HintsShown | None = None
    """What the last published hints depended on: a refresh is sent only when it changes."""
    pending_changes: list[tuple[str, Range | None]] | None = None
    """Changes that arrived while a big document's blocks were being built (in a thread)."""
    published_diagnostics: list[types.Diagnostic] = attrs.field(factory=list)
    diagnostics_version: int | None = None
    placed: PlacedDiagnostics = attrs.field(factory=PlacedDiagnostics)
    """Diagnostics placed for earlier versions, valid while their lines are unchanged (kept
    right by ``sync``, which tells it every change before applying it)."""
    held_back: HeldBack = attrs.field(factory=HeldBack)
    """Diagnostics computed but not published yet (``diagnostics.publish``)."""
    sections_version: int | None = None
    """``result_version`` whose sections ``result.sections`` holds (filled on first use)."""
    ref_memo: RefMemo | None = None
    """The last resolved references, reused while no reference changes."""
    calibration: Calibration | None = None
    """The model vendor's last exact count of this document (``lsp.exact``), if any."""
    settled: asyncio.Event = attrs.field(factory=asyncio.Event)
    """Set when the current version is counted (or failed); cleared by every new change."""

    def current_sections(self) -> list[Section]:
        """The last count's sections, computed from the blocks on first use (the count itself
        does not need them, and a big Markdown prompt can have thousands)."""
        r = self.result
        if r is None:
            return []
        if self.sections_version != self.result_version and self.result_version == self.version:
            secs = self.state.sections()
            if secs is not None:
                r.sections = secs
                self.sections_version = self.result_version
        return r.sections


@attrs.define(eq=False)
class WorkspaceState:
    """What the server read for one settings root (a workspace folder or project root); its
    merged settings are held by the engine (``Runtime.settings(root)``)."""

    root: str
    toml_raw: dict[str, Any] = attrs.field(factory=dict)
    toml_problems: list[str] = attrs.field(factory=list)
