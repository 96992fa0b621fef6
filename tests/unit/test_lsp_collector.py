"""The collector kept off the keystroke path of big documents (``lsp.collector``): what a
count of a big document left alive is frozen out of collections, a small document's is not,
and the idle collection (or a first count) frees cycles made while typing."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from prompt_tokens.lsp import collector
from prompt_tokens.lsp.collector import BIG_CHARS, IdleCollector


@pytest.fixture(autouse=True)
def _unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_a_big_documents_later_counts_freeze_what_they_kept() -> None:
    async def go() -> tuple[int, int, int]:
        c = IdleCollector()
        kept = [[i] for i in range(5_000)]  # what a keystroke keeps: lists, like occurrences
        c.counted(100, first=False)
        small = gc.get_freeze_count()
        c.counted(BIG_CHARS, first=False)
        big = gc.get_freeze_count()
        c.close()
        return small, big, len(kept)

    small, big, kept = asyncio.run(go())
    assert small == 0  # a small document changes nothing
    assert big >= kept


def test_the_idle_collection_frees_cycles_frozen_while_typing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(collector, "IDLE_S", 0.01)

    class Node:
        other: object = None

    async def go() -> bool:
        c = IdleCollector()
        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle: reference counting alone never frees it
        probe = weakref.ref(a)
        c.counted(BIG_CHARS, first=False)  # alive: frozen with the rest
        del a, b  # garbage now, among frozen objects
        gc.collect()
        assert probe() is not None  # frozen objects are not collected...
        await asyncio.sleep(0.2)  # ...until the pause
        return probe() is None

    assert asyncio.run(go())


def test_a_big_documents_first_count_frees_the_cycles_before_it() -> None:
    class Node:
        other: object = None

    async def go() -> tuple[bool, bool]:
        c = IdleCollector()
        a, b = Node(), Node()
        a.other, b.other = b, a
        probe = weakref.ref(a)
        del a, b  # dropped before the count: garbage
        c.counted(BIG_CHARS, first=False)  # a later count only freezes: it waits
        kept = probe() is not None
        c.counted(BIG_CHARS, first=True)  # the first count collects everything
        c.close()
        return kept, probe() is None

    assert asyncio.run(go()) == (True, True)
