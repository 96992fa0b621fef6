"""The reference scanner as it was before it became incremental: one pass per rule over the
whole text. Kept as an independent model for the property tests — the product's scanner
(``references.window`` and ``references.blocks``) must find exactly what this finds on any
text, however the text is cut into blocks and edited. Only ``scan`` and
``front_matter_bounds`` are used.
"""

from __future__ import annotations

import bisect
import re
import urllib.parse
from collections.abc import Collection, Iterator

from prompt_tokens.results import Occurrence, RefKind, Span

ALL_KINDS: tuple[str, ...] = ("file", "url", "variable")

# VS Code prompt files: the names for which ``references.markdownLinks: "auto"`` turns links on.
PROMPT_FILE_SUFFIXES = (".prompt.md", ".instructions.md", ".chatmode.md", ".agent.md")

TRIM_CHARS = ".,;:!?'\""
_CLOSERS = {")": "(", "]": "[", "}": "{"}
MASK = "\x00"  # replaces excluded characters (non-whitespace, so `@` after it is mid-word)

_NEWLINE = re.compile(r"\r\n|\r|\n")
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n|$)")


# ---- positions ------------------------------------------------------------------------------


def utf16_len(s: str) -> int:
    if s.isascii():
        return len(s)
    return len(s.encode("utf-16-le", "surrogatepass")) // 2


class LineIndex:
    """Offsets → (line, UTF-16 column) for one text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._starts: list[int] | None = None
        self._ascii = text.isascii()

    @property
    def starts(self) -> list[int]:
        """Offsets where lines start (built on first use: most scanned texts have no spans)."""
        if self._starts is None:
            self._starts = [0, *(m.end() for m in _NEWLINE.finditer(self.text))]
        return self._starts

    def position(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.starts, offset) - 1
        start = self.starts[line]
        col = offset - start if self._ascii else utf16_len(self.text[start:offset])
        return line, col

    def span(self, start: int, end: int) -> Span:
        line, col = self.position(start)
        end_line, end_col = self.position(end)
        return Span(line, col, end_line, end_col, start, end)

    def line_span(self, line: int) -> Span:
        """The whole of ``line`` (without its line break)."""
        line = max(0, min(line, len(self.starts) - 1))
        start = self.starts[line]
        m = _NEWLINE.search(self.text, start)
        end = m.start() if m else len(self.text)
        return self.span(start, end)


# ---- front matter boundary (the YAML itself is parsed in ``frontmatter``) ------------------


def front_matter_bounds(text: str) -> tuple[int, int, int] | None:
    """``(yaml_start, yaml_end, end)`` when ``text`` opens with a ``---`` … ``---`` block.

    ``end`` is the offset just after the closing line (``---`` or ``...``) and its line break.
    A leading BOM is allowed. No closing line: no front matter.
    """
    pos = 1 if text.startswith("\ufeff") else 0
    lines = _LINE.finditer(text, pos)
    first = next(lines, None)
    if first is None or first.group().rstrip("\r\n").rstrip(" \t") != "---":
        return None
    yaml_start = first.end()
    if yaml_start >= len(text):
        return None
    for m in lines:
        line = m.group()
        if not line:
            break
        if line.rstrip("\r\n").rstrip(" \t") in ("---", "..."):
            return yaml_start, m.start(), m.end()
        if m.end() >= len(text):
            break
    return None


def front_matter_end(text: str) -> int:
    b = front_matter_bounds(text)
    return b[2] if b else 0


# ---- exclusions: fenced code, inline code, template comments --------------------------------

_FENCE_RUN = re.compile(r"`{3,}|~{3,}")
_FENCE_PREFIX = re.compile(r"[ \t]*(?:>[ \t]?)*[ \t]*")
_BACKTICKS = re.compile(r"`+")
_BLANK_LINE = re.compile(r"(?:\r\n|\r|\n)[ \t]*(?=\r\n|\r|\n)")
_TEMPLATE_COMMENT = re.compile(r"(?<!\{)\{#.*?#\}|\{\{!--.*?--\}\}|\{\{![^}]*\}\}", re.DOTALL)
_NOT_LINE_BREAK = re.compile(r"[^\r\n]+")


def _line_start(text: str, pos: int, has_cr: bool) -> int:
    if not has_cr:
        return text.rfind("\n", 0, pos) + 1
    return max(text.rfind("\n", 0, pos), text.rfind("\r", 0, pos)) + 1


def _line_end(text: str, pos: int, has_cr: bool) -> int:
    nl = text.find("\n", pos)
    if has_cr:
        cr = text.find("\r", pos)
        if cr >= 0 and (nl < 0 or cr < nl):
            return cr
    return nl if nl >= 0 else len(text)


def _after_line_break(text: str, pos: int) -> int:
    if text.startswith("\r\n", pos):
        return pos + 2
    return pos + 1 if pos < len(text) else pos


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
        ls = _line_start(text, m.start(), has_cr)
        le = _line_end(text, m.end(), has_cr)
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
            out.append((open_at, _after_line_break(text, le)))
            open_at = None
    if open_at is not None:
        out.append((open_at, len(text)))
    return out


def code_span_regions(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Inline code spans in ``text[start:end]`` (CommonMark: a run of n backticks up to the next
    run of exactly n; unmatched runs are literal; a span does not cross a blank line)."""
    all_runs = [(m.start(), m.end()) for m in _BACKTICKS.finditer(text, start, end)]
    if not all_runs:
        return []
    breaks = [m.start() for m in _BLANK_LINE.finditer(text, start, end)]
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
        masked = _apply_mask(text, regions)
        regions.extend((m.start(), m.end()) for m in _TEMPLATE_COMMENT.finditer(masked))
    return _merge(regions)


