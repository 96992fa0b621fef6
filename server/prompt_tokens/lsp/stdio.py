"""Byte-level stdio plumbing (standard library only: ``bootstrap`` uses it before pygls).

- :func:`read_first` reads stdin until the framing decoder has something to say, for the early
  ``initialize`` answer; the decoder (with whatever it buffered) then goes on to the server.
- :class:`FdWriter` writes the protocol to stdout and never raises: a client that went away is
  noticed (``on_lost``), not a ``BrokenPipeError`` traceback in a handler.
- :class:`SkipResponseWriter` drops the one response pygls sends to the request that was
  already answered early.
"""

from __future__ import annotations

import json
import logging
import os
import select
import sys
import threading
from collections.abc import Callable
from typing import Any, Protocol

from prompt_tokens.lsp.framing import IDLE_S, Event, FrameDecoder

log = logging.getLogger(__name__)

CHUNK = 1 << 16


class Writer(Protocol):
    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


def frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message, separators=(",", ":")).encode("utf-8")
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def _readable(fd: int, timeout: float) -> bool:
    if sys.platform == "win32":
        return True  # no select() on pipes there: block (no idle detection)
    try:
        ready, _, _ = select.select([fd], [], [], timeout)
    except (OSError, ValueError):
        return True  # let the read itself fail
    return bool(ready)


def read_first(decoder: FrameDecoder, fd: int) -> tuple[list[Event], bool]:
    """Read from ``fd`` until the decoder yields events; returns (them, whether input ended)."""
    while True:
        if decoder.in_body and not _readable(fd, IDLE_S):
            events = decoder.idle()
        else:
            try:
                chunk = os.read(fd, CHUNK)
            except OSError as exc:  # stdin closed or unreadable: as good as ended
                log.debug("cannot read stdin: %s", exc)
                chunk = b""
            if not chunk:
                return decoder.eof(), True
            events = decoder.feed(chunk)
        if events:
            return events, False


class FdWriter:
    """Blocking writes of whole messages to a file descriptor (stdout)."""

    def __init__(self, fd: int, on_lost: Callable[[OSError], None]) -> None:
        self.fd = fd
        self._on_lost = on_lost
        self._lock = threading.Lock()
        self.lost = False

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        with self._lock:  # one message at a time, even from a worker thread
            while view and not self.lost:
                try:
                    view = view[os.write(self.fd, view) :]
                except BlockingIOError:  # stdout shares a non-blocking file with stdin
                    select.select([], [self.fd], [], 1.0)
                except OSError as exc:
                    self.lost = True
                    self._on_lost(exc)

    def close(self) -> None:
        """Nothing to do: the process ends soon and stdout is not ours to close."""


class SkipResponseWriter:
    """A writer that drops the one response (to the early-answered request) pygls sends."""

    def __init__(self, inner: Writer, skip_id: Any) -> None:
        self._inner = inner
        self._skip_id = skip_id
        self._skipping = True

    def write(self, data: bytes) -> None:
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
                    log.error("the replayed initialize failed: %s", msg["error"])
                return
        self._inner.write(data)

    def close(self) -> None:
        self._inner.close()
