"""Diagnostics: budget warning/exceeded on line 0 with the numbers, reference codes on the
reference's range, severities per SPEC, versioned publication."""

from __future__ import annotations

import asyncio

import pytest
from lsprotocol import types

from prompt_tokens.lsp.diagnostics import HOLD_MIN, HOLD_S
from tests.e2e.conftest import Session, budget_message, count

TEXT = "Write a haiku about the sea.\nKeep it calm and precise.\n"


def by_code(session: Session, uri: str) -> dict[str, types.Diagnostic]:
    return {str(d.code): d for d in session.diagnostics(uri)}


@pytest.mark.settings({"budget": 20, "warningRatio": 0.5})
async def test_budget_warning_says_the_numbers(session: Session) -> None:
    uri = session.open("p.md", TEXT)
    await session.ready(uri)
    n = count(TEXT)
    assert 10 <= n <= 20  # the fixture's premise
    (d,) = session.diagnostics(uri)
    assert d.code == "budget-warning"
    assert d.severity == types.DiagnosticSeverity.Warning
    assert d.source == "prompt-tokens"
    assert d.message == budget_message(n, 20)
    assert (d.range.start.line, d.range.start.character) == (0, 0)
    assert (d.range.end.line, d.range.end.character) == (0, session.cols(TEXT.split("\n")[0]))


@pytest.mark.settings({"budget": 10})
async def test_budget_exceeded_is_an_error_and_clears(session: Session) -> None:
    uri = session.open("p.md", TEXT)
    await session.ready(uri)
    (d,) = session.diagnostics(uri)
    assert (d.code, d.severity) == ("budget-exceeded", types.DiagnosticSeverity.Error)
    assert d.message == budget_message(count(TEXT), 10)
    session.change(uri, "ok\n")
    await session.ready(uri)
    assert session.diagnostics(uri) == []


async def test_reference_diagnostics_on_the_written_range(session: Session) -> None:
    session.write("bin.dat", "\x00\x01binary")
    text = "Intro 😀 @missing/file.md and @bin.dat then {{ ghost }}.\n"
    uri = session.open("p.md", text)
    await session.ready(uri)
    diags = by_code(session, uri)
    assert set(diags) == {"reference-not-found", "reference-binary", "variable-undefined"}
    nf = diags["reference-not-found"]
    start = text.index("@missing")
    assert nf.severity == types.DiagnosticSeverity.Warning
    assert (nf.range.start.line, nf.range.start.character) == (0, session.cols(text[:start]))
    assert nf.range.end.character == session.cols(text[: start + len("@missing/file.md")])
    assert diags["reference-binary"].severity == types.DiagnosticSeverity.Warning
    undefined = diags["variable-undefined"]
    assert undefined.severity == types.DiagnosticSeverity.Information
    assert undefined.range.start.character == session.cols(text[: text.index("{{")])


async def test_front_matter_diagnostics(session: Session) -> None:
    text = "---\nmodel: gpt-99-imaginary\n---\nHello\n"
    uri = session.open("p.md", text)
    status = await session.ready(uri)
    assert "unknown-model" in by_code(session, uri)
    assert status["encoding"] == "cl100k_base"
    text2 = "---\nmodel: gpt-4o\nmax_tokens: 1000\n---\nHello\n"
    session.change(uri, text2)
    status = await session.ready(uri)
    assert status["encoding"] == "o200k_base"
    assert status["budget"] == 1000
    assert status["tokens"]["text"] == count(text2, "o200k_base")
    assert session.diagnostics(uri) == []


@pytest.mark.settings({"budget": 10})
async def test_a_big_lists_new_numbers_wait_for_a_pause_a_new_problem_does_not(
    session: Session,
) -> None:
    refs = " ".join(f"@missing/{i}.md" for i in range(HOLD_MIN))
    uri = session.open("p.md", f"Intro.\n{refs}\n")
    first = await session.ready(uri)
    assert len(session.diagnostics(uri)) == HOLD_MIN + 1  # the budget's and one per reference
    assert by_code(session, uri)["budget-exceeded"].message == budget_message(
        first["tokens"]["total"], 10
    )

    session.change(uri, "Intro, with more words in it.", (0, 0, 0, 6))  # only numbers change
    typed = await session.ready(uri)
    assert typed["tokens"]["total"] > first["tokens"]["total"]
    # held back: when the status came, the client still had the old numbers
    at_ready = session.diagnostics_at_status[session.statuses.index(typed)]
    held = {str(d.code): d for d in at_ready}["budget-exceeded"].message
    assert held == budget_message(first["tokens"]["total"], 10)
    new = budget_message(typed["tokens"]["total"], 10)
    await session.wait_for(lambda: by_code(session, uri)["budget-exceeded"].message == new)

    session.change(uri, " @missing/new.md", (0, 29, 0, 29))  # a new problem: at once
    await session.ready(uri)
    assert len(session.diagnostics(uri)) == HOLD_MIN + 2


@pytest.mark.settings({"budget": 10})
async def test_an_undo_drops_the_list_held_back(session: Session) -> None:
    refs = " ".join(f"@missing/{i}.md" for i in range(HOLD_MIN))
    uri = session.open("p.md", f"Intro.\n{refs}\n")
    first = await session.ready(uri)
    session.change(uri, "Intro, with more words in it.", (0, 0, 0, 6))  # held back
    await session.ready(uri)
    session.change(uri, "Intro.", (0, 0, 0, 29))  # undone: the client's list is right again
    again = await session.ready(uri)
    assert again["tokens"] == first["tokens"]
    await asyncio.sleep(HOLD_S + 0.5)  # the held list must not come after all
    old = budget_message(first["tokens"]["total"], 10)
    assert by_code(session, uri)["budget-exceeded"].message == old
