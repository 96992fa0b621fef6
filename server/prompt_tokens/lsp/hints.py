"""Inlay hints (SPEC shapes) and ``workspace/inlayHint/refresh``.

- total, at the end of line 0: ``1,234 tokens · 15% of 8,192`` (``counting…`` until the first
  count, and while references of the newest count are still being resolved);
- after each reference: ``+2,048``, ``…`` while pending, ``⚠ not found``, or ``⚠ <short reason>``;
- at the end of each Markdown heading line: the tokens of its section, ``312 tokens``.

A document whose model has no local tokenizer shows estimates, each marked: ``≈ 1,234 tokens ·
1% of 200,000``, ``≈ +2,458``, ``≈ 312 tokens`` (``estimates``: the references and sections
scaled by the document's ratio); the total's tooltip says how it was estimated and, when the
model's price is known, what the prompt costs.

Hints describe the last finished count. When the document changed since, reference hints are
moved to where the same references are now (a newly typed one shows ``…`` until counted).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict, deque

from lsprotocol import types

from prompt_tokens.lsp import configuration
from prompt_tokens.lsp.base import PromptTokensServer
from prompt_tokens.lsp.diagnostics import to_range
from prompt_tokens.lsp.state import HintsShown, OpenDocument
from prompt_tokens.results import (
    DocumentResult,
    ReferenceResult,
    Span,
    approx,
    budget_percent,
    format_usd,
    widen,
)

log = logging.getLogger(__name__)

COUNTING = "counting…"
PENDING = "…"
UNREFRESHABLE_WAIT_S = 2.0
"""How long a hint request waits for a pending count when the client has no inlay hint refresh."""
ALIGN_MAX_CHARS = 2_000_000
"""Above this size a stale document's references are not re-scanned on the event loop."""

SHORT_REASONS = {
    "reference-not-found": "not found",
    "reference-outside-workspace": "outside workspace",
    "reference-fetch-failed": "fetch failed",
    "reference-too-large": "too large",
    "reference-binary": "binary",
    "reference-cycle": "cycle",
    "variable-undefined": "undefined",
}


def total_label(doc: OpenDocument) -> str:
    r = doc.result
    if r is None or doc.pending_references:
        if r is None and doc.error:
            return f"⚠ {doc.error}"[:80]
        return COUNTING
    total, budget = r.tokens.total, r.budget
    return f"{approx(r.exact)}{total:,} tokens · {budget_percent(total, budget)}% of {budget:,}"


def reference_label(r: ReferenceResult | None, doc: DocumentResult | None = None) -> str:
    """``doc``: the count ``r`` belongs to (an estimate scales and marks the figure)."""
    if r is None or r.status == "pending":
        return PENDING
    if r.status == "error":
        reason = SHORT_REASONS.get(r.code or "")
        if reason is None:
            reason = (r.error or r.code or "error").split(":")[0].split(";")[0][:40]
        return f"⚠ {reason}"
    if doc is None or doc.exact or r.tokens == 0:
        return f"+{r.tokens:,}"
    return f"≈ +{doc.shown(r.tokens):,}"


def reference_tooltip(r: ReferenceResult | None, doc: DocumentResult | None = None) -> str | None:
    if r is None:
        return "not counted yet"
    parts = [f"{r.kind}: {r.target}"]
    estimated = doc is not None and not doc.exact
    if r.status == "error":
        parts.append(r.error or r.code or "error")
    elif r.duplicate:
        parts.append(f"{r.own_tokens:,} tokens, already counted above (counted once)")
    elif doc is not None and estimated:
        parts.append(f"≈ {doc.shown(r.tokens):,} tokens (estimate; {r.tokens:,} in {doc.encoding})")
    else:
        parts.append(f"{r.tokens:,} tokens")
    if r.warning:
        parts.append(r.warning)
    return "\n".join(parts)


def current_references(
    ls: PromptTokensServer, doc: OpenDocument
) -> list[tuple[ReferenceResult | None, Span]]:
    """The document's references as written now, each with its last counted result."""
    r = doc.result
    counted = list(doc.counted_occurrences)
    results: list[ReferenceResult] = list(r.references[: len(counted)]) if r is not None else []
    if r is not None and doc.result_version == doc.version and not doc.pending_references:
        return [(res, res.span or occ.span) for res, occ in zip(results, counted, strict=False)]
    if len(doc.state) > ALIGN_MAX_CHARS:
        return [(res, res.span or occ.span) for res, occ in zip(results, counted, strict=False)]
    try:
        configuration.workspace_for(ls, doc.root)
        scanner = ls.runtime.scanner(doc.root, doc.path)
        now = doc.state.occurrences(scanner.scan, scanner.key) if scanner is not None else []
    except Exception:
        log.exception("re-scanning references for hints failed")
        return []
    known: dict[tuple[str, str], deque[ReferenceResult]] = defaultdict(deque)
    if not doc.pending_references:
        for res, occ in zip(results, counted, strict=False):
            known[(occ.kind, occ.target)].append(res)
    out: list[tuple[ReferenceResult | None, Span]] = []
    for occ in now:
        queue = known.get((occ.kind, occ.target))
        found: ReferenceResult | None = queue.popleft() if queue else None
        span = occ.span
        if found is not None and found.span is not None:
            # the resolver may have taken back trimmed punctuation (``@a.md.`` naming a.md.)
            extra = (found.span.end_offset - found.span.offset) - (span.end_offset - span.offset)
            span = widen(span, extra)
        out.append((found, span))
    return out


