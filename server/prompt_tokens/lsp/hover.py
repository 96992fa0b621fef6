"""Hover on a reference: target, kind, tokens, bytes, cache state and fetch time (Markdown)."""

from __future__ import annotations

import datetime
import logging

from lsprotocol import types

from prompt_tokens.lsp import agent_hover, hints
from prompt_tokens.lsp.base import PromptTokensServer
from prompt_tokens.lsp.diagnostics import to_range
from prompt_tokens.lsp.state import OpenDocument
from prompt_tokens.results import ReferenceResult

log = logging.getLogger(__name__)

CACHE_STATES = {
    "memory": "memory cache",
    "disk": "SQLite cache",
    "miss": "counted now",
    "revalidated": "revalidated (HTTP 304)",
    "open-buffer": "open editor buffer (unsaved text)",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(doc: OpenDocument, res: ReferenceResult | None, written: str) -> str:
    if res is None:
        return f"**{_cell(written)}**\n\nnot counted yet"
    rows = [
        ("target", f"`{res.target}`"),
        ("kind", res.kind),
        (
            "tokens",
            f"{res.tokens:,}"
            + (
                f" (already counted above; the target has {res.own_tokens:,})"
                if res.duplicate
                else ""
            ),
        ),
    ]
    if res.bytes is not None:
        rows.append(("bytes", f"{res.bytes:,}"))
    if res.cache:
        rows.append(("cache", CACHE_STATES.get(res.cache, res.cache)))
    if res.fetched_at:
        when = datetime.datetime.fromtimestamp(res.fetched_at, tz=datetime.UTC)
        rows.append(("fetched at", when.strftime("%Y-%m-%d %H:%M:%S UTC")))
    if res.status == "error":
        rows.append(("error", f"{res.error or res.code} (`{res.code}`)"))
    if res.warning:
        rows.append(("warning", res.warning))
    encoding = doc.result.encoding if doc.result is not None else doc.state.encoding
    table = "\n".join(f"| {k} | {_cell(v)} |" for k, v in rows)
    return f"**{_cell(res.raw or written)}** — {res.kind} reference ({encoding})\n\n| | |\n|---|---|\n{table}"


def hover(ls: PromptTokensServer, doc: OpenDocument, pos: types.Position) -> types.Hover | None:
    for res, span in hints.current_references(ls, doc):
        rng = to_range(doc, span)
        if (
            (rng.start.line, rng.start.character)
            <= (pos.line, pos.character)
            <= (
                rng.end.line,
                rng.end.character,
            )
        ):
            written = (
                doc.state.text()[span.offset : span.end_offset] if len(doc.state) < 1 << 20 else ""
            )
            return types.Hover(
                contents=types.MarkupContent(
                    kind=types.MarkupKind.Markdown, value=markdown(doc, res, written)
                ),
                range=rng,
            )
    return None


def on_hover(ls: PromptTokensServer, params: types.HoverParams) -> types.Hover | None:
    doc = ls.docs.get(params.text_document.uri)
    if doc is None:
        return None
    return hover(ls, doc, params.position) or agent_hover.hover(ls, doc, params.position)
