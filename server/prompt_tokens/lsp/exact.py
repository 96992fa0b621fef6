"""Exact counts from the model vendor in the editor: after typing pauses and on save.

For a document whose model only the vendor can count (Claude, Gemini), with ``remote.enabled``
on and URL fetching allowed (``remote.service.remote_wanted``):

- after each published count, the vendor count of that version is scheduled
  ``remote.debounceMs`` later (cancel-and-replace under the document's own key: a burst of
  keystrokes asks once, never per keystroke); saving asks at once when the saved version is
  counted (else its count, when published, schedules it as usual);
- the ask runs through ``Runtime.count_exact``: the cache first (the same content is never
  asked twice), then low-priority jobs with retries;
- when the answer comes and the document is still at that version, it is shown exactly
  (references scaled, ``estimates``) and published again: diagnostics, status, hints;
- the answer is kept as the document's calibration: while the user types, every count shows
  the local count × (vendor count ÷ local count of the counted version), marked as an
  estimate whose method says "calibrated".

A missing or refused key is one ``window/showMessage`` (each message once per session); other
failures (the vendor still down after the retries) go to the client's log. The estimate stays.
"""

from __future__ import annotations

import logging
import os

from lsprotocol import types

from prompt_tokens.errors import RemoteAuthError, RemoteCountError, RemoteNotConfigured
from prompt_tokens.estimates import restated
from prompt_tokens.lsp import configuration, diagnostics, hints, status
from prompt_tokens.lsp.base import PromptTokensServer
from prompt_tokens.lsp.state import OpenDocument
from prompt_tokens.models import resolve_model
from prompt_tokens.remote.service import remote_wanted
from prompt_tokens.results import DocumentResult
from prompt_tokens.runtime import STOPPED

log = logging.getLogger(__name__)

KEY = "exact"
"""The debouncer key's first part (the document's recount uses the bare URI)."""


def restate(
    ls: PromptTokensServer, doc: OpenDocument, result: DocumentResult, version: int
) -> DocumentResult:
    """``result`` (of ``version``) shown with the document's calibration, if it has one for
    this model: exact when the vendor counted this very version, else calibrated."""
    cal = doc.calibration
    if cal is None or not result.model:
        return result
    model = resolve_model(result.model)
    if model is None or model.exact or cal.model != model.name:
        return result
    current = cal.version == version
    return restated(result, model, cal, current=current, first_line=doc.state.line_text(0))


def schedule(ls: PromptTokensServer, doc: OpenDocument, *, delay_s: float | None = None) -> None:
    """Ask the vendor about the document's counted version once typing has paused."""
    r, version = doc.result, doc.result_version
    if r is None or version is None or not r.model:
        return
    settings = configuration.settings_for(ls, doc.root)
    if not remote_wanted(settings, resolve_model(r.model)):
        return
    if doc.calibration is not None and doc.calibration.version == version:
        return  # this version is known exactly already
    delay = settings.remote.debounce_ms / 1000 if delay_s is None else delay_s
    uri = doc.uri
    ls.debouncer.schedule((KEY, uri), delay, lambda: count_now(ls, uri, version))


def on_save(ls: PromptTokensServer, uri: str) -> None:
    doc = ls.docs.get(uri)
    if doc is not None and doc.result_version == doc.version:
        schedule(ls, doc, delay_s=0.0)


async def count_now(ls: PromptTokensServer, uri: str, version: int) -> None:
    """The vendor's count of ``uri`` at ``version``, shown if the document is still there."""
    doc = ls.docs.get(uri)
    if doc is None or doc.result is None or not _at(doc, version):
        return  # edited since: the newer version's count schedules its own ask
    local = doc.result.local_tokens.text
    name = os.path.basename(doc.path) if doc.path else uri
    try:
        got = await ls.runtime.count_exact(
            doc.root, doc.state.text(), label=f"exact count {name} v{version}", group=f"exact:{uri}"
        )
    except STOPPED:
        return
    except RemoteCountError as exc:
        _tell(ls, exc)
        return
    if got is None or ls.docs.get(uri) is not doc:
        return
    doc.calibration = got.calibration(local, version)
    log.debug("%s v%d: %d tokens by the %s (%s)", name, version, got.tokens, got.source, got.cache)
    if doc.result is not None and _at(doc, version):
        doc.result = restate(ls, doc, doc.result, version)
        diagnostics.publish(ls, doc, doc.result, version)
        status.notify(ls, doc, "ready")
        hints.refresh(ls, doc)


def _at(doc: OpenDocument, version: int) -> bool:
    return doc.version == version and doc.result_version == version


def _tell(ls: PromptTokensServer, exc: RemoteCountError) -> None:
    message = f"prompt-tokens: {exc}"
    if exc.repeated:
        log.debug("%s", message)
        return
    log.warning("%s", message)
    if isinstance(exc, RemoteNotConfigured | RemoteAuthError):
        try:
            ls.window_show_message(
                types.ShowMessageParams(type=types.MessageType.Warning, message=message)
            )
        except Exception:
            log.debug("window/showMessage failed", exc_info=True)
    else:
        ls.log_to_client(message, types.MessageType.Warning)
