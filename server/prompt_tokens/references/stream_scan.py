"""The reference scan of a text that arrives in pieces (decoded chunks of a big file, cut
anywhere), holding a bounded window of it, never the whole text.

The window starts at a clean cut (no look-ahead decision crosses it, see ``window``) with the
scanner state carried there. Once it holds a chunk of whole lines it is scanned
(``window.scan_window``, told that more text follows and that nothing is known about it), and
everything before the last clean cut it offers is final: those occurrences are given out and
that text is dropped. A window without a clean cut (a backtick run looking for its closer in
a very long paragraph, a ``{#`` or ``{%`` not closed yet) grows until one appears or the text
ends, so memory is bounded by the chunk size except while such a decision is open. The front
matter's end is decided first: an opening ``---`` keeps the text until its closing line (or
the end) is seen.

A window without template comments or tags is cut after its last blank line, which no
code-span decision crosses, and scanned up to there by ``sparse.sparse_window`` (inline code
masked only near triggers); only the others, and a window without a blank line, take the full
window scan with its look-ahead record.

The result equals the whole-text scan of the joined pieces, spans included (tested with
random cut points).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import NamedTuple

from prompt_tokens.references.sparse import sparse_window
from prompt_tokens.references.window import START, Carry, Options, scan_window, shift_all
from prompt_tokens.results import Occurrence
from prompt_tokens.text.code import BLANK_LINE
from prompt_tokens.text.lines import LINE_BREAK, after_line_break, count_breaks
from prompt_tokens.text.markdown import front_matter_bounds, front_matter_open

CHUNK = 1 << 16
"""Characters a window gathers before it is scanned."""

_CUTS = 16
"""Evenly spread line starts offered as cuts per window (plus its last blank line's end)."""

FrontMatter = tuple[int, int, int] | None
"""``front_matter_bounds`` of the whole text: (yaml start, yaml end, end), or None."""


class Committed(NamedTuple):
    """A stretch of the text that is scanned for good."""

    offset: int
    """Where it starts in the whole text (a line start)."""
    line: int
    text: str
    found: list[Occurrence]
    """Its occurrences, spans relative to the whole text."""
    front_matter: FrontMatter
    """The whole text's (decided before anything is committed)."""


def _never(_closer: str) -> bool:
    return False  # what follows the window is unknown: an open decision waits for it


class _Source:
    """The pieces not yet in the window, read as the window needs them."""

    def __init__(self, pieces: Iterable[str]) -> None:
        self._it = iter(pieces)
        self.ended = False

    def fill(self, buf: str, want: int) -> str:
        """``buf`` with pieces added until it holds ``want`` characters or the text ends."""
        parts = [buf]
        size = len(buf)
        while size < want:
            piece = next(self._it, None)
            if piece is None:
                self.ended = True
                break
            parts.append(piece)
            size += len(piece)
        return "".join(parts) if len(parts) > 1 else buf


def stream_scan(
    pieces: Iterable[str], options: Options, *, chunk: int = CHUNK
) -> Iterator[Committed]:
    """Each committed stretch of the text the ``pieces`` make, in order, with its
    occurrences (all of them, in document order, across the stretches)."""
    src = _Source(pieces)
    buf, bounds = _front_matter(src, chunk)
    fm_end = bounds[2] if bounds else 0
    base = line = 0
    carry = START
    want = chunk
    while True:
        buf = src.fill(buf, want)
        final = src.ended
        end = len(buf) if final else _complete(buf)
        if end == 0 and not final:
            want = 2 * max(len(buf), chunk)
            continue
        window = buf if end == len(buf) else buf[:end]
        step = _step(window, carry, max(0, fm_end - base), final, options)
        if step is None:
            want = 2 * max(len(buf), chunk)  # no clean cut yet: the window grows
            continue
        cut, carry, found = step
        done = window if cut == len(window) else window[:cut]
        yield Committed(base, line, done, shift_all(found, line, base), bounds)
        if final and cut == len(buf):
            return
        base += cut
        line += count_breaks(done)
        buf = buf[cut:]
        want = len(buf) + chunk


def _step(
    window: str, carry: Carry, fm_skip: int, final: bool, options: Options
) -> tuple[int, Carry, list[Occurrence]] | None:
    """(cut, state there, occurrences before it) for the last clean cut of ``window``, or
    None when it has none."""
    cut = len(window) if final else _last_paragraph_cut(window)
    if cut:
        quick = sparse_window(
            window[:cut] if cut < len(window) else window, fm_skip, options, carry
        )
        if quick is not None:
            return cut, quick[1], [occ for _, occ in quick[0]]
    cuts = _cuts(window)
    res = scan_window(
        window,
        cuts,
        carry=carry,
        fm_skip=fm_skip,
        more=not final,
        absent=_never,
        options=options,
    )
    last = len(cuts) - 1
    if final:
        k: int | None = last
    elif res.clean[last] and not res.pending:
        k = last
    else:
        k = next((c for c in range(last - 1, -1, -1) if res.clean[c]), None)
    if k is None:
        return None
    cut = cuts[k]
    return cut, res.carries[k], [occ for off, occ in res.found if off < cut]


def _front_matter(src: _Source, chunk: int) -> tuple[str, FrontMatter]:
    """The first text read and the whole text's front matter: read on until it is decided."""
    buf = ""
    want = chunk
    while True:
        buf = src.fill(buf, want)
        if src.ended:
            return buf, front_matter_bounds(buf)
        if not buf.startswith(("---", "\ufeff---")):
            if "\ufeff---".startswith(buf) or "---".startswith(buf):
                want = len(buf) + 1
                continue
            return buf, None
        bounds = front_matter_bounds(buf)
        if bounds is not None and bounds[2] < len(buf):
            return buf, bounds  # the closing line and its line break are whole
        first = LINE_BREAK.search(buf)
        if first is not None and first.end() < len(buf) and front_matter_open(buf) is None:
            return buf, None  # a whole first line that does not open front matter
        want = 2 * len(buf)


def _complete(buf: str) -> int:
    """Where the line after the last ``\\n`` of ``buf`` starts (0: none). Cuts are only made
    after a ``\\n``: a Markdown link's text may hold a lone ``\\r``."""
    return buf.rfind("\n") + 1


def _cuts(window: str) -> list[int]:
    """Line starts of ``window`` offered as cuts, sorted, its end last."""
    n = len(window)
    out = set()
    for k in range(1, _CUTS):
        p = window.find("\n", n * k // _CUTS) + 1
        if 0 < p < n:
            out.add(p)
    para = _last_paragraph_cut(window)
    if 0 < para < n:
        out.add(para)
    return [*sorted(out), n]


def _last_paragraph_cut(window: str) -> int:
    """The line start after the last blank line of ``window`` (0: none found near its end).
    A code span's decision reads at most to there, and only code spans decide anything in a
    window without triggers."""
    n = len(window)
    step = 4096
    while True:
        lo = max(0, n - step)
        last = 0
        for m in BLANK_LINE.finditer(window, lo, n):
            if window[m.end()] == "\n" or window.startswith("\r\n", m.end()):
                last = m.end()
        if last:
            return after_line_break(window, last)
        if lo == 0:
            return 0
        step *= 4
