"""The document model: an open document as safe-cut blocks with counts, lines, sections and
reference occurrences, updated in O(edit). See ``state`` for the design."""

from __future__ import annotations

from prompt_tokens.document.blocks import Block, split_text
from prompt_tokens.document.state import PARALLEL_ABOVE, DocumentState, Scanner
from prompt_tokens.text.lines import PositionEncoding

__all__ = ["PARALLEL_ABOVE", "Block", "DocumentState", "PositionEncoding", "Scanner", "split_text"]
