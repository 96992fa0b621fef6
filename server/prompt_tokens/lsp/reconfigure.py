"""Settings changed (editor, ``.prompt-tokens.toml``, workspace folders): recount what changed.

A change of variables only recounts the documents using a changed variable (and not shadowed
by their front matter); any other change recounts every document of that root.
"""

from __future__ import annotations

import os

from prompt_tokens.lsp import configuration, counting
from prompt_tokens.lsp.base import PromptTokensServer


def apply_settings(
    ls: PromptTokensServer, *, reload_toml: bool = False, roots: list[str] | None = None
) -> None:
    """Merge the settings of every root (or of ``roots``) again and recount what they change."""
    targets = (
        list(ls.workspaces.values())
        if roots is None
        else [configuration.workspace_for(ls, r) for r in roots]
    )
    recount: set[str] = set()
    for ws in targets:
        change = configuration.update(ls, ws, reload_toml=reload_toml)
        docs = {uri for uri, d in ls.docs.items() if d.root == ws.root}
        if change.everything:
            recount |= docs
        else:
            recount |= {u for u in docs if ls.docs[u].path in change.paths}
    if ls.roots and ls.roots[0] in ls.workspaces:
        configuration.share_cache(ls, ls.roots[0])
    configuration.report_problems(ls)
    for uri in recount:
        counting.invalidate_references(ls, uri)
        counting.schedule(ls, uri, delay_s=0.0)


def config_file_changed(ls: PromptTokensServer, path: str, *, known_roots_only: bool) -> None:
    """``path`` is a ``.prompt-tokens.toml``: reload the settings of its folder (only when that
    folder is already a settings root, with ``known_roots_only``)."""
    folder = os.path.dirname(path)
    if known_roots_only and folder not in ls.workspaces:
        return
    apply_settings(ls, reload_toml=True, roots=[folder])
