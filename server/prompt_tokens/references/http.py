"""URL / API endpoint references: fetched with care, counted exactly, cached without bodies.

Rules (SPEC settings ``http.*``, "Trust", "Cache and privacy"):

- GET only; ``http``/``https`` only; URLs with ``user:password@`` are refused (credentials go
  in ``http.headers``). ``http.enabled: false`` → ``reference-fetch-failed`` "URL fetching is
  disabled" and no request.
- Every hop (the first request and each redirect, at most ``MAX_REDIRECTS``) is checked
  against ``http.blockedNetworks`` before anything connects, and sent to the checked address
  (:mod:`.addresses`).
- ``http.headers_for(hop_url)`` is applied per hop (a redirect to another host does not get the
  first host's credentials). Header values are never logged or stored.
- ``http.timeoutS`` bounds each attempt as a whole (connect, redirects, body). Retries, up to
  ``http.retries``, only on timeouts, connection errors, 429 and 5xx, with the shared backoff
  policy (:mod:`prompt_tokens.backoff`: exponential with jitter, or ``Retry-After`` in seconds
  or as an HTTP date, capped at ``max_retry_after``). Other 4xx are permanent.
- Cache: ``http.ttl_for(url)`` seconds. A fresh entry whose count is known makes no request. A
  stale one is revalidated with ``If-None-Match``/``If-Modified-Since``; 304 reuses the
  count (cache ``revalidated``). Only validators, sha256, size and content type are stored
  (``TieredCache.put_http``); counts by ``(encoding, sha256)``. When revalidation fails
  transiently, the last count is used with a warning instead of an error.
- Body: streamed, capped at ``references.maxBytes`` (``Content-Length`` checked first) →
  ``reference-too-large``; ``image/ audio/ video/ font/`` types or NUL bytes →
  ``reference-binary``; decoded by BOM, then the ``Content-Type`` charset, else UTF-8
  (:mod:`.charset`).
- Concurrent requests for one URL (and encoding) share one fetch (``requests_made`` counts
  the HTTP requests actually sent).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs
import httpx

from prompt_tokens import __version__
from prompt_tokens.backoff import Backoff
from prompt_tokens.cache.tiered import HttpEntry, TieredCache
from prompt_tokens.errors import BinaryContentError, FetchError, TooLargeError, TransientFetchError
from prompt_tokens.references.addresses import Resolver, checked_targets, getaddrinfo
from prompt_tokens.references.charset import BodyDecoder
from prompt_tokens.references.fetched import (
    Body,
    NotModified,
    UrlInfo,
    parse_retry_after,
    redact,
    transport_error,
)
from prompt_tokens.references.inflight import Inflight
from prompt_tokens.settings import HttpSettings
from prompt_tokens.tokenizer.counter import count_stream
from prompt_tokens.tokenizer.encodings import get_encoding

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
STREAM_ABOVE = 1 << 20
_REDIRECTS = (301, 302, 303, 307, 308)
_BINARY_TYPES = ("image/", "audio/", "video/", "font/")


class HttpFetcher:
    """Fetches and counts URL references; one per resolver, shared by all its documents."""

    def __init__(
        self,
        settings: HttpSettings,
        cache: TieredCache,
        *,
        max_bytes: int,
        client: httpx.AsyncClient | None = None,
        backoff_base: float = 0.5,
        max_backoff: float = 30.0,
        max_retry_after: float = 60.0,
        max_redirects: int = MAX_REDIRECTS,
        pin_addresses: bool = True,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        resolve_host: Resolver | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.cache = cache
        self.max_bytes = max_bytes
        self.backoff_base = backoff_base
        self.max_backoff = max_backoff
        self.max_retry_after = max_retry_after
        self.max_redirects = max_redirects
        self.pin_addresses = pin_addresses
        self._clock = clock
        self._sleep = sleep
        self._resolve_host = resolve_host or getaddrinfo
        self._environ = environ
        self._given_client = client
        self._client: httpx.AsyncClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self._inflight: Inflight[tuple[str, str], UrlInfo] = Inflight("URL fetch")
        self.requests_made = 0  # HTTP requests actually sent (each attempt and redirect hop)
        self.fetches = 0  # fetch operations started (after coalescing and cache)

    # -- client lifecycle ------------------------------------------------------------------

    def _http(self) -> httpx.AsyncClient:
        if self._given_client is not None:
            return self._given_client
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop or self._client.is_closed:
            # trust_env=False: no proxies or ~/.netrc credentials picked up behind the user's back.
            self._client = httpx.AsyncClient(
                follow_redirects=False,
                trust_env=False,
                timeout=httpx.Timeout(self.settings.timeout_s),
                headers={"User-Agent": f"prompt-tokens/{__version__}"},
            )
            self._client_loop = loop
        return self._client

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None and not client.is_closed:
            try:
                await client.aclose()
            except RuntimeError:  # created on a loop that is gone
                pass

    # -- public ----------------------------------------------------------------------------

    async def count(self, url: str, encoding: str) -> UrlInfo:
        """Tokens of ``url``'s content (coalesced: one fetch however many callers wait)."""
        key = (url, encoding)
        task = self._inflight.running(key)
        if task is None:
            task = self._inflight.start(
                key, asyncio.get_running_loop().create_task(self._count(url, encoding))
            )
        return await asyncio.shield(task)

    # -- the work --------------------------------------------------------------------------

    async def _count(self, url: str, encoding: str) -> UrlInfo:
        if not self.settings.enabled:
            raise FetchError("URL fetching is disabled (http.enabled is false)")
        self._check_url(url)
        entry = self.cache.get_http(url)
        known: int | None = None
        state = "miss"
        if entry is not None:
            known, state = self.cache.lookup_count(encoding, entry.sha256)
            if known is not None and entry.is_fresh(self._clock()):
                log.debug("fresh cache entry for %s: no request", redact(url))
                return UrlInfo.cached(entry, known, state)
        conditional = entry if (entry is not None and known is not None) else None
        self.fetches += 1
        try:
            got = await self._fetch_with_retries(url, conditional)
            if isinstance(got, NotModified):
                assert conditional is not None
                revalidated = self._revalidated(url, encoding, conditional, got)
                if revalidated is not None:
                    return revalidated
                got = await self._fetch_with_retries(url, None)  # count evicted meanwhile
        except TransientFetchError as exc:
            if entry is None or known is None:
                raise
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.fetched_at))
            warning = f"{exc}; using the count of the copy fetched {when}"
            return UrlInfo.cached(entry, known, state, warning=warning)
        assert isinstance(got, Body)
        return await self._counted(url, encoding, got)

    def _revalidated(
        self, url: str, encoding: str, entry: HttpEntry, got: NotModified
    ) -> UrlInfo | None:
        """A 304's answer: the known count, with the entry's validators and TTL renewed."""
        n, _ = self.cache.lookup_count(encoding, entry.sha256)
        if n is None:
            return None
        fetched = self._clock()
        self.cache.put_http(
            attrs.evolve(
                entry,
                etag=got.etag or entry.etag,
                last_modified=got.last_modified or entry.last_modified,
                fetched_at=fetched,
                expires_at=fetched + self.settings.ttl_for(url),
            )
        )
        return UrlInfo.cached(entry, n, "revalidated", fetched_at=fetched)

    async def _counted(self, url: str, encoding: str, got: Body) -> UrlInfo:
        body = got.decoded
        tokens, cstate = await asyncio.to_thread(self._tokens, encoding, body.sha256, body.text)
        if cstate == "miss":
            self.cache.put_count(encoding, body.sha256, tokens, body.size)
        fetched = self._clock()
        self.cache.put_http(
            HttpEntry(
                url=url,
                etag=got.etag,
                last_modified=got.last_modified,
                sha256=body.sha256,
                size=body.size,
                content_type=got.content_type,
                fetched_at=fetched,
                expires_at=fetched + self.settings.ttl_for(url),
            )
        )
        return UrlInfo(
            url,
            body.sha256,
            body.size,
            tokens,
            "miss",
            fetched,
            got.content_type,
            body.invalid,
            unknown_charset=body.unknown_charset,
        )

    def _tokens(self, encoding: str, sha: str, text: str) -> tuple[int, str]:
        n, state = self.cache.lookup_count(encoding, sha)
        if n is not None:
            return n, state
        if len(text) <= STREAM_ABOVE:
            return get_encoding(encoding).count(text), "miss"
        data = text.encode("utf-8", "surrogatepass")
        chunks = (data[i : i + STREAM_ABOVE] for i in range(0, len(data), STREAM_ABOVE))
        return count_stream(chunks, encoding).tokens, "miss"

    def _check_url(self, url: str) -> httpx.URL:
        try:
            u = httpx.URL(url)
        except (httpx.InvalidURL, ValueError) as exc:
            raise FetchError(f"Not a valid URL: {url} ({exc})") from None
        if u.scheme not in ("http", "https"):
            raise FetchError(
                f"Only http and https URLs are fetched, not {u.scheme or 'this'}: {url}"
            )
        if not u.host:
            raise FetchError(f"URL has no host: {url}")
        if u.userinfo:
            raise FetchError(
                f"URLs with credentials (user:password@) are not fetched: {redact(url)}; "
                "put credentials in http.headers"
            )
        return u

    async def _fetch_with_retries(self, url: str, entry: HttpEntry | None) -> Body | NotModified:
        attempts = 1 + self.settings.retries
        backoff = Backoff(
            retries=self.settings.retries,
            base_s=self.backoff_base,
            max_s=self.max_backoff,
            max_retry_after_s=self.max_retry_after,
            what=f"fetch {redact(url)}",
        )

        async def attempt() -> Body | NotModified:
            try:
                async with asyncio.timeout(self.settings.timeout_s):
                    return await self._attempt(url, entry)
            except TimeoutError:
                raise TransientFetchError(
                    f"{url}: timed out after {self.settings.timeout_s:g} s"
                ) from None

        try:
            return await backoff.call_async(attempt, sleep=self._sleep)
        except TransientFetchError as last:
            if attempts == 1:
                raise
            raise TransientFetchError(
                f"{last} (after {attempts} attempts)", retry_after=last.retry_after
            ) from None

    async def _send(
        self, client: httpx.AsyncClient, url: str, entry: HttpEntry | None
    ) -> tuple[httpx.URL, httpx.Response]:
        """One hop: check, then send to the first checked address that accepts a connection."""
        u = self._check_url(url)
        headers = {
            "Accept": "text/*, application/json, application/*;q=0.8, */*;q=0.5",
            **self.settings.headers_for(url, self._environ),
        }
        if entry is not None:
            if entry.etag:
                headers["If-None-Match"] = entry.etag
            if entry.last_modified:
                headers["If-Modified-Since"] = entry.last_modified
        candidates = await checked_targets(
            u, self.settings.blocked_networks, self._resolve_host, pin=self.pin_addresses
        )
        for i, (target, extra_headers, extensions) in enumerate(candidates):
            request = client.build_request(
                "GET", target, headers={**headers, **extra_headers}, extensions=extensions
            )
            self.requests_made += 1
            log.debug("GET %s", redact(url))
            try:
                return u, await client.send(request, stream=True, follow_redirects=False)
            except httpx.ConnectError as exc:
                if i + 1 == len(candidates):
                    raise transport_error(url, exc, self.settings.timeout_s) from None
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise transport_error(url, exc, self.settings.timeout_s) from None
        raise TransientFetchError(f"{url}: no address to connect to")

    async def _attempt(self, url: str, entry: HttpEntry | None) -> Body | NotModified:
        client = self._http()
        current = url
        for _hop in range(self.max_redirects + 1):
            u, response = await self._send(client, current, entry)
            try:
                status = response.status_code
                if status in _REDIRECTS:
                    location = response.headers.get("location")
                    if not location:
                        raise FetchError(f"{current}: HTTP {status} without a Location header")
                    current = str(u.join(location))
                    continue
                return await self._answer(url, current, entry, response)
            except (httpx.HTTPError, httpx.InvalidURL) as exc:  # bad encoding, bad Location…
                raise transport_error(current, exc, self.settings.timeout_s) from None
            finally:
                await response.aclose()
        raise FetchError(f"{url}: more than {self.max_redirects} redirects")

    async def _answer(
        self, url: str, current: str, entry: HttpEntry | None, response: httpx.Response
    ) -> Body | NotModified:
        """The final (non-redirect) response: a body, a 304, or the error its status means."""
        status = response.status_code
        if status == 304:
            if entry is None:
                raise FetchError(f"{current}: unexpected HTTP 304")
            return NotModified(response.headers.get("etag"), response.headers.get("last-modified"))
        if status == 429 or status >= 500:
            raise TransientFetchError(
                f"{current}: HTTP {status} {response.reason_phrase}".rstrip(),
                retry_after=parse_retry_after(response.headers.get("retry-after"), self._clock()),
            )
        if not 200 <= status < 300:
            raise FetchError(f"{current}: HTTP {status} {response.reason_phrase}".rstrip())
        return await self._read_body(url, response)

    async def _read_body(self, url: str, response: httpx.Response) -> Body:
        ctype = response.headers.get("content-type")
        mime = (ctype or "").split(";", 1)[0].strip().lower()
        if mime.startswith(_BINARY_TYPES):
            raise BinaryContentError(f"{url} is binary ({mime}), not counted")
        length = response.headers.get("content-length")
        if (
            length
            and length.isdigit()
            and int(length) > self.max_bytes
            and not response.headers.get("content-encoding")
        ):
            raise TooLargeError(
                f"{url} is larger than references.maxBytes ({int(length):,} > {self.max_bytes:,} bytes)"
            )
        decoder = BodyDecoder(ctype, self.max_bytes, url)
        async for chunk in response.aiter_bytes():
            decoder.feed(chunk)
        return Body(
            decoded=decoder.finish(),
            content_type=ctype,
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
        )


__all__ = ["MAX_REDIRECTS", "HttpFetcher", "UrlInfo", "parse_retry_after", "redact"]
