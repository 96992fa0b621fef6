"""The ``promptTokens/status`` notification, sent when a count starts and when it ends.

Shape (SPEC, plus the budget verdict): ``{uri, version, state: "counting"|"ready"|"error",
encoding, budget, tokens: {text, references, total}, pendingReferences,
status: "ok"|"warning"|"exceeded", percent, exact, method, costUsd}``. While counting, the
numbers are the best known so far (the text count as soon as it is known, the previous
references total).

``exact`` is false when the numbers are an estimate (a model without a local tokenizer, see
``estimates``), ``method`` says how they were made (null for an exact local count), and
``costUsd`` is the input cost of ``tokens.total`` at the model's list price (null when no price
is known: never a guess; an estimate when ``exact`` is false).

``status`` and ``percent`` are the server's verdict, so clients only display them: once ready,
``status`` is what the budget diagnostics say (the workspace's merged settings, including its
``.prompt-tokens.toml``), and ``percent`` is ``results.budget_percent``, the percentage the
inlay hint and the diagnostic message show too.
"""

from __future__ import annotations

import enum
import json
import logging
from typing import Any, Literal

from prompt_tokens.estimates import Shown, shown_counts
from prompt_tokens.lsp import configuration
from prompt_tokens.lsp.base import PromptTokensServer
from prompt_tokens.lsp.state import OpenDocument
from prompt_tokens.models import ModelInfo, cost_usd, resolve_model
from prompt_tokens.results import TokenCounts, budget_percent, budget_status

log = logging.getLogger(__name__)

METHOD = "promptTokens/status"


class _Last(enum.Enum):
    MODEL = 0
    """No model given: the one the last count used."""


LAST_MODEL: Literal[_Last.MODEL] = _Last.MODEL
ModelArg = ModelInfo | None | Literal[_Last.MODEL]


def status_object(
    doc: OpenDocument,
    state: str,
    *,
    warning_ratio: float,
    encoding: str | None = None,
    budget: int | None = None,
    model: ModelArg = LAST_MODEL,
) -> dict[str, Any]:
    """``warning_ratio``: the root's current setting, used for numbers not yet counted in
    full (a ready count's own verdict is used as it is); ``encoding``, ``budget`` and
    ``model``: those of the count under way (default: the last count's)."""
    r = doc.result
    shown, cost = _shown(doc, model, encoding)
    text, refs, total = shown.tokens.text, shown.tokens.references, shown.tokens.total
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
        "exact": shown.exact,
        "method": shown.method,
        "costUsd": cost,
    }


def _shown(doc: OpenDocument, model: ModelArg, encoding: str | None) -> tuple[Shown, float | None]:
    """The numbers to show now and their cost: the last count's, or, while a newer text count
    waits for its references, that text count (with the last references) shown for the model
    of the count under way: an estimate is marked from the first number on."""
    r = doc.result
    interim = doc.interim_text_tokens
    if r is not None and interim is None:
        return Shown(r.tokens, r.exact, r.method, r.ratio), r.cost_usd
    if model is LAST_MODEL:
        model = resolve_model(r.model) if r is not None and r.model else None
    local = TokenCounts(interim or 0, r.local_tokens.references if r is not None else 0)
    enc = encoding or (r.encoding if r is not None else doc.state.encoding)
    shown = shown_counts(local, model, enc, doc.calibration)
    return shown, cost_usd(shown.tokens.total, model)


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
    model: ModelArg = LAST_MODEL,
) -> None:
    ratio = configuration.settings_for(ls, doc.root).warning_ratio
    obj = status_object(
        doc, state, warning_ratio=ratio, encoding=encoding, budget=budget, model=model
    )
    doc.status = state
    try:
        try:
            text = json.dumps(obj)  # plain JSON values: no converter pass on every keystroke
        except (TypeError, ValueError):
            ls.protocol.notify(METHOD, obj)
        else:
            ls.protocol.notify_text(METHOD, text)
    except Exception:
        log.debug("could not send %s", METHOD, exc_info=True)
