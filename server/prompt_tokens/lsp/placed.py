"""Diagnostics already placed in the document, kept between keystrokes.

A big prompt can carry thousands of diagnostics (every ``@token`` that names no file), and a
keystroke changes at most a few of them — but the budget diagnostic's numbers change with
almost every keystroke, so the whole list is published again each time. Converting every
diagnostic to an LSP range (clamped to its lines) and serialising it through the protocol's
converter on every keystroke is work proportional to the document, not to the edit.

This cache keeps each diagnostic's placed form — the ``lsprotocol`` object and the JSON value
the client gets — under what the placement depends on: code, severity, message and the span's
line and UTF-16 columns. For a UTF-16 client (the columns are used as they are) the clamped
range depends only on those, the number of lines and the lengths of the span's first and last
line. So an entry stays valid until one of those lines is edited (``edited``) or the document's
lines are renumbered (a line break typed or deleted, a CR and an LF joined by deleting what
stood between them, a whole-document replacement: the cache is emptied). Clients with other position encodings convert from character offsets, which every
edit before the span moves: nothing is cached for them.

This module imports no feature module (``state`` holds one cache per open document).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import attrs
from lsprotocol import types

Key = tuple[str, str, str, int, int, int, int]
"""(code, severity, message, line, start, end line, end) of an engine diagnostic."""

_BREAKS = frozenset("\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
"""Anything any reader might take for a line break (more than LSP's three: being safe)."""


@attrs.frozen(eq=False)
class Placed:
    """One diagnostic as published: the ``lsprotocol`` object and its JSON text."""

    lsp: types.Diagnostic
    json: str

    @classmethod
    def of(cls, d: types.Diagnostic) -> Placed:
        return cls(d, json.dumps(json_of(d), separators=(",", ":")))


def json_of(d: types.Diagnostic) -> dict[str, Any]:
    """The JSON value of a diagnostic, as the protocol's converter writes it (fields that are
    None are left out; tested against the converter)."""
    r = d.range
    out: dict[str, Any] = {
        "range": {
            "start": {"line": r.start.line, "character": r.start.character},
            "end": {"line": r.end.line, "character": r.end.character},
        },
        "message": d.message,
    }
    if d.severity is not None:
        out["severity"] = int(d.severity)
    if d.code is not None:
        out["code"] = d.code
    if d.source is not None:
        out["source"] = d.source
    return out


@attrs.define(eq=False)
class PlacedDiagnostics:
    """Placed diagnostics of one open document, by :data:`Key` (see the module docstring)."""

    entries: dict[Key, Placed] = attrs.field(factory=dict)
    by_line: dict[int, set[Key]] = attrs.field(factory=dict)
    """The keys of the entries whose placement depends on this line: the span's first and
    last line, and the lines it was clamped to (a span past the last line is placed on it)."""

    def get(self, key: Key) -> Placed | None:
        return self.entries.get(key)

    def put(self, key: Key, placed: Placed) -> None:
        self.entries[key] = placed
        r = placed.lsp.range
        for line in {key[3], key[5], r.start.line, r.end.line}:
            self.by_line.setdefault(line, set()).add(key)

    def keep_only(self, used: set[Key]) -> None:
        """Forget the entries not in ``used`` once they are most of the cache (a budget
        message changes with every keystroke: its old entries must not pile up)."""
        if len(self.entries) <= 2 * len(used) + 64:
            return
        kept = {k: p for k, p in self.entries.items() if k in used}
        self.clear()
        for k, p in kept.items():
            self.put(k, p)

    def clear(self) -> None:
        self.entries.clear()
        self.by_line.clear()

    def edited(self, range_: tuple[int, int, int, int] | None, text: str, line_count: int) -> None:
        """A content change is about to be applied to a document of ``line_count`` lines:
        forget what it may change (``range_`` None: the whole document is replaced)."""
        if not self.entries:
            return
        if (
            range_ is None
            or range_[0] != range_[2]
            or not 0 <= range_[0] < line_count
            or not _BREAKS.isdisjoint(text)
        ):
            self.clear()  # lines renumbered (or a position past the end clamped elsewhere)
            return
        for key in self.by_line.pop(range_[0], ()):
            placed = self.entries.pop(key, None)
            if placed is None:
                continue
            r = placed.lsp.range
            for line in {key[3], key[5], r.start.line, r.end.line}:
                keys = self.by_line.get(line)
                if keys is not None:
                    keys.discard(key)


@attrs.define(eq=False)
class HeldBack:
    """A publication of a big list held back until typing pauses (``diagnostics.publish``)."""

    placed: list[Placed] = attrs.field(factory=list)
    version: int = 0
    since: float | None = None
    """``time.monotonic()`` when the oldest list held back was computed (None: nothing held)."""
    timer: asyncio.TimerHandle | None = None

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer = None
        self.since = None
        self.placed = []
