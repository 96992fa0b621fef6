"""Reference tokens → ``Occurrence`` s: ``@path``, ``#file:``/``#fetch:``, Markdown links.

Each builder gets a match of its pattern on the masked text and the ``LineIndex`` of the real
text (spans and ``raw`` come from the real text). See ``syntax`` for the rules.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator

from prompt_tokens.results import Occurrence, RefKind
from prompt_tokens.text.lines import LineIndex

TRIM_CHARS = ".,;:!?'\""
_CLOSERS = {")": "(", "]": "[", "}": "{"}

AT = re.compile(r"@([^\s\x00]+)")
HASH = re.compile(r"#(file|fetch):([^\s\x00]+)")
_URL_START = re.compile(r"https?://", re.IGNORECASE)
LINK = re.compile(
    r"(?<![!\\])\[((?:[^\[\]\\\r\n\x00]|\\.|\[[^\[\]\r\n\x00]*\])*)\]"
    r"\([ \t]*(<[^<>\r\n\x00]*>|(?:[^\s()\x00]|\([^\s()\x00]*\))*)"
    r"(?:[ \t]+(?:\"[^\"\r\n]*\"|'[^'\r\n]*'|\([^()\r\n]*\)))?[ \t]*\)"
)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")


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


def at_file_token(raw: str) -> bool:
    """Whether the token after ``@`` (not a URL) is a file reference: trimmed, it holds a
    ``/``, a ``.`` or a ``\\`` and is not only dots. A prefix of a token that is not one is
    not one either (the whole-text scan relies on it: masking only shortens tokens)."""
    t = trim_trailing(raw)
    return bool(t) and ("/" in t or "." in t or "\\" in t) and bool(t.strip("."))


def url_start(raw: str) -> bool:
    """Whether ``raw`` starts like an ``http(s)://`` URL."""
    return _URL_START.match(raw) is not None


def at_reference(
    m: re.Match[str], index: LineIndex, want_files: bool, want_urls: bool
) -> Iterator[tuple[int, Occurrence]]:
    raw = m.group(1)
    if _URL_START.match(raw):
        if want_urls:
            t = _token(raw, m.start(), index, "url", "at", 1)
            if t and len(t[1].target) > len(_URL_START.match(raw).group()):  # type: ignore[union-attr]
                yield t
        return
    if want_files and at_file_token(raw):
        t = _token(raw, m.start(), index, "file", "at", 1)
        if t:
            yield t


def hash_reference(
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


def link_reference(m: re.Match[str], index: LineIndex) -> Iterator[tuple[int, Occurrence]]:
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
