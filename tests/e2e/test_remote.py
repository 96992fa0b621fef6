"""Exact counts from the vendor over LSP: the real server, spawned with ``ANTHROPIC_API_KEY``
and ``ANTHROPIC_BASE_URL`` in its environment, asks a real stand-in of Anthropic's
``count_tokens`` on 127.0.0.1 after typing pauses and on save; between asks the estimate is
calibrated. Retries, a missing or refused key (one message, estimate kept), the untrusted
workspace refusal, the cache, and that the key appears in no message and no log line."""

from __future__ import annotations

import math
import socket
from collections.abc import AsyncIterator, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_httpserver import HTTPServer
from pytest_lsp import ClientServerConfig, LanguageClient

from tests.e2e.conftest import SERVER_COMMAND, Session, count, server_env, start_session
from tests.remote_standin import StandIn, vendor_count

KEY = "sk-ant-e2e-SECRET-0123456789"
PROFILE = "visual-studio-code"
REMOTE = {"remote": {"enabled": True, "debounceMs": 200}}
DOC = "---\nmodel: claude-sonnet-4-5\n---\nReview the change for risks and list the tests.\n"
SOURCE = "Anthropic count_tokens API (claude-sonnet-4-5)"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


PORT = _free_port()
"""The stand-in's port, chosen before the server's environment is built."""


def _env(**extra: str) -> dict[str, str]:
    env = server_env()
    for name in ("ANTHROPIC_API_KEY", "GOOGLE_API_KEY", "GEMINI_API_KEY"):
        env.pop(name, None)
    env["ANTHROPIC_BASE_URL"] = f"http://127.0.0.1:{PORT}"
    env["PROMPT_TOKENS_LOG_LEVEL"] = "DEBUG"  # every log line, to look for the key in
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def vendor_server() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=PORT)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def standin(vendor_server: HTTPServer) -> StandIn:
    vendor_server.clear()
    return StandIn(vendor_server, KEY)


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=SERVER_COMMAND, server_env=_env(ANTHROPIC_API_KEY=KEY))
)
async def keyed_client(
    lsp_client: LanguageClient, request: pytest.FixtureRequest, ws: Path
) -> AsyncIterator[None]:
    await start_session(lsp_client, request, ws, PROFILE)
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER_COMMAND, server_env=_env()))
async def keyless_client(
    lsp_client: LanguageClient, request: pytest.FixtureRequest, ws: Path
) -> AsyncIterator[None]:
    await start_session(lsp_client, request, ws, PROFILE)
    yield
    await lsp_client.shutdown_session()


@pytest.fixture
def keyed(keyed_client: LanguageClient) -> Session:
    """A session whose server has ANTHROPIC_API_KEY (and the stand-in's base URL)."""
    return keyed_client.session  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
def keyless(keyless_client: LanguageClient) -> Session:
    """A session whose server has the stand-in's base URL but no key."""
    return keyless_client.session  # type: ignore[attr-defined,no-any-return]


def calibrated(text: str, counted: str) -> int:
    """Local count of ``text`` × (vendor ÷ local of ``counted``), rounded half up."""
    ratio = Fraction(vendor_count(counted), count(counted, "o200k_base"))
    return math.floor(count(text, "o200k_base") * ratio + Fraction(1, 2))


async def exact_status(s: Session, uri: str, version: int) -> dict[str, Any]:
    def find() -> dict[str, Any] | None:
        for st in reversed(s.statuses_for(uri)):
            if st["version"] == version and st["state"] == "ready" and st["exact"]:
                return st
        return None

    return await s.wait_for(find)  # type: ignore[no-any-return]


def leaked(s: Session, capfd: pytest.CaptureFixture[str], *, logged: str) -> list[str]:
    """Every place the key must never be: messages, log messages, the server's stderr (at
    DEBUG level, which must hold ``logged``: proof the server's log was captured)."""
    err = capfd.readouterr().err
    assert logged in err
    texts = [m.message for m in s.client.messages] + [m.message for m in s.client.log_messages]
    return [t for t in [*texts, err] if KEY in t]


