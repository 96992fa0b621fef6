"""The framing decoder: whatever the bytes, messages come out in order and memory stays bounded.
(The same cases over a real server's stdin are in ``tests/e2e/test_protocol_robustness.py``.)"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from prompt_tokens.lsp.framing import (
    HEADER_WINDOW,
    BadFraming,
    Event,
    FrameDecoder,
    Message,
    TooLarge,
    Unparsable,
    body_limit,
)


def body(msg: Any) -> bytes:
    return json.dumps(msg).encode("utf-8")


def frame(msg: Any, *, length: int | None = None) -> bytes:
    b = body(msg)
    return b"Content-Length: %d\r\n\r\n" % (len(b) if length is None else length) + b


def values(events: list[Event]) -> list[Any]:
    return [e.value for e in events if isinstance(e, Message)]


def feed_in(decoder: FrameDecoder, data: bytes, cuts: list[int]) -> list[Event]:
    out: list[Event] = []
    last = 0
    for cut in [*sorted({c % (len(data) + 1) for c in cuts}), len(data)]:
        out += decoder.feed(data[last:cut])
        last = cut
    return out


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
messages = st.builds(
    lambda i, method, params: {"jsonrpc": "2.0", "id": i, "method": method, "params": params},
    st.integers(0, 10**6),
    st.text(min_size=1, max_size=20),
    json_values,
)
# bytes that cannot form a header line (no colon): what garbage may be between messages
garbage = st.binary(min_size=1, max_size=3000).map(lambda b: b.replace(b":", b"."))


@given(st.lists(messages, min_size=1, max_size=6), st.lists(st.integers(0, 10**6), max_size=20))
def test_any_split_of_a_stream_gives_its_messages(msgs: list[Any], cuts: list[int]) -> None:
    events = feed_in(FrameDecoder(), b"".join(frame(m) for m in msgs), cuts)
    assert events == [Message(m, len(body(m))) for m in msgs]


@given(st.lists(st.tuples(garbage, messages), min_size=1, max_size=4), st.lists(st.integers()))
def test_garbage_before_a_message_is_skipped(
    pairs: list[tuple[bytes, Any]], cuts: list[int]
) -> None:
    data = b"".join(g + frame(m) for g, m in pairs)
    events = feed_in(FrameDecoder(), data, cuts)
    assert values(events) == [m for _, m in pairs]
    assert not any(isinstance(e, Unparsable | TooLarge) for e in events)


@given(messages, messages, st.integers(1, 5000), st.lists(st.integers(), max_size=5))
def test_a_content_length_too_long_runs_into_the_next_header(
    first: Any, second: Any, extra: int, cuts: list[int]
) -> None:
    data = frame(first, length=len(body(first)) + extra) + frame(second)
    events = feed_in(FrameDecoder(), data, cuts)
    if len(frame(second)) >= extra:  # the declared body ends inside the second message
        assert values(events) == [first, second]
        assert events[0].note is not None  # type: ignore[union-attr]
    else:  # it also swallowed all of the second: waiting for more (or for idle)
        assert values(events) in ([first, second], [])


@given(messages, messages, st.integers(1, 30))
def test_a_content_length_too_short_loses_only_its_message(
    first: Any, second: Any, short: int
) -> None:
    n = len(body(first))
    events = FrameDecoder().feed(frame(first, length=max(0, n - short)) + frame(second))
    assert values(events) == [second]
    assert isinstance(events[0], Unparsable | BadFraming)


def test_the_last_message_with_a_content_length_too_long_is_taken_when_idle() -> None:
    d = FrameDecoder()
    msg = {"jsonrpc": "2.0", "id": 1, "method": "shutdown"}
    assert d.feed(frame(msg, length=len(body(msg)) + 100)) == []
    assert d.in_body
    (event,) = d.idle()
    assert isinstance(event, Message) and event.value == msg and event.note is not None
    assert d.idle() == [] and not d.in_body
    assert values(d.feed(frame(msg))) == [msg]


def test_idle_inside_a_body_still_arriving_takes_nothing() -> None:
    d = FrameDecoder()
    data = frame({"jsonrpc": "2.0", "id": 1, "method": "x", "params": {"t": "a" * 100}})
    assert d.feed(data[:60]) == [] and d.idle() == []
    assert values(d.feed(data[60:]))[0]["id"] == 1


def test_header_faults_are_bad_framing_and_the_next_message_is_read() -> None:
    msg = {"jsonrpc": "2.0", "id": 2, "method": "m"}
    for junk in [
        b"X" * (2 << 20) + b"\r\n\r\n",
        b"Content-Length: -5\r\n\r\n{}",
        b"Content-Length: five\r\n\r\n{}",
        b"Content-Type: text/plain\r\n\r\n{}",
        b"X-Header: 1\r\n" * 40 + b"\r\n{}",
        b"no header at all {}",
    ]:
        events = FrameDecoder().feed(junk + frame(msg))
        assert isinstance(events[0], BadFraming), junk[:40]
        assert values(events) == [msg]


def test_garbage_without_end_keeps_memory_bounded() -> None:
    d = FrameDecoder()
    chunk = b"garbage without a header, " * 2500
    d.feed(b"Content-Length: x\r\n\r\n")
    for _ in range(800):  # ~50 MB
        assert d.feed(chunk) == []
        assert d.buffered <= HEADER_WINDOW
    assert values(d.feed(frame({"jsonrpc": "2.0", "id": 3, "method": "m"})))[0]["id"] == 3


def test_a_body_over_the_limit_is_refused_without_buffering_it() -> None:
    d = FrameDecoder(max_body=1000)
    events = d.feed(b"Content-Length: 5000\r\n\r\n" + b'{"a": "' + b"x" * 4000)
    assert events == [TooLarge(5000, 1000)]
    assert d.buffered <= HEADER_WINDOW
    assert values(d.feed(b'"}' + frame({"jsonrpc": "2.0", "id": 4, "method": "m"}))) == [
        {"jsonrpc": "2.0", "id": 4, "method": "m"}
    ]


def test_bodies_that_are_not_json() -> None:
    for raw in [b"{not json", b"\xff\xfe{}", b"[" * 100_000, b'{"a": 1', b"1" * 5000]:
        (event,) = FrameDecoder(max_body=1 << 20).feed(
            b"Content-Length: %d\r\n\r\n" % len(raw) + raw
        )
        assert isinstance(event, Unparsable), raw[:20]


def test_end_of_input_inside_a_message_is_reported() -> None:
    d = FrameDecoder()
    d.feed(b'Content-Length: 50\r\n\r\n{"jsonrpc')
    assert [type(e) for e in d.eof()] == [BadFraming]
    assert FrameDecoder().eof() == []


def test_body_limit_fits_the_largest_counted_document() -> None:
    assert body_limit(0) == 16 << 20
    assert body_limit(10_000_000) == 6 * 10_000_000 + (1 << 20)
