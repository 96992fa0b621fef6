"""DocumentState: an open document as blocks cut at safe boundaries, updated in O(edit).

The language server keeps one of these per open buffer and feeds it the ``contentChanges`` of
``textDocument/didChange``. It never rebuilds the whole text for a keystroke:

- The text is a list of :class:`~prompt_tokens.document.blocks.Block` s of about
  ``block_chars`` characters cut at safe cuts, so the token count is exactly the sum of the
  blocks' counts, and every heading line starts a block, so a section's count is a sum of
  whole blocks (see ``blocks``).
- Per-block values (length, line breaks, section fence lines, heading, count, scan unit) are
  also kept in parallel lists, so whole-document questions (prefix sums → position ↔ offset in
  O(log n + line), which blocks hold headings) run at C speed (``accumulate``, ``compress``,
  ``list.index``) rather than as a Python loop over thousands of blocks per keystroke.
- An edit re-splits only the blocks it touches (``blocks.resplit``). Untouched blocks keep
  their counts and their reference-scan units.
- Only ``\\n``, ``\\r\\n`` and ``\\r`` end a line (LSP), not the extra separators of
  ``str.splitlines``. Columns are UTF-16 code units by default; ``utf-32`` (code points) and
  ``utf-8`` (bytes) are supported when negotiated.

Counting is separate from editing: an edit leaves new blocks uncounted (``tokens is None``);
:meth:`DocumentState.count_pending` fills them, typically in a worker thread. Blocks are
replaced, never mutated (except for filling in their count and scan unit), so a worker can
count and scan a snapshot while the event loop applies newer edits.

Reference occurrences come from an incremental scanner (``references.blocks.BlockScanner``,
given by the caller: this module knows nothing of reference syntax) that keeps its per-block
units in a list parallel to the blocks and rescans only what an edit touched. A plain
``text → occurrences`` function also works: it is run on the whole text.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from itertools import accumulate, compress
from typing import Protocol, cast, runtime_checkable

from prompt_tokens.document.blocks import Block, front_matter_end, resplit, split_text
from prompt_tokens.document.counting import count_blocks
from prompt_tokens.results import Occurrence, Section, Span
from prompt_tokens.text.lines import PositionEncoding, count_breaks, index_of_units, units_of
from prompt_tokens.tokenizer.boundaries import DEFAULT_BLOCK_CHARS
from prompt_tokens.tokenizer.encodings import get_encoding
from prompt_tokens.tokenizer.openweights import TextEncoder

Scanner = Callable[[str], list[Occurrence]]


@runtime_checkable
class IncrementalScanner(Protocol):
    """A scanner that can scan a document kept as blocks (``references.blocks.BlockScanner``)."""

    def __call__(self, text: str) -> list[Occurrence]: ...

    def scan_blocks(
        self,
        blocks: Sequence[Block],
        units: list[object],
        starts: Sequence[int],
        lines: Sequence[int],
        fm_end: int,
        meta: object,
    ) -> tuple[list[Occurrence], object]: ...


_PARALLEL = ("_lens", "_breaks", "_fcounts", "_heads", "_tok", "_units")


class DocumentState:
    """One open document: text as safe-cut blocks with counts, lines and occurrences."""

    def __init__(
        self,
        text: str,
        *,
        encoding: str = "cl100k_base",
        version: int | None = None,
        position_encoding: PositionEncoding = "utf-16",
        block_chars: int = DEFAULT_BLOCK_CHARS,
    ) -> None:
        self.encoding = encoding
        self.version = version
        self.position_encoding: PositionEncoding = position_encoding
        self.block_chars = block_chars
        self.blocks: list[Block] = []
        self.generation = 0
        """Incremented by every edit (a snapshot's results are adopted only if unchanged)."""
        self._lens: list[int] = []
        self._breaks: list[int] = []
        self._fcounts: list[int] = []
        self._heads: list[bool] = []
        self._tok: list[int | None] = []
        self._units: list[object] = []
        """The reference scanner's unit per block (None: new since its last scan)."""
        self._scan_meta: object = None
        self._starts: list[int] = [0]
        self._lines: list[int] = [0]
        self._fences: list[int] = [0]
        self._index_valid = False
        self._text: str | None = None
        self._fm: tuple[int, int] | None = None
        """(generation, front matter end)."""
        self._occ_cache: tuple[object, list[Occurrence]] | None = None
        self._reset(text)

    # -- whole-text operations ----------------------------------------------------------------

    @staticmethod
    def _columns(blocks: Sequence[Block]) -> dict[str, list[object]]:
        return {
            "_lens": [len(b.text) for b in blocks],
            "_breaks": [b.breaks for b in blocks],
            "_fcounts": [b.fences for b in blocks],
            "_heads": [b.heading is not None for b in blocks],
            "_tok": [b.tokens for b in blocks],
            "_units": [None] * len(blocks),
        }

    def _reset(self, text: str) -> None:
        self.blocks = [Block.of(p) for p in split_text(text, self.encoding, self.block_chars)]
        for name, values in self._columns(self.blocks).items():
            setattr(self, name, values)
        self._invalidate()
        self._text = text

    def set_encoding(self, encoding: str) -> bool:
        """Switch the token encoding (safe cuts differ per encoding): re-split and recount.
        Returns whether anything changed."""
        if encoding == self.encoding:
            return False
        text = self.text()
        self.encoding = encoding
        self._reset(text)
        return True

    def snapshot(self) -> DocumentState:
        """A frozen view for a worker thread: shares the (immutable) blocks, not the lists.

        Edits to ``self`` afterwards do not affect the snapshot; counts and scan units the
        worker computes are stored on the shared blocks too, and :meth:`adopt` takes the
        snapshot's bookkeeping back when ``self`` was not edited meanwhile."""
        self._index()
        snap = object.__new__(DocumentState)
        snap.__dict__.update(self.__dict__)
        snap.blocks = list(self.blocks)
        for name in _PARALLEL:
            setattr(snap, name, list(getattr(self, name)))
        return snap

    def adopt(self, snap: DocumentState) -> None:
        """Take over what a worker computed on ``snap`` (counts, scan bookkeeping)."""
        if snap.generation != self.generation or snap.encoding != self.encoding:
            return
        self._tok = list(snap._tok)
        self._units = list(snap._units)
        self._scan_meta = snap._scan_meta
        self._occ_cache = snap._occ_cache

    def text(self) -> str:
        """The full text (joined once per edit and remembered)."""
        if self._text is None:
            self._text = "".join(b.text for b in self.blocks)
        return self._text

    def head(self, min_chars: int) -> str:
        """The first whole blocks holding at least ``min_chars`` characters (or everything)."""
        parts: list[str] = []
        n = 0
        for b in self.blocks:
            parts.append(b.text)
            n += len(b.text)
            if n >= min_chars:
                break
        return "".join(parts)

    def __len__(self) -> int:
        return self._index()[0][-1]

    @property
    def line_count(self) -> int:
        return self._index()[1][-1] + 1

    # -- index -----------------------------------------------------------------------------

    def _invalidate(self) -> None:
        self._index_valid = False
        self._text = None
        self._occ_cache = None
        self.generation += 1

    def _index(self) -> tuple[list[int], list[int], list[int]]:
        if not self._index_valid:
            self._starts = list(accumulate(self._lens, initial=0))
            self._lines = list(accumulate(self._breaks, initial=0))
            self._fences = list(accumulate(self._fcounts, initial=0))
            self._index_valid = True
        return self._starts, self._lines, self._fences

    def _block_at_offset(self, offset: int) -> int:
        starts = self._index()[0]
        n = len(self.blocks)
        return max(0, min(n - 1, bisect.bisect_right(starts, offset, 0, n) - 1))

    def _block_at_line(self, line: int) -> int:
        lines = self._index()[1]
        n = len(self.blocks)
        return max(0, min(n - 1, bisect.bisect_right(lines, line, 0, n) - 1))

    # -- positions ---------------------------------------------------------------------------

    def _line_bounds(self, line: int) -> tuple[int, int, int] | None:
        """(block, start, end) of ``line``'s content within its block, or None past the end."""
        lines = self._index()[1]
        line = max(line, 0)
        if line > lines[-1]:
            return None
        b = self._block_at_line(line)
        bounds = self.blocks[b].line(line - lines[b])
        return None if bounds is None else (b, *bounds)

    def offset_at(self, line: int, character: int) -> int:
        """Character offset of an LSP position; past the line end clamps to the line end,
        past the last line to the document end."""
        bounds = self._line_bounds(line)
        if bounds is None:
            return len(self)
        b, start, end = bounds
        content = self.blocks[b].text[start:end]
        return self._starts[b] + start + index_of_units(content, character, self.position_encoding)

    def position_at(self, offset: int) -> tuple[int, int]:
        """LSP position (line, column in client units) of a character offset."""
        starts, lines, _ = self._index()
        offset = max(0, min(offset, starts[-1]))
        b = self._block_at_offset(offset)
        text = self.blocks[b].text
        local = offset - starts[b]
        before = text[:local]
        k = count_breaks(before)
        line_start = max(before.rfind("\n"), before.rfind("\r")) + 1
        return lines[b] + k, units_of(before[line_start:], self.position_encoding)

    def line_text(self, line: int) -> str:
        """The content of ``line`` without its line break ("" past the end)."""
        bounds = self._line_bounds(line)
        if bounds is None:
            return ""
        b, start, end = bounds
        return self.blocks[b].text[start:end]

    def line_end(self, line: int) -> int:
        """Column (client units) of the end of ``line``'s content (called per diagnostic and
        hint, so an ASCII block answers without copying the line)."""
        bounds = self._line_bounds(line)
        if bounds is None:
            return 0
        b, start, end = bounds
        block = self.blocks[b]
        if self.position_encoding == "utf-32" or block.is_ascii():
            return end - start
        return units_of(block.text[start:end], self.position_encoding)

    def span_columns(self, span: Span) -> tuple[int, int, int, int]:
        """(line, start, end_line, end) of a span in the client's units.

        Spans carry UTF-16 columns and character offsets; for UTF-16 clients they are used
        as they are, otherwise the offsets are converted."""
        if self.position_encoding == "utf-16" or span.end_offset < span.offset:
            return span.line, span.start, span.end_line, span.end
        line, start = self.position_at(span.offset)
        end_line, end = self.position_at(span.end_offset)
        return line, start, end_line, end

    # -- edits -------------------------------------------------------------------------------

    def apply_change(
        self,
        text: str,
        range_: tuple[int, int, int, int] | None = None,
    ) -> None:
        """Apply one LSP content change: ``range_`` is (start line, start col, end line, end
        col) in client units, or None for a whole-document replacement."""
        if range_ is None:
            self._reset(text)
            return
        s = self.offset_at(range_[0], range_[1])
        e = self.offset_at(range_[2], range_[3])
        if e < s:
            s, e = e, s
        self.replace(s, e, text)

    def replace(self, start: int, end: int, new: str) -> tuple[int, int]:
        """Replace characters ``[start, end)`` by ``new``; returns the index range of the
        blocks that were rebuilt."""
        starts = self._index()[0]
        total = starts[-1]
        start = max(0, min(start, total))
        end = max(start, min(end, total))
        if start == end and not new:
            return (0, 0)
        lo, hi, new_blocks = resplit(
            self.blocks, starts, start, end, new, self.encoding, self.block_chars
        )
        for gone in self.blocks[lo:hi]:
            gone.unit = None  # its scan unit points back at it: a cycle only the collector frees
        self.blocks[lo:hi] = new_blocks
        for name, values in self._columns(new_blocks).items():
            getattr(self, name)[lo:hi] = values
        self._invalidate()
        return lo, lo + len(new_blocks)

    # -- counting ----------------------------------------------------------------------------

    def _fill_tokens(self) -> int:
        """Copy counts a worker stored on shared blocks into ``_tok``; returns how many of
        the blocks are still uncounted."""
        tok = self._tok
        missing = 0
        i = 0
        while True:
            try:
                i = tok.index(None, i)
            except ValueError:
                return missing
            t = self.blocks[i].tokens
            if t is None:
                missing += 1
            else:
                tok[i] = t
            i += 1

    def pending_chars(self) -> int:
        """Characters in blocks that still need counting."""
        self._fill_tokens()
        if None not in self._tok:
            return 0
        return sum(self._lens[i] for i, t in enumerate(self._tok) if t is None)

    def pending_blocks(self) -> list[Block]:
        self._fill_tokens()
        if None not in self._tok:
            return []
        return [self.blocks[i] for i, t in enumerate(self._tok) if t is None]

    @property
    def text_tokens(self) -> int | None:
        """The exact token count of the text, or None while some block is uncounted."""
        if self._fill_tokens():
            return None
        return sum(cast(list[int], self._tok))

    def count_pending(
        self,
        *,
        encoder: TextEncoder | None = None,
        cancelled: Callable[[], bool] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> bool:
        """Count the uncounted blocks (``counting.count_blocks``). Run it in a worker thread
        on a :meth:`snapshot` (the blocks are shared, so the live document sees the counts
        too). Returns False when ``cancelled()`` said to stop."""
        todo = self.pending_blocks()
        if not todo:
            return True
        enc = encoder or get_encoding(self.encoding)
        if not count_blocks(todo, enc, cancelled=cancelled, progress=progress):
            return False
        self._fill_tokens()
        return True

    # -- sections ----------------------------------------------------------------------------

    def sections(self) -> list[Section] | None:
        """Markdown sections with their exact counts (``text.markdown``'s rules, as
        ``PromptEngine.sections``), or None while blocks are uncounted.

        A heading line always starts a block (``split_text``), so a section is a run of whole
        blocks and a heading is only ever at offset 0 of its block; whether it is inside a
        section fence follows from the fence lines before the block (their parity)."""
        if self._fill_tokens():
            return None
        _, lines, fences = self._index()
        tok_prefix: list[int] = list(accumulate(cast(list[int], self._tok), initial=0))
        heads = [i for i in compress(range(len(self.blocks)), self._heads) if fences[i] % 2 == 0]
        out: list[Section] = []
        for j, i in enumerate(heads):
            end = heads[j + 1] if j + 1 < len(heads) else len(self.blocks)
            title, end_col = self.blocks[i].heading  # type: ignore[misc]
            out.append(
                Section(
                    line=lines[i],
                    title=title,
                    tokens=tok_prefix[end] - tok_prefix[i],
                    end_col=end_col,
                )
            )
        return out

    # -- front matter and reference occurrences -------------------------------------------------

    def front_matter_end(self) -> int:
        """Offset just after the YAML front matter (0 without one), found block by block at
        C speed (an unclosed ``---`` at the top of a big document costs a search, not a join)."""
        if self._fm is not None and self._fm[0] == self.generation:
            return self._fm[1]
        end = front_matter_end(self.blocks, self._index()[0])
        self._fm = (self.generation, end)
        return end

    def occurrences(
        self, scanner: Scanner | IncrementalScanner, key: object = None
    ) -> list[Occurrence]:
        """All reference occurrences with absolute spans, equal to ``scanner(self.text())``.

        An :class:`IncrementalScanner` rescans only the blocks edited since its last scan
        (and those its carried state reaches); any other scanner is run on the whole text.
        ``key`` identifies the scanner's settings for the cached result of this version."""
        if self._occ_cache is not None and self._occ_cache[0] == key:
            return self._occ_cache[1]
        if isinstance(scanner, IncrementalScanner):
            starts, lines, _ = self._index()
            out, self._scan_meta = scanner.scan_blocks(
                self.blocks, self._units, starts, lines, self.front_matter_end(), self._scan_meta
            )
        else:
            out = scanner(self.text())
        self._occ_cache = (key, out)
        return out
