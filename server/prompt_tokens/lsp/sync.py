"""Document synchronisation: open, incremental change, save, close.

Handlers are plain functions on the event loop and cheap: an edit is applied to the
document's own block structure (``DocumentState``, O(edit)), then a recount is debounced.
Documents that reference the edited one are recounted too (its unsaved text is what they see).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from typing import Any

from lsprotocol import types

from prompt_tokens.document import DocumentState
from prompt_tokens.lsp import counting, diagnostics, exact, reconfigure
from prompt_tokens.lsp.base import PromptTokensServer
from prompt_tokens.lsp.state import OpenDocument, Range
from prompt_tokens.workspace import CONFIG_FILE

log = logging.getLogger(__name__)

BUILD_IN_THREAD_CHARS = 1_000_000
_SURROGATE = re.compile("[\ud800-\udfff]")


def clean(text: str) -> str:
    """Lone surrogates (JSON may carry ``\\ud800``) become U+FFFD, as tiktoken itself does
    before encoding: same count, same columns (one UTF-16 unit, one code point)."""
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def _encoding_guess(ls: PromptTokensServer, root: str) -> str:
    return ls.runtime.settings(root).encoding if root in ls.workspaces else "cl100k_base"


def _first_break(text: str) -> int:
    m = re.search(r"[\r\n]", text)
    return m.start() if m else len(text)


async def _build(
    ls: PromptTokensServer, doc: OpenDocument, text: str, options: dict[str, Any]
) -> None:
    try:
        state = await asyncio.to_thread(lambda: DocumentState(text, **options))
    except Exception:
        doc.pending_changes = None
        raise
    if ls.docs.get(doc.uri) is not doc:
        return
    for change, range_ in doc.pending_changes or []:
        state.apply_change(change, range_)
    state.version = doc.version
    doc.state = state
    doc.placed.clear()
    doc.pending_changes = None
    counting.schedule(ls, doc.uri, delay_s=0.0)


def did_open(ls: PromptTokensServer, params: types.DidOpenTextDocumentParams) -> None:
    item = params.text_document
    path = ls.uri_path(item.uri)
    root = ls.root_for(path)
    text = clean(item.text)
    options = {
        "encoding": _encoding_guess(ls, root),
        "version": item.version,
        "position_encoding": ls.position_encoding,
    }
    big = len(text) > BUILD_IN_THREAD_CHARS
    doc = OpenDocument(
        uri=item.uri,
        path=path,
        language_id=item.language_id,
        version=item.version,
        # while a big one is built: its first line only (for the "counting…" hint's place)
        state=DocumentState(text[: _first_break(text)], **options)  # type: ignore[arg-type]
        if big
        else DocumentState(text, **options),  # type: ignore[arg-type]
        root=root,
    )
    ls.docs[item.uri] = doc
    ls.active_uri = item.uri
    if big:
        # splitting megabytes into blocks takes a while: not on the event loop; changes
        # arriving meanwhile wait in ``pending_changes``
        doc.pending_changes = []
        ls.spawn(_build(ls, doc, text, options), name=f"open {item.uri}")
    else:
        counting.schedule(ls, item.uri, delay_s=0.0)
    if path is not None:  # its buffer now wins over the disk for documents using it
        counting.schedule_dependents(ls, path, delay_s=0.0, exclude=item.uri)


def did_change(ls: PromptTokensServer, params: types.DidChangeTextDocumentParams) -> None:
    uri = params.text_document.uri
    doc = ls.docs.get(uri)
    if doc is None:
        log.warning("didChange for a document that is not open: %s", uri)
        return
    changes = [
        (
            clean(c.text),
            (
                c.range.start.line,
                c.range.start.character,
                c.range.end.line,
                c.range.end.character,
            )
            if isinstance(c, types.TextDocumentContentChangePartial)
            else None,
        )
        for c in params.content_changes
    ]
    doc.version = params.text_document.version
    ls.active_uri = uri
    if doc.pending_changes is not None:
        doc.pending_changes.extend(changes)
        return
    apply_changes(doc, changes)
    doc.state.version = doc.version
    known = doc.root in ls.workspaces
    delay = (ls.runtime.settings(doc.root).debounce_ms if known else 150) / 1000
    counting.schedule(ls, uri, delay_s=delay)
    if doc.path is not None:
        counting.schedule_dependents(ls, doc.path, delay_s=delay, exclude=uri)


def apply_changes(doc: OpenDocument, changes: list[tuple[str, Range | None]]) -> None:
    """Apply content changes to the document, telling its placed diagnostics first (what
    they were placed on may change)."""
    for text, range_ in changes:
        if not doc.placed.entries:
            doc.state.apply_change(text, range_)
            continue
        lines = doc.state.line_count
        doc.placed.edited(range_, text, lines)
        doc.state.apply_change(text, range_)
        if doc.state.line_count != lines:
            # no break typed, yet the lines changed: deleting what stood between a CR and
            # an LF joins them into one break
            doc.placed.clear()


def did_save(ls: PromptTokensServer, params: types.DidSaveTextDocumentParams) -> None:
    uri = params.text_document.uri
    doc = ls.docs.get(uri)
    path = doc.path if doc is not None else ls.uri_path(uri)
    if path is None:
        return
    if os.path.basename(path) == CONFIG_FILE:
        reconfigure.config_file_changed(ls, path, known_roots_only=False)
        return
    counting.schedule_dependents(ls, path, delay_s=0.0, exclude=uri)
    exact.on_save(ls, uri)  # the vendor's count now (when configured)


def did_close(ls: PromptTokensServer, params: types.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    doc = ls.docs.pop(uri, None)
    counting.cancel(ls, uri)
    if ls.active_uri == uri:
        ls.active_uri = None
    if doc is None:
        return
    diagnostics.clear(ls, uri)
    if doc.path is not None:
        ls.runtime.forget(doc.path)
        # its unsaved text no longer wins: dependents count the file on disk again
        counting.schedule_dependents(ls, doc.path, delay_s=0.0, exclude=uri)
