"""Debounced recounts: edits → job queue → engine → published results.

For each document there is at most one pending recount (``Debouncer``, cancel-and-replace,
``debounceMs`` after the last change) and one running recount (a newer one cancels it). A
recount:

1. reads the document's front matter (model/encoding) and switches the block structure to that
   encoding if needed;
2. counts the new blocks and scans the changed segments for references on the job queue's
   threads at ``ACTIVE`` (the document edited or opened last) or ``OPEN`` priority, superseding
   the document's older job; only a snapshot is used, so edits keep arriving meanwhile;
3. resolves the references through the engine (other open buffers' unsaved text wins over
   the disk); when that takes a moment an interim status (``pendingReferences``) is sent and
   reference hints show ``…``;
4. publishes diagnostics, ``promptTokens/status`` and an inlay-hint refresh, but only if the
   document is still at the version that was counted.

Work longer than ~0.5 s shows ``$/progress`` (cancellable).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from operator import attrgetter
from typing import Any

import attrs

from prompt_tokens import environment
from prompt_tokens.document import DocumentState
from prompt_tokens.lsp import configuration, diagnostics, exact, hints, status
from prompt_tokens.lsp.base import PromptTokensServer
from prompt_tokens.lsp.state import OpenDocument, RefMemo
from prompt_tokens.results import DocumentResult, Occurrence, ReferenceResult, Span, widen
from prompt_tokens.runtime import STOPPED, DocConfig, describe_error

log = logging.getLogger(__name__)

REUSE_MAX_AGE_S = 10.0
"""Reference results are reused between keystrokes that change no reference for at most this
long; then they are resolved again (and always after a dependency or settings change)."""
INTERIM_AFTER_S = 0.15
"""How long reference resolution may take before an interim status is published."""
SETTINGS_WAIT_S = 10.0
HEAD_CHARS = 4096
MAX_DOCUMENT_CHARS = environment.max_document_chars()
"""Larger open documents are not counted (a clear error instead of minutes of CPU and GBs)."""


def schedule(ls: PromptTokensServer, uri: str, *, delay_s: float) -> None:
    """(Re)start the recount of ``uri`` after ``delay_s`` seconds (cancel-and-replace)."""
    doc = ls.docs.get(uri)
    if ls.shutting_down or doc is None:
        return
    doc.settled.clear()
    if doc.pending_changes is not None:
        return  # still being built: the build schedules the count
    ls.debouncer.schedule(uri, delay_s, lambda: recount(ls, uri))


def cancel(ls: PromptTokensServer, uri: str) -> None:
    ls.debouncer.cancel(uri)
    ls.runtime.cancel(f"doc:{uri}")


def schedule_dependents(
    ls: PromptTokensServer, path: str, *, delay_s: float, exclude: str | None = None
) -> set[str]:
    """Recount the open documents whose last count used the file at ``path``."""
    uris = ls.dependents([path])
    uris.discard(exclude or "")
    for uri in uris:
        invalidate_references(ls, uri)
        schedule(ls, uri, delay_s=delay_s)
    return uris


def invalidate_references(ls: PromptTokensServer, uri: str) -> None:
    """Something a document's references depend on changed: resolve them again next time."""
    doc = ls.docs.get(uri)
    if doc is not None:
        doc.ref_memo = None


_REFERENCE_FIELDS = attrgetter("kind", "target", "untrimmed", "syntax", "placeholder")
"""What of an occurrence its reference result depends on (not where it is written)."""


def reference_key(cfg: DocConfig, occ: list[Occurrence]) -> tuple[Any, ...]:
    """What the reference results of a count depend on, apart from the files and settings
    (whose changes call :func:`invalidate_references`)."""
    return (cfg.encoding, tuple(sorted(cfg.variables.items())), tuple(map(_REFERENCE_FIELDS, occ)))


