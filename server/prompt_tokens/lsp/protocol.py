"""pygls's LSP protocol with one front door: every client message is handled or answered.

pygls structures a message's params inside its reader. When that fails (``range: "all of it"``,
``params: null``, ``position: [0, 0]``) it logs a traceback and drops the message, so the
client waits forever for an answer. It also drops every request after ``shutdown`` without an
answer and has no reply to a body that is not JSON. Here :meth:`PromptTokensProtocol.deliver`
takes each event of the framing decoder and:

- not JSON → ``ParseError`` (id null); a batch or a value that is not a message →
  ``InvalidRequest`` (each request of a batch answered under its own id);
- params that do not fit the method's lsprotocol type → ``InvalidParams`` naming the field, for
  a request; a warning in the log for a notification; an error for our own pending request
  when it is the client's response that does not fit;
- before ``initialize`` → ``ServerNotInitialized``; after ``shutdown`` → ``InvalidRequest``
  (LSP: only ``exit`` is accepted then).

It also keeps pygls's own copy of every open document out of the way (see ``lsp_initialize``
and the three document notifications) and records the ``exit`` status instead of calling
``sys.exit`` inside a handler.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import json
import logging
import re
from collections.abc import Generator
from typing import Any

import attrs
from cattrs.errors import BaseValidationError
from cattrs.v import transform_error
from lsprotocol import types
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.json_rpc import (
    JsonRPCNotification,
    JsonRPCProtocol,
    JsonRPCRequestMessage,
    JsonRPCResponseMessage,
)
from pygls.protocol.language_server import lsp_method

from prompt_tokens.lsp.capabilities import choose_position_encoding
from prompt_tokens.lsp.framing import BadFraming, Event, Message, TooLarge, Unparsable

log = logging.getLogger(__name__)

PARSE_ERROR = int(types.ErrorCodes.ParseError)
INVALID_REQUEST = int(types.ErrorCodes.InvalidRequest)
INVALID_PARAMS = int(types.ErrorCodes.InvalidParams)
NOT_INITIALIZED = int(types.ErrorCodes.ServerNotInitialized)
BATCH = "JSON-RPC batches are not part of the Language Server Protocol: send each message alone"
_SNAKE = re.compile(r"_([a-z])")


def valid_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def envelope_problem(msg: dict[str, Any]) -> str | None:
    """What makes ``msg`` not a JSON-RPC 2.0 request, notification or response, if anything."""
    if msg.get("jsonrpc") != "2.0":
        return 'jsonrpc must be "2.0"'
    if "method" in msg:
        if not isinstance(msg["method"], str):
            return "method must be a string"
        if "id" in msg and not valid_id(msg["id"]):
            return "id must be an integer or a string"
        return None
    if not valid_id(msg.get("id")) or ("result" in msg) == ("error" in msg):
        return "neither a request nor a notification nor a response"
    return None


def describe(exc: BaseException) -> str:
    """One line naming what did not fit, in the client's (camelCase) field names."""
    if isinstance(exc, BaseValidationError):
        parts = []
        for line in transform_error(exc, path="$"):
            what, _, where = line.rpartition(" @ ")
            where = _SNAKE.sub(lambda m: m.group(1).upper(), where.removeprefix("$").lstrip("."))
            parts.append(f"{where or 'message'}: {what}")
        text = "; ".join(parts)
    else:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:300]


