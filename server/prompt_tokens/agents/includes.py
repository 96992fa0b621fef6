"""Template includes as file references: dotprompt partials, Jinja includes, Prompty ``${file:}``.

A template engine renders the included file in place, so its tokens are part of the prompt just
like an ``@file`` attachment. Each include becomes an ``Occurrence`` of kind ``"file"`` whose
``target`` is a path relative to the template's folder (SPEC: paths are relative to the
document's folder), ``raw`` what was written:

==========================  ==============  ===============================================
written                     syntax          target
==========================  ==============  ===============================================
``{{> header}}``            ``partial``     ``_header.prompt`` (``{{> a/b}}``: ``a/_b.prompt``)
``{% include "x.j2" %}``    ``include``     ``x.j2``; also ``import``, ``from … import``,
                                            ``extends``; the first name of a list
``${file:sample.json}``     ``prompty-file``  ``sample.json`` (in the front matter only)
==========================  ==============  ===============================================

Template engines render fenced code and inline code like any other text, so unlike the Markdown
scanner nothing here is skipped for backticks; only template comments (``{{! }}``,
``{{!-- --}}``, ``{# #}``) and Jinja ``{% raw %}`` blocks are. Partials and includes in the
front matter are YAML, not template text, and are skipped; ``${file:}`` is looked for only
there. Where these conventions come from: ``dialects`` module docstring.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from prompt_tokens.agents.dialects import Dialect, rules_for
from prompt_tokens.references.syntax import LineIndex, front_matter_bounds
from prompt_tokens.results import Occurrence

_PARTIAL = re.compile(r"\{\{~?>\s*([A-Za-z0-9_][\w./-]*)[^}]*~?\}\}")
_JINJA = re.compile(
    r"\{%[-+]?\s*(include|import|extends|from)\s+"
    r"(\[\s*)?(\"[^\"\r\n]+\"|'[^'\r\n]+')[^%]*?[-+]?%\}"
)
_PROMPTY_FILE = re.compile(r"\$\{file:([^}\r\n]+)\}")
COMMENTS = re.compile(r"\{\{!--.*?--\}\}|\{\{![^}]*\}\}|\{#.*?#\}", re.DOTALL)
_NOT_BREAK = re.compile(r"[^\r\n]")
RAW = re.compile(r"\{%[-+]?\s*raw\s*[-+]?%\}.*?(?:\{%[-+]?\s*endraw\s*[-+]?%\}|\Z)", re.DOTALL)


def partial_path(name: str) -> str:
    """dotprompt's file for partial ``name``: ``_name.prompt`` in the same (sub)folder."""
    folder, _, base = name.rpartition("/")
    return f"{folder}/_{base}.prompt" if folder else f"_{base}.prompt"


_SEARCH = {
    "dotprompt-partial": _PARTIAL,
    "jinja-include": _JINJA,
    "prompty-file": _PROMPTY_FILE,
}


def may_include(text: str, dialect: Dialect) -> bool:
    """Whether ``text`` can hold an include ``dialect`` reads: one regex search per syntax,
    at C speed. ``scan_includes`` only drops matches (in comments, raw blocks, the front
    matter), so False here means it finds nothing."""
    return any(_SEARCH[i].search(text) for i in rules_for(dialect).includes)


def scan_includes(text: str, dialect: Dialect) -> list[Occurrence]:
    """The includes ``dialect`` reads in ``text``, in document order."""
    wanted = rules_for(dialect).includes
    if not wanted:
        return []
    index = LineIndex(text)
    bounds = front_matter_bounds(text)
    body_start = bounds[2] if bounds else 0
    found: list[Occurrence] = []
    if "prompty-file" in wanted and bounds:
        found.extend(prompty_files(text, bounds[0], bounds[1], index))
    body = _blank_comments(text, body_start)
    if "dotprompt-partial" in wanted:
        found.extend(partials(body, body_start, index))
    if "jinja-include" in wanted:
        found.extend(jinja_includes(body, body_start, index))
    found.sort(key=lambda o: o.span.offset)
    return found


def _blank_comments(text: str, start: int) -> str:
    """``text`` with the front matter, comments and raw blocks blanked (offsets kept)."""
    return blank_matches(blank_matches(" " * start + text[start:], RAW), COMMENTS)


def blank_matches(text: str, pattern: re.Pattern[str]) -> str:
    """``text`` with every match of ``pattern`` blanked (line breaks kept, offsets kept)."""
    return pattern.sub(lambda m: _NOT_BREAK.sub(" ", m.group()), text)


def _occurrence(index: LineIndex, start: int, end: int, target: str, syntax: str) -> Occurrence:
    return Occurrence(
        kind="file",
        target=target,
        syntax=syntax,
        span=index.span(start, end),
        raw=index.text[start:end],
    )


def partials(body: str, start: int, index: LineIndex) -> Iterator[Occurrence]:
    for m in _PARTIAL.finditer(body, start):
        yield _occurrence(index, m.start(), m.end(), partial_path(m.group(1)), "partial")


def jinja_includes(body: str, start: int, index: LineIndex) -> Iterator[Occurrence]:
    for m in _JINJA.finditer(body, start):
        name = m.group(3)[1:-1].strip()
        if name:
            yield _occurrence(index, m.start(), m.end(), name, "include")


def prompty_files(text: str, start: int, end: int, index: LineIndex) -> Iterator[Occurrence]:
    for m in _PROMPTY_FILE.finditer(text, start, end):
        target = m.group(1).strip().strip("\"'")
        if target:
            yield _occurrence(index, m.start(), m.end(), target, "prompty-file")