def respan(memo: RefMemo, occ: list[Occurrence]) -> list[ReferenceResult]:
    """The previous results, moved to where the same references are now (a keystroke moves
    every reference after it: this runs per keystroke, so it is kept tight)."""
    out: list[ReferenceResult] = []
    append = out.append
    results = memo.results
    for res, was, now in zip(results, memo.occurrences, occ, strict=False):
        span = res.span
        old, new = was.span, now.span
        if span is None or old is new or (old.offset == new.offset and old == new):
            append(res)
            continue
        extra = (span.end_offset - span.offset) - (old.end_offset - old.offset)
        append(_with_span(res, widen(new, extra)))
    out.extend(results[len(out) :])  # nested references (no span) follow the document's
    return out


_RESULT_NAMES = tuple(f.name for f in attrs.fields(ReferenceResult))
_RESULT_VALUES = attrgetter(*_RESULT_NAMES)
_RESULT_SPAN = _RESULT_NAMES.index("span")
_RESULT_POSITIONAL = all(f.init and not f.kw_only for f in attrs.fields(ReferenceResult))


def _with_span(res: ReferenceResult, span: Span) -> ReferenceResult:
    if not _RESULT_POSITIONAL:
        return attrs.evolve(res, span=span)
    values = list(_RESULT_VALUES(res))
    values[_RESULT_SPAN] = span
    return ReferenceResult(*values)


def config_text(state: DocumentState) -> str:
    """What the engine needs to configure the document: its first line and front matter."""
    end = state.front_matter_end()
    return state.head(max(end, HEAD_CHARS))


async def recount(ls: PromptTokensServer, uri: str) -> None:
    """Recount ``uri`` as it is now (the steps in the module docstring)."""
    doc = await _settings_known(ls, uri)
    if doc is None:
        return
    if len(doc.state) > MAX_DOCUMENT_CHARS:
        _failed(
            ls,
            doc,
            f"document too large to count ({len(doc.state):,} characters; "
            f"the limit is {MAX_DOCUMENT_CHARS:,})",
        )
        return
    run = _Recount(ls, doc)
    try:
        await run.run()
    except STOPPED:
        return  # a newer version (or shutdown) took over
    except asyncio.CancelledError:
        # a newer recount replaced this one, or the user cancelled the progress
        if run.user_cancelled and ls.docs.get(uri) is doc and not ls.shutting_down:
            _failed(ls, doc, "counting was cancelled")
        raise
    except Exception as exc:
        log.exception("counting %s failed", uri)
        if ls.docs.get(uri) is doc:
            _failed(ls, doc, describe_error(exc))


async def _settings_known(ls: PromptTokensServer, uri: str) -> OpenDocument | None:
    """Wait until the editor's settings are in (at most ``SETTINGS_WAIT_S``); the document,
    unless it was closed meanwhile."""
    if uri not in ls.docs:
        return None
    if ls.settings_ready.is_set():
        return ls.docs.get(uri)  # the usual case: no timeout task on every keystroke
    try:
        await asyncio.wait_for(ls.settings_ready.wait(), SETTINGS_WAIT_S)
    except TimeoutError:
        log.warning(
            "no settings from the editor after %.0f s; counting with defaults", SETTINGS_WAIT_S
        )
        ls.settings_ready.set()
    return ls.docs.get(uri)


