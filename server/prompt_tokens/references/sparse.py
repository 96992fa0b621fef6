"""The whole-text reference scan, with exclusions worked out only where a reference can be.

Most real text holds few places where a reference can start (``@`` after whitespace,
``#file:``/``#fetch:``, ``](``, ``{{``, ``${input:``) and a great deal of inline code, which
is what masking the whole text spends its time on. This scan finds those *triggers* first
(``str.find``, C speed), returns nothing when there are none, and otherwise masks exactly what
``exclusions.exclude`` masks, but only in the paragraphs around the triggers:

- fenced code and the front matter are masked everywhere (the fence scan visits only runs of
  three backticks or tildes, and decides where the paragraphs are);
- inline code is paragraph-local (a code span does not cross a blank line or a fence), so the
  code spans of a paragraph are those ``text.code_spans`` finds in that paragraph alone;
- every match the reference patterns can make lies on one ``\\n``-delimited line that holds a
  trigger (a Markdown link's text may hold a lone ``\\r``, nothing else holds a line break),
  so only the paragraphs such a line touches need their code spans.

An ``@`` whose token is no reference even unmasked is no trigger (masking only shortens a
token). Template comments (``{#`` not after a ``{``, ``{{!``) and Jinja tags (``{%``) read
every brace and across paragraphs: with them, the lines holding a brace and the lines each tag
spans are masked exactly too (``_masked``). A window of a stream that holds them is left to
``window.scan_window``, which records how far they looked ahead. The result equals
``window.scan_window`` over the whole text (tested).
"""

from __future__ import annotations

import bisect
import re

from prompt_tokens.references.exclusions import (
    apply_mask,
    next_comment_start,
    template_comments,
)
from prompt_tokens.references.lookahead import Horizons
from prompt_tokens.references.patterns import (
    AT,
    HASH,
    LINK,
    at_file_token,
    at_reference,
    hash_reference,
    link_reference,
    url_start,
)
from prompt_tokens.references.templates import jinja_tags, variables
from prompt_tokens.references.window import START, Carry, Options
from prompt_tokens.results import Occurrence
from prompt_tokens.text.code import BLANK_LINE, code_span_regions, fence_scan
from prompt_tokens.text.lines import LineIndex

Found = list[tuple[int, Occurrence]]

_BRACES = re.compile(r"\{[{#%]")
"""``{{``, ``{#``, ``{%`` (non-overlapping: a ``{{`` inside ``{{{`` may be missed, which only
``_triggers``' line selection sees, and one ``{{`` per line is all it needs)."""
_HASH = re.compile(r"#f(?:ile|etch):")
_INPUT = re.compile(r"\$\{input:")

_BACK_STEP = 1024
"""How far back a paragraph start is first looked for (doubled until one is found)."""


def sparse_scan(text: str, fm_skip: int, options: Options) -> Found | None:
    """(offset, occurrence) of every reference in the whole ``text`` (its first ``fm_skip``
    characters are front matter), in document order; None when the text holds template
    comments or tags (the caller scans it in full)."""
    res = _scan(text, fm_skip, options, START, end_state=False)
    return None if res is None else res[0]


def sparse_window(
    text: str, fm_skip: int, options: Options, carry: Carry
) -> tuple[Found, Carry] | None:
    """``sparse_scan`` of a window of whole lines that starts with the state ``carry`` and
    ends where no code span decision crosses (after a blank line, or the document's end),
    with the state at its end (``references.stream_scan``)."""
    return _scan(text, fm_skip, options, carry, end_state=True)


