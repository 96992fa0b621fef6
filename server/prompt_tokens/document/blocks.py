"""Blocks: runs of a document's text cut at safe cuts, each knowing what the document needs.

A block ends at a safe cut of the encoding (``tokenizer.boundaries``), so the document's
token count is exactly the sum of the blocks' counts. Every non-last block ends with ``\\n``,
so every block starts at column 0 of some line and no line (and no ``\\r\\n``) crosses a block
boundary. Markdown heading lines always start a block (``text.markdown.HEADING_START`` is a
safe cut for every encoding), so a section's count is a sum of whole blocks too.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import attrs

from prompt_tokens.text.lines import LINE_BREAK, count_breaks
from prompt_tokens.text.markdown import (
    HEADING_START,
    front_matter_close,
    front_matter_open,
    leading_heading,
    section_fence_lines,
)
from prompt_tokens.tokenizer.boundaries import DEFAULT_BLOCK_CHARS, safe_cut_pattern


@attrs.define(eq=False, slots=True)
class Block:
    """A run of text ending at a safe cut (or the document end); replaced, never edited.

    Besides its text a block knows what the document needs from it without reading it again:
    line breaks, section fence lines and its heading. Blocks are shared between a document and
    its snapshots; what a worker computes for one (its count, its reference-scan unit) is
    stored on it, so the document sees it even when the snapshot's bookkeeping is not adopted.
    """

    text: str
    breaks: int
    fences: int
    """Lines toggling a section fence (``text.markdown.section_fence_lines``)."""
    heading: tuple[str, int] | None
    """(title, UTF-16 length of the line) when the block starts with a Markdown heading."""
    tokens: int | None = None
    unit: object = None
    """The reference scanner's unit starting at this block (opaque here)."""
    closers: dict[str, bool] | None = None
    """Which look-ahead closers its text holds, as the reference scanner asked (opaque)."""
    line_starts: list[int] | None = None
    """Offsets where its lines start (built on first use by position lookups)."""
    ascii: bool | None = None
    """Whether its text is ASCII (then a column is a character offset); set on first use."""

    @classmethod
    def of(cls, text: str) -> Block:
        return cls(text, count_breaks(text), section_fence_lines(text), leading_heading(text))

    def starts(self) -> list[int]:
        """Offsets in the block where its lines start (``[0]`` and one per line break)."""
        if self.line_starts is None:
            self.line_starts = [0, *(m.end() for m in LINE_BREAK.finditer(self.text))]
        return self.line_starts

    def is_ascii(self) -> bool:
        if self.ascii is None:
            self.ascii = self.text.isascii()
        return self.ascii

    def line(self, k: int) -> tuple[int, int] | None:
        """(start, end) of the content of its ``k``-th line (None past its last line)."""
        ls = self.starts()
        if not 0 <= k < len(ls):
            return None
        start = ls[k]
        if k + 1 == len(ls):
            return start, len(self.text)
        nxt = ls[k + 1]
        text = self.text
        crlf = nxt - 2 >= start and text[nxt - 1] == "\n" and text[nxt - 2] == "\r"
        return start, nxt - 2 if crlf else nxt - 1


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


def resplit(
    blocks: Sequence[Block],
    starts: Sequence[int],
    start: int,
    end: int,
    new: str,
    encoding: str,
    block_chars: int,
) -> tuple[int, int, list[Block]]:
    """The blocks that replace ``blocks[lo:hi]`` when ``[start, end)`` (a non-empty edit, in
    range) becomes ``new``: ``(lo, hi, new_blocks)``.

    Only the touched blocks are re-split, plus the previous one when the edit is in the first
    line of a block (that line decides whether the cut before it stays safe), plus the next one
    when the re-split would leave a small tail (so small blocks merge instead of piling up).
    An old block whose text comes out again is reused, each at most once (its count and scan
    unit are kept; the scanner tells blocks apart by identity).
    """
    n = len(blocks)
    k = _block_at(starts, n, start)
    hi = _block_at(starts, n, end)
    lo = k
    if k > 0 and LINE_BREAK.search(blocks[k].text, 0, start - starts[k]) is None:
        lo = k - 1
    base = starts[lo]
    old = list(blocks[lo : hi + 1])
    region = "".join(b.text for b in old)
    region = region[: start - base] + new + region[end - base :]
    pieces = split_text(region, encoding, block_chars)
    if hi + 1 < n and len(pieces[-1]) < block_chars // 4:
        hi += 1
        old.append(blocks[hi])
        region += blocks[hi].text
        pieces = split_text(region, encoding, block_chars)
    reuse: dict[str, Block | None] = {b.text: b for b in old}
    new_blocks = [reuse.pop(p, None) or Block.of(p) for p in pieces if p]
    if not new_blocks and len(old) == n:
        new_blocks = [Block.of("")]
    return lo, hi + 1, new_blocks


def front_matter_end(blocks: Sequence[Block], starts: Sequence[int]) -> int:
    """Offset just after the document's YAML front matter (0 without one), its closing line
    searched block by block at C speed (blocks start at line starts): an unclosed ``---`` at
    the top of a big document costs a search, not a join."""
    if not blocks[0].text.startswith(("---", "\ufeff---")):
        return 0
    pos = front_matter_open(blocks[0].text, more=len(blocks) > 1)
    k = 0
    while pos is not None and k < len(blocks):
        close = front_matter_close(blocks[k].text, pos)
        if close is not None:
            return starts[k] + close[1]
        k, pos = k + 1, 0
    return 0


def _block_at(starts: Sequence[int], n: int, offset: int) -> int:
    return max(0, min(n - 1, bisect.bisect_right(starts, offset, 0, n) - 1))
