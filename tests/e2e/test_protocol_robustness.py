"""A broken or hostile client over real stdio: every request is answered (a result or a JSON-RPC
error), bad framing is skipped up to the next header, and the server never dies or hangs.

Each test writes raw bytes to ``prompt-tokens lsp``'s stdin and reads its framed answers
(``rawrpc``); after each bad input a well-formed request must still be answered.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.rawrpc import RawServer, frame, notification, request

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS = -32700, -32600, -32601, -32602
NOT_INITIALIZED = -32002
STATUS = "promptTokens/status"


@pytest.fixture
async def server(ws: Path) -> AsyncIterator[RawServer]:
    s = await RawServer.start()
    await s.initialize(rootUri=ws.as_uri(), workspaceFolders=[{"uri": ws.as_uri(), "name": "ws"}])
    yield s
    await s.kill()


async def alive(s: RawServer, id_: Any = "alive") -> None:
    """The server still answers a well-formed request."""
    answer = await s.call(id_, "workspace/executeCommand", {"command": "promptTokens.jobs"})
    assert "queue" in answer["result"], answer


def error_code(answer: dict[str, Any]) -> int:
    assert "error" in answer, answer
    return int(answer["error"]["code"])


async def open_doc(s: RawServer, ws: Path, name: str, text: str) -> str:
    path = ws / name
    path.write_text(text, encoding="utf-8")
    uri = path.as_uri()
    doc = {"uri": uri, "languageId": "markdown", "version": 1, "text": text}
    await s.send(notification("textDocument/didOpen", {"textDocument": doc}))
    return uri


async def ready(s: RawServer, uri: str) -> dict[str, Any]:
    msg = await s.next_message(
        lambda m: (
            m.get("method") == STATUS
            and m["params"]["uri"] == uri
            and m["params"]["state"] == "ready"
        )
    )
    return dict(msg["params"])


def hint_params(uri: str, first: int = 0, last: int = 100) -> dict[str, Any]:
    return {
        "textDocument": {"uri": uri},
        "range": {"start": {"line": first, "character": 0}, "end": {"line": last, "character": 0}},
    }


# -- 3: bad framing is skipped up to the next header -------------------------------------------


def body_of(msg: dict[str, Any]) -> bytes:
    return json.dumps(msg).encode("utf-8")


async def test_a_content_length_too_short(server: RawServer) -> None:
    body = body_of(request(1, "shutdown"))
    await server.write(b"Content-Length: %d\r\n\r\n" % (len(body) - 10) + body)
    await alive(server)


@pytest.mark.parametrize("extra", [1, 10, 5000])
async def test_a_content_length_too_long_with_a_message_after_it(
    server: RawServer, extra: int
) -> None:
    body = body_of(request(1, "workspace/executeCommand", {"command": "promptTokens.jobs"}))
    await server.write(b"Content-Length: %d\r\n\r\n" % (len(body) + extra) + body)
    await server.send(request(2, "workspace/executeCommand", {"command": "promptTokens.jobs"}))
    answers = await server.responses([1, 2])
    assert all("queue" in a["result"] for a in answers.values())


async def test_a_content_length_too_long_on_the_last_message(server: RawServer) -> None:
    """Nothing follows: the message is taken once the input has been quiet for a moment."""
    body = body_of(request(1, "workspace/executeCommand", {"command": "promptTokens.jobs"}))
    await server.write(b"Content-Length: %d\r\n\r\n" % (len(body) + 100) + body)
    assert "queue" in (await server.response(1))["result"]
    await alive(server)


@pytest.mark.parametrize(
    "garbage",
    [
        b"X" * (2 << 20) + b"\r\n\r\n",  # a 2 MiB header line
        b"Content-Length: -5\r\n\r\n{}",
        b"Content-Length: five\r\n\r\n{}",
        b"Content-Type: application/json\r\n\r\n{}",  # no Content-Length
        b"Content-Length: 2\r\n" * 40 + b"\r\n{}",  # too many header lines
        b'{"jsonrpc": "2.0", "id": 9, "method": "shutdown"}',  # no header at all
        b"\r\n\r\n\x00\xff\xfe garbage \r\n",
    ],
)
async def test_bad_framing_is_skipped(server: RawServer, garbage: bytes) -> None:
    await server.write(garbage)
    await alive(server)
    await alive(server, "again")


async def test_a_body_over_the_limit_is_refused_unread(server: RawServer) -> None:
    await server.write(b"Content-Length: 1000000000000\r\n\r\n" + b'{"jsonrpc": "2.0", "x": "')
    await alive(server)


async def test_messages_split_into_single_bytes(server: RawServer) -> None:
    data = frame(request(1, "workspace/executeCommand", {"command": "promptTokens.jobs"}))
    data += b"Content-Length: 3\r\n\r\n{x}" + frame(request(2, "shutdown"))
    for i in range(len(data)):
        await server.write(data[i : i + 1])
    answers = await server.responses([1, 2])
    assert "queue" in answers[1]["result"] and answers[2]["result"] is None


@pytest.mark.parametrize("early", ["1", "0"])
async def test_bad_framing_before_initialize(early: str) -> None:
    """The first message is read by the early ``initialize`` path: the same decoder."""
    s = await RawServer.start(env={"PROMPT_TOKENS_EARLY_INIT": early})
    try:
        init = body_of(request(1, "initialize", {"processId": None, "capabilities": {}}))
        await s.write(b"Y" * (2 << 20) + b"\r\n")
        await s.write(b"Content-Length: %d\r\n\r\n" % (len(init) + 7) + init)
        answer = await s.response(1)
        assert answer["result"]["serverInfo"]["name"] == "prompt-tokens"
        await s.send(notification("initialized", {}))
        await alive(s)
        await s.send(request(2, "shutdown"))
        await s.response(2)
        await s.send(notification("exit"))
        assert await s.wait() == 0
        assert b"Traceback" not in s.stderr
    finally:
        await s.kill()
