"""What a URL fetch produced, and the small pieces of HTTP the fetcher reads.

``UrlInfo`` is the fetcher's answer to the resolver (figures, cache state, warnings; never the
body). ``Body``/``NotModified`` are one attempt's outcome, ``transport_error`` maps httpx's
exceptions onto the two kinds the retry policy knows (may pass / will not).
"""

from __future__ import annotations

import email.utils

import attrs
import httpx

from prompt_tokens.cache.tiered import HttpEntry
from prompt_tokens.errors import FetchError, TransientFetchError
from prompt_tokens.references.charset import DecodedBody, declared_charset


@attrs.define
class UrlInfo:
    url: str
    sha256: str
    size: int
    tokens: int
    cache: str  # "memory" | "disk" | "miss" | "revalidated"
    fetched_at: float
    content_type: str | None = None
    invalid_utf8: bool = False  # invalid bytes in the body's charset, replaced by U+FFFD
    warning: str | None = None
    unknown_charset: str | None = None  # a declared charset nobody knows: read as UTF-8

    @classmethod
    def cached(
        cls,
        entry: HttpEntry,
        tokens: int,
        cache: str,
        *,
        fetched_at: float | None = None,
        warning: str | None = None,
    ) -> UrlInfo:
        """The figures of a previously fetched copy (fresh, revalidated or a stale fallback)."""
        return cls(
            entry.url,
            entry.sha256,
            entry.size,
            tokens,
            cache,
            entry.fetched_at if fetched_at is None else fetched_at,
            entry.content_type,
            warning=warning,
            unknown_charset=declared_charset(entry.content_type).unknown,
        )


def redact(url: str) -> str:
    """A URL for logs: no userinfo, query or fragment."""
    try:
        u = httpx.URL(url)
        port = f":{u.port}" if u.port else ""
        return f"{u.scheme}://{u.host}{port}{u.path}"
    except Exception:
        return "<invalid url>"


def parse_retry_after(value: str | None, now: float) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now)


@attrs.define
class Body:
    decoded: DecodedBody
    content_type: str | None
    etag: str | None
    last_modified: str | None


@attrs.define
class NotModified:
    etag: str | None
    last_modified: str | None


def transport_error(url: str, exc: Exception, timeout_s: float) -> Exception:
    """httpx's failures as ours: timeouts and transport errors may pass, the rest will not."""
    if isinstance(exc, httpx.TimeoutException):
        return TransientFetchError(f"{url}: timed out after {timeout_s:g} s")
    if isinstance(exc, httpx.TransportError):
        return TransientFetchError(f"{url}: connection failed ({type(exc).__name__}: {exc})")
    return FetchError(f"{url}: {type(exc).__name__}: {exc}")
