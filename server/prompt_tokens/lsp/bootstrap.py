"""Answer ``initialize`` before the heavy imports, then hand the session to pygls.

Importing pygls and lsprotocol costs ~0.35 s of CPU here (lsprotocol defines ~1,000 attrs
classes at import), more than the whole budget for answering ``initialize``. The answer only
depends on the client's offered position encodings, so on stdio this module (standard library
only) reads the first message, and when it is ``initialize`` writes the answer at once; then it
imports the server, *replays* the same message into pygls (which sets up its workspace and
capabilities and runs our ``initialize`` handler as usual) and drops pygls's own response to it.

``tests/e2e/test_lifecycle.py`` checks that this answer is exactly what pygls computes for the
registered features. ``PROMPT_TOKENS_EARLY_INIT=0`` turns the shortcut off; TCP never uses it.
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any, BinaryIO

log = logging.getLogger(__name__)

COMMANDS = ("promptTokens.documentStats", "promptTokens.jobs", "promptTokens.clearCache")
PREFERRED_ENCODINGS = ("utf-32", "utf-16", "utf-8")
MAX_HEADER_LINES = 16


def choose_position_encoding(offered: Sequence[str] | None) -> str:
    """utf-32 (code points: no conversion), else utf-16 (the LSP default), else utf-8."""
    if not offered:
        return "utf-16"
    for enc in PREFERRED_ENCODINGS:
        if enc in offered:
            return enc
    return "utf-16"


def initialize_result(params: dict[str, Any], name: str, version: str) -> dict[str, Any]:
    """The ``InitializeResult`` pygls builds for our features, as JSON."""
    caps = params.get("capabilities") if isinstance(params, dict) else None
    general = caps.get("general") if isinstance(caps, dict) else None
    offered = general.get("positionEncodings") if isinstance(general, dict) else None
    encoding = choose_position_encoding(offered if isinstance(offered, list) else None)
    return {
        "capabilities": {
            "positionEncoding": encoding,
            "textDocumentSync": {
                "openClose": True,
                "change": 2,
                "willSave": False,
                "willSaveWaitUntil": False,
                "save": {"includeText": False},
            },
            "hoverProvider": True,
            "inlayHintProvider": {"resolveProvider": False},
            "executeCommandProvider": {"commands": list(COMMANDS)},
            "workspace": {
                "workspaceFolders": {"supported": True, "changeNotifications": True},
                "fileOperations": {},
            },
        },
        "serverInfo": {"name": name, "version": version},
    }


class FdReader:
    """Unbuffered-looking reads on a file descriptor: nothing is read past what is asked
    except into ``pending``, which the caller hands on (the rest goes to the event loop)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.pending = b""

    def _fill(self) -> bool:
        chunk = os.read(self.fd, 65536)
        self.pending += chunk
        return bool(chunk)

    def readline(self) -> bytes:
        while b"\n" not in self.pending:
            if not self._fill():
                break
        i = self.pending.find(b"\n")
        cut = len(self.pending) if i < 0 else i + 1
        line, self.pending = self.pending[:cut], self.pending[cut:]
        return line

    def read(self, n: int) -> bytes:
        while len(self.pending) < n:
            if not self._fill():
                break
        data, self.pending = self.pending[:n], self.pending[n:]
        return data


def read_message(stream: Any) -> tuple[bytes, dict[str, Any] | None]:
    """Read one framed message; returns (the raw bytes read, the parsed body or None)."""
    raw = bytearray()
    length: int | None = None
    for _ in range(MAX_HEADER_LINES):
        line = stream.readline()
        raw += line
        if not line:
            return bytes(raw), None
        if line in (b"\r\n", b"\n"):
            break
        key, _, value = line.decode("ascii", "replace").partition(":")
        if key.strip().lower() == "content-length":
            try:
                length = int(value.strip())
            except ValueError:
                return bytes(raw), None
    else:
        return bytes(raw), None
    if length is None or length < 0:
        return bytes(raw), None
    body = stream.read(length)
    raw += body
    if len(body) != length:
        return bytes(raw), None
    try:
        message = json.loads(body)
    except ValueError:
        return bytes(raw), None
    return bytes(raw), message if isinstance(message, dict) else None


def frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message, separators=(",", ":")).encode("utf-8")
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class ReplayReader:
    """``stdin`` with some already-read bytes put back in front (readline/read like pygls)."""

    def __init__(self, prefix: bytes, stream: BinaryIO) -> None:
        self._buf: io.BytesIO | None = io.BytesIO(prefix) if prefix else None
        self._stream = stream

    def readline(self) -> bytes:
        if self._buf is not None:
            line = self._buf.readline()
            if line.endswith(b"\n"):
                return line
            self._buf = None
            return line + self._stream.readline()
        return self._stream.readline()

    def read(self, n: int = -1) -> bytes:
        if self._buf is not None:
            data = self._buf.read(n)
            if n >= 0 and len(data) == n:
                return data
            self._buf = None
            return data + self._stream.read(n - len(data) if n >= 0 else -1)
        return self._stream.read(n)


class SkipResponseWriter:
    """``stdout`` that drops the one response (to the early-answered request) pygls sends."""

    def __init__(self, stream: BinaryIO, skip_id: Any) -> None:
        self._stream = stream
        self._skip_id = skip_id
        self._skipping = True

    def write(self, data: bytes) -> int:
        if self._skipping and b'"id"' in data:
            _, _, body = data.partition(b"\r\n\r\n")
            try:
                msg = json.loads(body)
            except ValueError:
                msg = None
            if (
                isinstance(msg, dict)
                and msg.get("id") == self._skip_id
                and ("result" in msg or "error" in msg)
                and "method" not in msg
            ):
                self._skipping = False
                if "error" in msg:
                    log.error("pygls failed the replayed initialize: %s", msg["error"])
                return len(data)
        return self._stream.write(data)

    def flush(self) -> None:
        self._stream.flush()

    def close(self) -> None:
        self._stream.close()


def answer_initialize(stdin: Any, stdout: BinaryIO) -> tuple[bytes, Any]:
    """Read the first message; if it is ``initialize``, answer it now.

    Returns (the bytes to replay into pygls, the answered request id or None)."""
    from prompt_tokens import __version__

    raw, message = read_message(stdin)
    if message is None or message.get("method") != "initialize" or "id" not in message:
        return raw, None
    params = message.get("params")
    result = initialize_result(
        params if isinstance(params, dict) else {}, "prompt-tokens", __version__
    )
    stdout.write(frame({"jsonrpc": "2.0", "id": message["id"], "result": result}))
    stdout.flush()
    return raw, message["id"]


def start(tcp: bool = False, host: str = "127.0.0.1", port: int = 2087) -> None:
    """``prompt-tokens lsp``: serve on stdio (answering ``initialize`` early) or TCP."""
    early = os.environ.get("PROMPT_TOKENS_EARLY_INIT", "1").strip().lower() not in (
        "0",
        "false",
        "no",
    )
    if tcp or not early:
        from prompt_tokens.lsp.server import run

        run(tcp, host, port)
        return
    stdout = sys.stdout.buffer
    fd = FdReader(sys.stdin.fileno())
    raw, answered = answer_initialize(fd, stdout)
    from prompt_tokens.lsp.server import run

    replay = raw + fd.pending  # the first message (pygls handles it too) and anything after
    out: Any = stdout if answered is None else SkipResponseWriter(stdout, answered)
    run(replay=replay, stdout=out)
