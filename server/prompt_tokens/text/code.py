"""Code in Markdown: fenced code blocks and inline code spans.

Fences: a run of three or more backticks or tildes, preceded on its line only by indentation
and ``>`` quote markers (so fences in quotes and list items count), opens a block that the
first line holding a run of the same character, at least as long and with nothing after it,
closes; an unclosed fence runs to the end. A backtick fence whose info string holds a backtick
is not a fence (```` ```x``` ```` is inline code).

Code spans (CommonMark): a run of n backticks up to the next run of exactly n; an unmatched run
is literal; a backslash before the first backtick takes it out of the run; a span does not
cross a blank line.
"""

from __future__ import annotations

import bisect
import re

from prompt_tokens.text.lines import after_line_break, line_end, line_start

_FENCE_RUN = re.compile(r"`{3,}|~{3,}")
_FENCE_PREFIX = re.compile(r"[ \t]*(?:>[ \t]?)*[ \t]*")
_BACKTICKS = re.compile(r"`+")
BLANK_LINE = re.compile(r"(?:\r\n|\r|\n)[ \t]*(?=\r\n|\r|\n)")
"""The line break before a line of spaces and tabs only (that ends a paragraph)."""


def fenced_regions(text: str, start: int = 0) -> list[tuple[int, int]]:
    """``[start, end)`` of each fenced code block, fence lines included.

    Only runs of 3+ backticks/tildes are visited (the text between them is skipped at C
    speed); a run is a fence when only indentation and ``>`` quote markers precede it.
    """
    out: list[tuple[int, int]] = []
    open_at: int | None = None
    fence_char = ""
    fence_len = 0
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
        elif run[0] == fence_char and len(run) >= fence_len and not info.strip():
            out.append((open_at, after_line_break(text, le)))
            open_at = None
    if open_at is not None:
        out.append((open_at, len(text)))
    return out


def code_span_regions(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Inline code spans in ``text[start:end]`` (see the module docstring)."""
    all_runs = [(m.start(), m.end()) for m in _BACKTICKS.finditer(text, start, end)]
    if not all_runs:
        return []
    breaks = [m.start() for m in BLANK_LINE.finditer(text, start, end)]
    paragraphs: dict[int, list[tuple[int, int]]] = {}
    for run in all_runs:
        paragraphs.setdefault(bisect.bisect_right(breaks, run[0]), []).append(run)
    out: list[tuple[int, int]] = []
    for para, runs in paragraphs.items():
        para_start = breaks[para - 1] if para > 0 else start
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
                out.append((s, runs[j][1]))
                i = j + 1
            else:
                i += 1
    return out
