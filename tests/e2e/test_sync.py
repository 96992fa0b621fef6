"""Incremental sync and debounce: edits applied exactly (CRLF, emoji), a burst of edits gives
one recount for the last version, stale versions are never published."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Session, count


@pytest.mark.settings({"debounceMs": 400})
async def test_burst_of_edits_recounts_once_for_the_last_version(session: Session) -> None:
    uri = session.open("p.md", "start\n")
    await session.ready(uri, 1)
    before = len(session.statuses_for(uri))
    text = "start\n"
    last = 1
    for i in range(8):  # sent back to back, well inside the 400 ms debounce
        last = session.change(uri, f"x{i} ", (0, 0, 0, 0))
        text = f"x{i} " + text
    status = await session.ready(uri, last)
    assert status["tokens"]["text"] == count(text)
    later = session.statuses_for(uri)[before:]
    assert [(s["version"], s["state"]) for s in later] == [(last, "counting"), (last, "ready")]
    published = [d for d in session.diagnostics(uri)]
    assert published == []


async def test_incremental_edits_stay_exact(session: Session) -> None:
    text = "line one 😀\r\nline two\rline three\n# Head\nbody\n"
    uri = session.open("p.md", text)
    await session.ready(uri)
    cols = session.cols
    # replace "two" (line 1, after the lone CR the next line starts)
    session.change(uri, "2️⃣", (1, cols("line "), 1, cols("line two")))
    text = text.replace("two", "2️⃣")
    # insert after the emoji on line 0
    session.change(uri, " ok", (0, cols("line one 😀"), 0, cols("line one 😀")))
    text = text.replace("😀", "😀 ok")
    # join line 2 and 3 by deleting the line break
    session.change(uri, "", (2, cols("line three"), 3, 0))
    text = text.replace("three\n# Head", "three# Head")
    v = session.change(uri, "!", (99, 0, 99, 0))  # past the end: appends
    text += "!"
    status = await session.ready(uri, v)
    assert status["tokens"]["text"] == count(text)
    stats = await session.command("promptTokens.documentStats", uri)
    assert stats["sections"] == []  # "# Head" no longer starts a line


async def test_close_clears_diagnostics_and_reopen(session: Session) -> None:
    uri = session.open("p.md", "see @nothing.md\n")
    await session.ready(uri)
    assert session.diagnostics(uri)
    session.close(uri)
    await session.wait_for(lambda: session.diagnostics(uri) == [])
    mark = len(session.statuses)
    uri = session.open("p.md", "fine\n", write=False)
    status = await session.ready(uri, since=mark)
    assert status["tokens"]["total"] == count("fine\n")


async def test_edits_while_a_big_document_is_being_opened(session: Session) -> None:
    text = "".join(
        f"Paragraph {i}: counting tokens exactly, block by block.\n" for i in range(60_000)
    )
    uri = session.open("big.md", text)
    session.change(uri, "Intro ", (0, 0, 0, 0))  # sent before the blocks are built
    v = session.change(uri, "!", (59_999, 5, 59_999, 5))
    text = "Intro " + text
    lines = text.split("\n")
    lines[59_999] = lines[59_999][:5] + "!" + lines[59_999][5:]
    text = "\n".join(lines)
    status = await session.ready(uri, v, within=60)
    assert status["tokens"]["text"] == count(text)
