"""Where text may be cut so that token counts of the parts add up to the count of the whole.

A BPE tokenizer first splits text into pieces with a regex (its pre-tokenizer) and runs BPE
inside each piece; no token crosses a piece boundary. A position that is a piece boundary for
*every* possible text around it is a safe cut. The rules below (one per tokenizer, each proven
by the hypothesis tests in ``tests/unit/test_boundaries.py`` against that tokenizer's own
whole-text count) cut after a ``\\n`` when the next line has a non-whitespace character before
its next line break. Python's ``\\s`` is ``str.isspace()``, which is a superset of the regex
engines' whitespace on the side that matters, so the rules err towards not cutting.

Why each rule holds (every piece that holds a ``\\n`` ends at the last of a run of
``\\r``/``\\n``, and no piece starts before a line break and ends after a character of
the next line):

- ``cl100k_base``: the pattern's newline-bearing pieces are ``\\s*[\\r\\n]``, ``\\s+(?!\\S)``
  and the punctuation piece `` ?[^\\s\\p{L}\\p{N}]++[\\r\\n]*``; none runs past a newline
  into a non-space character, and the optional prefix of a letter run excludes ``\\r\\n``.
- ``o200k_base`` needs a stricter rule: its punctuation piece `` ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*``
  runs on through a newline into a ``/`` in column 0 (``foo();\\n// c`` has the piece ``();\\n//``).
- ``qwen2`` and ``qwen3.5``: the cl100k structure with single digits (``\\p{N}``) and, for 3.5,
  marks joined to letters; the punctuation piece ends in ``[\\r\\n]*`` (no ``/``), so the cl100k
  rule. Qwen normalises to NFC first; NFC never composes across a ``\\n`` (a starter that
  combines with nothing, and canonical reordering stops at starters), so
  ``NFC(a + b) == NFC(a) + NFC(b)`` whenever ``a`` ends with ``\\n``.
- ``deepseek-v4``: isolated splits on ``\\p{N}{1,3}`` and on CJK runs (neither contains a line
  break), then ``[punct][A-Za-z]+ | [^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+ |
  ?[\\p{P}\\p{S}]+[\\r\\n]* | \\s*[\\r\\n]+ | \\s+(?!\\S) | \\s+``, no normaliser: the cl100k rule.
- ``mistral-tekken`` (tekken v3 pattern): o200k's letter classes with single digits and the same
  `` ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*`` punctuation piece, so the o200k rule.

A heading line (``\\n#``) is a safe cut under every rule, which ``document.split_text`` relies on.
Estimated models (Claude, Gemini) count with a base tokenizer and so use its rule.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence

from prompt_tokens.errors import UnknownEncodingError

_NEXT_LINE_HAS_TEXT = re.compile(r"\n(?=[^\S\r\n]*\S)")
_NOT_INTO_COLUMN0_SLASH = re.compile(r"\n(?=[^\S\r\n]*[^\s/]|[^\S\r\n]+/)")

SAFE_CUT: dict[str, re.Pattern[str]] = {
    "cl100k_base": _NEXT_LINE_HAS_TEXT,
    "o200k_base": _NOT_INTO_COLUMN0_SLASH,
    "qwen2": _NEXT_LINE_HAS_TEXT,
    "qwen3.5": _NEXT_LINE_HAS_TEXT,
    "deepseek-v4": _NEXT_LINE_HAS_TEXT,
    "mistral-tekken": _NOT_INTO_COLUMN0_SLASH,
}

DEFAULT_BLOCK_CHARS = 4096


def safe_cut_pattern(encoding: str) -> re.Pattern[str]:
    try:
        return SAFE_CUT[encoding]
    except KeyError:
        raise UnknownEncodingError(f"No safe-cut rule for encoding '{encoding}'.") from None


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
