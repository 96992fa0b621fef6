"""``create_server()`` — the server with every feature registered — and how it is served.

Handlers live in one module per concern, each importing the state (``state``, ``base``) and the
services it needs, never this module: ``lifecycle`` (initialize, shutdown, configuration and
folder changes), ``sync`` (open/change/save/close), ``counting`` (debounced recounts through
the engine), ``hints``, ``diagnostics``, ``status``, ``hover``, ``commands``, ``progress`` and
``dependencies`` (referenced files changing on disk or in another buffer).
"""

from __future__ import annotations

import asyncio
import cProfile
import logging
import os
import sys
import threading
from typing import Any

from lsprotocol import types
from pygls.io_ import StdinAsyncReader, StdoutWriter, run_async

from prompt_tokens import environment
from prompt_tokens.lsp import commands, dependencies, hints, hover, lifecycle, sync
from prompt_tokens.lsp.base import PromptTokensServer
from prompt_tokens.lsp.capabilities import CLEAR_CACHE, DOCUMENT_STATS, JOBS
from prompt_tokens.lsp.stdio import PrefixedReader, ReplayReader

log = logging.getLogger(__name__)


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


def run(
    tcp: bool = False,
    host: str = "127.0.0.1",
    port: int = 2087,
    *,
    replay: bytes = b"",
    stdout: Any = None,
) -> None:
    """Build the server and serve; ``replay``: bytes already read from stdin (they come first)."""
    configure_logging()
    server = create_server()
    profile = environment.profile_path()
    profiler = cProfile.Profile() if profile else None
    if profiler is not None:
        profiler.enable()
    try:
        if tcp:
            log.info("listening on %s:%d", host, port)
            server.start_tcp(host, port)
        else:
            serve_stdio(server, replay, stdout or sys.stdout.buffer)
    finally:
        if profiler is not None and profile:
            profiler.disable()
            profiler.dump_stats(profile)


def serve_stdio(server: PromptTokensServer, replay: bytes, stdout: Any) -> None:
    """Like pygls's ``start_io``, but stdin is read by the event loop itself (an asyncio pipe
    reader) instead of three thread-pool hops per message; falls back to pygls's reader when
    stdin is not a pipe."""
    stop = threading.Event()
    server._stop_event = stop
    server.protocol.set_writer(StdoutWriter(stdout))

    async def main() -> None:
        loop = asyncio.get_running_loop()
        try:
            if sys.platform == "win32":
                raise OSError("no pipe reader on Windows")
            stream = asyncio.StreamReader(limit=1 << 20)
            await loop.connect_read_pipe(
                lambda: asyncio.StreamReaderProtocol(stream),
                os.fdopen(sys.stdin.fileno(), "rb", 0, closefd=False),
            )
            reader: Any = PrefixedReader(replay, stream)
        except (OSError, ValueError) as exc:
            log.debug("stdin is not a pipe (%s): reading it on a thread", exc)
            reader = StdinAsyncReader(ReplayReader(replay, sys.stdin.buffer), server.thread_pool)  # type: ignore[arg-type]
        await run_async(
            stop_event=stop,
            reader=reader,
            protocol=server.protocol,
            logger=logging.getLogger("pygls.server"),
            error_handler=server.report_server_error,
        )

    try:
        asyncio.run(main())
    except BrokenPipeError:
        log.error("connection to the client lost; shutting down")
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.shutdown()
