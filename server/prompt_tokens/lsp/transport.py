"""The one reader loop: bytes from stdin or a TCP connection, through the framing decoder, to
the protocol's checked entrance, until ``exit``, the end of input or a lost client.

pygls's own loop ends the server on a header it cannot parse and wedges on a wrong
``Content-Length``; this one only ever hands events on (``framing`` decides what the bytes
are, ``protocol.deliver`` what to answer). Where the bytes come from:

- a pipe or socket: read by the event loop itself (no thread hop per message);
- anything epoll cannot watch (``< /dev/null``, a file, a terminal): a daemon thread. asyncio's
  pipe transport fails on those with a ``PermissionError`` in a callback and then never
  delivers end of input, so the server neither served nor exited.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import stat
import sys
import threading
from typing import Protocol

from prompt_tokens.lsp.framing import IDLE_S, Event, FrameDecoder
from prompt_tokens.lsp.stdio import CHUNK

log = logging.getLogger(__name__)


class Source(Protocol):
    async def read(self) -> bytes:
        """The next bytes; ``b""`` at the end of input."""
        ...


class Receiver(Protocol):
    exit_code: int | None
    connection_lost: bool

    def deliver(self, event: Event) -> None: ...


class StreamSource:
    """An asyncio stream: a pipe or socket on stdin, or a TCP connection."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader

    async def read(self) -> bytes:
        try:
            return await self._reader.read(CHUNK)
        except (ConnectionError, OSError) as exc:
            log.info("input closed: %s", exc)
            return b""


class ThreadSource:
    """Blocking reads of ``fd`` on a daemon thread (a read blocked on a terminal must not keep
    the process alive after ``exit``), at most a few chunks ahead of the loop."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._room = threading.Semaphore(4)
        threading.Thread(target=self._run, name="stdin reader", daemon=True).start()

    def _run(self) -> None:
        while True:
            self._room.acquire()
            try:
                chunk = os.read(self._fd, CHUNK)
            except OSError as exc:
                log.debug("cannot read stdin: %s", exc)
                chunk = b""
            try:
                self._loop.call_soon_threadsafe(self._queue.put_nowait, chunk)
            except RuntimeError:  # the loop is closed: the server is gone
                return
            if not chunk:
                return

    async def read(self) -> bytes:
        chunk = await self._queue.get()
        self._room.release()
        return chunk


class Ended:
    """Input that has already ended (seen while reading the first message)."""

    async def read(self) -> bytes:
        return b""


async def open_stdin(fd: int = 0) -> Source:
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return Ended()  # stdin is closed
    if sys.platform != "win32" and (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
        reader = asyncio.StreamReader(limit=CHUNK)
        try:
            await asyncio.get_running_loop().connect_read_pipe(
                lambda: asyncio.StreamReaderProtocol(reader),
                os.fdopen(fd, "rb", 0, closefd=False),
            )
            return StreamSource(reader)
        except (OSError, ValueError) as exc:
            log.debug("stdin: no pipe transport (%s): reading it on a thread", exc)
    return ThreadSource(fd)


def _done(receiver: Receiver) -> bool:
    return receiver.exit_code is not None or receiver.connection_lost


async def pump(
    source: Source, decoder: FrameDecoder, receiver: Receiver, pending: list[Event]
) -> None:
    """Deliver ``pending``, then every event of ``source`` until ``exit``, end of input or a
    lost client. Never raises over what the client sent."""
    for event in pending:
        if _done(receiver):
            return
        receiver.deliver(event)
    while not _done(receiver):
        chunk: bytes | None
        if decoder.in_body:
            try:
                chunk = await asyncio.wait_for(source.read(), IDLE_S)
            except TimeoutError:
                chunk = None  # quiet inside a body: maybe its Content-Length was too long
        else:
            chunk = await source.read()
        if chunk is None:
            events = decoder.idle()
        else:
            events = decoder.feed(chunk) if chunk else decoder.eof()
        for event in events:
            if _done(receiver):
                return
            receiver.deliver(event)
        if chunk == b"":
            log.info("end of input")
            return


async def close_quietly(writer: asyncio.StreamWriter) -> None:
    """Close a TCP connection; one the client already dropped may fail to: nothing to tell."""
    with contextlib.suppress(Exception):
        writer.close()
        await writer.wait_closed()
