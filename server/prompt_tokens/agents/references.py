"""The references of a document read in its dialect: today's scanner, filtered, plus includes.

One call for the engine to use instead of ``syntax.scan`` once it knows the file's dialect:
``dialect_references(text, dialect, …)`` keeps only what that dialect's agent or engine reads
(``dialects.RULES``), drops ``@name`` tokens that cannot be paths (``plausible``), and adds
template includes (``includes``). Occurrences keep the scanner's shapes and spans, so results,
hints and diagnostics need no change.

Not handled here (the Claude Code loader in ``claude`` does): ``@path\\ with\\ spaces`` and HTML
comment stripping — the scanner's tokens end at whitespace and it counts comments as text.
"""

from __future__ import annotations

from collections.abc import Collection

from prompt_tokens.agents.dialects import Dialect, DialectRules, rules_for
from prompt_tokens.agents.includes import scan_includes
from prompt_tokens.agents.plausible import Exists, looks_like_path
from prompt_tokens.references.syntax import ALL_KINDS, markdown_links_enabled, scan
from prompt_tokens.results import Occurrence


def _links(rules: DialectRules, setting: str | bool, path: str) -> bool:
    if rules.markdown_links is not None:
        return rules.markdown_links
    return markdown_links_enabled(setting, path)


def _keeps(occ: Occurrence, rules: DialectRules, exists: Exists | None) -> bool:
    if occ.syntax == "at":
        if rules.at != "file":
            return False  # a chat participant, or plain text to a template engine
        if occ.kind == "url":
            return rules.urls
        if exists is not None and occ.untrimmed and exists(occ.untrimmed):
            return True
        return looks_like_path(occ.target, exists)
    if occ.syntax == "file":
        return rules.hash_file
    if occ.syntax == "fetch":
        return rules.urls
    if occ.syntax in ("mustache", "input"):
        return occ.syntax in rules.variables
    return True  # Markdown links: already decided by ``markdown_links``


def dialect_references(
    text: str,
    dialect: Dialect,
    *,
    path: str = "",
    kinds: Collection[str] = ALL_KINDS,
    markdown_links: str | bool = "auto",
    exists: Exists | None = None,
) -> list[Occurrence]:
    """References in ``text`` as ``dialect`` reads them, in document order.

    ``markdown_links`` is the ``references.markdownLinks`` setting, used only by dialects that do
    not fix it themselves; ``exists`` tells whether an ``@`` token names an existing file (so a
    bare ``@README`` that exists counts and a missing ``@docs/typo.md`` still warns).
    """
    rules = rules_for(dialect)
    found = [
        occ
        for occ in scan(text, kinds=kinds, markdown_links=_links(rules, markdown_links, path))
        if _keeps(occ, rules, exists)
    ]
    if "file" in kinds and rules.includes:
        found.extend(scan_includes(text, dialect))
        found.sort(key=lambda o: o.span.offset)
    return found
