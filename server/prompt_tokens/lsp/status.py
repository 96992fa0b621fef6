"""The ``promptTokens/status`` notification, sent when a count starts and when it ends.

Shape (SPEC, plus the budget verdict): ``{uri, version, state: "counting"|"ready"|"error",
encoding, budget, tokens: {text, references, total}, pendingReferences,
status: "ok"|"warning"|"exceeded", percent}``. While counting, the numbers are the best known
so far (the text count as soon as it is known, the previous references total).

``status`` and ``percent`` are the server's verdict, so clients only display them: once ready,
``status`` is what the budget diagnostics say (the workspace's merged settings, including its
``.prompt-tokens.toml``), and ``percent`` is ``results.budget_percent``, the percentage the
inlay hint and the diagnostic message show too.
"""

from __future__ import annotations

import logging
from typing import Any

from prompt_tokens.lsp import configuration
from prompt_tokens.lsp.base import PromptTokensServer
from prompt_tokens.lsp.state import OpenDocument
from prompt_tokens.results import budget_percent, budget_status

log = logging.getLogger(__name__)

METHOD = "promptTokens/status"


def status_object(
    doc: OpenDocument,
    state: str,
    *,
    warning_ratio: float,
    encoding: str | None = None,
    budget: int | None = None,
) -> dict[str, Any]:
    """``warning_ratio``: the root's current setting, used for numbers not yet counted in
    full (a ready count's own verdict is used as it is)."""
    r = doc.result
    interim = doc.interim_text_tokens
    text = interim if interim is not None else (r.tokens.text if r is not None else 0)
    refs = r.tokens.references if r is not None else 0
    total = text + refs
    budget = budget if budget is not None else (r.budget if r is not None else 0)
    if state == "ready" and r is not None and (total, budget) == (r.tokens.total, r.budget):
        verdict = r.status
    else:
        verdict = budget_status(total, budget, warning_ratio)
    return {
        "uri": doc.uri,
        "version": doc.version,
        "state": state,
        "encoding": encoding or (r.encoding if r is not None else doc.state.encoding),
        "budget": budget,
        "tokens": {"text": text, "references": refs, "total": total},
        "pendingReferences": doc.pending_references,
        "status": verdict,
        "percent": budget_percent(total, budget),
    }


def current(ls: PromptTokensServer, doc: OpenDocument, state: str) -> dict[str, Any]:
    """The status object of ``doc`` as last counted, under its root's current settings."""
    ratio = configuration.settings_for(ls, doc.root).warning_ratio
    return status_object(doc, state, warning_ratio=ratio)


def notify(
    ls: PromptTokensServer,
    doc: OpenDocument,
    state: str,
    *,
    encoding: str | None = None,
    budget: int | None = None,
) -> None:
    ratio = configuration.settings_for(ls, doc.root).warning_ratio
    obj = status_object(doc, state, warning_ratio=ratio, encoding=encoding, budget=budget)
    doc.status = state
    try:
        ls.protocol.notify(METHOD, obj)
    except Exception:
        log.debug("could not send %s", METHOD, exc_info=True)
