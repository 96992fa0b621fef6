"""The incremental reference scanner: a document's blocks are scanned in units, and an edit
rescans only the units it touches, then goes on only while the carried state differs.

A *unit* is a run of whole blocks scanned as one window (``window.scan_window``), starting
with the state carried from the unit before (open fence, ``{% raw %}``, template scopes) and
ending at the first block boundary that no look-ahead decision crosses (a backtick run looking
for its closer in the paragraph, a ``{#`` for its ``#}``, a ``{%`` for its ``%}``). Most units
are one block. A unit keeps its occurrences with unit-relative spans, the state at its start
and end, and the blocks it covers (by identity), so it is valid wherever those blocks and that
start state meet again.

After an edit the first unit holding a new block is scanned again, and the next, until a unit
starts with the state it had before: from there on every old unit is still right. A unit whose
look-ahead found no closer in the rest of the document depends on that absence; it is scanned
again when a new block after it holds that closer. The front matter is the document's (its end
comes in), so a unit knows how much of it is front matter.

``BlockScanner`` is also a plain scanner: ``scanner(text)`` is one window, the whole text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from itertools import accumulate, compress
from operator import attrgetter, indexOf
from typing import Protocol

import attrs

from prompt_tokens.references.sparse import sparse_scan
from prompt_tokens.references.stream_scan import CHUNK, stream_scan
from prompt_tokens.references.window import START, Carry, Options, scan_window, shift_all
from prompt_tokens.results import Occurrence
from prompt_tokens.text.markdown import front_matter_end

ALL_KINDS: tuple[str, ...] = ("file", "url", "variable")


class ScanBlock(Protocol):
    """What the scanner needs of a document's block: its text, and slots for its unit and
    for which look-ahead closers its text holds (``None`` until asked)."""

    text: str
    unit: object
    closers: dict[str, bool] | None


class _Inner:
    """Marks a block inside a unit that starts at an earlier block."""

    found: tuple[Occurrence, ...] = ()  # as a unit without occurrences, for ``collect``


INNER = _Inner()


@attrs.define(eq=False, slots=True)
class UnitRecord:
    key: tuple[object, ...]
    start: Carry
    fm_skip: int
    """How many of its first characters are the document's front matter."""
    blocks: tuple[ScanBlock, ...]
    end: Carry
    found: list[Occurrence]
    """Occurrences with spans relative to the unit's start (line 0, offset 0)."""
    deps: frozenset[str]
    """Closers that must stay absent from every block after the unit."""
    at_end: bool
    """It ended the document: what it found unclosed may close in text added after it."""
    shifted: tuple[int, int, list[Occurrence], list[Occurrence]] | None = None
    """(offset, line, what was moved, moved): what ``collect`` last moved of ``found`` (all
    of it, or what a ``keep`` filter kept) to the unit's last position in a document."""
    kept: tuple[object, list[Occurrence], tuple[tuple[Occurrence, bool], ...]] | None = None
    """A ``keep`` filter's last answer for this unit, for the filter to reuse (its key, the
    occurrences kept, what the answer rested on)."""


Keep = Callable[[UnitRecord], list[Occurrence]]
"""Which of a unit's occurrences (unit-relative) to collect: a dialect's reading, applied per
unit before anything is moved, so what it drops is never moved on a keystroke."""


@attrs.frozen
class ScanMeta:
    """What the scanner keeps per document besides the per-block units."""

    key: tuple[object, ...]
    fm_end: int
    with_deps: tuple[UnitRecord, ...]
    last_with: tuple[tuple[str, ScanBlock | None], ...] = ()
    """Per closer asked about: the last block holding it (None: no block did)."""


@attrs.frozen
class BlockScanner:
    """The reference scanner for one setting of ``references.enabled`` and ``markdownLinks``."""

    kinds: tuple[str, ...] = ALL_KINDS
    markdown_links: bool = False

    @property
    def key(self) -> tuple[object, ...]:
        return (self.kinds, self.markdown_links)

    def __call__(self, text: str) -> list[Occurrence]:
        """Every reference in ``text``, in document order."""
        fm = front_matter_end(text) if text.startswith(("---", "\ufeff---")) else 0
        options = Options.of(self.kinds, self.markdown_links)
        found = sparse_scan(text, fm, options)  # its trigger search is the cheap test
        if found is not None:
            return [occ for _, occ in found]
        if not _may_hold_references(text, self.kinds, self.markdown_links):
            return []
        res = scan_window(
            text,
            [len(text)],
            carry=START,
            fm_skip=fm,
            more=False,
            absent=lambda closer: True,
            options=options,
        )
        return [occ for _, occ in res.found]

    def scan_pieces(self, pieces: Iterable[str], *, chunk: int = CHUNK) -> list[Occurrence]:
        """Every reference in the text that ``pieces`` make (cut anywhere), equal to
        ``self("".join(pieces))``, holding only a window of it (``stream_scan``)."""
        options = Options.of(self.kinds, self.markdown_links)
        return [occ for part in stream_scan(pieces, options, chunk=chunk) for occ in part.found]

    def scan_blocks(
        self,
        blocks: Sequence[ScanBlock],
        units: list[object],
        starts: Sequence[int],
        lines: Sequence[int],
        fm_end: int,
        meta: object,
        keep: Keep | None = None,
    ) -> tuple[list[Occurrence], ScanMeta]:
        """All occurrences of the document made of ``blocks`` (``starts``/``lines``: offset
        and line of each block start), equal to ``self(whole text)`` — or, with ``keep``, to
        the occurrences of it that ``keep`` keeps of each unit.

        ``units`` is the document's list parallel to ``blocks``: what the last scan left there
        (None for blocks new since); it is updated in place. ``meta`` is what the last scan
        returned (anything else: start over). ``fm_end``: the front matter's end."""
        update = _Update(self, blocks, units, starts, fm_end)
        update.prepare(meta if isinstance(meta, ScanMeta) else None)
        update.run()
        meta = ScanMeta(self.key, fm_end, tuple(update.with_deps), update.last_blocks())
        return update.collect(lines, keep), meta


