"""What the reference scanner skips: front matter, fenced and inline code, template comments.

The excluded characters are replaced by ``MASK`` (line breaks kept, so offsets and lines stay
the same), and the scanner's patterns run over that masked text. Template comments (Jinja
``{# … #}``, Handlebars ``{{!-- … --}}`` and ``{{! … }}``) are found in the text with code
already masked, left to right, none inside another.

Works on a window of a document (see ``window``): the fence open at its start comes in, the
fence state at each line start and how far each decision looked ahead come out.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from prompt_tokens.references.lookahead import Horizons
from prompt_tokens.text.code import BEYOND, Fence, FenceScan, code_spans, fence_scan

MASK = "\x00"  # replaces excluded characters (non-whitespace, so `@` after it is mid-word)

_NOT_LINE_BREAK = re.compile(r"[^\r\n]+")
_ASCII_MASK = {i: 0 for i in range(128) if i not in (10, 13)}
"""``str.translate`` table masking ASCII text at C speed (line breaks kept)."""


class Exclusions(NamedTuple):
    masked: str
    """The window with every excluded character replaced by ``MASK``."""
    fences: FenceScan


def exclude(text: str, *, fm_skip: int, fence: Fence, look: Horizons) -> Exclusions:
    """Mask what is not prose in ``text``: its first ``fm_skip`` characters (front matter),
    fenced code (``fence`` is open at the start), inline code and template comments."""
    regions: list[tuple[int, int]] = [(0, fm_skip)] if fm_skip else []
    fences = fence_scan(text, min(fm_skip, len(text)), fence)
    regions.extend(fences.regions)
    if "`" in text:
        # Inline code in the gaps between fences.
        pos = fm_skip
        for fs, fe in [*fences.regions, (len(text), len(text))]:
            if fs > pos:
                found = code_spans(text, pos, fs, open_end=fs == len(text) and look.more)
                regions.extend(found.spans)
                for p, q in found.decisions:
                    if q == BEYOND:
                        look.beyond(p, "`")
                    else:
                        look.read(p, q)
            pos = max(pos, fe)
    masked = apply_mask(text, regions)
    if "{#" in text or "{{!" in text:
        masked = apply_mask(masked, template_comments(masked, look))
    return Exclusions(masked, fences)


def mask_code(text: str) -> str:
    """A whole text with its fenced code, inline code and template comments masked (for
    callers that scan a file once, not as blocks: the agents' import rules)."""
    return exclude(text, fm_skip=0, fence=None, look=Horizons(False, lambda _closer: True)).masked


def template_comments(text: str, look: Horizons) -> list[tuple[int, int]]:
    """``[start, end)`` of each template comment in ``text`` (code already masked)."""
    out: list[tuple[int, int]] = []
    pos = 0
    while (p := next_comment_start(text, pos)) >= 0:
        end = _comment_at(text, p, look)
        if end is None:
            pos = p + 1
        else:
            out.append((p, end))
            pos = end
    return out


def next_comment_start(text: str, pos: int) -> int:
    """The first ``{#`` not after a ``{``, or ``{{!``, from ``pos`` (-1: none). Found with
    ``str.find``: a regex starting with a look-behind would be tried at every position."""
    h = text.find("{#", pos)
    while h > 0 and text[h - 1] == "{":
        h = text.find("{#", h + 1)
    b = text.find("{{!", pos)
    return b if h < 0 or 0 <= b < h else h


def _comment_at(text: str, p: int, look: Horizons) -> int | None:
    """The end of the comment starting at ``p``, or None (the regex alternatives
    ``\\{#.*?#\\}``, ``\\{\\{!--.*?--\\}\\}``, ``\\{\\{![^}]*\\}\\}`` in that order)."""
    if text.startswith("{#", p):
        q = text.find("#}", p + 2)
        if q >= 0:
            look.read(p, q + 2)
            return q + 2
        look.beyond(p, "#}")
        return None
    if text.startswith("{{!--", p):
        q = text.find("--}}", p + 5)
        if q >= 0:
            look.read(p, q + 4)
            return q + 4
        if not look.beyond(p, "--}}"):
            return None  # undecided: the window grows and this is scanned again
    j = text.find("}", p + 3)
    if j < 0 or j + 1 == len(text):
        look.beyond(p, None)
        return None
    look.read(p, j + 2)
    return j + 2 if text[j + 1] == "}" else None


def merge(regions: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(regions):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def apply_mask(text: str, regions: list[tuple[int, int]]) -> str:
    """``text`` with excluded characters replaced by MASK (line breaks kept, offsets unchanged)."""
    if not regions:
        return text
    parts: list[str] = []
    pos = 0
    for s, e in merge(regions):
        if e <= s:
            continue
        parts.append(text[pos:s])
        seg = text[s:e]
        if "\n" not in seg and "\r" not in seg:
            parts.append(MASK * len(seg))
        elif seg.isascii():
            parts.append(seg.translate(_ASCII_MASK))
        else:
            parts.append(_NOT_LINE_BREAK.sub(lambda m: MASK * len(m.group()), seg))
        pos = e
    parts.append(text[pos:])
    return "".join(parts)
