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
from prompt_tokens.agents.plausible import Exists
from prompt_tokens.agents.scanning import DialectScanner
from prompt_tokens.references.blocks import BlockScanner
from prompt_tokens.references.syntax import ALL_KINDS, markdown_links_enabled
from prompt_tokens.results import Occurrence


def links_for(rules: DialectRules, setting: str | bool, path: str) -> bool:
    """Whether Markdown links are references: the dialect's own rule, else the
    ``references.markdownLinks`` setting."""
    if rules.markdown_links is not None:
        return rules.markdown_links
    return markdown_links_enabled(setting, path)


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
    links = links_for(rules_for(dialect), markdown_links, path)
    return DialectScanner(BlockScanner(tuple(kinds), links), dialect, exists)(text)
