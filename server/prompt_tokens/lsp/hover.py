"""Hover (Markdown): on a reference, its target, kind, tokens, bytes, cache state and fetch
time; elsewhere on line 0 (where the total's hint is), the document's count when there is more
to say than the hint does: how an estimate was made and, when the model's price is known, the
prompt's input cost (``≈`` when the count is an estimate; no price, no cost: never a guess).
A plain exact count without a price has no line-0 hover (the hint says it all)."""

from __future__ import annotations

import datetime
import logging

from lsprotocol import types

from prompt_tokens.lsp import agent_hover, hints
from prompt_tokens.lsp.base import PromptTokensServer
from prompt_tokens.lsp.diagnostics import to_range
from prompt_tokens.lsp.state import OpenDocument
from prompt_tokens.results import DocumentResult, ReferenceResult, approx, format_usd

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


def _tokens_cell(res: ReferenceResult, doc: DocumentResult | None) -> str:
    if res.duplicate:
        own = res.own_tokens if doc is None or doc.exact else doc.shown(res.own_tokens)
        return f"{res.tokens:,} (already counted above; the target has {approx(doc is None or doc.exact)}{own:,})"
    if doc is None or doc.exact:
        return f"{res.tokens:,}"
    return f"≈ {doc.shown(res.tokens):,} (estimate; {res.tokens:,} in {doc.encoding})"


def markdown(doc: OpenDocument, res: ReferenceResult | None, written: str) -> str:
    if res is None:
        return f"**{_cell(written)}**\n\nnot counted yet"
    rows = [
        ("target", f"`{res.target}`"),
        ("kind", res.kind),
        ("tokens", _tokens_cell(res, doc.result)),
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


def total_markdown(r: DocumentResult) -> str | None:
    """The line-0 hover: the count, how it was made and its cost; None when the hint says all."""
    if r.exact and r.cost_usd is None and not r.method:
        return None
    a = approx(r.exact)
    rows = [
        ("total", f"{a}{r.tokens.total:,} tokens"),
        ("text", f"{a}{r.tokens.text:,}"),
        ("references", f"{a}{r.tokens.references:,}"),
        ("budget", f"{r.budget:,}"),
    ]
    if r.model:
        rows.append(("model", r.model))
    rows.append(("counted with", r.encoding))
    if r.local is not None:
        rows.append((f"{r.encoding} count", f"{r.local.total:,}"))
    rows.append(("exact", "yes" if r.exact else "no: an estimate"))
    if r.method:
        rows.append(("method", r.method))
    if r.cost_usd is not None:
        rows.append(("input cost", f"{a}{format_usd(r.cost_usd)} (list price)"))
    table = "\n".join(f"| {k} | {_cell(v)} |" for k, v in rows)
    return f"**Prompt tokens**\n\n| | |\n|---|---|\n{table}"


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
    if pos.line == 0 and doc.result is not None:
        md = total_markdown(doc.result)
        if md is not None:
            return types.Hover(
                contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=md)
            )
    return None


def on_hover(ls: PromptTokensServer, params: types.HoverParams) -> types.Hover | None:
    doc = ls.docs.get(params.text_document.uri)
    if doc is None:
        return None
    return hover(ls, doc, params.position) or agent_hover.hover(ls, doc, params.position)
