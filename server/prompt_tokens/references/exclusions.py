"""What the reference scanner skips: front matter, fenced and inline code, template comments.

The excluded characters are replaced by ``MASK`` (line breaks kept, so offsets and lines stay
the same), and the scanner's patterns run over that masked text.
"""

from __future__ import annotations

import re

from prompt_tokens.text.code import code_span_regions, fenced_regions
from prompt_tokens.text.markdown import front_matter_end

MASK = "\x00"  # replaces excluded characters (non-whitespace, so `@` after it is mid-word)

_TEMPLATE_COMMENT = re.compile(r"(?<!\{)\{#.*?#\}|\{\{!--.*?--\}\}|\{\{![^}]*\}\}", re.DOTALL)
_NOT_LINE_BREAK = re.compile(r"[^\r\n]+")


def excluded_regions(text: str) -> list[tuple[int, int]]:
    """Front matter, fenced code, inline code and template comments, sorted, non-overlapping."""
    regions: list[tuple[int, int]] = []
    fm_end = front_matter_end(text) if text.startswith(("---", "\ufeff---")) else 0
    if fm_end:
        regions.append((0, fm_end))
    fences = fenced_regions(text, fm_end) if ("```" in text or "~~~" in text) else []
    regions.extend(fences)
    if "`" in text:
        # Inline code in the gaps between fences.
        pos = fm_end
        for fs, fe in [*fences, (len(text), len(text))]:
            if fs > pos:
                regions.extend(code_span_regions(text, pos, fs))
            pos = max(pos, fe)
    if "{#" in text or "{{!" in text:
        masked = apply_mask(text, regions)
        regions.extend((m.start(), m.end()) for m in _TEMPLATE_COMMENT.finditer(masked))
    return merge(regions)


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
        parts.append(text[pos:s])
        seg = text[s:e]
        if "\n" in seg or "\r" in seg:
            parts.append(_NOT_LINE_BREAK.sub(lambda m: MASK * len(m.group()), seg))
        else:
            parts.append(MASK * len(seg))
        pos = e
    parts.append(text[pos:])
    return "".join(parts)


def mask_excluded(text: str) -> str:
    return apply_mask(text, excluded_regions(text))
