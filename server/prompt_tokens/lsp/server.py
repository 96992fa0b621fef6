"""``create_server()`` — the server with every feature registered — and how it is served.

Handlers live in one module per concern, each importing the state (``state``, ``base``) and the
services it needs, never this module: ``lifecycle`` (initialize, shutdown, configuration and
folder changes), ``sync`` (open/change/save/close), ``counting`` (debounced recounts through
the engine), ``hints``, ``diagnostics``, ``status``, ``hover``, ``commands``, ``progress`` and
``dependencies`` (referenced files changing on disk or in another buffer).

Serving (``run_stdio``, ``run_tcp``): the bytes go through ``transport``'s one reader loop and
``framing``'s decoder to the protocol's checked entrance (``protocol``); the session ends on
``exit``, at the end of input or when the client is gone, always by closing the engine and
cache, and returns the LSP exit status.
"""

from __future__ import annotations

import asyncio
import cProfile
import logging
import socket
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInternalError

from prompt_tokens import environment
from prompt_tokens.lsp import commands, dependencies, hints, hover, lifecycle, sync
from prompt_tokens.lsp.base import PromptTokensServer
from prompt_tokens.lsp.capabilities import CLEAR_CACHE, DOCUMENT_STATS, JOBS
from prompt_tokens.lsp.framing import Event, FrameDecoder
from prompt_tokens.lsp.stdio import FdWriter, SkipResponseWriter, Writer
from prompt_tokens.lsp.transport import Ended, StreamSource, close_quietly, open_stdin, pump

log = logging.getLogger(__name__)

STDIN, STDOUT = 0, 1


def create_server() -> PromptTokensServer:
    """A server with every feature registered (no I/O until started).

    Diagnostics, ``promptTokens/status`` and ``$/progress`` are sent by the server, never
    requested, so only the handlers of client messages are registered here."""
    server = PromptTokensServer()
    on = server.feature
    on(types.INITIALIZE)(lifecycle.initialize)
    on(types.INITIALIZED)(lifecycle.initialized)
    on(types.WORKSPACE_DID_CHANGE_CONFIGURATION)(lifecycle.did_change_configuration)
    on(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)(lifecycle.did_change_workspace_folders)
    on(types.SHUTDOWN)(lifecycle.on_shutdown)
    on(types.EXIT)(lifecycle.on_exit)
    on(types.TEXT_DOCUMENT_DID_OPEN)(sync.did_open)
    on(types.TEXT_DOCUMENT_DID_CHANGE)(sync.did_change)
    on(types.TEXT_DOCUMENT_DID_SAVE, types.SaveOptions(include_text=False))(sync.did_save)
    on(types.TEXT_DOCUMENT_DID_CLOSE)(sync.did_close)
    on(types.TEXT_DOCUMENT_INLAY_HINT, types.InlayHintOptions(resolve_provider=False))(
        hints.inlay_hints
    )
    on(types.TEXT_DOCUMENT_HOVER)(hover.on_hover)
    on(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)(dependencies.did_change_watched_files)
    server.command(DOCUMENT_STATS)(commands.document_stats_command)
    server.command(JOBS)(commands.jobs_command)
    server.command(CLEAR_CACHE)(commands.clear_cache_command)
    return server


def configure_logging(level: int = logging.INFO) -> None:
    """stdout carries the protocol: every log line goes to stderr."""
    root = logging.getLogger()
    if not any(
        isinstance(h, logging.StreamHandler) and getattr(h, "stream", None) is sys.stderr
        for h in root.handlers
    ):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("prompt-tokens %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    raw = environment.log_level()
    if raw.isdigit():
        level = int(raw)
    elif raw and isinstance(logging.getLevelName(raw), int):
        level = logging.getLevelName(raw)
    logging.getLogger("prompt_tokens").setLevel(level)
    logging.getLogger("pygls").setLevel(logging.WARNING)
    logging.getLogger("pygls.protocol.json_rpc").addFilter(_no_traceback_for_client_errors)


def _no_traceback_for_client_errors(record: logging.LogRecord) -> bool:
    """pygls logs a traceback for every error a handler answers with; for the client's own
    mistakes (bad params, unknown document) the one-line message is the whole story."""
    exc = record.exc_info[1] if record.exc_info else None
    if isinstance(exc, JsonRpcException) and not isinstance(exc, JsonRpcInternalError):
        record.exc_info = None
        record.exc_text = None
    return True


def run_stdio(
    decoder: FrameDecoder,
    pending: Sequence[Event] = (),
    *,
    ended: bool = False,
    skip_id: Any = None,
) -> int:
    """Serve on stdio until ``exit`` or the end of input; returns the exit status.

    ``decoder`` holds what was already read of stdin, ``pending`` the events it yielded (the
    first message, answered early when ``skip_id`` names it: pygls's own answer is dropped)."""

    async def serve(server: PromptTokensServer) -> None:
        writer = FdWriter(STDOUT, lambda exc: _lost(server, exc))
        out: Writer = writer if skip_id is None else SkipResponseWriter(writer, skip_id)
        server.protocol.set_writer(out)
        source = Ended() if ended else await open_stdin(STDIN)
        await pump(source, decoder, server.protocol, list(pending))

    return _run(serve)


def run_tcp(sock: socket.socket, decoder: FrameDecoder) -> int:
    """Serve one client on the listening ``sock`` until it exits or disconnects."""

    async def serve(server: PromptTokensServer) -> None:
        finished = asyncio.Event()
        busy = False

        async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal busy
            if busy:
                log.warning("refused a second client: a server serves one session")
                await close_quietly(writer)
                return
            busy = True
            server.protocol.set_writer(writer)
            try:
                await pump(StreamSource(reader), decoder, server.protocol, [])
            finally:
                await close_quietly(writer)
                finished.set()

        listener = await asyncio.start_server(on_client, sock=sock)
        host, port = sock.getsockname()[:2]
        log.info("listening on %s:%d", host, port)
        async with listener:
            await finished.wait()

    return _run(serve)


def _lost(server: PromptTokensServer, exc: OSError) -> None:
    log.warning("connection to the client lost (%s); shutting down", exc.strerror or exc)
    server.protocol.connection_lost = True


def _run(serve: Callable[[PromptTokensServer], Awaitable[None]]) -> int:
    configure_logging()
    server = create_server()
    profile = environment.profile_path()
    profiler = cProfile.Profile() if profile else None
    if profiler is not None:
        profiler.enable()

    async def session() -> None:
        try:
            await serve(server)
        finally:
            await lifecycle.shutdown(server)  # also when the client went away without shutdown

    try:
        asyncio.run(session())
    finally:
        server.shutdown()
        if profiler is not None and profile:
            profiler.disable()
            profiler.dump_stats(profile)
    return server.protocol.exit_status()
