"""The server class (owns every piece of mutable state), ``create_server()`` and ``start()``.

Handlers live in one module per concern and are registered by ``create_server()``:
``lifecycle`` (initialize, settings, shutdown), ``sync`` (open/change/save/close),
``counting`` (debounced recounts through the job queue), ``hints``, ``diagnostics``,
``status``, ``hover``, ``commands``, ``progress`` and ``dependencies`` (referenced files
changing on disk or in another buffer).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Coroutine, Iterable
from pathlib import Path
from typing import Any

import attrs
from lsprotocol import types
from pygls.capabilities import get_capability
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method
from pygls.uris import to_fs_path

from prompt_tokens import __version__
from prompt_tokens.document import DocumentState, PositionEncoding
from prompt_tokens.jobs.debounce import Debouncer
from prompt_tokens.lsp.bootstrap import choose_position_encoding
from prompt_tokens.lsp.progress import ProgressReporter
from prompt_tokens.results import DocumentResult, Occurrence
from prompt_tokens.runtime import Runtime
from prompt_tokens.settings import Settings

log = logging.getLogger(__name__)

SECTION = "promptTokens"
NAME = "prompt-tokens"


class PromptTokensProtocol(LanguageServerProtocol):
    """pygls's LSP protocol, minus its own copy of every open document.

    pygls keeps each open document as a ``TextDocument`` and rebuilds its full text on every
    incremental change (tens of milliseconds for a 10 MB prompt). The server keeps its own
    :class:`~prompt_tokens.document.DocumentState` instead, so these built-ins only forward to
    our handlers. The position encoding is our preference among those the client offers
    (utf-32, then utf-16, then utf-8), the same choice the early ``initialize`` answer makes.
    """

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams) -> Any:
        general = params.capabilities.general
        if general is not None and general.position_encodings:
            chosen = choose_position_encoding(
                [str(getattr(e, "value", e)) for e in general.position_encodings]
            )
            general.position_encodings = [types.PositionEncodingKind(chosen)]
        return (yield from super().lsp_initialize(params))

    # The three document notifications are plain methods, not pygls's generator built-ins:
    # besides skipping pygls's document copy, that avoids a Future pygls would keep in
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
    hint_key: object = None
    """What the last published hints depended on: a refresh is sent only when it changes."""
    pending_changes: list[tuple[str, tuple[int, int, int, int] | None]] | None = None
    """Changes that arrived while a big document's blocks were being built (in a thread)."""
    published_diagnostics: list[Any] = attrs.field(factory=list)
    diagnostics_version: int | None = None
    sections_version: int | None = None
    """``result_version`` whose sections ``result.sections`` holds (filled on first use)."""
    ref_memo: Any = None
    """The last resolved references (``counting.RefMemo``), reused while no reference changes."""
    settled: asyncio.Event = attrs.field(factory=asyncio.Event)
    """Set when the current version is counted (or failed); cleared by every new change."""


@attrs.define(eq=False)
class WorkspaceState:
    """What the server read for one settings root (a workspace folder or project root); its
    merged settings are held by the engine (``Runtime.settings(root)``)."""

    root: str
    toml_raw: dict[str, Any] = attrs.field(factory=dict)
    toml_problems: list[str] = attrs.field(factory=list)


