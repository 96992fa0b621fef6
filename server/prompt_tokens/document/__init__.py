"""The document model: an open document as safe-cut blocks with counts, lines, sections and
reference occurrences, updated in O(edit). See ``state`` for the design."""

from __future__ import annotations

from prompt_tokens.document.blocks import Block, split_text
from prompt_tokens.document.counting import PARALLEL_ABOVE
from prompt_tokens.document.state import DocumentState, IncrementalScanner, Scanner
from prompt_tokens.text.lines import PositionEncoding

__all__ = [
    "PARALLEL_ABOVE",
    "Block",
    "DocumentState",
    "IncrementalScanner",
    "PositionEncoding",
    "Scanner",
    "split_text",
]
