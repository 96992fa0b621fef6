"""The server object every handler receives: one client session's state and small helpers.

It imports no feature module: the feature modules (``lifecycle``, ``sync``, ``counting``, …)
import it and ``server.create_server`` registers their handlers, so ``lsp/`` has no import
cycle. The data it holds is defined in ``state``; the engine behind it is ``runtime.Runtime``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Coroutine, Iterable
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.capabilities import get_capability
from pygls.exceptions import FeatureRequestError
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from prompt_tokens import __version__
from prompt_tokens.document import PositionEncoding
from prompt_tokens.jobs.debounce import Debouncer
from prompt_tokens.lsp.capabilities import NAME
from prompt_tokens.lsp.collector import IdleCollector
from prompt_tokens.lsp.progress import ProgressReporter
from prompt_tokens.lsp.protocol import PromptTokensProtocol
from prompt_tokens.lsp.state import OpenDocument, WorkspaceState
from prompt_tokens.runtime import Runtime
from prompt_tokens.tasks import supervise
from prompt_tokens.workspace import find_root

log = logging.getLogger(__name__)


class PromptTokensServer(LanguageServer):
    """The prompt-tokens language server. Owns all state; handlers are thin functions."""

    protocol: PromptTokensProtocol

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
        self.collector = IdleCollector()
        self.watching_files = False
        """The client reports file changes (``workspace/didChangeWatchedFiles`` registered)."""
        self.refresh_scheduled = False
        self.shutting_down = False
        self.closing: asyncio.Future[None] | None = None
        """Closing the engine and cache (``lifecycle.shutdown``), once started."""

    # -- background tasks ----------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run ``coro`` as a supervised task: kept, its failure logged, cancelled at shutdown."""
        task = asyncio.get_running_loop().create_task(coro, name=name)

        def tell_client(exc: BaseException) -> None:
            self.log_to_client(f"{name} failed: {exc}", types.MessageType.Error)

        supervise(task, self.tasks, what="background task", on_error=tell_client)
        return task

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
        if source is FeatureRequestError:
            # the client already got an error response for its request
            log.warning("request failed: %s", error)
            return
        log.error("error in a handler (%s): %s", getattr(source, "__name__", source), error)
        self.log_to_client(f"prompt-tokens: internal error: {error}", types.MessageType.Error)

    # -- documents and roots -------------------------------------------------------------------

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
            found = find_root(Path(path))
            return str(found) if found is not None else os.path.dirname(path)
        return self.roots[0] if self.roots else os.getcwd()

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