class PromptTokensServer(LanguageServer):
    """The prompt-tokens language server. Owns all state; handlers are thin functions."""

    def __init__(self) -> None:
        super().__init__(
            name=NAME,
            version=__version__,
            protocol_cls=PromptTokensProtocol,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
        )
        self.docs: dict[str, OpenDocument] = {}
        self.client_raw: dict[str, Any] = {}
        """Editor settings (the ``promptTokens`` section), camelCase as received."""
        self.client_problems: list[str] = []
        self.roots: list[str] = []
        self.workspaces: dict[str, WorkspaceState] = {}
        self.settings_ready = asyncio.Event()
        """Set once editor settings were pulled: counting waits for it."""
        self.runtime = Runtime(workers=2)
        self.debouncer = Debouncer(cancel_running=True)
        self.tasks: set[asyncio.Task[Any]] = set()
        self.active_uri: str | None = None
        self.position_encoding: PositionEncoding = "utf-16"
        self.shown_problems: tuple[str, ...] = ()
        self.work_progress = ProgressReporter(self)
        self.watching_files = False
        """The client reports file changes (``workspace/didChangeWatchedFiles`` registered)."""
        self.refresh_scheduled = False
        self.shutting_down = False

    # -- background tasks ----------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run ``coro`` as a supervised task: kept, its failure logged, cancelled at shutdown."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("background task %s failed", task.get_name(), exc_info=exc)
            self.log_to_client(f"{task.get_name()} failed: {exc}", types.MessageType.Error)

    # -- client capabilities and messages ------------------------------------------------------

    def supports(self, capability: str) -> bool:
        try:
            return bool(get_capability(self.client_capabilities, capability, False))
        except Exception:
            return False

    def log_to_client(self, message: str, kind: types.MessageType = types.MessageType.Log) -> None:
        try:
            self.window_log_message(types.LogMessageParams(type=kind, message=message))
        except Exception:
            log.debug("could not send window/logMessage", exc_info=True)

    def report_server_error(self, error: Exception, source: Any) -> None:
        """Handler failures are logged (stderr and the client's log), never shown as pop-ups:
        one broken message must not spam the user or stop the server."""
        from pygls.exceptions import FeatureRequestError

        if source is FeatureRequestError:
            # the client already got an error response for its request
            log.warning("request failed: %s", error)
            return
        log.error("error in a handler (%s): %s", getattr(source, "__name__", source), error)
        self.log_to_client(f"prompt-tokens: internal error: {error}", types.MessageType.Error)

    # -- documents and workspaces --------------------------------------------------------------

    def uri_path(self, uri: str) -> str | None:
        try:
            path = to_fs_path(uri)
        except Exception:
            return None
        return os.path.abspath(path) if path else None

    def root_for(self, path: str | None) -> str:
        """The workspace folder holding ``path`` (deepest wins), else its project root."""
        if path is not None:
            best = ""
            for root in self.roots:
                if (path == root or path.startswith(root.rstrip(os.sep) + os.sep)) and len(
                    root
                ) > len(best):
                    best = root
            if best:
                return best
            from prompt_tokens.workspace import find_root

            found = find_root(Path(path))
            return str(found) if found is not None else os.path.dirname(path)
        return self.roots[0] if self.roots else os.getcwd()

    def workspace_for(self, root: str) -> WorkspaceState:
        ws = self.workspaces.get(root)
        if ws is None:
            from prompt_tokens.lsp import lifecycle

            ws = lifecycle.new_workspace(self, root)
        return ws

    def settings_for(self, root: str) -> Settings:
        """The merged settings of ``root`` (its workspace is set up on first use)."""
        self.workspace_for(root)
        return self.runtime.settings(root)

    def uri_for_path(self, path: str) -> str | None:
        path = os.path.abspath(path)
        for uri, doc in self.docs.items():
            if doc.path == path:
                return uri
        real = os.path.realpath(path)
        for uri, doc in self.docs.items():
            if doc.path is not None and os.path.realpath(doc.path) == real:
                return uri
        return None

    def overlay(self, exclude: str | None = None) -> dict[str, str]:
        """Unsaved text of the other open buffers: it wins over the disk for references."""
        return {
            doc.path: doc.state.text()
            for uri, doc in self.docs.items()
            if doc.path is not None and uri != exclude
        }

    def dependents(self, paths: Iterable[str]) -> set[str]:
        """Open documents (URIs) whose last count depended on a file at one of ``paths``."""
        out = set()
        for p in self.runtime.dependents(paths):
            uri = self.uri_for_path(p)
            if uri is not None:
                out.add(uri)
        return out


def create_server() -> PromptTokensServer:
    """A server with every feature registered (no I/O until started)."""
    from prompt_tokens.lsp import (
        commands,
        counting,
        dependencies,
        diagnostics,
        hints,
        hover,
        lifecycle,
        progress,
        status,
        sync,
    )

    server = PromptTokensServer()
    for module in (
        lifecycle,
        sync,
        counting,
        hints,
        diagnostics,
        status,
        hover,
        commands,
        progress,
        dependencies,
    ):
        module.register(server)
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
    raw = os.environ.get("PROMPT_TOKENS_LOG_LEVEL", "").strip().upper()
    if raw.isdigit():
        level = int(raw)
    elif raw and isinstance(logging.getLevelName(raw), int):
        level = logging.getLevelName(raw)
    logging.getLogger("prompt_tokens").setLevel(level)
    logging.getLogger("pygls").setLevel(logging.WARNING)


def start(tcp: bool = False, host: str = "127.0.0.1", port: int = 2087) -> None:
    """Run the server until the client disconnects: stdio by default, TCP for debugging."""
    from prompt_tokens.lsp.bootstrap import start as bootstrap_start

    bootstrap_start(tcp, host, port)


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
    profile = os.environ.get("PROMPT_TOKENS_PROFILE")  # developer aid: cProfile stats file
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    try:
        if tcp:
            log.info("listening on %s:%d", host, port)
            server.start_tcp(host, port)
        else:
            serve_stdio(server, replay, stdout or sys.stdout.buffer)
    finally:
        if profile:
            profiler.disable()
            profiler.dump_stats(profile)


class _PrefixedReader:
    """pygls's async reader interface over an asyncio StreamReader, some bytes put first."""

    def __init__(self, prefix: bytes, reader: asyncio.StreamReader) -> None:
        self._prefix = prefix
        self._reader = reader

    async def readline(self) -> bytes:
        if self._prefix:
            i = self._prefix.find(b"\n")
            if i >= 0:
                line, self._prefix = self._prefix[: i + 1], self._prefix[i + 1 :]
                return line
            head, self._prefix = self._prefix, b""
            return head + await self._reader.readline()
        return await self._reader.readline()

    async def readexactly(self, n: int) -> bytes:
        if self._prefix:
            head, self._prefix = self._prefix[:n], self._prefix[n:]
            if len(head) == n:
                return head
            try:
                return head + await self._reader.readexactly(n - len(head))
            except asyncio.IncompleteReadError as exc:
                return head + exc.partial
        try:
            return await self._reader.readexactly(n)
        except asyncio.IncompleteReadError as exc:
            return exc.partial


def serve_stdio(server: PromptTokensServer, replay: bytes, stdout: Any) -> None:
    """Like pygls's ``start_io``, but stdin is read by the event loop itself (an asyncio pipe
    reader) instead of three thread-pool hops per message; falls back to pygls's reader when
    stdin is not a pipe."""
    import threading

    from pygls.io_ import StdoutWriter, run_async

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
            reader: Any = _PrefixedReader(replay, stream)
        except (OSError, ValueError) as exc:
            from pygls.io_ import StdinAsyncReader

            from prompt_tokens.lsp.bootstrap import ReplayReader

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
