"""Cutting the client's byte stream into JSON messages, whatever the client sends.

LSP puts a ``Content-Length`` header in front of each JSON-RPC body. pygls's reader trusts it:
a body 10 bytes short wedges the reader for good, a header line with no end kills the server.
This decoder never gives up on the stream. Bad framing is reported as an event and skipped,
and the decoder picks up again at the next ``Content-Length:`` header.

Finding that header is safe because of one fact: ``Content-Length: N`` followed by a real line
break cannot occur inside a well-formed JSON body. A JSON string cannot hold a raw line break,
and outside strings those letters are not JSON. So wherever the stream is, the next such header
is where the next message starts. That covers every way a header can lie:

- too short: the body is cut off, is not JSON (a parse error for the client), and the rest of
  it is skipped up to the next header;
- too long: the declared body runs into the next message's header, which is found while the
  bytes arrive, so the decoder does not wait for bytes that will never come. If no message
  follows, :meth:`FrameDecoder.idle` takes the complete JSON value that was sent once the
  stream has been quiet for a moment;
- not a number, negative, missing, a 2 MiB header line: bad framing, skipped;
- more than the limit: refused without buffering it, skipped.

Standard library only: ``bootstrap`` reads the first message with it before pygls is imported.
The decoder does no I/O; the caller feeds it bytes and handles the events.
"""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple

MAX_HEADER_LINE = 1024
"""Longer header lines are bad framing (real ones are under 100 bytes)."""
MAX_HEADER_LINES = 16
HEADER_WINDOW = 96
"""How far back from a line break a ``Content-Length: N`` header is looked for."""
COMPACT_AT = 1 << 16
IDLE_S = 0.5
"""How long the stream must be quiet inside a body before :meth:`FrameDecoder.idle` is tried."""

_TAIL = re.compile(rb"content-length[ \t]*:[ \t]*\d{1,20}[ \t]*\r?\n\Z", re.IGNORECASE)
_WHITESPACE = re.compile(rb"[ \t\r\n]*")
_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_DECODER = json.JSONDecoder()


class Message(NamedTuple):
    """A complete body that is JSON (any JSON value: the caller checks its shape)."""

    value: Any
    size: int
    note: str | None = None
    """What was odd about its framing (e.g. a ``Content-Length`` longer than the body)."""


class Unparsable(NamedTuple):
    """A framed body that is not JSON: the client gets a parse error."""

    error: str


class BadFraming(NamedTuple):
    """Bytes that are not a message frame: skipped up to the next header."""

    reason: str


class TooLarge(NamedTuple):
    """A message longer than the limit: refused unread and skipped."""

    length: int
    limit: int


Event = Message | Unparsable | BadFraming | TooLarge


def body_limit(max_document_chars: int) -> int:
    """The largest body accepted: room for the largest document the server counts, sent with
    every character escaped (``\\uXXXX``, 6 bytes), plus the envelope; never under 16 MiB."""
    return max(16 << 20, 6 * max_document_chars + (1 << 20))


def find_header(buf: bytearray, first: int, scan_from: int, end: int) -> int | None:
    """Offset of the first ``Content-Length: N`` header starting at or after ``first`` whose
    line break lies in ``[scan_from, end)``."""
    i = buf.find(b"\n", scan_from, end)
    while i >= 0:
        lo = max(first, i + 1 - HEADER_WINDOW)
        m = _TAIL.search(buf, lo, i + 1)
        if m is not None:
            return m.start()
        i = buf.find(b"\n", i + 1, end)
    return None


