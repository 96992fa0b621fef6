"""Filling a ``ReferenceResult``: the figures of what was counted, or the reason it was not.

Pure functions on results, shared by every kind of reference so a failure, a warning or a
counted file reads the same whether it came from ``@a.md``, a nested reference or a variable.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from prompt_tokens.errors import PromptTokensError
from prompt_tokens.references.files import FileInfo
from prompt_tokens.results import Occurrence, ReferenceResult, Span

if TYPE_CHECKING:  # the HTTP module (and httpx) load only when a URL is fetched
    from prompt_tokens.references.fetched import UrlInfo

log = logging.getLogger(__name__)

_SYNTAX_PREFIX = {"at": "@", "file": "#file:", "fetch": "#fetch:"}


def raw_text(occ: Occurrence) -> str:
    """The reference as the user wrote it (rebuilt when the scanner did not keep it)."""
    if occ.raw:
        return occ.raw
    if occ.kind == "variable":
        return f"${{input:{occ.target}}}" if occ.syntax == "input" else f"{{{{ {occ.target} }}}}"
    if occ.syntax == "link":
        return f"[]({occ.target})"
    return _SYNTAX_PREFIX.get(occ.syntax, "@") + occ.target


def extend(span: Span | None, extra: int) -> Span | None:
    """The span grown by ``extra`` ASCII characters (trailing punctuation taken back)."""
    if span is None or extra == 0:
        return span
    return Span(
        span.line, span.start, span.end_line, span.end + extra, span.offset, span.end_offset + extra
    )


def fail(res: ReferenceResult, exc: PromptTokensError) -> ReferenceResult:
    res.status = "error"
    res.error = str(exc)
    res.code = exc.code
    res.tokens = 0
    return res


def unexpected(exc: Exception, what: str, code: str) -> PromptTokensError:
    """A bug must not take the document's count down: log it, report it on the reference."""
    log.error("Unexpected error while resolving %s", what, exc_info=exc)
    return PromptTokensError(
        f"internal error while resolving {what} ({type(exc).__name__}: {exc}); please report it",
        code=code,
    )


def warn(res: ReferenceResult, message: str, code: str) -> None:
    """Add a warning; the first one's code stays the result's ``warning_code``."""
    if res.warning:
        res.warning = f"{res.warning}; {message}"
    else:
        res.warning = message
        res.warning_code = code


def short_path(path: str, base: str) -> str:
    try:
        rel = os.path.relpath(path, base)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def fill_file(res: ReferenceResult, info: FileInfo, raw: str) -> None:
    """A counted file's figures (``tokens`` is the caller's: duplicates count 0)."""
    res.own_tokens = info.tokens
    res.bytes = info.size
    res.cache = info.cache
    if info.invalid_utf8:
        warn(
            res, f"{raw} is not valid UTF-8: invalid bytes counted as U+FFFD", "reference-encoding"
        )


def fill_url(res: ReferenceResult, info: UrlInfo) -> None:
    res.tokens = res.own_tokens = info.tokens
    res.bytes = info.size
    res.cache = info.cache
    res.fetched_at = info.fetched_at
    if info.warning:
        warn(res, info.warning, "reference-fetch-failed")
    if info.unknown_charset is not None:
        replaced = ", invalid bytes counted as U+FFFD" if info.invalid_utf8 else ""
        warn(
            res,
            f"{info.url} declares an unknown charset {info.unknown_charset!r}: "
            f"read as UTF-8{replaced}",
            "reference-encoding",
        )
    elif info.invalid_utf8:
        warn(
            res,
            f"{info.url} is not valid text in its charset: invalid bytes counted as U+FFFD",
            "reference-encoding",
        )
