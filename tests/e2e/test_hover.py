"""Hover on a reference: target, kind, tokens, bytes, cache state (Markdown)."""

from __future__ import annotations

from lsprotocol import types
from pytest_httpserver import HTTPServer

from tests.e2e.conftest import Session, count

CONTENT = "Reference material: 42 facts.\n"


async def hover(session: Session, uri: str, line: int, col: int) -> types.Hover | None:
    return await session.client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=col),
        )
    )


async def test_hover_on_a_reference(session: Session) -> None:
    path = session.write("ref/facts.md", CONTENT)
    text = "Use @ref/facts.md now\n"
    uri = session.open("p.md", text)
    await session.ready(uri)
    h = await hover(session, uri, 0, session.cols("Use @ref/f"))
    assert h is not None
    assert isinstance(h.contents, types.MarkupContent)
    assert h.contents.kind == types.MarkupKind.Markdown
    md = h.contents.value
    assert f"`{path}`" in md
    assert "| kind | file |" in md
    assert f"| tokens | {count(CONTENT):,} |" in md
    assert f"| bytes | {len(CONTENT.encode()):,} |" in md
    assert "| cache |" in md
    assert h.range is not None
    assert (h.range.start.character, h.range.end.character) == (
        session.cols("Use "),
        session.cols("Use @ref/facts.md"),
    )
    assert await hover(session, uri, 0, 1) is None
    assert await hover(session, "file:///nowhere/x.md", 0, 0) is None


async def test_hover_on_a_url_reference(session: Session, httpserver: HTTPServer) -> None:
    body = '{"items": [{"id": 1, "name": "tea"}, {"id": 2, "name": "coffee"}]}'
    httpserver.expect_request("/v1/items").respond_with_data(body, content_type="application/json")
    url = httpserver.url_for("/v1/items")
    text = f"Data: @{url}\n"
    uri = session.open("p.md", text)
    status = await session.ready(uri)
    assert status["tokens"]["references"] == count(body)
    h = await hover(session, uri, 0, session.cols("Data: @h"))
    assert h is not None and isinstance(h.contents, types.MarkupContent)
    md = h.contents.value
    assert f"`{url}`" in md and "| kind | url |" in md
    assert f"| tokens | {count(body):,} |" in md
    assert f"| bytes | {len(body):,} |" in md
    assert "| fetched at |" in md and "UTC" in md