def _position(doc: OpenDocument, span: Span) -> types.Position:
    return to_range(doc, span).end


def compute(
    ls: PromptTokensServer, doc: OpenDocument, first: int, last: int
) -> list[types.InlayHint]:
    settings = configuration.settings_for(ls, doc.root).inlay_hints
    out: list[types.InlayHint] = []
    if settings.total and first <= 0 <= last:
        out.append(
            types.InlayHint(
                position=types.Position(line=0, character=doc.state.line_end(0)),
                label=total_label(doc),
                padding_left=True,
                tooltip=_total_tooltip(doc),
            )
        )
    if settings.references:
        for res, span in current_references(ls, doc):
            pos = _position(doc, span)
            if first <= pos.line <= last:
                out.append(
                    types.InlayHint(
                        position=pos,
                        label=PENDING
                        if doc.pending_references
                        else reference_label(res, doc.result),
                        padding_left=True,
                        tooltip=reference_tooltip(res, doc.result),
                    )
                )
    if settings.sections and (r := doc.result) is not None:
        stale = doc.result_version != doc.version
        for sec in doc.current_sections():
            if not first <= sec.line <= last or sec.line >= doc.state.line_count:
                continue
            if stale and not doc.state.line_text(sec.line).lstrip().startswith("#"):
                continue
            out.append(
                types.InlayHint(
                    position=types.Position(line=sec.line, character=doc.state.line_end(sec.line)),
                    label=f"{approx(r.exact)}{r.shown(sec.tokens):,} tokens",
                    padding_left=True,
                )
            )
    return out


def _total_tooltip(doc: OpenDocument) -> str | None:
    r = doc.result
    if r is None:
        return None
    model = f"{r.model}, " if r.model else ""
    a = approx(r.exact)
    lines = [
        f"text {a}{r.tokens.text:,} + references {a}{r.tokens.references:,} = "
        f"{a}{r.tokens.total:,} tokens ({model}{r.encoding}); budget {r.budget:,}"
    ]
    if r.method:
        lines.append(r.method)
    if r.cost_usd is not None:
        lines.append(f"input cost {a}{format_usd(r.cost_usd)} at the list price of {r.model}")
    return "\n".join(lines)


def refresh(ls: PromptTokensServer, doc: OpenDocument) -> None:
    """Ask the client to re-request hints when what they show changed (if it can)."""
    r = doc.result
    # cheap: a keystroke usually changes the total; the client re-requests hints after
    # edits by itself, the refresh is for changes it cannot know about (references, settings)
    shown: HintsShown = (
        total_label(doc),
        doc.pending_references,
        len(r.references) if r is not None else 0,
        sum(1 for x in r.references if x.status == "error") if r is not None else 0,
    )
    if shown == doc.hints_shown:
        return
    doc.hints_shown = shown
    if not ls.supports("workspace.inlay_hint.refresh_support"):
        return
    if ls.refresh_scheduled:
        return
    ls.refresh_scheduled = True
    ls.spawn(_send_refresh(ls), name="inlay hint refresh")


async def _send_refresh(ls: PromptTokensServer) -> None:
    await asyncio.sleep(0)  # one refresh for every count finished in this loop iteration
    ls.refresh_scheduled = False
    try:
        await asyncio.wait_for(ls.workspace_inlay_hint_refresh_async(None), 10)
    except (TimeoutError, Exception) as exc:
        log.debug("workspace/inlayHint/refresh failed: %s", exc)


async def inlay_hints(
    ls: PromptTokensServer, params: types.InlayHintParams
) -> list[types.InlayHint]:
    uri = params.text_document.uri
    doc = ls.docs.get(uri)
    if doc is None:
        return []
    if not doc.settled.is_set() and not ls.supports("workspace.inlay_hint.refresh_support"):
        # this client cannot be told to ask again once the count lands (``refresh``), so a
        # ``counting…`` answered now would stay until the user moves: wait for it, bounded
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(doc.settled.wait(), UNREFRESHABLE_WAIT_S)
        doc = ls.docs.get(uri)
        if doc is None:
            return []
    return compute(ls, doc, params.range.start.line, params.range.end.line)
