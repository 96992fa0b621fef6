"""Blocks: runs of a document's text cut at safe cuts, each knowing what the document needs.

A block ends at a safe cut of the encoding (``tokenizer.boundaries``), so the document's
token count is exactly the sum of the blocks' counts. Every non-last block ends with ``\\n``,
so every block starts at column 0 of some line and no line (and no ``\\r\\n``) crosses a block
boundary. Markdown heading lines always start a block (``text.markdown.HEADING_START`` is a
safe cut for every encoding), so a section's count is a sum of whole blocks too.
"""

from __future__ import annotations

import re

import attrs

from prompt_tokens.results import Occurrence
from prompt_tokens.text.code import BLANK_LINE
from prompt_tokens.text.lines import LINE_BREAK, count_breaks
from prompt_tokens.text.markdown import HEADING_START, leading_heading, section_fence_lines
from prompt_tokens.tokenizer.boundaries import DEFAULT_BLOCK_CHARS, safe_cut_pattern

_STATEFUL = re.compile(r"\{%|\{#|\{\{!|\{\{\{?[-~]?[ \t]*[#/]")
_FENCE_RUN = re.compile(r"```|~~~")


def _fence_candidate_lines(text: str) -> list[tuple[int, str]]:
    """(offset, content) of every line holding a run of three backticks or tildes."""
    out: list[tuple[int, str]] = []
    last_start = -1
    for m in _FENCE_RUN.finditer(text):
        start = max(text.rfind("\n", 0, m.start()), text.rfind("\r", 0, m.start())) + 1
        if start == last_start:
            continue
        last_start = start
        ends = [e for e in (text.find("\n", m.end()), text.find("\r", m.end())) if e >= 0]
        out.append((start, text[start : min(ends) if ends else len(text)]))
    return out


@attrs.define(eq=False, slots=True)
class Block:
    """A run of text ending at a safe cut (or the document end); replaced, never edited.

    Besides its text a block knows what the document needs from it without reading it again:
    line breaks, section fence lines, its heading, and what in it can carry the reference
    scanner's state past its end.
    """

    text: str
    breaks: int
    fences: int
    heading: tuple[str, int] | None
    """(title, UTF-16 length of the line) when the block starts with a Markdown heading."""
    stateful: bool
    """Holds Jinja/Handlebars tags or template comments (state for the rest of the text)."""
    fence_lines: list[tuple[int, str]]
    """Lines holding a ``` or ~~~ run: the scanner's fence rule decides which are fences."""
    has_blank: bool
    tick_head: bool
    """A backtick before the block's first blank line (inline code may start before it)."""
    tick_tail: bool
    """A backtick after its last blank line (inline code may run on past it)."""
    tokens: int | None = None
    occ: list[Occurrence] | None = None
    """Occurrences found scanning this block alone (block-relative), for ``occ_key``."""
    occ_key: object = None
    seg: tuple[object, tuple[Block, ...], list[Occurrence]] | None = None
    """Occurrences of the multi-block segment this block starts: (key, blocks, found)."""
    abs_occ: tuple[list[Occurrence], tuple[int, int], list[Occurrence]] | None = None
    """The occurrences it contributes, shifted to (offset, line) of its last position; kept
    so blocks before an edit reuse them instead of building new ones per keystroke."""
    line_starts: list[int] | None = None
    """Offsets where its lines start (built on first use by position lookups)."""

    @classmethod
    def of(cls, text: str) -> Block:
        fence_lines = _fence_candidate_lines(text) if ("```" in text or "~~~" in text) else []
        if "`" not in text:
            head = tail = False
            has_blank = BLANK_LINE.search(text) is not None
        else:
            blanks = list(BLANK_LINE.finditer(text))
            has_blank = bool(blanks)
            if not blanks:
                head = tail = True
            else:
                head = "`" in text[: blanks[0].start()]
                tail = "`" in text[blanks[-1].end() :]
        return cls(
            text,
            count_breaks(text),
            section_fence_lines(text),
            leading_heading(text),
            _STATEFUL.search(text) is not None if "{" in text else False,
            fence_lines,
            has_blank,
            head,
            tail,
        )

    def starts(self) -> list[int]:
        """Offsets in the block where its lines start (``[0]`` and one per line break)."""
        if self.line_starts is None:
            self.line_starts = [0, *(m.end() for m in LINE_BREAK.finditer(self.text))]
        return self.line_starts


def split_text(text: str, encoding: str, target: int = DEFAULT_BLOCK_CHARS) -> list[str]:
    """Cut ``text`` at safe cuts into pieces of at least ``target`` characters, and also
    before every heading line. Never returns empty pieces (``[""]`` for an empty text)."""
    if not text:
        return [""]
    pattern = safe_cut_pattern(encoding)
    heads = [m.start() for m in HEADING_START.finditer(text)] if "#" in text else []
    out: list[str] = []
    pos = 0
    n = len(text)
    h = 0
    while pos < n:
        while h < len(heads) and heads[h] <= pos:
            h += 1
        cut = n
        if n - pos > target:
            m = pattern.search(text, pos + target - 1)
            if m is not None:
                cut = m.end()
        if h < len(heads) and heads[h] < cut:
            cut = heads[h]
        out.append(text[pos:cut])
        pos = cut
    return out
