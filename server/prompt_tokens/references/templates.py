"""Template variables: Mustache/Handlebars/Jinja ``{{ name }}`` and VS Code ``${input:name}``.

Jinja ``{% … %}`` tags and Handlebars block helpers carry scopes: names bound by a loop, a
``{% set %}``, a macro or an ``{{#each}}``/``{{#with}}`` block are not variables of the
document; nothing inside ``{% raw %}`` is. See ``syntax`` for the rules.

Works on a window of a document (see ``window``): the scopes open at its start come in as a
``VarState``, and out come the scopes at each cut and how far each Jinja tag looked ahead
(a tag runs to the first ``%}``, on any line).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from prompt_tokens.references.lookahead import Horizons
from prompt_tokens.results import Occurrence
from prompt_tokens.text.code import BEYOND
from prompt_tokens.text.lines import LineIndex

_MUSTACHE = re.compile(r"\{\{(\{?)([-~]?)[ \t]*([^{}\r\n]*?)[ \t]*([-~]?)(\}?)\}\}")
_JINJA_HEAD = re.compile(r"\{%[-+]?\s*(\w+)")
_JINJA_OPEN = re.compile(r"\{%[-+]?\s*")
_ENDRAW = re.compile(r"\{%[-+]?\s*endraw\s*[-+]?%\}")
_ENDRAW_TAIL = re.compile(r"\{%[-+]?\s*(?:endraw\s*)?\Z")
_INPUT = re.compile(r"\$\{input:([A-Za-z_][\w.-]*)(?::([^}\r\n\x00]*))?\}")
_NAME = re.compile(r"[A-Za-z_][\w-]*(?:\.(?:[A-Za-z_][\w-]*|\d+))*")
_WORD = re.compile(r"\w+")
_IGNORED_NAMES = frozenset(
    {"this", "else", "true", "false", "null", "none", "None", "True", "False"}
)


class VarState(NamedTuple):
    """The template scopes at a point of the text."""

    raw: bool = False
    """Inside ``{% raw %}`` (until the next ``{% endraw %}``)."""
    scopes: tuple[str, ...] = ()
    """Open Handlebars block helpers (``each``/``with`` change the context)."""
    loops: tuple[frozenset[str], ...] = ()
    """Names bound by enclosing ``{% for %}`` loops, macros and calls."""
    bound: frozenset[str] = frozenset()
    """Names bound by ``{% set %}`` so far."""


JinjaTag = tuple[int, int, str, str]
"""(start, end, tag name, the rest before ``%}``)."""


def jinja_tags(masked: str, look: Horizons) -> list[JinjaTag]:
    """Every Jinja tag, left to right, none inside another (``\\{%[-+]?\\s*(\\w+)(.*?)[-+]?%\\}``
    with DOTALL, written out so each attempt says how far it read)."""
    out: list[JinjaTag] = []
    pos = 0
    while (p := masked.find("{%", pos)) >= 0:
        pos = p + 1
        head = _JINJA_HEAD.match(masked, p)
        if head is None:
            opened = _JINJA_OPEN.match(masked, p)
            assert opened is not None
            if opened.end() == len(masked):
                look.beyond(p, None)  # only whitespace up to the end: a name may follow
            else:
                look.read(p, opened.end() + 1)
            continue
        if head.end() == len(masked):
            look.beyond(p, None)
            continue
        q = masked.find("%}", head.end())
        if q < 0:
            look.beyond(p, "%}")
            continue
        look.read(p, q + 2)
        rest_end = q - 1 if q - 1 >= head.end() and masked[q - 1] in "-+" else q
        out.append((p, q + 2, head.group(1), masked[head.end() : rest_end]))
        pos = q + 2
    return out


def _endraw(masked: str, pos: int, look: Horizons) -> int:
    """Where ``{% raw %}`` ends: after the first ``{% endraw %}`` from ``pos`` (BEYOND: not in
    this text)."""
    m = _ENDRAW.search(masked, pos)
    if m is not None:
        look.read(m.start(), m.end())
        return m.end()
    c = masked.rfind("{%", pos)
    if c >= 0 and _ENDRAW_TAIL.match(masked, c):
        look.beyond(c, None)  # "{% endraw" + whitespace up to the end: may close after it
    return BEYOND


def _events(masked: str, look: Horizons) -> list[tuple[int, str, re.Match[str] | JinjaTag]]:
    events: list[tuple[int, str, re.Match[str] | JinjaTag]] = []
    if "{{" in masked:
        events.extend((m.start(), "m", m) for m in _MUSTACHE.finditer(masked))
    if "{%" in masked:
        events.extend((t[0], "j", t) for t in jinja_tags(masked, look))
    if "${input:" in masked:
        events.extend((m.start(), "i", m) for m in _INPUT.finditer(masked))
    events.sort(key=lambda e: e[0])
    return events


class _Scopes:
    """The scopes while the events of one window are read in order."""

    def __init__(self, state: VarState) -> None:
        self.hb = list(state.scopes)
        self.loops = list(state.loops)
        self.bound = set(state.bound)
        self.raw_until = -1

    def at(self, cut: int) -> VarState:
        return VarState(
            self.raw_until > cut, tuple(self.hb), tuple(self.loops), frozenset(self.bound)
        )

    def jinja(self, tag: str, rest: str) -> bool:
        """Apply a tag; True when it opens ``{% raw %}``."""
        if tag == "raw":
            return True
        if tag == "for":
            names = rest.split(" in ", 1)[0] if " in " in rest else ""
            self.loops.append(
                frozenset({n.strip() for n in names.split(",") if n.strip()} | {"loop"})
            )
        elif tag == "endfor" and self.loops:
            self.loops.pop()
        elif tag == "set":
            lhs = rest.split("=", 1)[0]
            self.bound.update(n.strip() for n in lhs.split(",") if n.strip())
        elif tag in ("macro", "call"):
            self.loops.append(frozenset(_WORD.findall(rest)))
        elif tag in ("endmacro", "endcall") and self.loops:
            self.loops.pop()
        return False

    def mustache(self, body: str) -> str | None:
        """Apply a ``{{ … }}`` body; the variable it names, if any."""
        if body.startswith("#"):
            helper = body[1:].strip().split(None, 1)
            self.hb.append(helper[0] if helper else "")
            return None
        if body.startswith("/"):
            if self.hb:
                self.hb.pop()
            return None
        if body.startswith("&"):
            body = body[1:].strip()
        name = body.split("|", 1)[0].strip() if "|" in body else body
        if not _NAME.fullmatch(name) or name in _IGNORED_NAMES:
            return None
        root = name.split(".", 1)[0]
        if any(s in ("each", "with") for s in self.hb):
            return None
        if any(root in loop for loop in self.loops) or root in self.bound:
            return None
        return name


def variables(
    masked: str, index: LineIndex, state: VarState, look: Horizons, cuts: Sequence[int]
) -> tuple[list[tuple[int, Occurrence]], list[VarState]]:
    """The variables in ``masked`` (offsets into it), and the scopes at each of ``cuts``."""
    scopes = _Scopes(state)
    if state.raw:
        scopes.raw_until = _endraw(masked, 0, look)
    found: list[tuple[int, Occurrence]] = []
    states: list[VarState] = []
    for start, what, data in _events(masked, look):
        while len(states) < len(cuts) and start >= cuts[len(states)]:
            states.append(scopes.at(cuts[len(states)]))
        if start < scopes.raw_until:
            continue
        if isinstance(data, tuple):
            _, end, tag, rest = data
            if scopes.jinja(tag, rest):
                scopes.raw_until = _endraw(masked, end, look)
            continue
        m = data
        if what == "i":
            found.append((start, _occurrence(m, index, m.group(1), "input", m.group(2))))
        elif (name := scopes.mustache(m.group(3))) is not None:
            found.append((start, _occurrence(m, index, name, "mustache", None)))
    states.extend(scopes.at(c) for c in cuts[len(states) :])
    return found, states


def _occurrence(
    m: re.Match[str], index: LineIndex, name: str, syntax: str, placeholder: str | None
) -> Occurrence:
    return Occurrence(
        kind="variable",
        target=name,
        syntax=syntax,
        span=index.span(m.start(), m.end()),
        placeholder=placeholder,
        raw=index.text[m.start() : m.end()],
    )