def _merge(regions: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(regions):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _apply_mask(text: str, regions: list[tuple[int, int]]) -> str:
    """``text`` with excluded characters replaced by MASK (line breaks kept, offsets unchanged)."""
    if not regions:
        return text
    parts: list[str] = []
    pos = 0
    for s, e in _merge(regions):
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
    return _apply_mask(text, excluded_regions(text))


# ---- trimming --------------------------------------------------------------------------------


def trim_trailing(token: str) -> str:
    """Drop trailing sentence punctuation and unbalanced closing brackets."""
    end = len(token)
    while end > 0:
        c = token[end - 1]
        if c in TRIM_CHARS:
            end -= 1
        elif c in _CLOSERS:
            seg = token[:end]
            if seg.count(_CLOSERS[c]) >= seg.count(c):
                break  # balanced, e.g. docs/file(1) or a Wikipedia URL
            end -= 1
        else:
            break
    return token[:end]


# ---- the scanner -----------------------------------------------------------------------------

_AT = re.compile(r"@([^\s\x00]+)")
_HASH = re.compile(r"#(file|fetch):([^\s\x00]+)")
_URL_START = re.compile(r"https?://", re.IGNORECASE)
_LINK = re.compile(
    r"(?<![!\\])\[((?:[^\[\]\\\r\n\x00]|\\.|\[[^\[\]\r\n\x00]*\])*)\]"
    r"\([ \t]*(<[^<>\r\n\x00]*>|(?:[^\s()\x00]|\([^\s()\x00]*\))*)"
    r"(?:[ \t]+(?:\"[^\"\r\n]*\"|'[^'\r\n]*'|\([^()\r\n]*\)))?[ \t]*\)"
)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")
_MUSTACHE = re.compile(r"\{\{(\{?)([-~]?)[ \t]*([^{}\r\n]*?)[ \t]*([-~]?)(\}?)\}\}")
_JINJA_TAG = re.compile(r"\{%[-+]?\s*(\w+)(.*?)[-+]?%\}", re.DOTALL)
_INPUT = re.compile(r"\$\{input:([A-Za-z_][\w.-]*)(?::([^}\r\n\x00]*))?\}")
_NAME = re.compile(r"[A-Za-z_][\w-]*(?:\.(?:[A-Za-z_][\w-]*|\d+))*")
_IGNORED_NAMES = frozenset(
    {"this", "else", "true", "false", "null", "none", "None", "True", "False"}
)


def scan(
    text: str,
    *,
    kinds: Collection[str] = ALL_KINDS,
    markdown_links: bool = False,
) -> list[Occurrence]:
    """Every reference in ``text``, in document order."""
    want_files = "file" in kinds
    want_urls = "url" in kinds
    want_links = want_files and markdown_links and "](" in text
    want_at = (want_files or want_urls) and ("@" in text or "#f" in text)
    want_vars = "variable" in kinds and ("{{" in text or "${input:" in text)
    if not (want_at or want_links or want_vars):
        return []
    masked = mask_excluded(text)
    index = LineIndex(text)
    found: list[tuple[int, Occurrence]] = []
    if want_at:
        for m in _AT.finditer(masked):
            if m.start() == 0 or masked[m.start() - 1].isspace():
                found.extend(_at_reference(m, index, want_files, want_urls))
        for m in _HASH.finditer(masked):
            if m.start() == 0 or masked[m.start() - 1].isspace():
                found.extend(_hash_reference(m, index, want_files, want_urls))
    if want_links:
        for m in _LINK.finditer(masked):
            found.extend(_link_reference(m, index))
    if want_vars:
        found.extend(_variables(masked, index))
    found.sort(key=lambda t: t[0])
    return [occ for _, occ in found]


def _token(
    raw: str, start: int, index: LineIndex, kind: RefKind, syntax: str, prefix_len: int
) -> tuple[int, Occurrence] | None:
    trimmed = trim_trailing(raw)
    if not trimmed:
        return None
    end = start + prefix_len + len(trimmed)
    return start, Occurrence(
        kind=kind,
        target=trimmed,
        syntax=syntax,
        span=index.span(start, end),
        untrimmed=raw if raw != trimmed else None,
        raw=index.text[start:end],
    )


def _at_reference(
    m: re.Match[str], index: LineIndex, want_files: bool, want_urls: bool
) -> Iterator[tuple[int, Occurrence]]:
    raw = m.group(1)
    if _URL_START.match(raw):
        if want_urls:
            t = _token(raw, m.start(), index, "url", "at", 1)
            if t and len(t[1].target) > len(_URL_START.match(raw).group()):  # type: ignore[union-attr]
                yield t
        return
    if not want_files:
        return
    t = _token(raw, m.start(), index, "file", "at", 1)
    if t and ("/" in t[1].target or "." in t[1].target or "\\" in t[1].target):
        if t[1].target.strip("."):
            yield t


def _hash_reference(
    m: re.Match[str], index: LineIndex, want_files: bool, want_urls: bool
) -> Iterator[tuple[int, Occurrence]]:
    which, raw = m.group(1), m.group(2)
    prefix = len(which) + 2
    if which == "fetch":
        if want_urls and _URL_START.match(raw):
            t = _token(raw, m.start(), index, "url", "fetch", prefix)
            if t and len(t[1].target) > len(_URL_START.match(raw).group()):  # type: ignore[union-attr]
                yield t
        return
    if want_files:
        t = _token(raw, m.start(), index, "file", "file", prefix)
        if t:
            yield t


def _link_reference(m: re.Match[str], index: LineIndex) -> Iterator[tuple[int, Occurrence]]:
    dest = m.group(2)
    if dest.startswith("<"):
        dest = dest[1:-1].strip()
    if not dest or dest.startswith(("#", "?")):
        return
    scheme = _SCHEME.match(dest)
    if scheme and not re.match(r"^[A-Za-z]:[\\/]", dest):
        return  # http:, https:, mailto:, file:, vscode: … (a Windows drive letter is a path)
    dest = dest.split("#", 1)[0].split("?", 1)[0]
    if "%" in dest:
        dest = urllib.parse.unquote(dest)
    if not dest:
        return
    yield (
        m.start(),
        Occurrence(
            kind="file",
            target=dest,
            syntax="link",
            span=index.span(m.start(), m.end()),
            raw=index.text[m.start() : m.end()],
        ),
    )


def _variables(masked: str, index: LineIndex) -> Iterator[tuple[int, Occurrence]]:
    events: list[tuple[int, str, re.Match[str]]] = []
    events.extend((m.start(), "m", m) for m in _MUSTACHE.finditer(masked))
    events.extend((m.start(), "j", m) for m in _JINJA_TAG.finditer(masked))
    for m in _INPUT.finditer(masked):
        events.append((m.start(), "i", m))
    events.sort(key=lambda e: e[0])

    hb_scopes: list[str] = []  # open Handlebars block helpers ("each"/"with" change the context)
    jinja_loops: list[set[str]] = []  # names bound by enclosing {% for %} loops
    jinja_set: set[str] = set()
    raw_until = -1
    for start, what, m in events:
        if start < raw_until:
            continue
        if what == "i":
            yield (
                start,
                Occurrence(
                    kind="variable",
                    target=m.group(1),
                    syntax="input",
                    span=index.span(m.start(), m.end()),
                    placeholder=m.group(2),
                    raw=index.text[m.start() : m.end()],
                ),
            )
            continue
        if what == "j":
            tag, rest = m.group(1), m.group(2)
            if tag == "raw":
                end = re.compile(r"\{%[-+]?\s*endraw\s*[-+]?%\}").search(masked, m.end())
                raw_until = end.end() if end else len(masked)
            elif tag == "for":
                names = rest.split(" in ", 1)[0] if " in " in rest else ""
                jinja_loops.append({n.strip() for n in names.split(",") if n.strip()} | {"loop"})
            elif tag == "endfor" and jinja_loops:
                jinja_loops.pop()
            elif tag == "set":
                lhs = rest.split("=", 1)[0]
                jinja_set.update(n.strip() for n in lhs.split(",") if n.strip())
            elif tag in ("macro", "call"):
                jinja_loops.append(set(re.findall(r"\w+", rest)))
            elif tag in ("endmacro", "endcall") and jinja_loops:
                jinja_loops.pop()
            continue
        body = m.group(3)
        if body.startswith("#"):
            helper = body[1:].strip().split(None, 1)
            hb_scopes.append(helper[0] if helper else "")
            continue
        if body.startswith("/"):
            if hb_scopes:
                hb_scopes.pop()
            continue
        if body.startswith("&"):
            body = body[1:].strip()
        name = body.split("|", 1)[0].strip() if "|" in body else body
        if not _NAME.fullmatch(name) or name in _IGNORED_NAMES:
            continue
        root = name.split(".", 1)[0]
        if any(s in ("each", "with") for s in hb_scopes):
            continue
        if any(root in loop for loop in jinja_loops) or root in jinja_set:
            continue
        yield (
            start,
            Occurrence(
                kind="variable",
                target=name,
                syntax="mustache",
                span=index.span(m.start(), m.end()),
                raw=index.text[m.start() : m.end()],
            ),
        )


def markdown_links_enabled(setting: str | bool, path: str) -> bool:
    """``references.markdownLinks``: ``"auto"`` → only VS Code prompt files."""
    if setting is True or setting == "true":
        return True
    if setting is False or setting == "false":
        return False
    name = path.replace("\\", "/").rsplit("/", 1)[-1].lower()
    return name.endswith(PROMPT_FILE_SUFFIXES)
