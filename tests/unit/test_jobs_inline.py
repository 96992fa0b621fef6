"""Where an open buffer's recount runs (``jobs.inline``): on the event loop when its last
recount was cheap, whatever the document's size; on a worker thread otherwise."""

from __future__ import annotations

import asyncio
import threading

import pytest

from prompt_tokens.document import DocumentState
from prompt_tokens.jobs import inline
from prompt_tokens.jobs.inline import (
    INLINE_MAX_CHARS,
    INLINE_MAX_DOCUMENT,
    INLINE_MAX_S,
    REMEMBERED,
    InlinePolicy,
)
from prompt_tokens.runtime import Runtime
from prompt_tokens.runtime_agents import Scanner


def test_an_unmeasured_document_runs_inline_only_when_small() -> None:
    p = InlinePolicy()
    assert p.inline("doc:a", 10, INLINE_MAX_DOCUMENT)
    assert not p.inline("doc:a", 10, INLINE_MAX_DOCUMENT + 1)
    assert not p.inline("doc:a", INLINE_MAX_CHARS + 1, 100)


def test_the_last_recounts_cost_decides_for_a_measured_document() -> None:
    p = InlinePolicy()
    p.measured("doc:big", 10, INLINE_MAX_S / 2)
    p.measured("doc:slow", 10, INLINE_MAX_S * 2)
    assert p.inline("doc:big", 10, 10 * INLINE_MAX_DOCUMENT)  # cheap: its size does not matter
    assert not p.inline("doc:slow", 10, 100)  # dear: a thread, however small
    assert not p.inline("doc:big", INLINE_MAX_CHARS + 1, 100)  # much new text: a thread
    p.measured("doc:big", INLINE_MAX_CHARS + 1, INLINE_MAX_S * 2)  # an open: says nothing
    assert p.inline("doc:big", 10, 10 * INLINE_MAX_DOCUMENT)


def test_only_the_most_recently_counted_documents_are_remembered() -> None:
    p = InlinePolicy()
    for i in range(REMEMBERED + 1):
        p.measured(f"doc:{i}", 10, INLINE_MAX_S * 2)
    assert p.inline("doc:0", 10, 100)  # forgotten: judged by size again
    assert not p.inline(f"doc:{REMEMBERED}", 10, 100)


def _threads_of_three_counts() -> list[str]:
    """The thread each of a >2M-character buffer's counts ran its scan on: the open, then
    two keystrokes."""
    threads: list[str] = []

    def scan(text: str) -> list[object]:
        threads.append(threading.current_thread().name)
        return []

    scanner = Scanner(scan=scan, key=("test",), cache_key="test")  # type: ignore[arg-type]
    text = "a line of words\n\n" * (INLINE_MAX_DOCUMENT // 17 + 1000)

    async def go() -> list[str]:
        rt = Runtime()
        doc = DocumentState(text)
        for k in range(3):
            if k:
                doc.apply_change("x", (0, 0, 0, 0))
            snap = doc.snapshot()
            await rt.count_buffer(snap, scanner, name="a", label="a", group="doc:a", active=True)
            doc.adopt(snap)
        await rt.aclose()
        return threads

    return asyncio.run(go())


def test_a_big_buffers_cheap_recount_runs_on_the_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(inline, "INLINE_MAX_S", 60.0)  # every recount is "cheap": no timing
    main = threading.current_thread().name
    opened, first_edit, second_edit = _threads_of_three_counts()
    assert opened != main and first_edit != main  # big, not measured yet: a worker
    assert second_edit == main  # the first keystroke's recount was measured cheap


def test_a_big_buffers_dear_recount_stays_on_a_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inline, "INLINE_MAX_S", 0.0)
    main = threading.current_thread().name
    assert main not in _threads_of_three_counts()
