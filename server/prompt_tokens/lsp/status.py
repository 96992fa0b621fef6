"""The ``promptTokens/status`` notification, sent when a count starts and when it ends.

Shape (SPEC): ``{uri, version, state: "counting"|"ready"|"error", encoding, budget,
tokens: {text, references, total}, pendingReferences}``. While counting, the numbers are the
best known so far (the text count as soon as it is known, the previous references total).
"""

from __future__ import annotations

import logging
from typing import Any

from prompt_tokens.lsp.base import PromptTokensServer
from prompt_tokens.lsp.state import OpenDocument

log = logging.getLogger(__name__)

METHOD = "promptTokens/status"


def status_object(
    doc: OpenDocument,
    state: str,
    *,
    encoding: str | None = None,
    budget: int | None = None,
    text_tokens: int | None = None,
) -> dict[str, Any]:
    r = doc.result
    if text_tokens is None:
        text_tokens = doc.interim_text_tokens
    text = text_tokens if text_tokens is not None else (r.tokens.text if r is not None else 0)
    refs = r.tokens.references if r is not None else 0
    return {
        "uri": doc.uri,
        "version": doc.version,
        "state": state,
        "encoding": encoding or (r.encoding if r is not None else doc.state.encoding),
        "budget": budget if budget is not None else (r.budget if r is not None else 0),
        "tokens": {"text": text, "references": refs, "total": text + refs},
        "pendingReferences": doc.pending_references,
    }


def notify(
    ls: PromptTokensServer,
    doc: OpenDocument,
    state: str,
    *,
    encoding: str | None = None,
    budget: int | None = None,
    text_tokens: int | None = None,
) -> None:
    obj = status_object(doc, state, encoding=encoding, budget=budget, text_tokens=text_tokens)
    doc.status = state
    try:
        ls.protocol.notify(METHOD, obj)
    except Exception:
        log.debug("could not send %s", METHOD, exc_info=True)
