"""End-to-end fixtures: the real server as a subprocess, driven by pytest-lsp's client with the
capabilities of real editors (VS Code and Neovim profiles).

Every test gets a fresh workspace folder and a memory-only cache unless it sets ``cache``.
Settings come from ``@pytest.mark.settings({...})`` (answered to ``workspace/configuration``).
Nothing here sleeps to synchronise: helpers wait, with timeouts, for the notification that
ends what they wait for (``promptTokens/status`` with ``state: ready`` for a version).
"""

from __future__ import annotations

import asyncio
import math
import os
import sys
import tempfile
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from prompt_tokens.tokenizer.encodings import get_encoding

SERVER_COMMAND = [sys.executable, "-m", "prompt_tokens", "lsp"]
CLIENTS = ["visual-studio-code", "neovim"]
TIMEOUT = 20.0
STATUS = "promptTokens/status"


def count(text: str, encoding: str = "cl100k_base") -> int:
    """The reference: plain tiktoken on the whole text."""
    return len(get_encoding(encoding).encode_ordinary(text))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "settings(obj): promptTokens settings for the e2e client")
    config.addinivalue_line("markers", "init_options(obj): initializationOptions for the client")


def plain(obj: Any) -> Any:
    """pygls delivers unknown notifications as namedtuples: turn them back into JSON values."""
    if hasattr(obj, "_asdict"):
        return {k: plain(v) for k, v in obj._asdict().items()}
    if isinstance(obj, list | tuple):
        return [plain(v) for v in obj]
    return obj


class Session:
    """The test's view of one client-server session."""

    def __init__(self, client: LanguageClient, ws: Path, profile: str) -> None:
        self.client = client
        self.ws = ws
        self.profile = profile
        self.statuses: list[dict[str, Any]] = []
        self.diagnostics_at_status: list[list[types.Diagnostic]] = []
        """The client's diagnostics of the status's document when each status came (parallel
        to ``statuses``): what had arrived before it, whenever the test looks."""
        self.refreshes = 0
        self.registrations: list[types.Registration] = []
        self._changed = asyncio.Event()
        self.versions: dict[str, int] = {}
        caps = client_capabilities(profile)
        offered = caps.general.position_encodings if caps.general else None
        self.position_encoding = (
            "utf-32" if offered and types.PositionEncodingKind.Utf32 in offered else "utf-16"
        )

    # -- notifications ----------------------------------------------------------------------

    def _notify(self) -> None:
        self._changed.set()

    async def wait_for(self, pred: Callable[[], Any], within: float = TIMEOUT) -> Any:
        """Wait until ``pred()`` is truthy, re-checking after each message of interest."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            value = pred()
            if value:
                return value
            self._changed.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(
                    f"condition not met within {within} s; statuses: {self.statuses[-5:]}"
                )
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                pass

    async def ready(
        self, uri: str, version: int | None = None, within: float = TIMEOUT, *, since: int = 0
    ) -> dict[str, Any]:
        """The ``ready`` status of ``uri`` at ``version`` (default: the last version sent),
        among the statuses received after the first ``since``."""
        want = self.versions.get(uri) if version is None else version

        def find() -> dict[str, Any] | None:
            for s in reversed(self.statuses[since:]):
                if s["uri"] == uri and s["version"] == want and s["state"] in ("ready", "error"):
                    return s
            return None

        return await self.wait_for(find, within)  # type: ignore[no-any-return]

    def statuses_for(self, uri: str) -> list[dict[str, Any]]:
        return [s for s in self.statuses if s["uri"] == uri]

    # -- documents --------------------------------------------------------------------------

    def write(self, rel: str, text: str) -> Path:
        path = self.ws / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
        return path

    def uri(self, rel: str) -> str:
        return (self.ws / rel).as_uri()

    def open(self, rel: str, text: str, *, write: bool = True, language: str = "markdown") -> str:
        if write:
            self.write(rel, text)
        uri = self.uri(rel)
        self.versions[uri] = 1
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id=language, version=1, text=text
                )
            )
        )
        return uri

    def change(
        self,
        uri: str,
        text: str,
        range_: tuple[int, int, int, int] | None = None,
    ) -> int:
        version = self.versions[uri] + 1
        self.versions[uri] = version
        if range_ is None:
            change: Any = types.TextDocumentContentChangeWholeDocument(text=text)
        else:
            change = types.TextDocumentContentChangePartial(
                range=types.Range(
                    start=types.Position(line=range_[0], character=range_[1]),
                    end=types.Position(line=range_[2], character=range_[3]),
                ),
                text=text,
            )
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[change],
            )
        )
        return version

    def close(self, uri: str) -> None:
        self.client.text_document_did_close(
            types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )

    async def hints(
        self, uri: str, first: int = 0, last: int = 10_000
    ) -> list[tuple[int, int, str]]:
        result = await self.client.text_document_inlay_hint_async(
            types.InlayHintParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=types.Range(
                    start=types.Position(line=first, character=0),
                    end=types.Position(line=last, character=0),
                ),
            )
        )
        out = []
        for h in result or []:
            label = h.label if isinstance(h.label, str) else "".join(p.value for p in h.label)
            out.append((h.position.line, h.position.character, label))
        return out

    async def command(self, name: str, *args: Any) -> Any:
        return await self.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=name, arguments=list(args) or None)
        )

    def diagnostics(self, uri: str) -> list[types.Diagnostic]:
        return list(self.client.diagnostics.get(uri, ()))

    def cols(self, s: str) -> int:
        """Length of ``s`` in the session's column units."""
        if self.position_encoding == "utf-32":
            return len(s)
        return len(s.encode("utf-16-le")) // 2


