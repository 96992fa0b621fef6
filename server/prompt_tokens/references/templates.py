"""Template variables: Mustache/Handlebars/Jinja ``{{ name }}`` and VS Code ``${input:name}``.

Jinja ``{% … %}`` tags and Handlebars block helpers carry scopes: names bound by a loop, a
``{% set %}``, a macro or an ``{{#each}}``/``{{#with}}`` block are not variables of the
document; nothing inside ``{% raw %}`` is. See ``syntax`` for the rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from prompt_tokens.results import Occurrence
from prompt_tokens.text.lines import LineIndex

_MUSTACHE = re.compile(r"\{\{(\{?)([-~]?)[ \t]*([^{}\r\n]*?)[ \t]*([-~]?)(\}?)\}\}")
_JINJA_TAG = re.compile(r"\{%[-+]?\s*(\w+)(.*?)[-+]?%\}", re.DOTALL)
_INPUT = re.compile(r"\$\{input:([A-Za-z_][\w.-]*)(?::([^}\r\n\x00]*))?\}")
_NAME = re.compile(r"[A-Za-z_][\w-]*(?:\.(?:[A-Za-z_][\w-]*|\d+))*")
_IGNORED_NAMES = frozenset(
    {"this", "else", "true", "false", "null", "none", "None", "True", "False"}
)


def variables(masked: str, index: LineIndex) -> Iterator[tuple[int, Occurrence]]:
    events: list[tuple[int, str, re.Match[str]]] = []
    events.extend((m.start(), "m", m) for m in _MUSTACHE.finditer(masked))
    events.extend((m.start(), "j", m) for m in _JINJA_TAG.finditer(masked))
    for m in _INPUT.finditer(masked):
        events.append((m.start(), "i", m))
    events.sort(key=lambda e: e[0])

    hb_scopes: list[str] = []  # open Handlebars block helpers ("each"/"with" change the context)
    jinja_loops: list[set[str]] = []  # names bound by enclosing {% for %} loops
    jinja_set: set[str] = set()
    raw_until = -1
    for start, what, m in events:
        if start < raw_until:
            continue
        if what == "i":
            yield (
                start,
                Occurrence(
                    kind="variable",
                    target=m.group(1),
                    syntax="input",
                    span=index.span(m.start(), m.end()),
                    placeholder=m.group(2),
                    raw=index.text[m.start() : m.end()],
                ),
            )
            continue
        if what == "j":
            tag, rest = m.group(1), m.group(2)
            if tag == "raw":
                end = re.compile(r"\{%[-+]?\s*endraw\s*[-+]?%\}").search(masked, m.end())
                raw_until = end.end() if end else len(masked)
            elif tag == "for":
                names = rest.split(" in ", 1)[0] if " in " in rest else ""
                jinja_loops.append({n.strip() for n in names.split(",") if n.strip()} | {"loop"})
            elif tag == "endfor" and jinja_loops:
                jinja_loops.pop()
            elif tag == "set":
                lhs = rest.split("=", 1)[0]
                jinja_set.update(n.strip() for n in lhs.split(",") if n.strip())
            elif tag in ("macro", "call"):
                jinja_loops.append(set(re.findall(r"\w+", rest)))
            elif tag in ("endmacro", "endcall") and jinja_loops:
                jinja_loops.pop()
            continue
        body = m.group(3)
        if body.startswith("#"):
            helper = body[1:].strip().split(None, 1)
            hb_scopes.append(helper[0] if helper else "")
            continue
        if body.startswith("/"):
            if hb_scopes:
                hb_scopes.pop()
            continue
        if body.startswith("&"):
            body = body[1:].strip()
        name = body.split("|", 1)[0].strip() if "|" in body else body
        if not _NAME.fullmatch(name) or name in _IGNORED_NAMES:
            continue
        root = name.split(".", 1)[0]
        if any(s in ("each", "with") for s in hb_scopes):
            continue
        if any(root in loop for loop in jinja_loops) or root in jinja_set:
            continue
        yield (
            start,
            Occurrence(
                kind="variable",
                target=name,
                syntax="mustache",
                span=index.span(m.start(), m.end()),
                raw=index.text[m.start() : m.end()],
            ),
        )
