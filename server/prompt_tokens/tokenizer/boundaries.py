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
from bisect import bisect_right
from collections.abc import Iterator, Sequence

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


def resplit_edit(
    blocks: Sequence[str],
    starts: Sequence[int],
    edit_start: int,
    edit_end: int,
    replacement: str,
    encoding: str,
    target: int = DEFAULT_BLOCK_CHARS,
) -> tuple[int, int, list[str]]:
    """Re-split only the blocks an edit touches; the rest of the document is left alone.

    The document is ``"".join(blocks)``, cut at safe cuts, with ``starts[k]`` the offset of
    ``blocks[k]``. The edit replaces ``text[edit_start:edit_end]`` by ``replacement``. Returns
    ``(i, j, new_blocks)``: the edited document is ``blocks[:i] + new_blocks + blocks[j:]``, every
    cut a safe cut of the new text. Costs O(size of the touched blocks + log(len(blocks))).

    Why it is exact: whether a cut after the ``\n`` at ``p - 1`` is safe depends only on the
    text from ``p - 1`` to the end of its look-ahead (horizontal whitespace and one more character
    of the next line), which lies inside the block starting at ``p``. So the first cut after the
    edit whose ``\n`` the edit leaves alone stays safe, and the cut before the edited block stays
    safe unless the edit reaches into its look-ahead, which is checked on the new text (the
    previous block, whose own cut cannot be affected, then joins the region).
    """
    pattern = safe_cut_pattern(encoding)
    if not 0 <= edit_start <= edit_end:
        raise ValueError(f"bad edit range {edit_start}..{edit_end}")
    if not blocks:
        if edit_end:
            raise ValueError("edit range outside an empty document")
        return 0, 0, split_blocks(replacement, encoding, target) if replacement else []
    # The block holding edit_start (an edit at the very end belongs to the last block) and the
    # first block whose start is past edit_end, i.e. whose preceding '\n' is untouched.
    i = max(bisect_right(starts, edit_start) - 1, 0)
    j = bisect_right(starts, edit_end)
    end_of_text = starts[-1] + len(blocks[-1])
    if edit_end > end_of_text:
        raise ValueError(f"edit end {edit_end} is past the end of the text ({end_of_text})")
    region = "".join(blocks[i:j])
    base = starts[i]
    new_region = region[: edit_start - base] + replacement + region[edit_end - base :]
    # The left cut at starts[i]: its '\n' (end of blocks[i-1]) is untouched, its look-ahead is
    # in new_region, which ends with an untouched '\n' or at the end of the text.
    if i > 0 and not pattern.match("\n" + new_region):
        i -= 1
        new_region = blocks[i] + new_region
    return i, j, split_blocks(new_region, encoding, target) if new_region else []
