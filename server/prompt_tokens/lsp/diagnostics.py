"""Engine diagnostics → versioned ``textDocument/publishDiagnostics``.

Codes and severities come from the engine (SPEC "LSP surface"): budget diagnostics on line 0
with the numbers, reference and variable codes on the reference's range as written. Ranges are
converted to the negotiated position encoding and clamped to the document.

A keystroke re-places only the diagnostics whose lines it changed (``placed``: the others are
taken as they were placed before), and the message is joined from the JSON text kept with
each, so publishing costs a dictionary look-up per diagnostic, not a conversion and a
serialisation. Nothing is sent when the list is the one the client has.

A big list (``HOLD_MIN`` diagnostics or more) whose new version adds or removes none and changes
no code — only numbers in messages (the budget's, with nearly every keystroke) and positions
(which editors move with the text themselves) — is held back until typing pauses for
``HOLD_S``, and never longer than ``HOLD_MAX_S``: in the 10 MB prose benchmark prompt every
keystroke re-sent 1,877 diagnostics (about 400 KB of JSON) that the editor then had to parse
again, to show one changed number that the status item already shows. A list that gains,
loses or recodes a diagnostic is published at once, and so is every list of a small one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

from lsprotocol import types

from prompt_tokens.lsp.base import PromptTokensServer
from prompt_tokens.lsp.placed import Key, Placed
from prompt_tokens.lsp.state import OpenDocument
from prompt_tokens.results import Diagnostic, DocumentResult, Span

log = logging.getLogger(__name__)

SOURCE = "prompt-tokens"
HOLD_MIN = 500
"""From this many diagnostics on, a republication changing only numbers and positions waits."""
HOLD_S = 0.3
"""...until no new list came for this long..."""
HOLD_MAX_S = 2.0
"""...or the oldest list held back is this old."""
SEVERITY = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "information": types.DiagnosticSeverity.Information,
    "hint": types.DiagnosticSeverity.Hint,
}


def to_range(doc: OpenDocument, span: Span) -> types.Range:
    """A span as an LSP range in the client's units, clamped to existing lines."""
    state = doc.state
    line, start, end_line, end = state.span_columns(span)
    last = max(0, state.line_count - 1)
    line = min(max(0, line), last)
    end_line = min(max(line, end_line), last)
    start = min(max(0, start), state.line_end(line))
    end = min(max(0, end), state.line_end(end_line))
    if end_line == line and end < start:
        end = start
    return types.Range(
        start=types.Position(line=line, character=start),
        end=types.Position(line=end_line, character=end),
    )


def to_lsp(doc: OpenDocument, d: Diagnostic) -> types.Diagnostic:
    return types.Diagnostic(
        range=to_range(doc, d.span),
        message=d.message,
        severity=SEVERITY.get(d.severity, types.DiagnosticSeverity.Warning),
        code=d.code,
        source=SOURCE,
    )


def placed_all(doc: OpenDocument, result: DocumentResult) -> list[Placed]:
    """Every diagnostic of ``result`` placed, from the document's cache when its lines did
    not change (one that cannot be placed is logged and left out). Runs per keystroke over
    every diagnostic: a look-up each, nothing more."""
    utf16 = doc.state.position_encoding == "utf-16"
    cache = doc.placed
    entries = cache.entries
    used: set[Key] = set()
    items: list[Placed] = []
    for d in result.diagnostics:
        s = d.span
        key: Key = (d.code, d.severity, d.message, s.line, s.start, s.end_line, s.end)
        found = entries.get(key) if utf16 else None
        if found is None:
            try:
                found = Placed.of(to_lsp(doc, d))
            except Exception:
                log.exception("cannot place diagnostic %s", d.code)
                continue
            if utf16:
                cache.put(key, found)
        used.add(key)
        items.append(found)
    cache.keep_only(used)
    return items


def publish(
    ls: PromptTokensServer, doc: OpenDocument, result: DocumentResult, version: int
) -> None:
    placed = placed_all(doc, result)
    items = [p.lsp for p in placed]
    if items == doc.published_diagnostics and doc.diagnostics_version is not None:
        doc.held_back.cancel()  # back to what the client has (an undo): nothing to send later either
        return  # unchanged: the client's copy is right (saves the message on most keystrokes)
    if _may_wait(items, doc.published_diagnostics):
        _hold(ls, doc, placed, version)
        return
    _send(ls, doc, placed, version)


def _may_wait(items: list[types.Diagnostic], published: list[types.Diagnostic]) -> bool:
    """A big list with the same diagnostics as the client's, up to numbers and positions."""
    return (
        len(items) >= HOLD_MIN
        and len(items) == len(published)
        and all(
            a.code == b.code and a.severity == b.severity
            for a, b in zip(items, published, strict=True)
        )
    )


def _hold(ls: PromptTokensServer, doc: OpenDocument, placed: list[Placed], version: int) -> None:
    held = doc.held_back
    now = time.monotonic()
    if held.since is None:
        held.since = now
    held.placed, held.version = placed, version
    if held.timer is not None:
        held.timer.cancel()
    delay = max(0.0, min(HOLD_S, held.since + HOLD_MAX_S - now))
    held.timer = asyncio.get_running_loop().call_later(delay, _release, ls, doc)


def _release(ls: PromptTokensServer, doc: OpenDocument) -> None:
    held = doc.held_back
    held.timer = None  # this is it firing
    if ls.docs.get(doc.uri) is doc:
        _send(ls, doc, held.placed, held.version)  # which lets go of what was held
    else:
        held.cancel()  # closed meanwhile


def _send(ls: PromptTokensServer, doc: OpenDocument, placed: list[Placed], version: int) -> None:
    doc.held_back.cancel()
    doc.published_diagnostics = [p.lsp for p in placed]
    doc.diagnostics_version = version
    ls.protocol.notify_text(
        types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS,
        f'{{"uri":{json.dumps(doc.uri)},"version":{int(version)},'
        f'"diagnostics":[{",".join([p.json for p in placed])}]}}',
    )


def clear(ls: PromptTokensServer, uri: str) -> None:
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))