class PromptTokensProtocol(LanguageServerProtocol):
    """pygls's LSP protocol behind one checked entrance (module docstring)."""

    exit_code: int | None = None
    """Set by the ``exit`` notification: 0 after ``shutdown``, else 1 (LSP)."""
    shutdown_requested = False
    """A ``shutdown`` request arrived (pygls's ``_shutdown`` waits for its handler to end: an
    ``exit`` right behind it would see it unset)."""
    connection_lost = False

    # -- the entrance --------------------------------------------------------------------------

    def deliver(self, event: Event) -> None:
        """Handle one event of the framing decoder; never raises."""
        try:
            if isinstance(event, Message):
                if event.note:
                    log.warning("bad framing: %s", event.note)
                self.receive(event.value)
            elif isinstance(event, Unparsable):
                log.warning("a message that is not JSON: %s", event.error)
                self.send_error(None, PARSE_ERROR, f"Parse error: {event.error}")
            elif isinstance(event, TooLarge):
                log.warning("refused a message of %d bytes (limit %d)", event.length, event.limit)
                self.send_error(
                    None,
                    INVALID_REQUEST,
                    f"message of {event.length:,} bytes refused: the limit is {event.limit:,}",
                )
            elif isinstance(event, BadFraming):
                log.warning("bad framing skipped: %s", event.reason)
        except Exception as exc:  # a bug, but one message must not stop the reader
            log.error("could not handle a message: %s: %s", type(exc).__name__, exc)
            log.debug("the message's traceback", exc_info=True)

    def receive(self, value: Any) -> None:
        """One JSON value from the client."""
        if isinstance(value, list):
            self._refuse_batch(value)
            return
        if not isinstance(value, dict):
            self.send_error(None, INVALID_REQUEST, "a message must be a JSON object")
            return
        problem = envelope_problem(value)
        if problem is not None:
            log.warning("invalid message: %s", problem)
            if "method" in value or "id" not in value:
                msg_id = value.get("id")
                self.send_error(msg_id if valid_id(msg_id) else None, INVALID_REQUEST, problem)
            return
        message = self._structure(value)
        if message is not None:
            self.handle_message(message)

    def _refuse_batch(self, items: list[Any]) -> None:
        ids = [
            m["id"]
            for m in items
            if isinstance(m, dict) and "method" in m and valid_id(m.get("id"))
        ]
        log.warning("refused a JSON-RPC batch of %d messages", len(items))
        for msg_id in ids or [None]:
            self.send_error(msg_id, INVALID_REQUEST, BATCH if items else "an empty batch")

    def _structure(self, data: dict[str, Any]) -> Any:
        """The lsprotocol message for ``data``, or None once the failure was answered/logged."""
        method = data.get("method")
        msg_id: Any = data.get("id")
        cls: Any
        if method is None:
            cls = types.ResponseErrorMessage if "error" in data else None
            cls = cls or self._result_types.pop(msg_id, None) or JsonRPCResponseMessage
        else:
            cls = self.get_message_type(method)
            if "id" in data and cls is not None and "id" not in attrs.fields_dict(cls):
                self.send_error(msg_id, INVALID_REQUEST, f"{method} is a notification: no id")
                return None
            if cls is None:  # an unknown method: pygls answers MethodNotFound
                cls = JsonRPCRequestMessage if "id" in data else JsonRPCNotification
                data = {"params": None, **data}
        try:
            return self._converter.structure(data, cls)
        except (Exception, RecursionError) as exc:
            why = describe(exc)
        if method is None:
            log.warning("a response to request %r that does not fit: %s", msg_id, why)
            error = types.ResponseError(code=INVALID_PARAMS, message=f"invalid response: {why}")
            self._handle_response(msg_id, None, error)
        elif "id" in data:
            self.send_error(msg_id, INVALID_PARAMS, f"invalid params for {method}: {why}")
        else:
            log.warning("ignored %s: invalid params: %s", method, why)
        return None

    def handle_message(self, message: Any) -> None:
        method = getattr(message, "method", None)
        request = method is not None and hasattr(message, "id")  # as RPCRequest, cheaply
        if method is not None and method != types.EXIT:
            if self._workspace is None and method != types.INITIALIZE:
                if request:
                    self.send_error(message.id, NOT_INITIALIZED, "the server is not initialized")
                return
            if self.shutdown_requested:
                if request:
                    self.send_error(message.id, INVALID_REQUEST, "the server is shut down")
                return
            if method == types.SHUTDOWN and request:
                self.shutdown_requested = True
            if self._workspace is not None and method == types.INITIALIZE:
                self.send_error(message.id, INVALID_REQUEST, "the server is already initialized")
                return
            if not request and not self._shutdown and message.jsonrpc == JsonRPCProtocol.VERSION:
                # a notification (a didChange per keystroke) dispatched as pygls does, without
                # its isinstance checks against runtime protocols (14 % of handling a didChange
                # in a profile of the server while typing)
                contextvars.copy_context().run(self._handle_notification, method, message.params)
                return
        super().handle_message(message)

    def _handle_cancel_notification(self, msg_id: Any) -> None:
        if not valid_id(msg_id):
            log.warning("ignored $/cancelRequest: id must be an integer or a string")
            return
        super()._handle_cancel_notification(msg_id)

    def send_error(self, msg_id: Any, code: int, message: str) -> None:
        self._send_data(
            {"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message}}
        )

    def notify_text(self, method: str, params: str) -> None:
        """A notification whose params are JSON text already, ASCII only (``json.dumps``'s
        default): a big diagnostics list is joined from the texts kept for its items instead
        of going through the converter and ``json.dumps`` on every keystroke."""
        if self.writer is None:
            log.error("cannot send %s: no transport", method)
            return
        body = f'{{"jsonrpc":"2.0","method":{json.dumps(method)},"params":{params}}}'
        if self._include_headers:
            header = (
                f"Content-Length: {len(body.encode(self.CHARSET))}\r\n"
                f"Content-Type: {self.CONTENT_TYPE}; charset={self.CHARSET}\r\n\r\n"
            )
            body = header + body
        try:
            res = self.writer.write(body.encode(self.CHARSET))
            if inspect.isawaitable(res):
                asyncio.ensure_future(res)  # noqa: RUF006 (as pygls's own writes do)
        except BrokenPipeError:
            log.debug("cannot send %s: the client is gone", method)
            raise

    def exit_status(self) -> int:
        """The process's exit status (LSP): 0 after ``shutdown``, 1 if the client exited or went
        away without it."""
        if self.exit_code is not None:
            return self.exit_code
        return 0 if self.shutdown_requested else 1

    # -- built-ins -----------------------------------------------------------------------------

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any) -> Generator[Any, Any, None]:
        """Record the status; the reader stops and the process ends with it (pygls would call
        ``sys.exit`` inside this handler, losing the status on the way out)."""
        if (user_handler := self.fm.features.get(types.EXIT)) is not None:
            yield user_handler, args, None
        self.exit_code = 0 if self.shutdown_requested else 1

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
