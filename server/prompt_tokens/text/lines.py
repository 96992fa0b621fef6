"""Line ends and columns, as LSP counts them.

Only ``\\n``, ``\\r\\n`` and a lone ``\\r`` end a line — not the extra separators of
``str.splitlines`` (``\\x0b``, ``\\x0c``, ``\\x1c``–``\\x1e``, ``\\x85``, ``\\u2028``,
``\\u2029``). Columns are UTF-16 code units by default (an astral character counts 2);
``utf-32`` (code points) and ``utf-8`` (bytes) are the other encodings a client may negotiate.
"""

from __future__ import annotations

import bisect
import re
from itertools import accumulate, repeat
from operator import add
from typing import Literal

from prompt_tokens.results import Span

PositionEncoding = Literal["utf-8", "utf-16", "utf-32"]

LINE_BREAK = re.compile(r"\r\n|\r|\n")
"""One line end: ``\\r\\n`` first, so it is never taken for two."""
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def count_breaks(text: str) -> int:
    """Line breaks in ``text``: ``\\n``, ``\\r\\n`` and lone ``\\r`` count one each."""
    n = text.count("\n")
    if "\r" in text:
        n += text.count("\r") - text.count("\r\n")
    return n


def line_start(text: str, pos: int, has_cr: bool = True) -> int:
    """Offset where the line holding ``pos`` starts (``has_cr=False``: the caller knows the
    text has no ``\\r``, which saves a search)."""
    nl = text.rfind("\n", 0, pos)
    if not has_cr:
        return nl + 1
    # Look for a '\r' only after that '\n': an unbounded search would run back to the last
    # '\r' of the text, which made scanning a big text with a few '\r' quadratic.
    return max(nl, text.rfind("\r", nl + 1, pos)) + 1


def line_end(text: str, pos: int, has_cr: bool = True) -> int:
    """Offset of the first line break at or after ``pos`` (``len(text)`` if none)."""
    nl = text.find("\n", pos)
    end = nl if nl >= 0 else len(text)
    if has_cr:
        cr = text.find("\r", pos, end)  # only before that '\n' (bounded, see line_start)
        if cr >= 0:
            return cr
    return end


def after_line_break(text: str, pos: int) -> int:
    """Offset just after the line break at ``pos`` (``\\r\\n`` is one break)."""
    if text.startswith("\r\n", pos):
        return pos + 2
    return pos + 1 if pos < len(text) else pos


def first_line(text: str) -> str:
    """The content of the first line, without its line break."""
    m = LINE_BREAK.search(text)
    return text[: m.start()] if m else text


# ---- columns ---------------------------------------------------------------------------------


def utf16_len(s: str) -> int:
    """Length of ``s`` in UTF-16 code units (LSP's default column unit)."""
    if s.isascii():
        return len(s)
    return len(s.encode("utf-16-le", "surrogatepass")) // 2


def units_of(s: str, encoding: PositionEncoding) -> int:
    """Length of ``s`` in the client's column units."""
    if encoding == "utf-32" or s.isascii():
        return len(s)
    if encoding == "utf-16":
        return utf16_len(s)
    return len(s.encode("utf-8", "surrogatepass"))


def index_of_units(s: str, units: int, encoding: PositionEncoding) -> int:
    """Index into ``s`` of the column ``units`` (clamped to ``len(s)``).

    A column inside a character (the middle of a surrogate pair or of a UTF-8 sequence) is
    rounded up to the end of that character.
    """
    if units <= 0:
        return 0
    if encoding == "utf-32" or s.isascii():
        return min(units, len(s))
    if encoding == "utf-16":
        extra = 0  # astral characters before the index: each takes 2 units
        for m in _ASTRAL.finditer(s):
            at = m.start() + extra  # the unit column of this astral character
            if at >= units:
                break
            extra += 1
            if at + 1 == units:  # inside the pair: after the character
                return m.start() + 1
        return min(units - extra, len(s))
    raw = s.encode("utf-8", "surrogatepass")
    if units >= len(raw):
        return len(s)
    decoded = raw[:units].decode("utf-8", "ignore")
    # a partial trailing sequence was dropped: round up to include that character
    return len(decoded) + (len(decoded.encode("utf-8", "surrogatepass")) < units)


def line_starts(text: str) -> list[int]:
    """Offsets where the lines of ``text`` start. Without a lone ``\\r`` every line starts
    after a ``\\n``: the lengths of the ``\\n``-split parts are summed at C speed (a match per
    line, as for a lone ``\\r``, costs several times more on a long text)."""
    if "\r" in text and text.count("\r") != text.count("\r\n"):
        return [0, *(m.end() for m in LINE_BREAK.finditer(text))]
    out = list(accumulate(map(add, map(len, text.split("\n")), repeat(1)), initial=0))
    out.pop()
    return out


class LineIndex:
    """Offsets → (line, UTF-16 column) for one text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._starts: list[int] | None = None
        self._ascii = text.isascii()

    @property
    def starts(self) -> list[int]:
        """Offsets where lines start (built on first use: most scanned texts have no spans)."""
        if self._starts is None:
            self._starts = line_starts(self.text)
        return self._starts

    def position(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.starts, offset) - 1
        start = self.starts[line]
        col = offset - start if self._ascii else utf16_len(self.text[start:offset])
        return line, col

    def span(self, start: int, end: int) -> Span:
        line, col = self.position(start)
        end_line, end_col = self.position(end)
        return Span(line, col, end_line, end_col, start, end)

    def line_span(self, line: int) -> Span:
        """The whole of ``line`` (without its line break)."""
        line = max(0, min(line, len(self.starts) - 1))
        start = self.starts[line]
        m = LINE_BREAK.search(self.text, start)
        end = m.start() if m else len(self.text)
        return self.span(start, end)
