"""Lifecycle and settings: initialize, initialized, configuration, workspace folders, shutdown.

Settings, lowest priority first: the editor's ``promptTokens`` settings (``initializationOptions``,
then pulled with ``workspace/configuration``, re-read on ``workspace/didChangeConfiguration``),
then the workspace's ``.prompt-tokens.toml``, then each document's front matter (applied by the
engine). Invalid values never stop the server: the default is used and ONE
``window/showMessage`` lists every problem (again only when the list changes).

``initialize`` does no work (the encoding is loaded in a thread after ``initialized``);
counting waits for ``settings_ready``, set once the editor's settings were pulled, so a
``didOpen`` that overtakes the pull is counted with the right settings.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from prompt_tokens.settings import Settings, deep_merge, merge_workspace, parse_settings
from prompt_tokens.workspace import CONFIG_FILE, load_config

if TYPE_CHECKING:
    from prompt_tokens.lsp.server import PromptTokensServer, WorkspaceState

log = logging.getLogger(__name__)

SECTION = "promptTokens"
PULL_TIMEOUT_S = 5.0


def unwrap(raw: Any) -> dict[str, Any]:
    """The ``promptTokens`` section of what an editor sent (wrapped or not)."""
    if not isinstance(raw, dict):
        return {}
    inner = raw.get(SECTION)
    if isinstance(inner, dict):
        return dict(inner)
    return dict(raw)


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


# ---- workspaces ------------------------------------------------------------------------------


def new_workspace(ls: PromptTokensServer, root: str) -> WorkspaceState:
    from prompt_tokens.lsp.server import WorkspaceState

    ws = WorkspaceState(root=root)
    ws.toml_raw, ws.toml_problems = load_config(Path(root))
    ls.workspaces[root] = ws
    ls.runtime.set_settings(root, _merged(ls, ws), folders=_folders_for(ls, ws))
    _share_cache(ls, root)
    if ws.toml_problems or _toml_problems(ws):
        report_problems(ls)
    return ws


def _merged(ls: PromptTokensServer, ws: WorkspaceState) -> Settings:
    # The repository's file overrides the editor, but may only tighten trust-sensitive keys.
    settings, _ = parse_settings(merge_workspace(ls.client_raw, ws.toml_raw))
    return settings


def _toml_problems(ws: WorkspaceState) -> list[str]:
    _, problems = parse_settings(ws.toml_raw)
    return problems


def _folders_for(ls: PromptTokensServer, ws: WorkspaceState) -> list[str]:
    """What references of this root's documents may reach: every workspace folder, and the
    root itself (a project root found for a file outside the folders)."""
    return list(dict.fromkeys([*ls.roots, ws.root]))


def _share_cache(ls: PromptTokensServer, root: str) -> None:
    """The server keeps one cache for every root: the first workspace folder's settings choose
    it (without folders, those of the root just set up)."""
    first = ls.roots[0] if ls.roots else None
    chosen = first if first is not None and first in ls.workspaces else root
    ls.runtime.use_cache(ls.runtime.settings(chosen).cache)


# ---- settings --------------------------------------------------------------------------------


def report_problems(ls: PromptTokensServer) -> None:
    """One message listing every settings problem; repeated only when the list changes."""
    problems: list[str] = [f"editor settings: {p}" for p in ls.client_problems]
    for ws in ls.workspaces.values():
        name = os.path.join(ws.root, CONFIG_FILE)
        problems += [p if p.startswith(name) else f"{name}: {p}" for p in ws.toml_problems]
        problems += [f"{name}: {p}" for p in _toml_problems(ws)]
    key = tuple(problems)
    if key == ls.shown_problems:
        return
    ls.shown_problems = key
    if not problems:
        return
    text = "prompt-tokens: invalid settings, defaults used for:\n" + "\n".join(
        f"• {p}" for p in problems
    )
    log.warning("%s", text)
    try:
        ls.window_show_message(
            types.ShowMessageParams(type=types.MessageType.Warning, message=text)
        )
    except Exception:
        log.debug("window/showMessage failed", exc_info=True)


def set_client_settings(ls: PromptTokensServer, raw: Any) -> None:
    ls.client_raw = unwrap(raw)
    _, ls.client_problems = parse_settings(ls.client_raw)


def apply_settings(
    ls: PromptTokensServer, *, reload_toml: bool = False, roots: list[str] | None = None
) -> None:
    """Recompute every workspace's settings and recount what they change.

    A change of variables only recounts the documents using a changed variable (and not
    shadowed by their front matter); any other change recounts every document of that root.
    """
    from prompt_tokens.lsp import counting

    targets = (
        list(ls.workspaces.values()) if roots is None else [ls.workspace_for(r) for r in roots]
    )
    recount: set[str] = set()
    for ws in targets:
        if reload_toml:
            ws.toml_raw, ws.toml_problems = load_config(Path(ws.root))
        change = ls.runtime.set_settings(ws.root, _merged(ls, ws), folders=_folders_for(ls, ws))
        docs = {uri for uri, d in ls.docs.items() if d.root == ws.root}
        if change.everything:
            recount |= docs
        else:
            recount |= {u for u in docs if ls.docs[u].path in change.paths}
    if ls.roots and ls.roots[0] in ls.workspaces:
        _share_cache(ls, ls.roots[0])
    report_problems(ls)
    for uri in recount:
        counting.invalidate_references(ls, uri)
        counting.schedule(ls, uri, delay_s=0.0)


async def pull_settings(ls: PromptTokensServer) -> bool:
    """Ask the editor for the ``promptTokens`` section; False when it can't answer."""
    if not ls.supports("workspace.configuration"):
        return False
    try:
        result = await asyncio.wait_for(
            ls.workspace_configuration_async(
                types.ConfigurationParams(items=[types.ConfigurationItem(section=SECTION)])
            ),
            PULL_TIMEOUT_S,
        )
    except (TimeoutError, Exception) as exc:
        log.warning("workspace/configuration failed: %s", exc)
        return False
    if result and isinstance(result[0], dict):
        # a pulled section replaces initializationOptions, key by key
        set_client_settings(ls, deep_merge(ls.client_raw, unwrap(result[0])))
    return True


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
            PULL_TIMEOUT_S,
        )
        ls.watching_files = watch
    except (TimeoutError, Exception) as exc:
        log.warning("client/registerCapability failed: %s", exc)


