"""DocumentState: an open document as blocks cut at safe boundaries, updated in O(edit).

The language server keeps one of these per open buffer and feeds it the ``contentChanges`` of
``textDocument/didChange``. It never rebuilds the whole text for a keystroke:

- The text is a list of :class:`Block` s of about ``block_chars`` characters, cut only at the
  encoding's safe cuts (``tokenizer.boundaries``), so the document's token count is exactly
  the sum of the blocks' counts. Every non-last block ends with ``\\n``, so every block starts
  at column 0 of some line and no line (and no ``\\r\\n``) crosses a block boundary.
- Markdown heading lines always start a block (a line starting with ``#`` after ``\\n`` is a
  safe cut for every encoding), so a section's count is a sum of whole blocks too.
- Each block knows its length, line-break count and fence-marker count; prefix sums over the
  blocks (rebuilt lazily with ``itertools.accumulate``, a few µs per thousand blocks) give
  position → offset in O(log n + block).
- An edit re-splits only the blocks it touches plus the previous one when the edit is in the
  first line of a block (that line decides whether the cut before it stays safe). Untouched
  blocks keep their counts and their reference occurrences.
- Only ``\\n``, ``\\r\\n`` and ``\\r`` end a line (LSP), not the extra separators of
  ``str.splitlines``. Columns are UTF-16 code units by default; ``utf-32`` (code points) and
  ``utf-8`` (bytes) are supported when negotiated.

Counting is separate from editing: an edit leaves new blocks uncounted (``tokens is None``);
:meth:`DocumentState.count_pending` fills them, typically in a worker thread. Blocks are
replaced, never mutated (except for filling in their count), so a worker can count a
snapshot while the event loop applies newer edits.

Reference occurrences are kept per *segment* of blocks, scanned lazily with the references
scanner. The scanner carries state across lines (front matter, fenced code, inline code up to a
blank line, template comments, Jinja/Handlebars scopes), so a segment boundary is placed only
where that state is provably empty; a segment whose blocks are unchanged keeps its result. The
whole-document scan is the reference in the property tests.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Sequence
from itertools import accumulate
from typing import Literal

import attrs
import tiktoken

from prompt_tokens.references.syntax import fenced_regions, front_matter_bounds
from prompt_tokens.results import Occurrence, Section, Span
from prompt_tokens.tokenizer.boundaries import DEFAULT_BLOCK_CHARS, safe_cut_pattern
from prompt_tokens.tokenizer.encodings import get_encoding

PositionEncoding = Literal["utf-8", "utf-16", "utf-32"]
Scanner = Callable[[str], list[Occurrence]]

_BREAK = re.compile(r"\r\n|\r|\n")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
# Same rules as ``PromptEngine.sections`` (engine.py): headings and fence markers.
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.*?)[ \t#]*$", re.MULTILINE)
_FENCE = re.compile(r"^[ ]{0,3}(```|~~~)", re.MULTILINE)
# Where a heading line starts after a newline: always a safe cut (``#`` is not whitespace
# and not ``/``), forced as a block start so sections are sums of whole blocks.
_HEADING_START = re.compile(r"(?<=\n)#{1,6}[ \t]")


def count_breaks(text: str) -> int:
    """Line breaks in ``text``: ``\\n``, ``\\r\\n`` and lone ``\\r`` count one each."""
    n = text.count("\n")
    if "\r" in text:
        n += text.count("\r") - text.count("\r\n")
    return n


# ---- column units ----------------------------------------------------------------------------


def units_of(s: str, encoding: PositionEncoding) -> int:
    """Length of ``s`` in the client's column units."""
    if encoding == "utf-32" or s.isascii():
        return len(s)
    if encoding == "utf-16":
        return len(s) + sum(1 for _ in _ASTRAL.finditer(s))
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


# ---- blocks ----------------------------------------------------------------------------------


@attrs.define(eq=False, slots=True)
class Block:
    """A run of text ending at a safe cut (or the document end); replaced, never edited."""

    text: str
    breaks: int
    fences: int
    tokens: int | None = None
    # occurrences of the segment this block starts (scanner key, its blocks, relative
    # occurrences), and what the block holds that matters to the scanner's state
    seg: tuple[object, tuple[Block, ...], list[Occurrence]] | None = None
    _info: ScanInfo | None = None

    def scan_info(self) -> ScanInfo:
        if self._info is None:
            self._info = ScanInfo.of(self.text)
        return self._info

    @classmethod
    def of(cls, text: str) -> Block:
        return cls(text, count_breaks(text), sum(1 for _ in _FENCE.finditer(text)))


