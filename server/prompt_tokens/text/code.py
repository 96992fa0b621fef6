"""Code in Markdown: fenced code blocks and inline code spans.

Fences: a run of three or more backticks or tildes, preceded on its line only by indentation
and ``>`` quote markers (so fences in quotes and list items count), opens a block that the
first line holding a run of the same character, at least as long and with nothing after it,
closes; an unclosed fence runs to the end. A backtick fence whose info string holds a backtick
is not a fence (```` ```x``` ```` is inline code).

Code spans (CommonMark): a run of n backticks up to the next run of exactly n; an unmatched run
is literal; a backslash before the first backtick takes it out of the run; a span does not
cross a blank line.

Both can be scanned a piece at a time (the incremental reference scanner does): the fence
state at a line start is all a fence scan needs to go on (``fence_scan``), and a code-span
scan says how far each decision looked ahead (``code_spans``), so a caller knows which cuts
the decisions cross.
"""

from __future__ import annotations

import bisect
import re
from typing import NamedTuple

from prompt_tokens.text.lines import after_line_break, line_end, line_start

Fence = tuple[str, int] | None
"""The open fence at a line start: (character, run length), or None outside fences."""

BEYOND = 1 << 62
"""A horizon past the end of the scanned text: the decision needs text that follows it."""

_FENCE_RUN = re.compile(r"`{3,}|~{3,}")
_FENCE_PREFIX = re.compile(r"[ \t]*(?:>[ \t]?)*[ \t]*")
_BACKTICKS = re.compile(r"`+")
BLANK_LINE = re.compile(r"(?:\r\n|\r|\n)[ \t]*(?=\r\n|\r|\n)")
"""The line break before a line of spaces and tabs only (that ends a paragraph)."""


class FenceScan(NamedTuple):
    regions: list[tuple[int, int]]
    """``[start, end)`` of each fenced block, fence lines included (an open one to the end)."""
    changes: list[tuple[int, Fence]]
    """(line start, fence state after that line) for every line that opened or closed one."""
    end: Fence
    """The fence state after the last line."""


def fence_scan(text: str, start: int = 0, fence: Fence = None) -> FenceScan:
    """Fenced code blocks in ``text[start:]`` (``start`` a line start), given the ``fence``
    open at ``start``.

    Only runs of 3+ backticks/tildes are visited (the text between them is skipped at C
    speed); a run is a fence when only indentation and ``>`` quote markers precede it.
    """
    regions: list[tuple[int, int]] = []
    changes: list[tuple[int, Fence]] = []
    open_at: int | None = start if fence is not None else None
    fence_char, fence_len = fence if fence is not None else ("", 0)
    pos = start
    has_cr = "\r" in text
    next_run = {"```": text.find("```", start), "~~~": text.find("~~~", start)}
    while True:
        for k, v in next_run.items():
            if 0 <= v < pos:
                next_run[k] = text.find(k, pos)
        hits = [i for i in next_run.values() if i >= 0]
        if not hits:
            break
        m = _FENCE_RUN.match(text, min(hits))
        assert m is not None
        ls = line_start(text, m.start(), has_cr)
        le = line_end(text, m.end(), has_cr)
        pos = le
        if ls < start or not _FENCE_PREFIX.fullmatch(text, ls, m.start()):
            pos = m.end()
            continue
        run, info = m.group(), text[m.end() : le]
        if open_at is None:
            if run[0] == "`" and "`" in info:
                continue  # not a fence: inline code like ```x``` on one line
            open_at, fence_char, fence_len = ls, run[0], len(run)
            changes.append((ls, (fence_char, fence_len)))
        elif run[0] == fence_char and len(run) >= fence_len and not info.strip():
            regions.append((open_at, after_line_break(text, le)))
            changes.append((ls, None))
            open_at = None
    if open_at is not None:
        regions.append((open_at, len(text)))
        return FenceScan(regions, changes, (fence_char, fence_len))
    return FenceScan(regions, changes, None)


def fenced_regions(text: str, start: int = 0) -> list[tuple[int, int]]:
    """``[start, end)`` of each fenced code block of ``text`` from ``start``."""
    return fence_scan(text, start).regions


