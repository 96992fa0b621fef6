"""pygls's LSP protocol, fed by our reader: one decoded message at a time.

pygls's reader parses each body with the protocol as ``object_hook``; here the framing decoder
(``framing``) has already parsed it, and :meth:`PromptTokensProtocol.deliver` hands each of its
events on: a message to pygls, anything the decoder skipped to the log.

It also keeps pygls's own copy of every open document out of the way (see ``lsp_initialize``
and the three document notifications).
"""

from __future__ import annotations

import logging
from typing import Any

from lsprotocol import types
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

from prompt_tokens.lsp.capabilities import choose_position_encoding
from prompt_tokens.lsp.framing import BadFraming, Event, Message, TooLarge, Unparsable

log = logging.getLogger(__name__)


class PromptTokensProtocol(LanguageServerProtocol):
    """pygls's LSP protocol, fed one message at a time (module docstring)."""

    connection_lost = False

    def deliver(self, event: Event) -> None:
        """Handle one event of the framing decoder; never raises."""
        try:
            if isinstance(event, Message):
                if event.note:
                    log.warning("bad framing: %s", event.note)
                if isinstance(event.value, dict):
                    self.handle_message(self.structure_message(event.value))
            elif isinstance(event, Unparsable):
                log.warning("a message that is not JSON: %s", event.error)
            elif isinstance(event, TooLarge):
                log.warning("refused a message of %d bytes (limit %d)", event.length, event.limit)
            elif isinstance(event, BadFraming):
                log.warning("bad framing skipped: %s", event.reason)
        except Exception as exc:  # one message must not stop the reader
            log.error("could not handle a message: %s: %s", type(exc).__name__, exc)
            log.debug("the message's traceback", exc_info=True)

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams) -> Any:
        """The position encoding is our preference among those the client offers (utf-32, then
        utf-16, then utf-8), the same choice the early ``initialize`` answer makes."""
        general = params.capabilities.general
        if general is not None and general.position_encodings:
            chosen = choose_position_encoding(
                [str(getattr(e, "value", e)) for e in general.position_encodings]
            )
            general.position_encodings = [types.PositionEncodingKind(chosen)]
        return (yield from super().lsp_initialize(params))

    # pygls keeps each open document as a ``TextDocument`` and rebuilds its full text on every
    # incremental change (tens of milliseconds for a 10 MB prompt). The server keeps its own
    # ``DocumentState`` instead, so these three only forward to our handlers. They are plain
    # methods, not pygls's generator built-ins: that also avoids a Future pygls would keep in
    # ``_request_futures`` for every notification handled through a generator.

    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: types.DidOpenTextDocumentParams) -> None:
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_OPEN)) is not None:
            handler(params)

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams) -> None:
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            handler(params)

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: types.DidCloseTextDocumentParams) -> None:
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CLOSE)) is not None:
            handler(params)