def split_text(text: str, encoding: str, target: int = DEFAULT_BLOCK_CHARS) -> list[str]:
    """Cut ``text`` at safe cuts into pieces of at least ``target`` characters, and also
    before every heading line. Never returns empty pieces (``[""]`` for an empty text)."""
    if not text:
        return [""]
    pattern = safe_cut_pattern(encoding)
    heads = [m.start() for m in _HEADING_START.finditer(text)]
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
        self._starts: list[int] = [0]
        self._lines: list[int] = [0]
        self._fences: list[int] = [0]
        self._index_valid = False
        self._text: str | None = None
        self._occ_cache: tuple[object, list[Occurrence]] | None = None
        self._reset(text)

    # -- whole-text operations ----------------------------------------------------------------

    def _reset(self, text: str) -> None:
        self.blocks = [Block.of(p) for p in split_text(text, self.encoding, self.block_chars)]
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
        """A frozen view for a worker thread: shares the (immutable) blocks, not the list.

        Edits to ``self`` afterwards do not affect the snapshot; counts and scan results the
        worker computes are stored on the shared blocks, so ``self`` benefits from them."""
        self._index()
        snap = object.__new__(DocumentState)
        snap.__dict__.update(self.__dict__)
        snap.blocks = list(self.blocks)
        return snap

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

    def _index(self) -> tuple[list[int], list[int], list[int]]:
        if not self._index_valid:
            blocks = self.blocks
            self._starts = list(accumulate((len(b.text) for b in blocks), initial=0))
            self._lines = list(accumulate((b.breaks for b in blocks), initial=0))
            self._fences = list(accumulate((b.fences for b in blocks), initial=0))
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
        if line < 0:
            line = 0
        if line > lines[-1]:
            return None
        b = self._block_at_line(line)
        text = self.blocks[b].text
        k = line - lines[b]
        pos = 0
        if k:
            it = _BREAK.finditer(text)
            for _ in range(k):
                m = next(it, None)
                if m is None:
                    return None
                pos = m.end()
        m = _BREAK.search(text, pos)
        end = m.start() if m is not None else len(text)
        return b, pos, end

    def offset_at(self, line: int, character: int) -> int:
        """Character offset of an LSP position; past the line end clamps to the line end,
        past the last line to the document end."""
        bounds = self._line_bounds(line)
        if bounds is None:
            return len(self)
        b, start, end = bounds
        text = self.blocks[b].text
        content = text[start:end]
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
        """Column (client units) of the end of ``line``'s content."""
        return units_of(self.line_text(line), self.position_encoding)

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
        starts, _, _ = self._index()
        n = len(self.blocks)
        total = starts[-1]
        start = max(0, min(start, total))
        end = max(start, min(end, total))
        if start == end and not new:
            return (0, 0)
        k = self._block_at_offset(start)
        hi = self._block_at_offset(end)
        lo = k
        if k > 0 and _BREAK.search(self.blocks[k].text, 0, start - starts[k]) is None:
            lo = k - 1  # the edit is in the line that decides whether the cut before k is safe
        base = starts[lo]
        old = self.blocks[lo : hi + 1]
        region = "".join(b.text for b in old)
        region = region[: start - base] + new + region[end - base :]
        pieces = split_text(region, self.encoding, self.block_chars)
        if hi + 1 < n and len(pieces[-1]) < self.block_chars // 4:
            # absorb the next block so small tails merge instead of piling up
            hi += 1
            old.append(self.blocks[hi])
            region += self.blocks[hi].text
            pieces = split_text(region, self.encoding, self.block_chars)
        reuse = {b.text: b for b in old}
        new_blocks = [reuse.get(p) or Block.of(p) for p in pieces if p]
        if not new_blocks and len(self.blocks) == len(old):
            new_blocks = [Block.of("")]
        self.blocks[lo : hi + 1] = new_blocks
        self._invalidate()
        return lo, lo + len(new_blocks)

    # -- counting ----------------------------------------------------------------------------

    def pending_blocks(self) -> list[Block]:
        return [b for b in self.blocks if b.tokens is None]

    @property
    def text_tokens(self) -> int | None:
        """The exact token count of the text, or None while some block is uncounted."""
        total = 0
        for b in self.blocks:
            if b.tokens is None:
                return None
            total += b.tokens
        return total

    def count_pending(
        self,
        blocks: Iterable[Block] | None = None,
        *,
        encoder: tiktoken.Encoding | None = None,
        cancelled: Callable[[], bool] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> bool:
        """Count the uncounted ``blocks`` (default: the current ones). Safe to run in a worker
        thread on a snapshot taken with :meth:`pending_blocks` on the owning thread. Returns
        False when ``cancelled()`` said to stop."""
        todo = list(self.pending_blocks() if blocks is None else blocks)
        enc = encoder or get_encoding(self.encoding)
        done_chars = 0
        total_chars = sum(len(b.text) for b in todo)
        for i, b in enumerate(todo):
            if b.tokens is None:
                b.tokens = len(enc.encode_ordinary(b.text))
            done_chars += len(b.text)
            if cancelled is not None and i % 16 == 15 and cancelled():
                return False
            if progress is not None and i % 64 == 63:
                progress(done_chars, total_chars)
        return True

    # -- sections ----------------------------------------------------------------------------

    def sections(self) -> list[Section] | None:
        """Markdown sections with their exact counts (same rules as ``PromptEngine.sections``),
        or None while blocks are uncounted."""
        _, lines, fences = self._index()
        tok_prefix: list[int] = [0]
        acc = 0
        for b in self.blocks:
            if b.tokens is None:
                return None
            acc += b.tokens
            tok_prefix.append(acc)
        heads: list[tuple[int, int, str, int, int]] = []  # (block, line, title, end_col, off)
        for i, b in enumerate(self.blocks):
            if "#" not in b.text:
                continue
            local_fences: list[int] | None = None
            for m in _HEADING.finditer(b.text):
                if b.fences:
                    if local_fences is None:
                        local_fences = [f.start() for f in _FENCE.finditer(b.text)]
                    inside = fences[i] + bisect.bisect_left(local_fences, m.start())
                else:
                    inside = fences[i]
                if inside % 2 == 1:
                    continue
                line = lines[i] + count_breaks(b.text[: m.start()])
                head_line = m.group(0).rstrip("\r")
                heads.append(
                    (
                        i,
                        line,
                        m.group(2),
                        len(head_line.encode("utf-16-le", "surrogatepass")) // 2,
                        m.start(),
                    )
                )
        out: list[Section] = []
        for j, (i, line, title, end_col, off) in enumerate(heads):
            # heading lines always start a block (split_text), so sections are whole blocks
            assert off == 0, "heading inside a block"
            end_block = heads[j + 1][0] if j + 1 < len(heads) else len(self.blocks)
            out.append(
                Section(
                    line=line,
                    title=title,
                    tokens=tok_prefix[end_block] - tok_prefix[i],
                    end_col=end_col,
                )
            )
        return out

    # -- reference occurrences -----------------------------------------------------------------

    def occurrences(self, scanner: Scanner, key: object = None) -> list[Occurrence]:
        """All reference occurrences with absolute spans, equal to ``scanner(self.text())``.

        The scanner (``references.syntax.scan``) carries state across lines: front matter,
        fenced code, inline code spans (up to a blank line), template comments and
        Jinja/Handlebars scopes. The document is scanned in *segments* of blocks whose
        boundaries are provably outside all of those (see :meth:`_clean_boundaries`); a
        segment whose blocks are unchanged keeps its occurrences. Documents without such
        constructs are scanned block by block; in the worst case (say, a ``{% set %}`` at the
        top) everything after it is one segment. ``key`` identifies the scanner's settings:
        a different key drops every cached result.
        """
        starts, lines, _ = self._index()
        if self._occ_cache is not None and self._occ_cache[0] == key:
            return self._occ_cache[1]
        clean = self._clean_boundaries()
        out: list[Occurrence] = []
        seg_start = 0
        n = len(self.blocks)
        for i in range(1, n + 1):
            if i < n and not clean[i]:
                continue
            first = self.blocks[seg_start]
            seg = tuple(self.blocks[seg_start:i])
            cached = first.seg
            if (
                cached is not None
                and cached[0] == key
                and len(cached[1]) == len(seg)
                and all(a is b for a, b in zip(cached[1], seg, strict=True))
            ):
                found = cached[2]
            else:
                found = _scan_segment(scanner, "".join(b.text for b in seg), seg_start > 0)
                first.seg = (key, seg, found)
            if found:
                base, line0 = starts[seg_start], lines[seg_start]
                out.extend(_shift(o, line0, base) for o in found)
            seg_start = i
        self._occ_cache = (key, out)
        return out

    def front_matter_end(self) -> int:
        """Offset just after the YAML front matter (0 without one)."""
        first = self.blocks[0].text
        if not first.startswith(("---", "\ufeff---")):
            return 0
        head = self.head(1 << 16)
        bounds = front_matter_bounds(head)
        if bounds is None and len(head) < len(self):
            bounds = front_matter_bounds(self.text())
        return bounds[2] if bounds else 0

    def _clean_boundaries(self) -> list[bool]:
        """``clean[i]``: the scanner's state at the start of block i is the same as at the
        start of a text, so scanning may restart there (``clean[0]`` is always True)."""
        starts = self._index()[0]
        blocks = self.blocks
        n = len(blocks)
        clean = [True] * n
        infos = [b.scan_info() for b in blocks]
        # (A) Jinja/Handlebars scopes, {% set %}, template comments: doc-wide state
        for i in range(n):
            if infos[i].stateful:
                for k in range(i + 1, n):
                    clean[k] = False
                break
        # (D) front matter: block starts inside it are not clean
        fm_end = self.front_matter_end()
        if fm_end:
            for k in range(1, n):
                if starts[k] < fm_end:
                    clean[k] = False
        # (B) fenced code: feed the fence lines (the only lines that change fence state) to
        # the scanner's own fence rule, then mark block starts inside fences
        fence_lines: list[tuple[int, str]] = []
        for i, info in enumerate(infos):
            for off, body in info.fence_lines:
                if starts[i] + off >= fm_end:
                    fence_lines.append((i, body))
        if fence_lines:
            synthetic = "\n".join(body for _, body in fence_lines) + "\nx"
            line_starts = list(accumulate((len(b) + 1 for _, b in fence_lines), initial=0))
            for rs, re_ in fenced_regions(synthetic):
                a = bisect.bisect_right(line_starts, rs) - 1
                c = bisect.bisect_right(line_starts, re_ - 1) - 1
                open_block = fence_lines[a][0]
                close_block = n - 1 if c >= len(fence_lines) else fence_lines[c][0]
                for k in range(open_block + 1, close_block + 1):
                    clean[k] = False
        # (C) inline code spans run to the next blank line: a block start inside a paragraph
        # holding a backtick is not clean
        back = False  # a backtick since the last blank line, before block i
        for i in range(n):
            info = infos[i]
            if i and back:
                clean[i] = False
            back = info.tick_tail or (back and not info.has_blank)
        fwd = False  # a backtick before the next blank line, from block i on
        for i in range(n - 1, -1, -1):
            info = infos[i]
            fwd = info.tick_head or (fwd and not info.has_blank)
            if i and fwd:
                clean[i] = False
        return clean


_STATEFUL = re.compile(r"\{%|\{#|\{\{!|\{\{\{?[-~]?[ \t]*[#/]")
_FENCE_CANDIDATE = re.compile(r"[^\r\n]*(?:```|~~~)[^\r\n]*")
_BLANK_LINE = re.compile(r"(?:\r\n|\r|\n)[ \t]*(?=\r\n|\r|\n)")


@attrs.frozen
class ScanInfo:
    """What in one block can carry the scanner's state past its end (see ``syntax``)."""

    stateful: bool
    fence_lines: list[tuple[int, str]]
    has_blank: bool
    tick_head: bool  # a backtick before the block's first blank line
    tick_tail: bool  # a backtick after its last blank line

    @classmethod
    def of(cls, text: str) -> ScanInfo:
        fence_lines: list[tuple[int, str]] = []
        if "```" in text or "~~~" in text:
            # every line holding a run: the scanner's own fence rule decides which are fences
            fence_lines = [(m.start(), m.group()) for m in _FENCE_CANDIDATE.finditer(text)]
        ticks = "`" in text
        blanks = [m for m in _BLANK_LINE.finditer(text)] if ticks else []
        if not ticks:
            head = tail = False
            has_blank = _BLANK_LINE.search(text) is not None
        elif not blanks:
            head = tail = True
            has_blank = False
        else:
            head = "`" in text[: blanks[0].start()]
            tail = "`" in text[blanks[-1].end() :]
            has_blank = True
        return cls(_STATEFUL.search(text) is not None, fence_lines, has_blank, head, tail)


def _scan_segment(scanner: Scanner, text: str, not_first: bool) -> list[Occurrence]:
    if not_first and text.startswith(("---", "\ufeff")):
        # not at the document start: must not be taken for front matter
        return [_shift(o, -1, -1) for o in scanner("\n" + text)]
    return scanner(text)


def _shift(o: Occurrence, dline: int, doffset: int) -> Occurrence:
    s = o.span
    return attrs.evolve(
        o,
        span=Span(
            s.line + dline,
            s.start,
            s.end_line + dline,
            s.end,
            s.offset + doffset,
            s.end_offset + doffset,
        ),
    )


def apply_lsp_changes(
    doc: DocumentState, changes: Sequence[tuple[str, tuple[int, int, int, int] | None]]
) -> None:
    """Apply a didChange's content changes in order."""
    for text, range_ in changes:
        doc.apply_change(text, range_)