def fence_at(scan: FenceScan, pos: int, initial: Fence) -> Fence:
    """The fence state at line start ``pos`` (after every fence line starting before it)."""
    k = bisect.bisect_left(scan.changes, pos, key=lambda c: c[0])
    return scan.changes[k - 1][1] if k else initial


class CodeSpans(NamedTuple):
    spans: list[tuple[int, int]]
    decisions: list[tuple[int, int]]
    """(run start, horizon): deciding that run read the text before the horizon (up to the
    closing run and the character after it, or to the line that ends the paragraph);
    ``BEYOND`` when it needs text after ``end``."""


def code_spans(text: str, start: int, end: int, *, open_end: bool = False) -> CodeSpans:
    """Inline code spans in ``text[start:end]``.

    ``open_end``: the paragraph at ``end`` may go on after it (``end`` is where the scanned
    text stops, not a fence or the document's end), so an unmatched run there is undecided.
    """
    all_runs = [m.span() for m in _BACKTICKS.finditer(text, start, end)]
    if not all_runs:
        return CodeSpans([], [])
    blanks = list(BLANK_LINE.finditer(text, start, end))
    breaks = [m.start() for m in blanks]
    paragraphs: dict[int, list[tuple[int, int]]] = {}
    for run in all_runs:
        paragraphs.setdefault(bisect.bisect_right(breaks, run[0]), []).append(run)
    spans: list[tuple[int, int]] = []
    decisions: list[tuple[int, int]] = []
    for para, runs in paragraphs.items():
        para_start = breaks[para - 1] if para > 0 else start
        if para < len(blanks):
            para_end = blanks[para].end() + 1  # the blank line was read up to its line break
        else:
            para_end = BEYOND if open_end else end + 1  # the fence line at ``end`` ends it
        _match_runs(text, runs, para_start, para_end, spans, decisions)
    return CodeSpans(spans, decisions)


_SPAN = re.compile(r"(?<!`)(`+)(?!`).*?(?<!`)\1(?!`)", re.DOTALL)
"""A code span inside one paragraph: a whole run, up to the next run of exactly its length."""


def code_span_regions(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """``code_spans(text, start, end).spans`` (a closed end), without the look-ahead record:
    each paragraph's runs are paired by ``_SPAN`` at C speed, not one run at a time. A
    paragraph with a backslash before a backtick keeps the run-by-run pairing (the
    backslash takes the first backtick out of an opening run), and so does one that starts
    just after a backtick (``_SPAN``'s look-behind would see it)."""
    spans: list[tuple[int, int]] = []
    pos = start
    for m in BLANK_LINE.finditer(text, start, end):
        _paragraph_spans(text, pos, m.start(), spans)
        pos = m.start()
    _paragraph_spans(text, pos, end, spans)
    return spans


def _paragraph_spans(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    if text.find("`", start, end) < 0:
        return
    if text.find("\\`", start, end) >= 0 or text[start - 1 : start] == "`":
        spans.extend(code_spans(text, start, end).spans)
    else:
        spans.extend(m.span() for m in _SPAN.finditer(text, start, end))


def _match_runs(
    text: str,
    runs: list[tuple[int, int]],
    para_start: int,
    para_end: int,
    spans: list[tuple[int, int]],
    decisions: list[tuple[int, int]],
) -> None:
    """Pair the backtick runs of one paragraph (CommonMark), appending spans and decisions."""
    i = 0
    while i < len(runs):
        s, e = runs[i]
        # A backslash-escaped first backtick is literal.
        bs = 0
        k = s - 1
        while k >= para_start and text[k] == "\\":
            bs += 1
            k -= 1
        if bs % 2 == 1:
            s += 1
        n = e - s
        if n == 0:
            i += 1
            continue
        j = i + 1
        while j < len(runs) and runs[j][1] - runs[j][0] != n:
            j += 1
        if j < len(runs):
            spans.append((s, runs[j][1]))
            decisions.append((runs[i][0], runs[j][1] + 1))  # a longer run would not close
            i = j + 1
        else:
            decisions.append((runs[i][0], para_end))
            i += 1