def _scan(
    text: str, fm_skip: int, options: Options, carry: Carry, *, end_state: bool
) -> tuple[Found, Carry] | None:
    braces = [m.start() for m in _BRACES.finditer(text)]
    templated = bool(braces) and (
        next_comment_start(text, 0) >= 0 or (options.variables and "{%" in text)
    )
    if templated and end_state:
        return None  # a window: its template constructs' look-ahead must be recorded
    at, hashes, links, tags = _triggers(text, fm_skip, options, braces)
    if not (at or hashes or links or tags or end_state):
        return [], carry
    fences = fence_scan(text, min(fm_skip, len(text)), carry.fence)
    if not (at or hashes or links or tags):
        return [], Carry(fences.end, carry.vars)
    masked = _masked(text, fm_skip, fences.regions, [*at, *hashes, *links, *tags], templated)
    index = LineIndex(text)
    found = _references(masked, index, options, at, hashes, links)
    end_vars = carry.vars
    if tags:  # no ``{{`` nor ``${input:``: no variable, and no scope changes one
        look = Horizons(False, _absent)
        got, states = variables(masked, index, carry.vars, look, [len(text)])
        found.extend(got)
        end_vars = states[0]
    found.sort(key=lambda t: t[0])
    return found, Carry(fences.end, end_vars)


def _absent(_closer: str) -> bool:
    return True  # the whole text: nothing follows it


def _masked(
    text: str, fm_skip: int, fenced: list[tuple[int, int]], triggers: list[int], templated: bool
) -> str:
    """``text`` masked as ``exclusions.exclude`` masks it, exactly wherever the scan reads.

    Template comments and Jinja tags read every ``{``, every ``}`` and the whitespace runs
    after ``{%`` (never inside inline code: a run entering code would cross a backtick), so
    with them the lines holding a brace are masked exactly too, then the lines a Jinja tag
    spans (its rest is read), and the comments are masked last, as ``exclude`` does."""
    regions: list[tuple[int, int]] = [(0, fm_skip)] if fm_skip else []
    regions.extend(fenced)
    gaps = _gaps(fm_skip, fenced, len(text))
    ticks = "`" in text
    lines = {_line_of(text, p) for p in triggers}
    if templated:
        lines.update(_brace_lines(text, fm_skip))
    if ticks:
        regions.extend(_inline_code(text, gaps, sorted(lines)))
    masked = apply_mask(text, regions)
    if not templated:
        return masked
    look = Horizons(False, _absent)
    if ticks and "{%" in masked:
        spans = {
            (_line_of(text, p)[0], _line_of(text, q - 1)[1])
            for p, q, *_ in jinja_tags(masked, look)
        }
        more = _inline_code(text, gaps, sorted(spans - lines))
        if more:
            regions.extend(more)
            masked = apply_mask(text, regions)
    if "{#" in text or "{{!" in text:
        masked = apply_mask(masked, template_comments(masked, look))
    return masked


def _brace_lines(text: str, start: int) -> list[tuple[int, int]]:
    """The ``\\n``-delimited lines from ``start`` that hold a ``{`` or a ``}`` (each brace
    searched for again only once the scan has passed it)."""
    out: list[tuple[int, int]] = []
    nxt = [text.find("{", start), text.find("}", start)]
    while True:
        hits = [p for p in nxt if p >= 0]
        if not hits:
            return out
        line = _line_of(text, min(hits))
        out.append(line)
        pos = line[1] + 1
        for k, c in enumerate("{}"):
            if 0 <= nxt[k] < pos:
                nxt[k] = text.find(c, pos)


def _references(
    masked: str,
    index: LineIndex,
    options: Options,
    at: list[int],
    hashes: list[int],
    links: list[int],
) -> Found:
    """The ``@``, ``#file:``/``#fetch:`` and link references at the triggers."""
    found: Found = []
    for p in at:
        if masked[p] == "@" and (p == 0 or masked[p - 1].isspace()):
            m = AT.match(masked, p)
            if m is not None:
                found.extend(at_reference(m, index, options.files, options.urls))
    for p in hashes:
        if p == 0 or masked[p - 1].isspace():
            m = HASH.match(masked, p)
            if m is not None:
                found.extend(hash_reference(m, index, options.files, options.urls))
    for ls, le in sorted({_line_of(masked, p) for p in links}):
        for m in LINK.finditer(masked, ls, le):
            found.extend(link_reference(m, index))
    return found


