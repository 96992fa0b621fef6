"""Lifecycle: initialize, initialized, configuration and folder changes, shutdown, exit.

``initialize`` does no work (the encoding is loaded in a thread after ``initialized``);
counting waits for ``settings_ready``, set once the editor's settings were pulled, so a
``didOpen`` that overtakes the pull is counted with the right settings. Where settings come
from is ``configuration``'s business; recounting what they change is ``reconfigure``'s.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import uuid

from lsprotocol import types

from prompt_tokens.lsp import configuration, dependencies, reconfigure
from prompt_tokens.lsp.base import PromptTokensServer
from prompt_tokens.lsp.capabilities import SECTION
from prompt_tokens.settings import Settings

log = logging.getLogger(__name__)

REGISTER_TIMEOUT_S = 5.0


def _folders(params: types.InitializeParams, ls: PromptTokensServer) -> list[str]:
    out: list[str] = []
    for folder in params.workspace_folders or []:
        path = ls.uri_path(folder.uri)
        if path:
            out.append(path)
    if not out and params.root_uri:
        path = ls.uri_path(params.root_uri)
        if path:
            out.append(path)
    if not out and params.root_path:
        out.append(os.path.abspath(params.root_path))
    return list(dict.fromkeys(out))


def initialize(ls: PromptTokensServer, params: types.InitializeParams) -> None:
    configuration.set_client_settings(ls, params.initialization_options)
    ls.roots = _folders(params, ls)
    chosen = ls.workspace.position_encoding or "utf-16"
    enc = str(getattr(chosen, "value", chosen))
    ls.position_encoding = enc if enc in ("utf-8", "utf-16", "utf-32") else "utf-16"  # type: ignore[assignment]
    log.info(
        "initialize: %s %s, folders %s, positions %s",
        params.client_info.name if params.client_info else "client",
        params.client_info.version if params.client_info else "",
        ls.roots,
        ls.position_encoding,
    )


async def initialized(ls: PromptTokensServer, params: types.InitializedParams) -> None:
    try:
        await configuration.pull_settings(ls)
        for root in ls.roots:
            configuration.workspace_for(ls, root)
        reconfigure.apply_settings(ls)
        warm = ls.runtime.settings(ls.roots[0]) if ls.roots else Settings()
        tune_gc()
        # the first count should not wait for the encoding's ranks: load them off the loop
        ls.spawn(asyncio.to_thread(ls.runtime.load_encoding, warm.encoding), name="load encoding")
    finally:
        ls.settings_ready.set()
        configuration.report_problems(ls)
    await register_dynamic(ls)
    dependencies.start_polling(ls)


async def did_change_configuration(
    ls: PromptTokensServer, params: types.DidChangeConfigurationParams
) -> None:
    pushed = params.settings
    if isinstance(pushed, dict) and isinstance(pushed.get(SECTION), dict):
        configuration.set_client_settings(ls, pushed[SECTION])
    elif not await configuration.pull_settings(ls) and isinstance(pushed, dict) and pushed:
        configuration.set_client_settings(ls, pushed)
    reconfigure.apply_settings(ls)


def did_change_workspace_folders(
    ls: PromptTokensServer, params: types.DidChangeWorkspaceFoldersParams
) -> None:
    for f in params.event.removed:
        path = ls.uri_path(f.uri)
        if path in ls.roots:
            ls.roots.remove(path)
    for f in params.event.added:
        path = ls.uri_path(f.uri)
        if path and path not in ls.roots:
            ls.roots.append(path)
            configuration.workspace_for(ls, path)
    reconfigure.apply_settings(ls)


async def on_shutdown(ls: PromptTokensServer, params: None) -> None:
    await shutdown(ls)


def on_exit(ls: PromptTokensServer, params: None) -> None:
    """Start no new work; the reader stops, and the session's end closes what is open."""
    ls.shutting_down = True


async def register_dynamic(ls: PromptTokensServer) -> None:
    regs: list[types.Registration] = []
    if ls.supports("workspace.did_change_configuration.dynamic_registration"):
        regs.append(
            types.Registration(
                id=str(uuid.uuid4()),
                method=types.WORKSPACE_DID_CHANGE_CONFIGURATION,
                register_options=types.DidChangeConfigurationRegistrationOptions(section=SECTION),
            )
        )
    watch = ls.supports("workspace.did_change_watched_files.dynamic_registration")
    if watch:
        regs.append(
            types.Registration(
                id=str(uuid.uuid4()),
                method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                register_options=types.DidChangeWatchedFilesRegistrationOptions(
                    watchers=[types.FileSystemWatcher(glob_pattern="**/*")]
                ),
            )
        )
    if not regs:
        return
    try:
        await asyncio.wait_for(
            ls.client_register_capability_async(types.RegistrationParams(registrations=regs)),
            REGISTER_TIMEOUT_S,
        )
        ls.watching_files = watch
    except (TimeoutError, Exception) as exc:
        log.warning("client/registerCapability failed: %s", exc)


def tune_gc() -> None:
    """Keep the cyclic garbage collector off the keystroke path: everything alive after start
    up (pygls, lsprotocol's ~1,000 classes, the engine) is frozen out of collections, and young
    objects are collected less often (a keystroke allocates a few thousand short-lived ones)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


async def shutdown(ls: PromptTokensServer) -> None:
    """Cancel timers, jobs and tasks; flush and close the cache. Never raises.

    Called by the ``shutdown`` request and again when the session ends (also after ``exit``
    or the end of input without it): a later call waits for the first to finish."""
    ls.shutting_down = True
    ls.collector.close()
    if ls.closing is None:
        ls.closing = asyncio.ensure_future(_close(ls))
    await asyncio.shield(ls.closing)


async def _close(ls: PromptTokensServer) -> None:
    try:
        await ls.debouncer.aclose()
        await ls.runtime.aclose(timeout=2.0)
        tasks = [t for t in ls.tasks if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)
    except Exception:
        log.exception("error during shutdown")
