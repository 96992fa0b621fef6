"""Settings as the server sees them: the editor's, each root's ``.prompt-tokens.toml``, problems.

Lowest priority first: the editor's ``promptTokens`` settings (``initializationOptions``, then
pulled with ``workspace/configuration``), then the root's ``.prompt-tokens.toml`` (which may
only tighten trust-sensitive keys), then each document's front matter (applied by the engine).
The merged settings of a root are handed to the engine once (``Runtime.set_settings``) and read
back from it. Invalid values never stop the server: the default is used and ONE
``window/showMessage`` lists every problem (again only when the list changes).

Recounting what a change affects is ``reconfigure``'s job; this module only knows settings.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any

from lsprotocol import types

from prompt_tokens.lsp.base import PromptTokensServer
from prompt_tokens.lsp.capabilities import SECTION
from prompt_tokens.lsp.state import WorkspaceState
from prompt_tokens.runtime import SettingsChange
from prompt_tokens.settings import Settings, deep_merge, merge_workspace, parse_settings
from prompt_tokens.workspace import CONFIG_FILE, load_config

log = logging.getLogger(__name__)

PULL_TIMEOUT_S = 5.0


def unwrap(raw: Any) -> dict[str, Any]:
    """The ``promptTokens`` section of what an editor sent (wrapped or not)."""
    if not isinstance(raw, dict):
        return {}
    inner = raw.get(SECTION)
    if isinstance(inner, dict):
        return dict(inner)
    return dict(raw)


def set_client_settings(ls: PromptTokensServer, raw: Any) -> None:
    ls.client_raw = unwrap(raw)
    _, ls.client_problems = parse_settings(ls.client_raw)


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


# ---- settings roots ----------------------------------------------------------------------------


def workspace_for(ls: PromptTokensServer, root: str) -> WorkspaceState:
    """The settings root ``root``, set up (its ``.prompt-tokens.toml`` read) on first use."""
    ws = ls.workspaces.get(root)
    if ws is None:
        ws = WorkspaceState(root=root)
        ws.toml_raw, ws.toml_problems = load_config(Path(root))
        ls.workspaces[root] = ws
        ls.runtime.set_settings(root, _merged(ls, ws), folders=_folders_for(ls, ws))
        share_cache(ls, root)
        if ws.toml_problems or _toml_problems(ws):
            report_problems(ls)
    return ws


def settings_for(ls: PromptTokensServer, root: str) -> Settings:
    """The merged settings of ``root`` (set up on first use)."""
    workspace_for(ls, root)
    return ls.runtime.settings(root)


def update(ls: PromptTokensServer, ws: WorkspaceState, *, reload_toml: bool) -> SettingsChange:
    """Merge the root's settings again (after an editor or ``.prompt-tokens.toml`` change)."""
    if reload_toml:
        ws.toml_raw, ws.toml_problems = load_config(Path(ws.root))
    return ls.runtime.set_settings(ws.root, _merged(ls, ws), folders=_folders_for(ls, ws))


def share_cache(ls: PromptTokensServer, root: str) -> None:
    """The server keeps one cache for every root: the first workspace folder's settings choose
    it (without folders, those of the root just set up)."""
    first = ls.roots[0] if ls.roots else None
    chosen = first if first is not None and first in ls.workspaces else root
    ls.runtime.use_cache(ls.runtime.settings(chosen).cache)


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


# ---- problems ----------------------------------------------------------------------------------


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
