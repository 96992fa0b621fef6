"""Byte-level stdio plumbing for the early ``initialize`` answer (standard library only).

``bootstrap`` reads the first message itself, before pygls is imported, and the bytes it read
must reach pygls afterwards: these readers put them back in front of stdin, and the writer drops
pygls's own (second) answer to the request that was already answered.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
from typing import Any, BinaryIO

log = logging.getLogger(__name__)

MAX_HEADER_LINES = 16


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


class PrefixedReader:
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