def leading_value(raw: bytes | bytearray, *, whole: bool) -> tuple[Any, int] | None:
    """The JSON object or array at the start of ``raw`` and its length in bytes, when ``raw``
    holds a complete one followed by other bytes (or by nothing, if ``whole``)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = raw[: exc.start].decode("utf-8")
    start = len(text) - len(text.lstrip())
    try:
        value, end = _DECODER.raw_decode(text, start)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict | list):
        return None
    if not whole and not text[end:].strip():
        return None
    return value, len(text[:end].encode("utf-8"))


def _one_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


class FrameDecoder:
    """Bytes in (:meth:`feed`), events out, in stream order. Holds at most ``max_body`` bytes
    of a declared body and a few KiB of anything else."""

    def __init__(self, max_body: int = 16 << 20) -> None:
        self.max_body = max_body
        self._buf = bytearray()
        self._pos = 0
        """Start of what is not consumed yet (a header, or the body in progress)."""
        self._length: int | None = None
        """While reading a body: its declared length (it starts at ``_pos``)."""
        self._scan = 0
        """Line breaks before this offset were already checked for a header."""
        self._resync = False
        """Skipping bytes until the next header."""
        self._idle_at = -1

    @property
    def buffered(self) -> int:
        return len(self._buf) - self._pos

    @property
    def in_body(self) -> bool:
        """A declared body is incomplete: :meth:`idle` may end it if the stream goes quiet."""
        return self._length is not None

    def feed(self, data: bytes) -> list[Event]:
        self._buf += data
        return self._drain()

    def idle(self) -> list[Event]:
        """The stream went quiet inside a body: if a complete JSON message was sent, its
        ``Content-Length`` was too long and nothing follows it; take it."""
        if self._length is None or self._idle_at == len(self._buf):
            return []
        self._idle_at = len(self._buf)
        found = leading_value(self._buf[self._pos :], whole=True)
        if found is None:
            return []
        value, size = found
        note = f"Content-Length was {self._length}, the message ended after {size} bytes"
        self._pos += size
        self._length = None
        return [Message(value, size, note), *self._drain()]

    def eof(self) -> list[Event]:
        """The input ended: a message still incomplete is reported (after :meth:`idle`)."""
        out = self.idle()
        rest = self._buf[self._pos :]
        if not self._resync and _WHITESPACE.fullmatch(rest) is None:
            out.append(BadFraming(f"the input ended inside a message ({len(rest)} bytes)"))
        self._buf.clear()
        self._pos = self._scan = 0
        self._length = None
        return out

    # -- states --------------------------------------------------------------------------------

    def _drain(self) -> list[Event]:
        out: list[Event] = []
        while True:
            if self._resync:
                progressed = self._skip_to_header()
                event = None
            elif self._length is None:
                event, progressed = self._header()
            else:
                event, progressed = self._body()
            if event is not None:
                out.append(event)
            if not progressed:
                break
        self._compact()
        return out

    def _bad(self, reason: str) -> BadFraming:
        """Skip from just after here to the next header."""
        self._resync = True
        self._scan = self._pos
        self._pos += 1
        return BadFraming(reason)

    def _skip_to_header(self) -> bool:
        buf = self._buf
        h = find_header(buf, self._pos, self._scan, len(buf))
        if h is None:
            # keep only a tail that may be the start of a header split across reads
            self._pos = self._scan = max(self._pos, len(buf) - HEADER_WINDOW)
            return False
        self._pos = h
        self._resync = False
        return True

    def _header(self) -> tuple[Event | None, bool]:
        buf = self._buf
        match = _WHITESPACE.match(buf, self._pos)
        self._pos = p = match.end() if match else self._pos
        length: int | None = None
        for _ in range(MAX_HEADER_LINES):
            nl = buf.find(b"\n", p, p + MAX_HEADER_LINE + 1)
            if nl < 0:
                if len(buf) - p > MAX_HEADER_LINE:
                    return self._bad(f"a header line longer than {MAX_HEADER_LINE} bytes"), True
                return None, False
            line = bytes(buf[p:nl]).rstrip(b"\r")
            p = nl + 1
            if not line:
                break
            name, sep, value = line.partition(b":")
            if not sep or _TOKEN.fullmatch(name.strip()) is None:
                return self._bad(f"not a header line: {line[:40]!r}"), True
            if name.strip().lower() == b"content-length":
                digits = value.strip()
                if not digits.isdigit():
                    return self._bad(f"Content-Length is not a number: {digits[:20]!r}"), True
                length = int(digits) if len(digits) <= 20 else 1 << 70
        else:
            return self._bad(f"more than {MAX_HEADER_LINES} header lines"), True
        if length is None:
            return self._bad("a header without Content-Length"), True
        if length > self.max_body:
            self._pos = p
            self._resync = True
            self._scan = p
            return TooLarge(length, self.max_body), True
        self._pos = self._scan = p
        self._length = length
        return None, True

    def _body(self) -> tuple[Event | None, bool]:
        assert self._length is not None
        buf, start = self._buf, self._pos
        end = start + self._length
        have = min(len(buf), end)
        # a header inside the declared body: the Content-Length was too long
        h = find_header(buf, start, self._scan, have)
        self._scan = have
        if h is None and len(buf) < end:
            return None, False
        stop = end if h is None else h
        event, after = self._parse(start, stop)
        if h is not None and isinstance(event, Message):
            note = f"Content-Length was {self._length}, the message ended after {after - start}"
            event = event._replace(note=note + " bytes")
        self._pos = after
        self._length = None
        return event, True

    def _parse(self, start: int, stop: int) -> tuple[Event, int]:
        raw = self._buf[start:stop]  # one copy: json reads a bytearray as it is
        try:
            return Message(json.loads(raw), len(raw)), stop
        except RecursionError:
            return Unparsable("JSON nested too deeply"), stop
        except ValueError as exc:
            found = leading_value(raw, whole=False)
            if found is not None:
                value, size = found
                note = f"Content-Length was {len(raw)}, the message ended after {size} bytes"
                return Message(value, size, note), start + size
            return Unparsable(_one_line(exc)), stop

    def _compact(self) -> None:
        if self._pos > COMPACT_AT and self._pos * 2 > len(self._buf):
            del self._buf[: self._pos]
            self._scan = max(0, self._scan - self._pos)
            self._pos = 0
            self._idle_at = -1