@pytest.mark.settings(REMOTE)
async def test_exact_after_a_pause_calibrated_while_typing(
    keyed: Session, standin: StandIn, capfd: pytest.CaptureFixture[str]
) -> None:
    s = keyed
    uri = s.open("p.md", DOC)
    first = await s.ready(uri)
    assert first["exact"] is False and first["method"].startswith("estimate: o200k_base")
    exact = await exact_status(s, uri, 1)
    assert exact["tokens"]["total"] == vendor_count(DOC) and exact["method"] == SOURCE
    (label,) = [h[2] for h in await s.hints(uri)]
    assert label.startswith(f"{vendor_count(DOC):,} tokens · ")  # exact: no ≈
    (req,) = standin.requests
    assert req["headers"]["X-Api-Key"] == KEY
    assert req["headers"]["Anthropic-Version"] == "2023-06-01"
    assert req["json"] == {
        "model": "claude-sonnet-4-5",
        "messages": [{"role": "user", "content": DOC}],
    }

    edited = DOC + "Also check the error handling paths.\n"
    v2 = s.change(uri, edited)
    typing = await s.ready(uri, v2)
    assert typing["exact"] is False and typing["method"].startswith("calibrated: o200k_base")
    assert typing["tokens"]["total"] == calibrated(edited, DOC)
    exact2 = await exact_status(s, uri, v2)
    assert exact2["tokens"]["total"] == vendor_count(edited) and len(standin.requests) == 2

    text = edited
    for word in ("one", "two", "three", "four", "five"):  # a burst of keystrokes: one ask
        text += f"{word} "
        last = s.change(uri, text)
    await exact_status(s, uri, last)
    assert len(standin.requests) == 3

    back = s.change(uri, DOC)  # content counted before: from the cache, no request
    again = await exact_status(s, uri, back)
    assert again["tokens"]["total"] == vendor_count(DOC) and len(standin.requests) == 3
    assert leaked(s, capfd, logged=f"POST http://127.0.0.1:{PORT}/v1/messages/count_tokens") == []


@pytest.mark.settings({"remote": {"enabled": True, "debounceMs": 600_000}})
async def test_save_asks_at_once(keyed: Session, standin: StandIn) -> None:
    s = keyed
    uri = s.open("p.md", DOC)
    assert (await s.ready(uri))["exact"] is False
    assert standin.requests == []  # the pause (10 minutes here) has not passed
    s.client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    exact = await exact_status(s, uri, 1)
    assert exact["tokens"]["total"] == vendor_count(DOC) and len(standin.requests) == 1


@pytest.mark.settings(REMOTE)
async def test_429_and_5xx_are_retried(keyed: Session, standin: StandIn) -> None:
    standin.fail(429, headers={"Retry-After": "0"})
    standin.fail(503, headers={"Retry-After": "0"})
    uri = keyed.open("p.md", DOC)
    exact = await exact_status(keyed, uri, 1)
    assert exact["tokens"]["total"] == vendor_count(DOC)
    assert len(standin.requests) == 3


@pytest.mark.settings(REMOTE)
async def test_missing_key_is_one_message_and_the_estimate_stays(
    keyless: Session, standin: StandIn, capfd: pytest.CaptureFixture[str]
) -> None:
    s = keyless
    uri = s.open("p.md", DOC)
    await s.ready(uri)
    await s.wait_for(lambda: [m for m in s.client.messages if "API key" in m.message])
    v2 = s.change(uri, DOC + "More.\n")
    status = await s.ready(uri, v2)
    assert status["exact"] is False and status["method"].startswith("estimate")
    v3 = s.change(uri, DOC + "More still.\n")
    await s.ready(uri, v3)
    await s.command("promptTokens.documentStats", uri)  # a round trip: later asks are done
    about_key = [m.message for m in s.client.messages if "API key" in m.message]
    assert len(about_key) == 1 and "ANTHROPIC_API_KEY" in about_key[0]
    assert standin.requests == []
    assert leaked(s, capfd, logged="need an API key") == []


@pytest.mark.settings({"remote": {**REMOTE["remote"], "anthropicApiKey": "sk-ant-wrong-7"}})
async def test_refused_key_is_one_message_and_not_sent_again(
    keyed: Session, standin: StandIn
) -> None:
    s = keyed
    uri = s.open("p.md", DOC)
    await s.wait_for(lambda: [m for m in s.client.messages if "refused the API key" in m.message])
    assert len(standin.requests) == 1
    assert standin.requests[0]["headers"]["X-Api-Key"] == "sk-ant-wrong-7"  # settings win
    v2 = s.change(uri, DOC + "More.\n")
    status = await s.ready(uri, v2)
    assert status["exact"] is False
    await s.command("promptTokens.documentStats", uri)
    refused = [m for m in s.client.messages if "API key" in m.message]
    assert len(refused) == 1 and "sk-ant-wrong-7" not in refused[0].message
    assert len(standin.requests) == 1


async def test_a_workspace_file_cannot_turn_it_on(keyed: Session, standin: StandIn) -> None:
    s = keyed
    s.write(
        ".prompt-tokens.toml",
        "[remote]\nenabled = true\ndebounceMs = 0\n"
        f'anthropicApiKey = "sk-from-the-repo"\nanthropicBaseUrl = "{standin.base_url}"\n',
    )
    uri = s.open("p.md", DOC)
    status = await s.ready(uri)
    await s.wait_for(lambda: [m for m in s.client.messages if "remote.enabled" in m.message])
    assert status["exact"] is False
    await s.command("promptTokens.documentStats", uri)
    assert standin.requests == []


@pytest.mark.settings({**REMOTE, "http": {"enabled": False}})
async def test_no_remote_count_while_url_fetching_is_off(keyed: Session, standin: StandIn) -> None:
    """What an untrusted VS Code workspace sends: http.enabled false."""
    uri = keyed.open("p.md", DOC)
    status = await keyed.ready(uri)
    assert status["exact"] is False
    await keyed.command("promptTokens.documentStats", uri)
    assert standin.requests == []
