"""A Claude model's count is an estimate, marked wherever the server shows a number: the inlay
hints, ``promptTokens/status``, ``documentStats``, the budget diagnostic and the hover; an
exact model's count is not marked. Expected numbers: plain tiktoken × the factor, here."""

from __future__ import annotations

import math
from fractions import Fraction

from lsprotocol import types

from tests.e2e.conftest import Session, count, percent

FACTOR = Fraction(6, 5)  # data/models.toml: tokenizers.claude factor = "1.20"
PRICE = 3.0  # claude-sonnet-4-5, USD per million input tokens
NOTES = "Reference notes: the service answers in JSON with an error code.\n" * 4
DOC = (
    "---\n"
    "model: Claude Sonnet 4.5 (copilot)\n"
    "---\n"
    "Review the change for risks.\n"
    "See @notes.md for context.\n"
    "# Rules\n"
    "Be brief and concrete.\n"
)


def estimate(n: int) -> int:
    return math.floor(n * FACTOR + Fraction(1, 2))


async def hover(session: Session, uri: str, line: int, col: int) -> types.Hover | None:
    return await session.client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=col),
        )
    )


async def test_claude_estimate_is_marked_everywhere(session: Session) -> None:
    session.write("notes.md", NOTES)
    uri = session.open("p.md", DOC)
    status = await session.ready(uri)
    text, refs = count(DOC, "o200k_base"), count(NOTES, "o200k_base")
    total = estimate(text + refs)
    assert status["encoding"] == "o200k_base" and status["budget"] == 200_000
    assert status["tokens"] == {
        "text": estimate(text),
        "references": total - estimate(text),
        "total": total,
    }
    assert status["exact"] is False
    assert status["method"].startswith("estimate: o200k_base count x 1.20")
    assert status["costUsd"] == round(total * PRICE / 1e6, 8)
    assert status["percent"] == percent(total, 200_000)

    hints = await session.hints(uri)
    lines = DOC.split("\n")
    section = estimate(count(DOC[DOC.index("# Rules") :], "o200k_base"))
    assert hints == [
        (0, session.cols(lines[0]), f"≈ {total:,} tokens · {percent(total, 200_000)}% of 200,000"),
        (4, session.cols("See @notes.md"), f"≈ +{estimate(refs):,}"),
        (5, session.cols("# Rules"), f"≈ {section:,} tokens"),
    ]

    stats = await session.command("promptTokens.documentStats", uri)
    assert (stats["exact"], stats["method"]) == (False, status["method"])
    assert stats["model"] == "claude-sonnet-4-5"
    assert stats["references"][0]["tokens"] == estimate(refs)

    h = await hover(session, uri, 0, 1)
    assert h is not None and isinstance(h.contents, types.MarkupContent)
    md = h.contents.value
    assert f"| total | ≈ {total:,} tokens |" in md
    assert "| exact | no: an estimate |" in md
    assert "| method | estimate: o200k_base count x 1.20" in md
    assert f"| o200k_base count | {text + refs:,} |" in md
    assert "| input cost | ≈ $0.0" in md
    ref_hover = await hover(session, uri, 4, session.cols("See @no"))
    assert ref_hover is not None and isinstance(ref_hover.contents, types.MarkupContent)
    assert f"| tokens | ≈ {estimate(refs):,} (estimate; {refs:,} in o200k_base) |" in (
        ref_hover.contents.value
    )


async def test_budget_diagnostic_says_approximately(session: Session) -> None:
    doc = "---\nmodel: claude-sonnet-4-5\nmax_tokens: 20\n---\n" + "Summarise the issue. " * 4
    uri = session.open("p.md", doc)
    status = await session.ready(uri)
    shown = estimate(count(doc, "o200k_base"))
    assert status["status"] == "exceeded" and status["tokens"]["total"] == shown
    (d,) = session.diagnostics(uri)
    assert d.code == "budget-exceeded"
    assert d.message == f"Prompt uses ≈ {shown:,} of 20 tokens ({percent(shown, 20)}%)"


async def test_exact_model_is_not_marked(session: Session) -> None:
    doc = "---\nmodel: gpt-4o\n---\nReview the change for risks.\n"
    uri = session.open("p.md", doc)
    status = await session.ready(uri)
    n = count(doc, "o200k_base")
    assert status["tokens"]["total"] == n
    assert (status["exact"], status["method"]) == (True, None)
    assert status["costUsd"] == round(n * 2.5 / 1e6, 8)
    (label,) = [h[2] for h in await session.hints(uri)]
    assert label == f"{n:,} tokens · {percent(n, 128_000)}% of 128,000"
    h = await hover(session, uri, 0, 1)  # an exact count with a price: the cost, unmarked
    assert h is not None and isinstance(h.contents, types.MarkupContent)
    assert "| exact | yes |" in h.contents.value
    assert n * 2.5 / 1e6 < 0.0001  # a short prompt: below a hundredth of a cent
    assert "| input cost | <$0.0001 (list price) |" in h.contents.value