def _may_hold_references(text: str, kinds: Sequence[str], links: bool) -> bool:
    """Cheap test on the raw text: can any enabled syntax occur at all?"""
    files = "file" in kinds
    if (files or "url" in kinds) and ("@" in text or "#f" in text):
        return True
    if files and links and "](" in text:
        return True
    return "variable" in kinds and ("{{" in text or "${input:" in text)


class _Update:
    """One incremental scan of a document (see the module docstring)."""

    def __init__(
        self,
        scanner: BlockScanner,
        blocks: Sequence[ScanBlock],
        units: list[object],
        starts: Sequence[int],
        fm_end: int,
    ) -> None:
        self.key = scanner.key
        self.options = Options.of(scanner.kinds, scanner.markdown_links)
        self.blocks = blocks
        self.units = units
        self.starts = starts
        self.fm_end = fm_end
        self.with_deps: list[UnitRecord] = []
        self._last: dict[str, int] = {}
        self._prev_last: dict[str, ScanBlock | None] = {}
        self._new: list[int] = []
        """Indices of the blocks new since the scan that ``_prev_last`` is from."""

    def prepare(self, meta: ScanMeta | None) -> None:
        """Forget the units an outside change made wrong: other settings, another front
        matter end, a closer that appeared after a unit relying on its absence."""
        units = self.units
        n = len(units)
        if meta is None or meta.key != self.key:
            units[:] = [None] * n
            return
        if meta.fm_end != self.fm_end:
            reach = max(meta.fm_end, self.fm_end)
            for k in range(n):
                if self.starts[k] >= reach:
                    break
                units[k] = None
        new = self._new_blocks()
        self._new, self._prev_last = new, dict(meta.last_with)
        for rec in meta.with_deps:
            i = _index_of(units, rec)
            if i < 0:
                continue  # replaced since
            after = i + len(rec.blocks)
            if any(k >= after and any(_holds(self.blocks[k], c) for c in rec.deps) for k in new):
                units[i] = None
            else:
                self.with_deps.append(rec)

    def _new_blocks(self) -> list[int]:
        out: list[int] = []
        k = 0
        units = self.units
        while True:
            try:
                k = units.index(None, k)
            except ValueError:
                return out
            out.append(k)
            k += 1

    def run(self) -> None:
        units = self.units
        k = 0
        while True:
            try:
                k = units.index(None, k)
            except ValueError:
                return
            j = k - 1
            while j >= 0 and units[j] is INNER:
                j -= 1
            if j < 0:
                k = self._propagate(0, START)
                continue
            rec = units[j]
            assert isinstance(rec, UnitRecord)
            if j + len(rec.blocks) > k or rec.at_end:
                k = self._propagate(j, rec.start)  # an edit inside it, or text after its end
            else:
                k = self._propagate(k, rec.end)

    def _propagate(self, i: int, carry: Carry) -> int:
        """Scan units from block ``i`` (state ``carry``) until one starts as before; returns
        where that is (or the end)."""
        blocks, units, n = self.blocks, self.units, len(self.blocks)
        first = True
        while i < n:
            fm_skip = max(0, self.fm_end - self.starts[i])
            old = units[i]
            cand = blocks[i].unit
            if isinstance(old, UnitRecord) and self._valid(old, i, carry, fm_skip):
                if not first:
                    return i
                rec = old  # still right; its blocks are marked again (one was re-used)
            elif (
                isinstance(cand, UnitRecord)
                and not cand.deps
                and self._valid(cand, i, carry, fm_skip)
            ):
                rec = cand  # scanned before, e.g. by a worker on a snapshot
            else:
                rec = self._scan_unit(i, carry, fm_skip)
            size = len(rec.blocks)
            units[i] = rec
            units[i + 1 : i + size] = [INNER] * (size - 1)
            blocks[i].unit = rec
            if rec.deps and rec not in self.with_deps:
                self.with_deps.append(rec)
            carry = rec.end
            i += size
            first = False
        return n

    def _valid(self, rec: UnitRecord, i: int, carry: Carry, fm_skip: int) -> bool:
        if rec.key != self.key or rec.fm_skip != fm_skip or rec.start != carry:
            return False
        size = len(rec.blocks)
        if rec.at_end and i + size != len(self.blocks):
            return False
        if size == 1:
            return rec.blocks[0] is self.blocks[i]
        return i + size <= len(self.blocks) and all(
            a is b for a, b in zip(rec.blocks, self.blocks[i : i + size], strict=True)
        )

    def _scan_unit(self, i: int, carry: Carry, fm_skip: int) -> UnitRecord:
        """Scan blocks from ``i`` as one unit: one block, or twice as many until a cut is clean."""
        blocks, n = self.blocks, len(self.blocks)
        width = 1
        while True:
            z = min(n, i + width)
            text = blocks[i].text if z == i + 1 else "".join(b.text for b in blocks[i:z])
            cuts = list(accumulate(len(b.text) for b in blocks[i:z]))
            res = scan_window(
                text,
                cuts,
                carry=carry,
                fm_skip=fm_skip,
                more=z < n,
                absent=lambda closer, z=z: self._last_with(closer) < z,  # type: ignore[misc]
                options=self.options,
            )
            last = len(cuts) - 1
            end = next((c for c in range(last) if res.clean[c]), None)
            if end is None:
                if z < n and (res.pending or not res.clean[last]):
                    width *= 2
                    continue
                end = last
            limit = cuts[end]
            return UnitRecord(
                self.key,
                carry,
                fm_skip,
                tuple(blocks[i : i + end + 1]),
                res.carries[end],
                [occ for off, occ in res.found if off < limit],
                res.deps if end == last else frozenset(),
                end == last and z == n,
            )

    def _last_with(self, closer: str) -> int:
        """Index of the last block holding ``closer`` (-1: none)."""
        k = self._last.get(closer)
        if k is None:
            k = self._carried_last(closer)
            if k is None:
                blocks = self.blocks
                k = next(
                    (j for j in range(len(blocks) - 1, -1, -1) if _holds(blocks[j], closer)), -1
                )
            self._last[closer] = k
        return k

    def _carried_last(self, closer: str) -> int | None:
        """The last scan's answer moved to the blocks now: an old block keeps its text, so
        the last block holding ``closer`` is that one or a later new block (None: the old one
        was replaced, ask the text). Without this every keystroke near a ``{#`` or a backtick
        looked through the whole document for a closer that is nowhere after it."""
        if closer not in self._prev_last:
            return None
        prev = self._prev_last[closer]
        blocks = self.blocks
        k = -1
        if prev is not None:
            k = _index_of(blocks, prev)
            if k < 0:
                return None
        for j in reversed(self._new):
            if j <= k:
                break
            if _holds(blocks[j], closer):
                return j
        return k

    def last_blocks(self) -> tuple[tuple[str, ScanBlock | None], ...]:
        """What the next scan starts from (``ScanMeta.last_with``): the closers asked about
        now or carried from before, unless finding them again would mean reading the text."""
        out: list[tuple[str, ScanBlock | None]] = []
        for closer in {*self._last, *self._prev_last}:
            k = self._last.get(closer)
            if k is None:
                k = self._carried_last(closer)
            if k is not None:
                out.append((closer, self.blocks[k] if k >= 0 else None))
        return tuple(out)

    def collect(self, lines: Sequence[int], keep: Keep | None = None) -> list[Occurrence]:
        """Every unit's occurrences (those ``keep`` keeps) with document spans, reusing those
        already in place. Units without occurrences are skipped at C speed
        (``map``/``compress``)."""
        out: list[Occurrence] = []
        starts, units = self.starts, self.units
        for k in compress(range(len(units)), map(_FOUND, units)):
            rec = units[k]
            assert isinstance(rec, UnitRecord)
            found = rec.found if keep is None else keep(rec)
            if not found:
                continue
            base, line0 = starts[k], lines[k]
            shifted = rec.shifted
            if (
                shifted is None
                or shifted[0] != base
                or shifted[1] != line0
                or shifted[2] is not found
            ):
                shifted = (base, line0, found, shift_all(found, line0, base))
                rec.shifted = shifted
            out.extend(shifted[3])
        return out


_FOUND = attrgetter("found")


def _index_of(items: Sequence[object], item: object) -> int:
    """Where ``item`` is in ``items`` (-1: nowhere), at C speed: blocks and units compare by
    identity. Not ``list.index``: its miss formats ``repr(item)`` into the error, a block's
    whole text or a unit's occurrences (a third of a millisecond per keystroke was that)."""
    try:
        return indexOf(items, item)
    except ValueError:
        return -1


def _holds(block: ScanBlock, closer: str) -> bool:
    """Whether the block's text holds ``closer``, asked of its text once: looking for the
    last block holding a closer walks the blocks, not the document's text, again."""
    memo = block.closers
    if memo is None:
        memo = block.closers = {}
    found = memo.get(closer)
    if found is None:
        found = memo[closer] = closer in block.text
    return found
