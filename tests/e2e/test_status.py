"""``promptTokens/status``: exact shape, counting → ready per version; commands."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Session, count, percent

KEYS = {
    "uri",
    "version",
    "state",
    "encoding",
    "budget",
    "tokens",
    "pendingReferences",
    "status",
    "percent",
    "exact",
    "method",
    "costUsd",
}


async def test_status_shape_and_sequence(session: Session) -> None:
    session.write("notes.txt", "some notes\n")
    text = "Prompt with @notes.txt\n"
    uri = session.open("p.md", text)
    ready = await session.ready(uri)
    assert set(ready) == KEYS
    total = count(text) + count("some notes\n")
    assert ready == {
        "uri": uri,
        "version": 1,
        "state": "ready",
        "encoding": "cl100k_base",
        "budget": 8192,
        "tokens": {"text": count(text), "references": count("some notes\n"), "total": total},
        "pendingReferences": 0,
        "status": "ok",
        "percent": percent(total, 8192),
        "exact": True,
        "method": None,
        "costUsd": None,
    }
    states = [s["state"] for s in session.statuses_for(uri)]
    assert states[0] == "counting" and states[-1] == "ready"
    v = session.change(uri, "Short\n")
    ready = await session.ready(uri, v)
    assert ready["tokens"] == {"text": count("Short\n"), "references": 0, "total": count("Short\n")}
    assert all(set(s) == KEYS for s in session.statuses)


@pytest.mark.settings({"model": "gpt-4o"})
async def test_model_setting_sets_encoding_and_budget(session: Session) -> None:
    uri = session.open("p.md", "Hello there\n")
    ready = await session.ready(uri)
    assert ready["encoding"] == "o200k_base"
    assert ready["budget"] == 128_000  # gpt-4o's context window
    assert ready["tokens"]["text"] == count("Hello there\n", "o200k_base")


async def test_document_stats_command(session: Session) -> None:
    session.write("a.md", "alpha\n")
    text = "# Title\nSee @a.md\n# Next\nmore\n"
    uri = session.open("p.md", text)
    await session.ready(uri)
    stats = await session.command("promptTokens.documentStats", uri)
    assert {k: stats[k] for k in KEYS} == {k: v for k, v in (await session.ready(uri)).items()}
    assert stats["references"] == [
        {
            "kind": "file",
            "target": str(session.ws / "a.md"),
            "tokens": count("alpha\n"),
            "status": "ok",
            "error": None,
        }
    ]
    assert stats["sections"] == [
        {"line": 0, "title": "Title", "tokens": count("# Title\nSee @a.md\n")},
        {"line": 2, "title": "Next", "tokens": count("# Next\nmore\n")},
    ]
    # a file that is not open is counted from disk
    disk = await session.command("promptTokens.documentStats", session.uri("a.md"))
    assert disk["tokens"]["total"] == count("alpha\n")


async def test_jobs_and_clear_cache_commands(session: Session) -> None:
    session.write("r.txt", "referenced\n")
    uri = session.open("p.md", "Use @r.txt\n")
    await session.ready(uri)
    jobs = await session.command("promptTokens.jobs")
    counters = jobs["queue"]["counters"]
    assert {k: counters[k] for k in ("submitted", "done", "failed", "cancelled")} == {
        "submitted": 1,
        "done": 1,
        "failed": 0,
        "cancelled": 0,
    }
    assert (jobs["documents"], jobs["debounce"]["fired"]) == (1, 1)
    stats = jobs["cache"]  # the session's cache is memory-only (conftest)
    assert (stats["path"], stats["persistent"], stats["pending_writes"]) == (None, False, 0)
    assert stats["entries"]["fingerprints"] == 1  # r.txt
    assert stats["memory_entries"] == sum(stats["entries"].values())
    # no file: no rows removed, and what memory held is gone
    assert await session.command("promptTokens.clearCache") == {"cleared": 0}
    after = (await session.command("promptTokens.jobs"))["cache"]
    assert (after["entries"], after["memory_entries"]) == (
        {"counts": 0, "fingerprints": 0, "http": 0, "results": 0},
        0,
    )
