"""Document synchronisation: open, incremental change, save, close.

Handlers are plain functions on the event loop and cheap: an edit is applied to the
document's own block structure (``DocumentState``, O(edit)), then a recount is debounced.
Documents that reference the edited one are recounted too (its unsaved text is what they see).
"""

from __future__ import annotations

import logging
import os
import re
from typing import TYPE_CHECKING

from lsprotocol import types

from prompt_tokens.document import DocumentState
from prompt_tokens.lsp import counting, diagnostics

if TYPE_CHECKING:
    from prompt_tokens.lsp.server import PromptTokensServer

log = logging.getLogger(__name__)

CONFIG_FILE = ".prompt-tokens.toml"
_SURROGATE = re.compile("[\ud800-\udfff]")


def clean(text: str) -> str:
    """Lone surrogates (JSON may carry ``\\ud800``) become U+FFFD, as tiktoken itself does
    before encoding: same count, same columns (one UTF-16 unit, one code point)."""
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def _encoding_guess(ls: PromptTokensServer, root: str) -> str:
    ws = ls.workspaces.get(root)
    return ws.settings.encoding if ws is not None else "cl100k_base"


def register(server: PromptTokensServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: PromptTokensServer, params: types.DidOpenTextDocumentParams) -> None:
        from prompt_tokens.lsp.server import OpenDocument

        item = params.text_document
        path = ls.uri_path(item.uri)
        root = ls.root_for(path)
        state = DocumentState(
            clean(item.text),
            encoding=_encoding_guess(ls, root),
            version=item.version,
            position_encoding=ls.position_encoding,
        )
        ls.docs[item.uri] = OpenDocument(
            uri=item.uri,
            path=path,
            language_id=item.language_id,
            version=item.version,
            state=state,
            root=root,
        )
        ls.active_uri = item.uri
        counting.schedule(ls, item.uri, delay_s=0.0)
        if path is not None:  # its buffer now wins over the disk for documents using it
            counting.schedule_dependents(ls, path, delay_s=0.0, exclude=item.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: PromptTokensServer, params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        doc = ls.docs.get(uri)
        if doc is None:
            log.warning("didChange for a document that is not open: %s", uri)
            return
        for change in params.content_changes:
            if isinstance(change, types.TextDocumentContentChangePartial):
                r = change.range
                doc.state.apply_change(
                    clean(change.text),
                    (r.start.line, r.start.character, r.end.line, r.end.character),
                )
            else:
                doc.state.apply_change(clean(change.text))
        doc.version = params.text_document.version
        doc.state.version = doc.version
        ls.active_uri = uri
        ws = ls.workspaces.get(doc.root)
        delay = (ws.settings.debounce_ms if ws is not None else 150) / 1000
        counting.schedule(ls, uri, delay_s=delay)
        if doc.path is not None:
            counting.schedule_dependents(ls, doc.path, delay_s=delay, exclude=uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE, types.SaveOptions(include_text=False))
    def did_save(ls: PromptTokensServer, params: types.DidSaveTextDocumentParams) -> None:
        uri = params.text_document.uri
        doc = ls.docs.get(uri)
        path = doc.path if doc is not None else ls.uri_path(uri)
        if path is None:
            return
        if os.path.basename(path) == CONFIG_FILE:
            from prompt_tokens.lsp import lifecycle

            lifecycle.apply_settings(ls, reload_toml=True, roots=[os.path.dirname(path)])
            return
        counting.schedule_dependents(ls, path, delay_s=0.0, exclude=uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
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
            ws = ls.workspaces.get(doc.root)
            if ws is not None and ws.runtime is not None:
                ws.runtime.resolver.graph.remove(os.path.abspath(doc.path))
            # its unsaved text no longer wins: dependents count the file on disk again
            counting.schedule_dependents(ls, doc.path, delay_s=0.0, exclude=uri)
