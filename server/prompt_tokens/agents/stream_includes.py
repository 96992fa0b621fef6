"""Template includes of a text that arrives stretch by stretch (``references.stream_scan``),
equal to ``includes.scan_includes`` of the whole text.

``scan_includes`` is three left-to-right regex passes: ``{% raw %}`` blocks are blanked, then
comments, then partials and Jinja includes are matched. A window of the text can be cut at a
line start ``c`` when no attempt of any pass that starts before ``c`` reads ``c`` or beyond:
then what the passes find before ``c`` is what they find in the whole text, and each pass goes
on from ``c`` as it would from the start of a text. How far an attempt can read is bounded
per construct (``_extents``), from above: a ``{#`` reads up to its ``#}``, a ``{{!`` up to its
first ``}``, a partial up to its first ``}``, a Jinja include up to the first ``%`` after its
quoted name, a raw block up to its ``{% endraw %}``; one that finds no end in the window reads
beyond it. The window grows while such a construct is open (a ``{#`` — also the one inside
``{{#each}}``, which the comment pass tries — keeps the text until a ``#}`` or the end), so
the text a template dialect holds is bounded only where its constructs close.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from itertools import accumulate

from prompt_tokens.agents.dialects import Dialect, rules_for
from prompt_tokens.agents.includes import (
    COMMENTS,
    RAW,
    blank_matches,
    jinja_includes,
    partials,
    prompty_files,
)
from prompt_tokens.references.stream_scan import CHUNK, Committed, FrontMatter
from prompt_tokens.references.window import shift_all
from prompt_tokens.results import Occurrence
from prompt_tokens.text.lines import LineIndex, count_breaks

_INF = 1 << 62
_RAW_TAG = re.compile(r"\{%[-+]?\s*raw\s*[-+]?%\}")
_ENDRAW = re.compile(r"\{%[-+]?\s*endraw\s*[-+]?%\}")
_RAW_READ = re.compile(r"\{%[-+]?\s*(?:r(?:a(?:w\s*[-+]?%?)?)?)?")
_JINJA_HEAD = re.compile(
    r"\{%[-+]?\s*(?:include|import|extends|from)\s+(?:\[\s*)?(?:\"[^\"\r\n]+\"|'[^'\r\n]+')"
)
_JINJA_READ = re.compile(r"\{%[-+]?\s*\w*\s*(?:\[\s*)?(?:\"[^\"\r\n]*\"?|'[^'\r\n]*'?)?")


class IncludeStream:
    """Collects the includes of committed stretches; ``finish`` gives them all, in order."""

    def __init__(self, dialect: Dialect, chunk: int = CHUNK) -> None:
        self.wanted = rules_for(dialect).includes
        self.chunk = chunk
        self._parts: list[str] = []
        self._size = 0
        self._base = 0
        self._line = 0
        self._bounds: FrontMatter = None
        self.found: list[Occurrence] = []

    def feed(self, part: Committed) -> None:
        self._bounds = part.front_matter
        self._parts.append(part.text)
        self._size += len(part.text)
        if self._size >= self.chunk:
            self._commit(final=False)

    def finish(self) -> list[Occurrence]:
        self._commit(final=True)
        self.found.sort(key=lambda o: o.span.offset)
        return self.found

    def _commit(self, *, final: bool) -> None:
        window = "".join(self._parts)
        start = max(0, (self._bounds[2] if self._bounds else 0) - self._base)
        body, passes = _passes(window, min(start, len(window)))
        cut = len(window) if final else _last_clean_cut(window, passes)
        if cut == 0:
            self._parts = [window]
            self.chunk = 2 * max(self.chunk, len(window))  # an open construct: grow
            return
        self.found.extend(
            shift_all(list(self._scan(window, body, start, cut)), self._line, self._base)
        )
        done = window[:cut]
        self._base += cut
        self._line += count_breaks(done)
        rest = window[cut:]
        self._parts = [rest] if rest else []
        self._size = len(rest)

    def _scan(self, window: str, body: str, start: int, cut: int) -> Iterator[Occurrence]:
        """The includes starting before ``cut``, spans relative to the window."""
        index = LineIndex(window)
        if "prompty-file" in self.wanted and self._bounds is not None:
            ys, ye = self._bounds[0] - self._base, self._bounds[1] - self._base
            if ye > 0 and ys < len(window):
                found = prompty_files(window, max(0, ys), min(len(window), ye), index)
                yield from (o for o in found if o.span.offset < cut)
        if "dotprompt-partial" in self.wanted:
            yield from (o for o in partials(body, start, index) if o.span.offset < cut)
        if "jinja-include" in self.wanted:
            yield from (o for o in jinja_includes(body, start, index) if o.span.offset < cut)


def _passes(window: str, start: int) -> tuple[str, tuple[str, str, str]]:
    """The fully blanked body, and the text each pass reads (raw, comments, includes)."""
    first = " " * start + window[start:]
    second = blank_matches(first, RAW)
    third = blank_matches(second, COMMENTS)
    return third, (first, second, third)


def _last_clean_cut(window: str, passes: tuple[str, str, str]) -> int:
    """The last line start after a ``\\n`` that no attempt starting before it reads past
    (0: none)."""
    reads = sorted(_extents(*passes))
    starts = [q for q, _ in reads]
    reach = list(accumulate((ext for _, ext in reads), max))
    p = len(window)
    while (p := window.rfind("\n", 0, p)) >= 0:
        c = p + 1
        k = bisect.bisect_left(starts, c)
        if k == 0 or reach[k - 1] <= c:
            return c
    return 0


def _extents(raw: str, comments: str, includes: str) -> Iterator[tuple[int, int]]:
    """(start, how far it may read, exclusive) for every attempt of a pass that can read
    beyond its first characters (``_INF``: to the end of the window and beyond)."""
    for q in _all(raw, "{%"):
        tag = _RAW_TAG.match(raw, q)
        if tag is None:
            yield q, _end(_RAW_READ.match(raw, q)) + 1
        else:
            close = _ENDRAW.search(raw, tag.end())
            yield q, _INF if close is None else close.end()
    for q in _all(comments, "{{"):
        if comments.startswith("{{!", q):
            j = comments.find("}", q + 3)
            ext = _INF if j < 0 else j + 2
            if comments.startswith("{{!--", q):
                f = comments.find("--}}", q + 5)
                ext = max(ext, _INF if f < 0 else f + 4)
            yield q, max(ext, q + 5)
        else:
            yield q, q + 3
    for q in _all(comments, "{#"):
        f = comments.find("#}", q + 2)
        yield q, _INF if f < 0 else f + 2
    for q in _all(includes, "{{"):
        j = includes.find("}", q + 2)
        yield q, _INF if j < 0 else j + 2
    for q in _all(includes, "{%"):
        head = _JINJA_HEAD.match(includes, q)
        if head is None:
            yield q, _end(_JINJA_READ.match(includes, q)) + 1
        else:
            pct = includes.find("%", head.end())
            yield q, _INF if pct < 0 else pct + 2


def _end(m: re.Match[str] | None) -> int:
    assert m is not None  # each pattern matches its own opener
    return m.end()


def _all(text: str, needle: str) -> list[int]:
    out: list[int] = []
    p = text.find(needle)
    while p >= 0:
        out.append(p)
        p = text.find(needle, p + 1)
    return out