def _waking(handler: Callable[[Any], Any], s: Session) -> Callable[[Any], Any]:
    def wrapped(params: Any) -> Any:
        try:
            return handler(params)
        finally:
            s._notify()

    return wrapped


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / ".git").mkdir()
    return root


def server_env() -> dict[str, str]:
    """The server's environment. Built when this module is imported, before the session
    fixture isolating the cache folder runs: give the server its own throw-away one."""
    env = dict(os.environ)
    env["PROMPT_TOKENS_CACHE_DIR"] = tempfile.mkdtemp(prefix="pt-e2e-cache-")
    env.setdefault("PROMPT_TOKENS_LOG_LEVEL", "WARNING")
    env["PROMPT_TOKENS_MAX_DOCUMENT_CHARS"] = "4000000"  # test_lifecycle's "too large" case
    return env


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=SERVER_COMMAND, server_env=server_env()),
    params=CLIENTS,
)
async def client(lsp_client: LanguageClient, request: pytest.FixtureRequest, ws: Path):  # type: ignore[no-untyped-def]
    await start_session(lsp_client, request, ws, str(request.param))
    yield
    await lsp_client.shutdown_session()


async def start_session(
    lsp_client: LanguageClient, request: pytest.FixtureRequest, ws: Path, profile: str
) -> Session:
    """Initialize ``lsp_client`` as an editor of ``profile`` with the test's markers (for a
    module's own ``pytest_lsp.fixture``, e.g. with another server environment)."""
    s = Session(lsp_client, ws, profile)
    lsp_client.session = s  # type: ignore[attr-defined]
    marker = request.node.get_closest_marker("settings")
    settings: dict[str, Any] = {"cache": {"path": None}, "debounceMs": 30}
    if marker is not None:
        settings.update(marker.args[0])
    lsp_client.set_configuration(settings, section="promptTokens")
    init = request.node.get_closest_marker("init_options")

    @lsp_client.feature(STATUS)
    def on_status(params: Any) -> None:
        status = plain(params)
        s.diagnostics_at_status.append(s.diagnostics(status["uri"]))
        s.statuses.append(status)
        s._notify()

    @lsp_client.feature(types.WORKSPACE_INLAY_HINT_REFRESH)
    def on_refresh(params: None) -> None:
        s.refreshes += 1
        s._notify()

    @lsp_client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def on_register(params: types.RegistrationParams) -> None:
        s.registrations.extend(params.registrations)
        s._notify()

    # wake waiters on pytest-lsp's own recorders too (diagnostics, progress, messages)
    features = lsp_client.protocol.fm.features
    for method in (
        types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS,
        types.PROGRESS,
        types.WINDOW_SHOW_MESSAGE,
        types.WINDOW_LOG_MESSAGE,
    ):
        features[method] = _waking(features[method], s)

    caps = client_capabilities(profile)
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=caps,
            root_uri=ws.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=ws.as_uri(), name="ws")],
            initialization_options=init.args[0] if init is not None else None,
            client_info=types.ClientInfo(name=f"pytest-lsp ({profile})"),
        )
    )
    return s


@pytest.fixture
def session(client: LanguageClient) -> Session:
    """The running session (server started and initialized by the ``client`` fixture)."""
    return client.session  # type: ignore[attr-defined,no-any-return]


def percent(total: int, budget: int) -> int:
    """The share of the budget used, in whole percent rounded half up (1 of 8 is 13), computed
    here with exact fractions, independently of the server's integer formula."""
    return math.floor(Fraction(100 * total, budget) + Fraction(1, 2))


def total_label(total: int, budget: int) -> str:
    """The SPEC's total hint, e.g. ``1,234 tokens · 15% of 8,192``."""
    return f"{total:,} tokens · {percent(total, budget)}% of {budget:,}"


def budget_message(total: int, budget: int) -> str:
    return f"Prompt uses {total:,} of {budget:,} tokens ({percent(total, budget)}%)"
