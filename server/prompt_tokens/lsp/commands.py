"""``workspace/executeCommand``: documentStats, jobs, clearCache."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from pygls.exceptions import JsonRpcInvalidParams

from prompt_tokens.lsp import configuration, status
from prompt_tokens.lsp.base import PromptTokensServer
from prompt_tokens.results import DocumentResult, budget_percent

log = logging.getLogger(__name__)

WAIT_S = 30.0


def _uri_arg(args: tuple[Any, ...]) -> str | None:
    """The document named by the arguments: nothing (the active one), a URI, ``{"uri": …}`` or
    ``{"textDocument": {"uri": …}}``; anything else is the client's mistake (InvalidParams)."""
    if not args:
        return None
    a = args[0]
    if isinstance(a, dict):
        inner = a.get("textDocument")
        a = a.get("uri") if "uri" in a or not isinstance(inner, dict) else inner.get("uri")
    if len(args) > 1 or not isinstance(a, str) or not a:
        raise JsonRpcInvalidParams(
            "documentStats takes one argument: a document URI, {uri} or {textDocument: {uri}}"
        )
    return a


def _sections(result: DocumentResult) -> list[dict[str, Any]]:
    return [
        {"line": s.line, "title": s.title, "tokens": result.shown(s.tokens)}
        for s in result.sections
    ]


async def document_stats(ls: PromptTokensServer, uri: str | None) -> dict[str, Any]:
    uri = uri or ls.active_uri
    if uri is None:
        raise JsonRpcInvalidParams("no document given and none is active")
    doc = ls.docs.get(uri)
    if doc is not None:
        # answer for the text as it is now: wait for the recount of this version
        try:
            await asyncio.wait_for(doc.settled.wait(), WAIT_S)
        except TimeoutError:
            log.warning("documentStats: %s is still counting; answering with what is known", uri)
        out = status.current(ls, doc, doc.status)
        r = doc.result
        out["references"] = r.references_json() if r is not None else []
        doc.current_sections()
        out["sections"] = _sections(r) if r is not None else []
        out["model"] = r.model if r is not None else None
        out["agent"] = r.agent if r is not None else None
        return out
    # not open: count the file on disk with the same engine
    path = ls.uri_path(uri)
    if path is None or not await asyncio.to_thread(os.path.isfile, path):
        raise JsonRpcInvalidParams(f"{uri} is neither open nor a readable file")
    root = ls.root_for(path)
    configuration.workspace_for(ls, root)
    result = await ls.runtime.count_file(root, path, sections=True, overlay=ls.overlay())
    return {
        "uri": uri,
        "version": None,
        "state": "ready",
        "encoding": result.encoding,
        "budget": result.budget,
        "tokens": result.tokens.to_json(),
        "pendingReferences": 0,
        "references": result.references_json(),
        "sections": _sections(result),
        "status": result.status,
        "percent": budget_percent(result.tokens.total, result.budget),
        "exact": result.exact,
        "method": result.method,
        "costUsd": result.cost_usd,
        "model": result.model,
        "agent": result.agent,
    }


async def document_stats_command(ls: PromptTokensServer, *args: Any) -> dict[str, Any]:
    return await document_stats(ls, _uri_arg(args))


def jobs_command(ls: PromptTokensServer, *args: Any) -> dict[str, Any]:
    try:
        cache = ls.runtime.cache_stats()
    except Exception as exc:
        cache = {"error": str(exc)}
    return {
        "queue": ls.runtime.job_stats(),
        "cache": cache,
        "debounce": dict(ls.debouncer.counters),
        "documents": len(ls.docs),
        "progressShown": ls.work_progress.started,
    }


def clear_cache_command(ls: PromptTokensServer, *args: Any) -> dict[str, Any]:
    cleared = ls.runtime.clear_cache()
    log.info("cache cleared: %s entries", cleared)
    return {"cleared": cleared}