class _Recount:
    """One recount of one version of a document."""

    def __init__(self, ls: PromptTokensServer, doc: OpenDocument) -> None:
        self.ls = ls
        self.doc = doc
        self.version = doc.version
        self.name = os.path.basename(doc.path) if doc.path else doc.uri
        self.started = time.monotonic()
        self.task = asyncio.current_task()
        self.user_cancelled = False

    def current(self) -> bool:
        return _current(self.ls, self.doc, self.version)

    def cancel(self) -> None:
        """The user cancelled the progress: stop this recount (its status becomes error)."""
        self.user_cancelled = True
        if self.task is not None:
            self.task.cancel()

    async def run(self) -> None:
        ls, doc = self.ls, self.doc
        configuration.workspace_for(ls, doc.root)
        cfg = ls.runtime.configure(doc.root, config_text(doc.state))
        if doc.state.set_encoding(cfg.encoding):
            log.info("%s: encoding is now %s", self.name, cfg.encoding)
        snap = doc.state.snapshot()
        scanner = ls.runtime.scanner(doc.root, doc.path)
        doc.status = "counting"
        status.notify(
            ls, doc, "counting", encoding=cfg.encoding, budget=cfg.budget, model=cfg.model
        )
        async with ls.work_progress.watch(f"Counting tokens: {self.name}", self.cancel) as watch:
            text_tokens, occ = await ls.runtime.count_buffer(
                snap,
                scanner,
                name=self.name,
                label=f"count {self.name} v{self.version}",
                group=f"doc:{doc.uri}",
                active=doc.uri == ls.active_uri,
                progress=watch.report,
            )
            if not self.current():
                return
            doc.state.adopt(snap)
            watch.report(
                None, f"{self.name}: resolving {len(occ)} references" if occ else self.name
            )
            result, memo = await self.resolve(cfg, text_tokens, occ, scanner is not None)
        if self.current():
            self.publish(result, occ, memo)

    async def resolve(
        self, cfg: DocConfig, text_tokens: int, occ: list[Occurrence], want_refs: bool
    ) -> tuple[DocumentResult, RefMemo | None]:
        """Count the document with its references resolved — or the last results moved to
        where the same references are now, when none changed — and the memo to keep (None:
        the old one still holds). When resolving takes a moment an interim status is sent."""
        ls, doc = self.ls, self.doc
        ref_key = reference_key(cfg, occ)
        memo = doc.ref_memo
        reuse = (
            want_refs
            and memo is not None
            and memo.key == ref_key
            and time.monotonic() - memo.at < REUSE_MAX_AGE_S
        )
        resolve_started = time.time()
        resolving = asyncio.ensure_future(
            ls.runtime.count_document(
                doc.root,
                doc.path or "",
                config_text(doc.state),
                text_tokens=text_tokens,
                occurrences=occ,
                overlay=ls.overlay(exclude=doc.uri) if occ and not reuse else {},
                references=want_refs,
                sections=False,
                resolved=respan(memo, occ) if reuse and memo is not None else None,
            )
        )
        try:
            done, _ = await asyncio.wait({resolving}, timeout=INTERIM_AFTER_S)
            if not done:
                doc.pending_references = len(occ)
                doc.interim_text_tokens = text_tokens
                status.notify(
                    ls, doc, "counting", encoding=cfg.encoding, budget=cfg.budget, model=cfg.model
                )
                hints.refresh(ls, doc)
            result = await resolving
        finally:
            if not resolving.done():
                resolving.cancel()
        if reuse:
            return result, None
        fresh = RefMemo(ref_key, occ, list(result.references), time.monotonic(), resolve_started)
        return result, fresh

    def publish(self, result: DocumentResult, occ: list[Occurrence], memo: RefMemo | None) -> None:
        """Keep the result and tell the client: diagnostics, status, hints."""
        ls, doc = self.ls, self.doc
        if memo is not None:
            doc.ref_memo = memo
        result = exact.restate(ls, doc, result, self.version)  # the vendor's last count, if any
        first = doc.result is None
        doc.result = result
        doc.result_version = self.version
        doc.counted_occurrences = occ
        doc.pending_references = 0
        doc.interim_text_tokens = None
        doc.error = None
        doc.status = "ready"
        diagnostics.publish(ls, doc, result, self.version)
        ls.collector.counted(len(doc.state), first=first)  # before "ready": see collector
        status.notify(ls, doc, "ready")
        hints.refresh(ls, doc)
        doc.settled.set()
        exact.schedule(ls, doc)  # the vendor's count once typing pauses (when configured)
        log.debug(
            "%s v%d: %d tokens (%d text) in %.1f ms",
            self.name,
            self.version,
            result.tokens.total,
            result.tokens.text,
            1000 * (time.monotonic() - self.started),
        )


def _current(ls: PromptTokensServer, doc: OpenDocument, version: int) -> bool:
    return ls.docs.get(doc.uri) is doc and doc.version == version


def _failed(ls: PromptTokensServer, doc: OpenDocument, message: str) -> None:
    doc.error = message
    doc.status = "error"
    doc.pending_references = 0
    status.notify(ls, doc, "error")
    ls.log_to_client(f"prompt-tokens: {doc.uri}: {message}")
    hints.refresh(ls, doc)
    doc.settled.set()
