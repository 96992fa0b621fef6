"""Inlay hints: exact labels (numbers from plain tiktoken) at the SPEC positions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.e2e.conftest import Session, count, total_label

SPEC = "# Spec\n\nThe service returns JSON. Fields: id, name, price 😀.\n" * 20
DOC = (
    "Summarise the spec 😀 for a new engineer.\n"
    "\n"
    "# Context\n"
    "Read @docs/spec.md, then answer.\n"
    "Also see @docs/missing.md here.\n"
    "## Rules\n"
    "Be brief.\n"
)


def section_tokens(text: str, heading: str, next_heading: str | None) -> int:
    start = text.index(heading)
    end = text.index(next_heading) if next_heading else len(text)
    return count(text[start:end])


async def test_total_reference_and_section_hints(session: Session) -> None:
    session.write("docs/spec.md", SPEC)
    uri = session.open("prompt.md", DOC)
    status = await session.ready(uri)
    spec_tokens = count(SPEC)
    total = count(DOC) + spec_tokens
    assert status["tokens"] == {"text": count(DOC), "references": spec_tokens, "total": total}

    hints = await session.hints(uri)
    line0 = DOC.split("\n")[0]
    ref_line = DOC.split("\n")[3]
    missing_line = DOC.split("\n")[4]
    assert hints == [
        (0, session.cols(line0), total_label(total, 8192)),
        (3, session.cols("Read @docs/spec.md"), f"+{spec_tokens:,}"),
        (4, session.cols("Also see @docs/missing.md"), "⚠ not found"),
        (2, session.cols("# Context"), f"{section_tokens(DOC, '# Context', '## Rules'):,} tokens"),
        (5, session.cols("## Rules"), f"{section_tokens(DOC, '## Rules', None):,} tokens"),
    ]
    assert ref_line.startswith("Read @docs/spec.md") and missing_line.startswith("Also see")


async def test_hints_respect_the_requested_range(session: Session) -> None:
    session.write("docs/spec.md", SPEC)
    uri = session.open("prompt.md", DOC)
    await session.ready(uri)
    labels = [h[2] for h in await session.hints(uri, first=3, last=3)]
    assert labels == [f"+{count(SPEC):,}"]


@pytest.mark.settings({"inlayHints": {"references": False, "sections": False}})
async def test_hint_kinds_can_be_switched_off(session: Session) -> None:
    session.write("docs/spec.md", SPEC)
    uri = session.open("prompt.md", DOC)
    await session.ready(uri)
    hints = await session.hints(uri)
    assert [h[0] for h in hints] == [0]


async def test_duplicate_reference_counts_once(session: Session) -> None:
    session.write("a.txt", "alpha beta gamma\n")
    text = "Use @a.txt and again @a.txt please\n"
    uri = session.open("p.md", text)
    status = await session.ready(uri)
    n = count("alpha beta gamma\n")
    assert status["tokens"]["references"] == n
    labels = [h[2] for h in await session.hints(uri)]
    assert labels[1:] == [f"+{n:,}", "+0"]


async def test_variable_hints(session: Session) -> None:
    text = "---\nvariables:\n  who: Ada Lovelace\n---\nHello {{ who }} and {{ nobody }}!\n"
    uri = session.open("v.md", text)
    status = await session.ready(uri)
    assert status["tokens"]["references"] == count("Ada Lovelace")
    hints = await session.hints(uri)
    assert [h[2] for h in hints][1:] == [f"+{count('Ada Lovelace'):,}", "⚠ undefined"]
    line = text.split("\n")[4]
    assert hints[1][:2] == (4, session.cols(line[: line.index("}}") + 2]))


@pytest.mark.parametrize("client", ["neovim"], indirect=True)  # a client told to refresh
async def test_counting_hint_while_pending(session: Session) -> None:
    big = "".join(
        f"Line {i}: the quick brown fox jumps over the lazy dog.\n" for i in range(60_000)
    )
    uri = session.open("big.md", "Title\n" + big)
    # handled in order after didOpen, long before a 3 MB count is done
    first = await session.hints(uri, 0, 0)
    assert first == [(0, 5, "counting…")]
    refreshes = session.refreshes
    status = await session.ready(uri)
    await session.wait_for(lambda: session.refreshes > refreshes)  # then asked to re-request
    assert status["tokens"]["text"] == count("Title\n" + big)
    assert (await session.hints(uri, 0, 0))[0][2] == total_label(status["tokens"]["total"], 8192)


@pytest.fixture
async def slow_url() -> AsyncIterator[str]:
    """A local HTTP endpoint that answers after 0.6 s (the count stays pending that long)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(0.6)
        body = SLOW_BODY.encode()
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n" % len(body)
        writer.write(head + b"Connection: close\r\n\r\n" + body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/slow.txt"
    server.close()


SLOW_BODY = "the slow reference's text\n"
NO_REFRESH = pytest.mark.parametrize("client", ["emacs"], indirect=True)
"""The Emacs profile: inlay hints, but no ``workspace/inlayHint/refresh``."""


@NO_REFRESH
async def test_a_client_without_refresh_gets_the_total_not_counting(
    session: Session, slow_url: str
) -> None:
    """Such a client is never told when the count lands: a hint request for a document still
    being counted waits for it (bounded) and answers with the total."""
    text = f"Use @{slow_url} once\n"
    uri = session.open("p.md", text)
    hints = await session.hints(uri, 0, 0)  # asked once, while the reference is being fetched
    total = count(text) + count(SLOW_BODY)
    assert hints == [
        (0, session.cols(text.rstrip("\n")), total_label(total, 8192)),
        (0, session.cols(f"Use @{slow_url}"), f"+{count(SLOW_BODY):,}"),
    ]
    assert session.refreshes == 0


@NO_REFRESH
@pytest.mark.settings({"debounceMs": 400})
async def test_a_client_without_refresh_gets_the_total_of_the_edit(session: Session) -> None:
    uri = session.open("p.md", "first words\n")
    await session.ready(uri)
    session.change(uri, "quite different and longer words now\n")
    (hint,) = await session.hints(uri, 0, 0)  # the recount is still debounced: it waits
    assert hint[2] == total_label(count("quite different and longer words now\n"), 8192)
