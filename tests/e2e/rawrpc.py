"""A raw JSON-RPC client for ``prompt-tokens lsp``: bytes in over real stdin, framed responses
out of real stdout.

pytest-lsp's client only ever sends well-formed messages; the protocol robustness tests need to
send what a broken or hostile client sends (bad framing, bad JSON, bad params, batches) and to
see exactly what comes back, so this client frames and parses by hand. Its own reader is
strict: anything the server writes that is not a well-framed JSON object fails the test.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from typing import Any

from tests.e2e.conftest import SERVER_COMMAND, server_env

TIMEOUT = 20.0


def frame(message: Any) -> bytes:
    """``message`` (a JSON value, or bytes sent as the body unchanged) with its header."""
    body = message if isinstance(message, bytes) else json.dumps(message).encode("utf-8")
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def request(id_: Any, method: str, params: Any = None) -> dict[str, Any]:
    msg: dict[str, Any] = {"jsonrpc": "2.0", "id": id_, "method": method}
    if params is not None:
        msg["params"] = params
    return msg


def notification(method: str, params: Any = None) -> dict[str, Any]:
    msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        msg["params"] = params
    return msg


class RawServer:
    """The server as a subprocess; every message it sends is kept in ``received``."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        assert proc.stdout is not None
        self._in: asyncio.StreamReader = proc.stdout
        self._out: asyncio.StreamWriter | None = proc.stdin
        self.received: list[dict[str, Any]] = []
        self.answer: Callable[[dict[str, Any]], dict[str, Any]] = lambda req: {
            "jsonrpc": "2.0",
            "id": req["id"],
            "result": None,
        }
        """The response this client sends to a request from the server (default: null)."""
        self._next = 0
        self.stderr = b""
        self.tail = b""
        """What the server wrote to stdout after the last message read (set by ``wait``)."""

    @classmethod
    async def start(
        cls, *args: str, env: Mapping[str, str] | None = None, stdin: Any = asyncio.subprocess.PIPE
    ) -> RawServer:
        proc = await asyncio.create_subprocess_exec(
            *(args or SERVER_COMMAND),
            stdin=stdin,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=dict(server_env(), **(env or {})),
        )
        return cls(proc)

    # -- sending -------------------------------------------------------------------------------

    async def connect(self, port: int, within: float = TIMEOUT) -> None:
        """Talk over TCP (``lsp --tcp``) instead of stdio, once the server listens."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            try:
                self._in, self._out = await asyncio.open_connection("127.0.0.1", port)
                return
            except ConnectionRefusedError:
                if loop.time() > deadline or self.proc.returncode is not None:
                    raise
                await asyncio.sleep(0.05)  # not listening yet: the server is starting

    async def write(self, data: bytes) -> None:
        assert self._out is not None
        self._out.write(data)
        await self._out.drain()

    async def send(self, message: Any) -> None:
        await self.write(frame(message))

    async def close_stdin(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        await self.proc.stdin.wait_closed()

    # -- receiving -----------------------------------------------------------------------------

    async def _read_one(self) -> dict[str, Any]:
        out = self._in
        length = None
        while True:
            line = await out.readline()
            if not line:
                raise EOFError("the server closed stdout")
            assert line.endswith(b"\r\n"), f"header line not ended by CRLF: {line!r}"
            if line == b"\r\n":
                break
            name, _, value = line.decode("ascii").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        assert length is not None, "a message without Content-Length"
        message = json.loads(await out.readexactly(length))
        assert isinstance(message, dict) and message.get("jsonrpc") == "2.0", message
        return message

    async def next_message(
        self, pred: Callable[[dict[str, Any]], bool] = lambda m: True, within: float = TIMEOUT
    ) -> dict[str, Any]:
        """The next message (after those already returned) for which ``pred`` holds. Requests
        from the server are answered (``answer``) so it never waits on this client."""

        async def find() -> dict[str, Any]:
            while True:
                while self._next < len(self.received):
                    msg = self.received[self._next]
                    self._next += 1
                    if pred(msg):
                        return msg
                msg = await self._read_one()
                self.received.append(msg)
                if "method" in msg and "id" in msg:
                    await self.send(self.answer(msg))

        return await asyncio.wait_for(find(), within)

    async def response(self, id_: Any, within: float = TIMEOUT) -> dict[str, Any]:
        """The answer (result or error) to request ``id_``."""
        return await self.next_message(
            lambda m: "method" not in m and m.get("id") == id_ and ("result" in m or "error" in m),
            within,
        )

    async def responses(self, ids: list[Any], within: float = TIMEOUT) -> dict[Any, Any]:
        """The answers to all of ``ids``, whatever order they come in."""
        got: dict[Any, Any] = {}
        while len(got) < len(ids):
            msg = await self.next_message(
                lambda m: "method" not in m and m.get("id") in ids and m["id"] not in got, within
            )
            got[msg["id"]] = msg
        return got

    async def call(self, id_: Any, method: str, params: Any = None) -> dict[str, Any]:
        await self.send(request(id_, method, params))
        return await self.response(id_)

    async def initialize(self, capabilities: dict[str, Any] | None = None, **params: Any) -> None:
        answer = await self.call(
            "init", "initialize", {"processId": None, "capabilities": capabilities or {}, **params}
        )
        assert "result" in answer, answer
        await self.send(notification("initialized", {}))

    # -- ending --------------------------------------------------------------------------------

    async def wait(self, within: float = TIMEOUT) -> int:
        """Wait for the process to end (reading what is left on stdout and stderr)."""
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.tail, self.stderr = await asyncio.wait_for(
            asyncio.gather(self.proc.stdout.read(), self.proc.stderr.read()), within
        )
        await asyncio.wait_for(self.proc.wait(), within)
        assert self.proc.returncode is not None
        return self.proc.returncode

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