def _triggers(
    text: str, fm_skip: int, options: Options, braces: list[int]
) -> tuple[list[int], list[int], list[int], list[int]]:
    """Where an ``@``, a ``#file:``/``#fetch:``, a ``](`` and a ``{{``/``${input:`` may start
    a reference (after the front matter; ``@`` and ``#`` only after whitespace). ``braces``:
    where ``_BRACES`` matched. Each search has a literal first character, so it runs at
    ``memchr`` speed; an alternation of them would test every character."""
    at: list[int] = []
    hashes: list[int] = []
    if options.files or options.urls:
        at = [
            p
            for p in _all(text, "@", fm_skip)
            if (p == 0 or text[p - 1].isspace()) and _may_be_at(text, p, options)
        ]
        hashes = [
            p
            for m in _HASH.finditer(text, fm_skip)
            if (p := m.start()) == 0 or text[p - 1].isspace()
        ]
    links = _all(text, "](", fm_skip) if options.links else []
    tags: list[int] = []
    if options.variables:
        tags = [p for p in braces if p >= fm_skip and text.startswith("{{", p)]
        if "$" in text:
            tags.extend(m.start() for m in _INPUT.finditer(text, fm_skip))
            tags.sort()
    return at, hashes, links, tags


def _may_be_at(text: str, p: int, options: Options) -> bool:
    """Whether the ``@`` at ``p`` can be a reference once masked. Masking only shortens its
    token (a masked character ends it), and a prefix of a token that is no file reference is
    none either, unless the token is a URL (a prefix of one may read as a path)."""
    m = AT.match(text, p)
    if m is None:
        return False
    raw = m.group(1)
    return url_start(raw) or (options.files and at_file_token(raw))


def _all(text: str, needle: str, start: int) -> list[int]:
    """Every offset of ``needle`` in ``text`` from ``start`` (overlapping ones too)."""
    out: list[int] = []
    p = text.find(needle, start)
    while p >= 0:
        out.append(p)
        p = text.find(needle, p + 1)
    return out


def _line_of(text: str, p: int) -> tuple[int, int]:
    """``[start, end)`` of the ``\\n``-delimited line holding ``p``."""
    end = text.find("\n", p)
    return text.rfind("\n", 0, p) + 1, len(text) if end < 0 else end


def _gaps(start: int, fenced: list[tuple[int, int]], n: int) -> list[tuple[int, int]]:
    """The stretches between fenced blocks where ``exclude`` looks for inline code."""
    out: list[tuple[int, int]] = []
    pos = start
    for fs, fe in [*fenced, (n, n)]:
        if fs > pos:
            out.append((pos, fs))
        pos = max(pos, fe)
    return out


def _inline_code(
    text: str, gaps: list[tuple[int, int]], lines: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    """The code spans of every paragraph that the ``lines`` (sorted) touch."""
    spans: list[tuple[int, int]] = []
    starts = [g[0] for g in gaps]
    covered: dict[int, int] = {}  # per gap: the paragraph boundary scanned up to
    for ls, le in lines:
        g = max(0, bisect.bisect_right(starts, ls) - 1)
        while g < len(gaps) and gaps[g][0] <= le:
            gs, ge = gaps[g]
            a, b = max(ls, gs), min(le, ge)
            done = covered.get(g, gs)
            if a < ge and b > done:
                lo = done if a <= done else _paragraph_start(text, a, done)
                hi = _paragraph_end(text, b, ge)
                if text.find("`", lo, hi) >= 0:
                    spans.extend(code_span_regions(text, lo, hi))
                covered[g] = hi
            g += 1
    return spans


def _paragraph_start(text: str, pos: int, floor: int) -> int:
    """A paragraph boundary as ``code_spans`` sees them (the start of a ``BLANK_LINE`` match,
    or ``floor``, itself one) at or before the line start ``pos``."""
    step = _BACK_STEP
    while True:
        lo = max(floor, pos - step)
        last = -1
        for m in BLANK_LINE.finditer(text, lo, pos):
            last = m.start()
        if last >= 0:
            return last
        if lo == floor:
            return floor
        step *= 2


def _paragraph_end(text: str, pos: int, ceiling: int) -> int:
    """A paragraph boundary at or after ``pos`` (``ceiling``, the gap's end, if none)."""
    m = BLANK_LINE.search(text, pos, ceiling)
    return ceiling if m is None else m.start()