def register(server: PromptTokensServer) -> None:
    @server.feature(types.INITIALIZE)
    def on_initialize(ls: PromptTokensServer, params: types.InitializeParams) -> None:
        set_client_settings(ls, params.initialization_options)
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

    @server.feature(types.INITIALIZED)
    async def on_initialized(ls: PromptTokensServer, params: types.InitializedParams) -> None:
        try:
            await pull_settings(ls)
            for root in ls.roots:
                ls.workspace_for(root)
            apply_settings(ls)
            warm = ls.runtime.settings(ls.roots[0]) if ls.roots else Settings()
            tune_gc()
            # the first count should not wait for the encoding's ranks: load them off the loop
            ls.spawn(
                asyncio.to_thread(ls.runtime.load_encoding, warm.encoding), name="load encoding"
            )
        finally:
            ls.settings_ready.set()
            report_problems(ls)
        await register_dynamic(ls)
        from prompt_tokens.lsp import dependencies

        dependencies.start_polling(ls)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def on_did_change_configuration(
        ls: PromptTokensServer, params: types.DidChangeConfigurationParams
    ) -> None:
        pushed = params.settings
        if isinstance(pushed, dict) and isinstance(pushed.get(SECTION), dict):
            set_client_settings(ls, pushed[SECTION])
        elif not await pull_settings(ls) and isinstance(pushed, dict) and pushed:
            set_client_settings(ls, pushed)
        apply_settings(ls)

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    def on_folders(ls: PromptTokensServer, params: types.DidChangeWorkspaceFoldersParams) -> None:
        for f in params.event.removed:
            path = ls.uri_path(f.uri)
            if path in ls.roots:
                ls.roots.remove(path)
        for f in params.event.added:
            path = ls.uri_path(f.uri)
            if path and path not in ls.roots:
                ls.roots.append(path)
                ls.workspace_for(path)
        apply_settings(ls)

    @server.feature(types.SHUTDOWN)
    async def on_shutdown(ls: PromptTokensServer, params: None) -> None:
        await shutdown(ls)

    @server.feature(types.EXIT)
    def on_exit(ls: PromptTokensServer, params: None) -> None:
        ls.shutting_down = True  # the cache was closed by shutdown (or is at interpreter exit)


def tune_gc() -> None:
    """Keep the cyclic garbage collector off the keystroke path: everything alive after start
    up (pygls, lsprotocol's ~1,000 classes, the engine) is frozen out of collections, and young
    objects are collected less often (a keystroke allocates a few thousand short-lived ones)."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


async def shutdown(ls: PromptTokensServer) -> None:
    """Cancel timers, jobs and tasks; flush and close the cache. Never raises."""
    if ls.shutting_down:
        return
    ls.shutting_down = True
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
