"""A broken or hostile client over real stdio: every request is answered (a result or a JSON-RPC
error), bad framing is skipped up to the next header, and the server never dies or hangs.

Each test writes raw bytes to ``prompt-tokens lsp``'s stdin and reads its framed answers
(``rawrpc``); after each bad input a well-formed request must still be answered.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import SERVER_COMMAND, count
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


# -- 2: params of the wrong type get InvalidParams, never silence -------------------------------

BAD_HINTS = [
    {"textDocument": {"uri": "file:///x.md"}, "range": "all of it"},
    {"range": {"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 0}}},
    None,
    {"textDocument": {"uri": "file:///x.md"}, "range": {"start": [0, 0], "end": [1, 0]}},
    {"textDocument": {"uri": "file:///x.md"}, "range": {"start": {"line": -1, "character": 0}}},
]
BAD_HOVERS = [
    {"textDocument": {"uri": "file:///x.md"}, "position": [0, 0]},
    {"textDocument": {"uri": "file:///x.md"}, "position": {"line": "x", "character": 0}},
    {"textDocument": {"uri": "file:///x.md"}, "position": {"line": -1, "character": 0}},
    {"textDocument": {"uri": "file:///x.md"}, "position": {"line": 10**12, "character": 0}},
    {"textDocument": 5, "position": {"line": 0, "character": 0}},
]


@pytest.mark.parametrize(
    ("method", "params"),
    [("textDocument/inlayHint", p) for p in BAD_HINTS]
    + [("textDocument/hover", p) for p in BAD_HOVERS],
)
async def test_params_of_the_wrong_type_get_invalid_params(
    server: RawServer, method: str, params: Any
) -> None:
    await server.send({"jsonrpc": "2.0", "id": 7, "method": method, "params": params})
    answer = await server.response(7)
    assert error_code(answer) == INVALID_PARAMS
    assert answer["error"]["message"].startswith(f"invalid params for {method}: ")
    await alive(server)


async def test_invalid_params_name_the_field_in_the_clients_words(server: RawServer) -> None:
    answer = await server.call(1, "textDocument/inlayHint", BAD_HINTS[1])
    assert answer["error"]["message"] == (
        "invalid params for textDocument/inlayHint: params.textDocument: required field missing"
    )


@pytest.mark.parametrize(
    "arguments",
    [[123], [{"uri": 5}], [{"textDocument": "x"}], ["file:///a.md", "file:///b.md"], [None], "x"],
)
async def test_document_stats_with_bad_arguments(server: RawServer, arguments: Any) -> None:
    params = {"command": "promptTokens.documentStats", "arguments": arguments}
    assert error_code(await server.call(3, "workspace/executeCommand", params)) == INVALID_PARAMS
    await alive(server)


async def test_document_stats_of_nothing_known_is_invalid_params(
    server: RawServer, ws: Path
) -> None:
    for i, args in enumerate([[(ws / "nowhere.md").as_uri()], ["untitled:x"], []]):
        params = {"command": "promptTokens.documentStats", "arguments": args}
        answer = await server.call(i, "workspace/executeCommand", params)
        assert error_code(answer) == INVALID_PARAMS
    await server.kill()
    await server.wait()
    assert b"Traceback" not in server.stderr  # the client's mistake: one line, not a stack


async def test_every_request_gets_an_answer_whatever_its_params(server: RawServer) -> None:
    """A sweep: each request method the server serves, with params of every JSON type."""
    shapes: list[Any] = [None, 5, "x", [], {}, [0, 0], {"textDocument": 5}, {"command": 5}]
    methods = ["textDocument/inlayHint", "textDocument/hover", "workspace/executeCommand"]
    ids = []
    for m in methods:
        for p in shapes:
            ids.append(len(ids))
            await server.send({"jsonrpc": "2.0", "id": ids[-1], "method": m, "params": p})
    answers = await server.responses(ids)
    for answer in answers.values():
        assert "result" in answer or error_code(answer) == INVALID_PARAMS, answer
    await alive(server)


async def test_well_typed_positions_out_of_range_are_answered(server: RawServer, ws: Path) -> None:
    text = "See @a.md here\nsecond line\n"
    (ws / "a.md").write_text("alpha\n", encoding="utf-8")
    uri = await open_doc(server, ws, "p.md", text)
    assert (await ready(server, uri))["tokens"]["total"] == count(text) + count("alpha\n")
    far = 2**31 - 1
    for i, (first, last) in enumerate([(10**6, far), (far, far), (5, 0)]):
        assert (await server.call(i, "textDocument/inlayHint", hint_params(uri, first, last)))[
            "result"
        ] == []
    position = {"textDocument": {"uri": uri}, "position": {"line": far, "character": far}}
    assert await server.call("h", "textDocument/hover", position) == {
        "jsonrpc": "2.0",
        "id": "h",
        "result": None,
    }
    hints = (await server.call("all", "textDocument/inlayHint", hint_params(uri)))["result"]
    assert [h["label"] for h in hints][1] == "+{:,}".format(count("alpha\n"))


async def test_notifications_with_bad_params_are_ignored(server: RawServer, ws: Path) -> None:
    await server.send(notification("textDocument/didOpen", {"textDocument": 5}))
    await server.send(notification("textDocument/didOpen", None))
    await server.send(notification("textDocument/didChange", {"contentChanges": "x"}))
    await server.send(notification("$/cancelRequest", {"id": {"not": "an id"}}))
    await server.send(notification("workspace/didChangeConfiguration", []))
    await alive(server)
    uri = await open_doc(server, ws, "p.md", "still counting\n")
    assert (await ready(server, uri))["tokens"]["text"] == count("still counting\n")
    await server.kill()
    await server.wait()
    assert b"ignored textDocument/didOpen: invalid params" in server.stderr
    assert b"Traceback" not in server.stderr


async def test_unknown_methods(server: RawServer) -> None:
    await server.send(notification("made/up", {"x": 1}))
    await server.send(notification("$/madeUp"))
    assert error_code(await server.call(1, "made/up", {"x": 1})) == METHOD_NOT_FOUND
    assert error_code(await server.call(2, "made/up")) == METHOD_NOT_FOUND
    assert error_code(await server.call(3, "initialized", {})) == INVALID_REQUEST  # no id allowed
    await alive(server)


@pytest.mark.parametrize(
    ("body", "answer_id"),
    [
        (b"5", None),
        (b'"a string"', None),
        (b"null", None),
        (b"{}", None),
        (b'{"jsonrpc": "2.0", "id": {"a": 1}, "method": "textDocument/hover"}', None),
        (b'{"jsonrpc": "2.0", "id": true, "method": "textDocument/hover"}', None),
        (b'{"jsonrpc": "2.0", "id": 1.5, "method": "textDocument/hover"}', None),
        (b'{"jsonrpc": "2.0", "id": 4, "method": 5}', 4),
        (b'{"jsonrpc": "1.0", "id": 4, "method": "textDocument/hover"}', 4),
        (b'{"id": 4, "method": "textDocument/hover"}', 4),
    ],
)
async def test_not_a_message_gets_invalid_request(
    server: RawServer, body: bytes, answer_id: Any
) -> None:
    await server.send(body)
    answer = await server.next_message(lambda m: "error" in m)
    assert (answer["id"], error_code(answer)) == (answer_id, INVALID_REQUEST)
    await alive(server)


async def test_batches_are_refused_clearly(server: RawServer) -> None:
    hover = {"textDocument": {"uri": "file:///x.md"}, "position": {"line": 0, "character": 0}}
    await server.send([request(1, "textDocument/hover", hover), notification("made/up"), 7])
    answer = await server.response(1)
    assert error_code(answer) == INVALID_REQUEST
    assert "batch" in answer["error"]["message"]
    await server.send([])
    empty = await server.next_message(lambda m: "error" in m)
    assert (empty["id"], error_code(empty)) == (None, INVALID_REQUEST)
    await alive(server)


async def test_a_response_that_does_not_fit_settles_the_servers_request(ws: Path) -> None:
    """The client answers ``workspace/configuration`` with a number: the server goes on with
    the defaults instead of waiting for settings forever."""
    s = await RawServer.start()
    try:
        s.answer = lambda req: {"jsonrpc": "2.0", "id": req["id"], "result": 5}
        await s.initialize(
            {"workspace": {"configuration": True}},
            rootUri=ws.as_uri(),
            workspaceFolders=[{"uri": ws.as_uri(), "name": "ws"}],
        )
        await s.next_message(lambda m: m.get("method") == "workspace/configuration")
        uri = await open_doc(s, ws, "p.md", "defaults apply\n")
        status = await ready(s, uri)
        assert (status["budget"], status["tokens"]["text"]) == (8192, count("defaults apply\n"))
    finally:
        await s.kill()


# -- 3: bad framing is skipped up to the next header -------------------------------------------


def body_of(msg: dict[str, Any]) -> bytes:
    return json.dumps(msg).encode("utf-8")


async def test_a_content_length_too_short(server: RawServer) -> None:
    body = body_of(request(1, "shutdown"))
    await server.write(b"Content-Length: %d\r\n\r\n" % (len(body) - 10) + body)
    cut = await server.next_message(lambda m: "error" in m)
    assert (cut["id"], error_code(cut)) == (None, PARSE_ERROR)
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
    refused = await server.next_message(lambda m: "error" in m)
    assert (refused["id"], error_code(refused)) == (None, INVALID_REQUEST)
    assert "limit" in refused["error"]["message"]
    await alive(server)


async def test_a_body_that_is_not_json_gets_a_parse_error(server: RawServer) -> None:
    for body in [b"{not json", b'{"jsonrpc": "2.0", "id": 1', b"\xff\xfe{}", b"[" * 100_000]:
        await server.send(body)
        answer = await server.next_message(lambda m: "error" in m)
        assert (answer["id"], error_code(answer)) == (None, PARSE_ERROR)
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


# -- 4: after shutdown, and before initialize ---------------------------------------------------


async def test_requests_after_shutdown_get_invalid_request(server: RawServer) -> None:
    assert (await server.call(1, "shutdown"))["result"] is None
    hover = {"textDocument": {"uri": "file:///x.md"}, "position": {"line": 0, "character": 0}}
    answer = await server.call(2, "textDocument/hover", hover)
    assert error_code(answer) == INVALID_REQUEST
    assert error_code(await server.call(3, "shutdown")) == INVALID_REQUEST
    assert error_code(await server.call(4, "made/up")) == INVALID_REQUEST
    await server.send(notification("exit"))
    assert await server.wait() == 0


async def test_requests_before_initialize_get_server_not_initialized() -> None:
    s = await RawServer.start(env={"PROMPT_TOKENS_EARLY_INIT": "0"})
    try:
        hover = {"textDocument": {"uri": "file:///x.md"}, "position": {"line": 0, "character": 0}}
        assert error_code(await s.call(1, "textDocument/hover", hover)) == NOT_INITIALIZED
        await s.send(notification("textDocument/didOpen", {"textDocument": 5}))
        await s.initialize()
        await alive(s)
        assert error_code(await s.call(2, "initialize", {"capabilities": {}})) == INVALID_REQUEST
    finally:
        await s.kill()


# -- 5: end of input ends the server --------------------------------------------------------------


def assert_quiet(stderr: bytes) -> None:
    """One-line log messages at most: no traceback, no exception named."""
    for word in (b"Traceback", b"Exception", b"PermissionError", b"internal error"):
        assert word not in stderr, stderr.decode(errors="replace")


@pytest.mark.parametrize("early", ["1", "0"])
async def test_stdin_from_dev_null_ends_the_server(early: str) -> None:
    """No client at all: exit 1 (LSP: the client went away without ``shutdown``), quietly."""
    with open("/dev/null", "rb") as devnull:
        s = await RawServer.start(env={"PROMPT_TOKENS_EARLY_INIT": early}, stdin=devnull)
        assert await s.wait() == 1
    assert_quiet(s.stderr)


async def test_stdin_closed_mid_session(server: RawServer, ws: Path) -> None:
    big = "".join(f"line {i} of a prompt being counted\n" for i in range(50_000))
    await open_doc(server, ws, "big.md", big)
    await server.close_stdin()
    assert await server.wait() == 1
    assert_quiet(server.stderr)


async def test_stdin_closed_after_shutdown_exits_0(server: RawServer) -> None:
    await server.call(1, "shutdown")
    await server.close_stdin()
    assert await server.wait() == 0
    assert_quiet(server.stderr)


async def test_exit_without_shutdown_exits_1(server: RawServer) -> None:
    await server.send(notification("exit"))
    assert await server.wait() == 1
    assert_quiet(server.stderr)


async def test_a_session_read_from_a_file(tmp_path: Path) -> None:
    """stdin a regular file (epoll cannot watch one): served to the end, then exit 0."""
    script = tmp_path / "session.jsonrpc"
    script.write_bytes(
        frame(request(1, "initialize", {"processId": None, "capabilities": {}}))
        + frame(notification("initialized", {}))
        + frame(request(2, "workspace/executeCommand", {"command": "promptTokens.jobs"}))
        + frame(request(3, "shutdown"))
        + frame(notification("exit"))
    )
    with script.open("rb") as stdin:
        s = await RawServer.start(stdin=stdin)
        answers = await s.responses([1, 2, 3])
        assert await s.wait() == 0
    assert "queue" in answers[2]["result"]
    assert_quiet(s.stderr)


async def test_the_client_stops_reading(server: RawServer, ws: Path) -> None:
    """stdout closed by the client: the server notices when it writes, and ends."""
    transport = server.proc._transport  # type: ignore[attr-defined]
    transport.get_pipe_transport(1).close()
    await asyncio.sleep(0)
    await open_doc(server, ws, "p.md", "status goes nowhere\n")
    for i in range(3):
        await server.send(request(i, "workspace/executeCommand", {"command": "promptTokens.jobs"}))
    assert await asyncio.wait_for(server.proc.wait(), 20) == 1
    assert server.proc.stderr is not None
    stderr = await server.proc.stderr.read()
    assert b"connection to the client lost" in stderr
    assert b"Traceback" not in stderr


# -- 9: lsp --tcp -------------------------------------------------------------------------------


async def test_tcp_on_a_port_in_use_is_one_line_and_exit_2() -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        s = await RawServer.start(*SERVER_COMMAND, "--tcp", "--port", str(port))
        assert await s.wait() == 2
    assert s.stderr.decode() == (
        f"prompt-tokens: cannot listen on 127.0.0.1:{port}: Address already in use\n"
    )


@pytest.mark.parametrize("port", ["65536", "-1", "99999999999999999999"])
async def test_tcp_port_out_of_range_is_one_line_and_exit_2(port: str) -> None:
    s = await RawServer.start(*SERVER_COMMAND, "--tcp", "--port", port)
    assert await s.wait() == 2
    # The CLI checks the flag before the server starts: one line naming the flag and the range.
    err = s.stderr.decode()
    assert err.count("\n") == 1 and err.startswith("prompt-tokens: ")
    assert "--port" in err and "65535" in err and port in err


async def test_a_session_over_tcp_survives_bad_framing() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]  # free a moment ago: the server binds it next
    s = await RawServer.start(*SERVER_COMMAND, "--tcp", "--port", str(port))
    try:
        await s.connect(port)
        await s.write(b"Content-Length: nope\r\n\r\n" + b"Z" * (2 << 20))
        await s.initialize()
        await alive(s)
        await s.call(1, "shutdown")
        await s.send(notification("exit"))
        assert await s.wait() == 0
        assert_quiet(s.stderr)
    finally:
        await s.kill()
