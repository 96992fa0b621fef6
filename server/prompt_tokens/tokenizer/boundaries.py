"""Where text may be cut so that token counts of the parts add up to the count of the whole.

tiktoken first splits text into pieces with a regex and runs BPE inside each piece; no token
crosses a piece boundary. A position that is a piece boundary for *every* possible text around it
is a safe cut. The rules below (one per encoding, proven by the hypothesis tests in
``tests/unit/test_boundaries.py``) cut after a ``\\n`` when the next line has a non-whitespace
character before its next line break. Python's ``\\s`` is ``str.isspace()``, which is a superset
of the regex engine's whitespace on the side that matters, so the rules err towards not cutting.

o200k_base needs a stricter rule: its punctuation piece `` ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*`` runs
on through a newline into a ``/`` in column 0 (``foo();\\n// c`` has the piece ``();\\n//``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from prompt_tokens.errors import UnknownEncodingError

SAFE_CUT: dict[str, re.Pattern[str]] = {
    "cl100k_base": re.compile(r"\n(?=[^\S\r\n]*\S)"),
    "o200k_base": re.compile(r"\n(?=[^\S\r\n]*[^\s/]|[^\S\r\n]+/)"),
}

DEFAULT_BLOCK_CHARS = 4096


def safe_cut_pattern(encoding: str) -> re.Pattern[str]:
    try:
        return SAFE_CUT[encoding]
    except KeyError:
        raise UnknownEncodingError(f"No safe-cut rule for encoding '{encoding}'.") from None


def safe_cuts(text: str, encoding: str, start: int = 0, end: int | None = None) -> Iterator[int]:
    """Positions (just after the newline) where ``text`` may be cut, in ``[start, end)``."""
    pattern = safe_cut_pattern(encoding)
    stop = len(text) if end is None else end
    for m in pattern.finditer(text, start, stop):
        yield m.end()


def split_blocks(text: str, encoding: str, target: int = DEFAULT_BLOCK_CHARS) -> list[str]:
    """Cut ``text`` into blocks of at least ``target`` characters (except the last) at safe cuts.

    Jumping ``target`` characters ahead and searching for the next safe cut from there keeps
    this linear with few regex calls; a text with no safe cut stays one block.
    """
    pattern = safe_cut_pattern(encoding)
    blocks: list[str] = []
    pos = 0
    n = len(text)
    while n - pos > target:
        m = pattern.search(text, pos + target - 1)
        if m is None:
            break
        cut = m.end()
        blocks.append(text[pos:cut])
        pos = cut
    if pos < n or not blocks:
        blocks.append(text[pos:])
    return blocks


def last_safe_cut(text: str, encoding: str, min_pos: int = 0) -> int | None:
    """The last safe cut in ``text`` at or after ``min_pos``, or None.

    Used when streaming: a cut whose look-ahead is satisfied inside the buffer stays safe
    whatever text follows, so a partially read buffer can be emitted up to it.
    """
    pattern = safe_cut_pattern(encoding)
    # Search backwards in growing windows: the last cut is usually near the end.
    window = 4096
    n = len(text)
    while True:
        lo = max(min_pos, n - window)
        # Start one character early so a '\n' right at `lo` is seen.
        best = None
        for m in pattern.finditer(text, lo):
            best = m.end()
        if best is not None:
            return best
        if lo <= min_pos:
            return None
        window *= 4
