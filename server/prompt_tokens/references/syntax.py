"""The reference scanner: every syntax in SPEC's table, with exact source ranges.

=====================  ========  ==============================================================
syntax                 kind      rule
=====================  ========  ==============================================================
``@path``              file      at the start of a line or after whitespace; the path (trailing
                                 punctuation trimmed) contains a ``/`` or a ``.``
``#file:path``         file      at the start of a line or after whitespace
``@https://…``         url       also ``@http://…``, ``#fetch:https://…``, ``#fetch:http://…``
``[text](path)``       file      only when ``markdown_links`` is on; local targets only (no
                                 scheme, no ``#anchor``-only links, no images ``![…](…)``);
                                 ``<…>`` destinations, ``"title"`` and ``#fragment`` handled,
                                 ``%20`` decoded
``{{ name }}``         variable  Mustache/Jinja/Handlebars/dotprompt; see below
``${input:name}``      variable  also ``${input:name:placeholder}`` (placeholder kept)
=====================  ========  ==============================================================

Never a reference: anything inside a fenced code block (````` and ``~~~``, any info string; the
fence may be indented or inside a ``>`` quote, so fences in list items count too; an unclosed
fence runs to the end) or an inline code span (any backtick run length, not across a blank
line); the YAML front matter; Jinja ``{# … #}`` and Handlebars ``{{! … }}`` comments; an e-mail
address (its ``@`` is inside a word); a bare URL.

Trailing sentence punctuation ``.,;:!?'"`` and unbalanced closing brackets ``)]}`` are trimmed
from ``@path``, ``#file:`` and URL tokens: ``target`` is the trimmed token, ``untrimmed`` the raw
longest one (None when nothing was trimmed). The file resolver uses ``untrimmed`` only when a file
of that exact name exists (SPEC). Spans cover the reference as written with the trimmed target
(``@docs/a.md`` in ``see @docs/a.md, then``).

Variables: ``{{ name }}``, ``{{name}}``, ``{{{ name }}}``, ``{{& name}}``, Jinja whitespace
control ``{{- name -}}`` and Jinja filters ``{{ name | upper }}`` (the variable is ``name``). A
dotted name ``{{ user.name }}`` is ONE variable named ``user.name`` (front matter maps are also
flattened to such dotted names, see ``frontmatter``). Ignored: block helpers and closers
(``{{#each}}``, ``{{/if}}``, ``{{^x}}``, ``{{else}}``), partials ``{{> p}}``, comments,
helper calls with arguments (``{{role "system"}}``), ``this``/``.``/``../x``/``@index``,
literals, Jinja ``{% … %}`` statements. Names used inside ``{{#each}}``/``{{#with}}`` blocks
refer to the item, not to a variable, and are skipped; so are Jinja ``{% for x in … %}`` loop
variables (and ``loop``) inside their loop, names bound by ``{% set x = … %}`` after it, and
everything inside ``{% raw %}``.

Incremental: ``blocks.BlockScanner`` scans a document kept as blocks and, after an edit, only
the blocks the edit touches and those whose carried state it changed (``window`` explains the
state; the whole-text scan is the same code over one window).

Positions: 0-based lines (only ``\\n``, ``\\r\\n`` and ``\\r`` end a line, as in LSP), UTF-16
columns (an astral character counts 2), plus character offsets into the scanned text.
"""

from __future__ import annotations

from collections.abc import Collection

from prompt_tokens.references.blocks import ALL_KINDS, BlockScanner
from prompt_tokens.references.exclusions import MASK
from prompt_tokens.references.patterns import TRIM_CHARS, trim_trailing
from prompt_tokens.results import Occurrence
from prompt_tokens.text.lines import LineIndex, utf16_len
from prompt_tokens.text.markdown import front_matter_bounds, front_matter_end

__all__ = [
    "ALL_KINDS",
    "MASK",
    "PROMPT_FILE_SUFFIXES",
    "TRIM_CHARS",
    "BlockScanner",
    "LineIndex",
    "front_matter_bounds",
    "front_matter_end",
    "markdown_links_enabled",
    "scan",
    "trim_trailing",
    "utf16_len",
]

# VS Code prompt files: the names for which ``references.markdownLinks: "auto"`` turns links on.
PROMPT_FILE_SUFFIXES = (".prompt.md", ".instructions.md", ".chatmode.md", ".agent.md")


def scan(
    text: str,
    *,
    kinds: Collection[str] = ALL_KINDS,
    markdown_links: bool = False,
) -> list[Occurrence]:
    """Every reference in ``text``, in document order (``BlockScanner`` over the whole text;
    a document kept as blocks is scanned incrementally with ``BlockScanner.scan_blocks``)."""
    return BlockScanner(tuple(kinds), markdown_links)(text)


def markdown_links_enabled(setting: str | bool, path: str) -> bool:
    """``references.markdownLinks``: ``"auto"`` → only VS Code prompt files."""
    if setting is True or setting == "true":
        return True
    if setting is False or setting == "false":
        return False
    name = path.replace("\\", "/").rsplit("/", 1)[-1].lower()
    return name.endswith(PROMPT_FILE_SUFFIXES)
