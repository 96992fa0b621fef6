"""Markdown structure outside code: the YAML front-matter boundary, headings and sections.

Sections: a heading is a line ``#``–``######`` + space + title at column 0; a line that starts
with `````  or ``~~~`` (up to three spaces in) toggles a fence inside which no heading counts.
Only a line that starts the text or follows a ``\\n`` can be a heading or such a fence line:
after a lone ``\\r`` no cut is safe for the tokenizers, and a section must be a run of whole
safe-cut blocks. The engine (whole text) and the document model (per block) both use these.
"""

from __future__ import annotations

import re

from prompt_tokens.text.lines import LINE_BREAK, first_line, utf16_len

_FM_OPEN = re.compile(r"\ufeff?---[ \t]*(?:\r\n|\r|\n)")
_FM_CLOSE = re.compile(r"(?:\A|(?<=\n)|(?<=\r)(?!\n))(?:---|\.\.\.)[ \t]*(?:\r\n|\r|\n|\Z)")

# ---- front matter boundary (the YAML itself is parsed in ``references.frontmatter``) -------


def front_matter_open(text: str, *, more: bool = False) -> int | None:
    """Where the YAML starts when ``text`` opens with a ``---`` line (a BOM allowed before
    it) and has more after that line (``more``: the document goes on after ``text``)."""
    m = _FM_OPEN.match(text)
    return m.end() if m is not None and (more or m.end() < len(text)) else None


def front_matter_close(text: str, pos: int = 0) -> tuple[int, int] | None:
    """``(yaml_end, end)`` of the first closing line (``---`` or ``...``, trailing spaces and
    tabs allowed) starting at or after the line start ``pos``; ``end`` is after its line
    break. Searched at C speed, so an unclosed ``---`` in a big document costs little."""
    m = _FM_CLOSE.search(text, pos)
    return (m.start(), m.end()) if m is not None else None


def front_matter_bounds(text: str) -> tuple[int, int, int] | None:
    """``(yaml_start, yaml_end, end)`` when ``text`` opens with a ``---`` … ``---`` block.

    ``end`` is the offset just after the closing line (``---`` or ``...``) and its line break.
    A leading BOM is allowed. No closing line: no front matter.
    """
    yaml_start = front_matter_open(text)
    if yaml_start is None:
        return None
    close = front_matter_close(text, yaml_start)
    return None if close is None else (yaml_start, *close)


def front_matter_end(text: str) -> int:
    """Offset just after the front matter (0 without one)."""
    b = front_matter_bounds(text)
    return b[2] if b else 0


# ---- headings and sections -------------------------------------------------------------------

_HEADING = re.compile(r"(#{1,6})[ \t]+(.*?)[ \t#]*")  # matched against a whole line
_SECTION_FENCE = re.compile(r"[ ]{0,3}(?:```|~~~)")
_SECTION_FENCE_LINES = re.compile(r"^[ ]{0,3}(?:```|~~~)", re.MULTILINE)  # ``^``: after \n only
HEADING_START = re.compile(r"(?<=\n)#{1,6}[ \t]")
"""Where a heading line starts after a ``\\n``: always a safe cut for every encoding (``#`` is
neither whitespace nor ``/``), so the document model starts a block there."""


def heading_title(line: str) -> str | None:
    """The title of a heading line (its content, without the line break), else None."""
    m = _HEADING.fullmatch(line) if line[:1] == "#" else None
    return m.group(2) if m else None


def leading_heading(text: str) -> tuple[str, int] | None:
    """(title, UTF-16 length of the line) when ``text`` starts with a heading line."""
    if text[:1] != "#":
        return None
    line = first_line(text)
    title = heading_title(line)
    return None if title is None else (title, utf16_len(line))


def section_fence_lines(text: str) -> int:
    """How many lines of ``text`` (its first, and those after a ``\\n``) toggle a section fence."""
    if "`" not in text and "~" not in text:
        return 0
    return sum(1 for _ in _SECTION_FENCE_LINES.finditer(text))


def section_heads(text: str) -> list[tuple[int, int, str, int]]:
    """(offset, line, title, UTF-16 length of the line) of every heading outside section
    fences. Lines are numbered at every LSP line end."""
    heads: list[tuple[int, int, str, int]] = []
    in_fence = False
    pos = 0
    line = 0
    breaks = LINE_BREAK.finditer(text)
    while True:
        m = next(breaks, None)
        end = m.start() if m else len(text)
        content = text[pos:end]
        if pos and text[pos - 1] != "\n":
            pass  # the line follows a lone "\r": neither a heading nor a fence here
        elif _SECTION_FENCE.match(content):
            in_fence = not in_fence
        elif not in_fence and (title := heading_title(content)) is not None:
            heads.append((pos, line, title, utf16_len(content)))
        if m is None:
            break
        pos = m.end()
        line += 1
    return heads
