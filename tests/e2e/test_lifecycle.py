"""Lifecycle and robustness: the early ``initialize`` answer is what pygls computes, shutdown is
clean, and bad input (unknown documents, bad positions, broken cache, hanging URL) degrades to
a diagnostic or a log line while the server keeps serving."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator

import pytest
from lsprotocol import types
from lsprotocol.converters import get_converter
from pygls.exceptions import JsonRpcException
from pytest_lsp import client_capabilities
from pytest_lsp.client import make_test_lsp_client

from tests.e2e.conftest import SERVER_COMMAND, Session, count, server_env


async def _initialize(early: bool, profile: str) -> tuple[dict, int | None]:
    client = make_test_lsp_client()
    env = dict(server_env(), PROMPT_TOKENS_EARLY_INIT="1" if early else "0")
    await client.start_io(*SERVER_COMMAND, env=env)
    result = await client.initialize_session(
        types.InitializeParams(capabilities=client_capabilities(profile))
    )
    await client.shutdown_session()
    server = client._server
    code = await asyncio.wait_for(server.wait(), 10) if server is not None else None
    await client.stop()
    return get_converter().unstructure(result), code


@pytest.mark.parametrize("profile", ["visual-studio-code", "neovim", "emacs"])
async def test_early_initialize_answer_equals_pygls(profile: str) -> None:
    early, code1 = await _initialize(True, profile)
    late, code2 = await _initialize(False, profile)
    assert early == late
    expected = "utf-16" if profile == "visual-studio-code" else "utf-32"
    assert early["capabilities"]["positionEncoding"] == expected
    assert code1 == 0 and code2 == 0  # shutdown + exit: a clean exit


async def test_bad_input_never_kills_the_server(session: Session) -> None:
    client = session.client
    # notifications about documents that are not open
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(
                uri=session.uri("ghost.md"), version=3
            ),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text="x")],
        )
    )
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(
            text_document=types.TextDocumentIdentifier(uri=session.uri("ghost.md"))
        )
    )
    assert await session.hints(session.uri("ghost.md")) == []
    with pytest.raises(JsonRpcException):
        await session.command("promptTokens.documentStats", session.uri("ghost.md"))
    # a non-file URI with NUL characters and a lone surrogate
    text = "untitled \x00 text \ud800 end\n"
    uri = "untitled:Untitled-1"
    session.versions[uri] = 1
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="markdown", version=1, text=text
            )
        )
    )
    assert (await session.ready(uri))["tokens"]["text"] == count(text)
    # positions far outside the document, and an inverted range
    doc = session.open("p.md", "abc\ndef\n")
    await session.ready(doc)
    session.change(doc, "X", (50, 7, 60, 0))
    v = session.change(doc, "Y", (1, 2, 0, 1))  # end before start: treated as (0,1)-(1,2)
    status = await session.ready(doc, v)
    assert status["tokens"]["text"] == count("aYf\nX")
    assert await session.hints(doc, 500, 900) == []


async def test_broken_cache_file_degrades(session: Session) -> None:
    corrupt = session.write("cache.sqlite3", "this is not a database" * 100)
    session.client.set_configuration(
        {"cache": {"path": str(corrupt)}, "debounceMs": 30}, section="promptTokens"
    )
    session.client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings=None)
    )
    session.write("r.txt", "referenced\n")
    uri = session.open("p.md", "Use @r.txt\n")
    status = await session.ready(uri)
    assert status["state"] == "ready"
    assert status["tokens"]["total"] == count("Use @r.txt\n") + count("referenced\n")
    jobs = await session.command("promptTokens.jobs")
    # the broken file was moved aside, unchanged, and a working cache took its place
    stats = jobs["cache"]
    assert (stats["path"], stats["persistent"], stats["disabled_reason"]) == (
        str(corrupt),
        True,
        None,
    )
    (aside,) = corrupt.parent.glob("cache.sqlite3.corrupt-*")
    assert aside.read_text() == "this is not a database" * 100


@pytest.fixture
async def hanging_server() -> AsyncIterator[str]:
    """An HTTP endpoint that accepts connections and never answers."""
    conns: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conns.append(writer)
        await reader.read(65536)
        await asyncio.Event().wait()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/v1/items"
    for w in conns:
        w.close()
    server.close()


@pytest.mark.settings({"http": {"timeoutS": 4.5, "retries": 0}})
async def test_hanging_url_shows_pending_then_fetch_failed(
    session: Session, hanging_server: str
) -> None:
    """A client without inlay hint refresh (the VS Code profile) gets its hints after a wait
    bounded well below the URL's timeout: still pending, like the client told to refresh."""
    text = f"Items: @{hanging_server} end\n"
    uri = session.open("p.md", text)
    interim = await session.wait_for(
        lambda: next((s for s in session.statuses_for(uri) if s["pendingReferences"]), None)
    )
    assert interim["state"] == "counting"
    assert interim["tokens"]["text"] == count(text)
    hints = await session.hints(uri)
    assert [h[2] for h in hints] == ["counting…", "…"]
    status = await session.ready(uri)
    assert status["pendingReferences"] == 0
    assert [d.code for d in session.diagnostics(uri)] == ["reference-fetch-failed"]
    assert [h[2] for h in await session.hints(uri)][1] == "⚠ fetch failed"


def test_server_module_imports_no_pygls_before_answering() -> None:
    """The early path answers before pygls/lsprotocol are imported (they cost ~0.35 s)."""
    import subprocess

    code = (
        "import sys, prompt_tokens.lsp.bootstrap as b;"
        "print('pygls' in sys.modules, 'lsprotocol' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


async def test_too_large_document_is_an_error_not_a_crash(session: Session) -> None:
    uri = session.open("huge.md", "x\n" * 2_000_001)  # above the lowered limit (conftest)
    status = await session.ready(uri)
    assert status["state"] == "error"
    (hint,) = await session.hints(uri, 0, 0)
    assert hint[2].startswith("⚠ document too large")
    small = session.open("small.md", "fine\n")
    assert (await session.ready(small))["state"] == "ready"
