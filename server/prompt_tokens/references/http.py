"""URL / API endpoint references: fetched with care, counted exactly, cached without bodies.

Rules (SPEC settings ``http.*``, "Trust", "Cache and privacy"):

- GET only; ``http``/``https`` only; URLs with ``user:password@`` are refused (credentials go
  in ``http.headers``). ``http.enabled: false`` → ``reference-fetch-failed`` "URL fetching is
  disabled" and no request.
- Every hop (the first request and each redirect, at most ``MAX_REDIRECTS``) has its host
  resolved (``getaddrinfo`` in a thread) and every address checked against
  ``http.blockedNetworks`` BEFORE anything connects; IPv4-mapped IPv6 addresses are checked as
  IPv4. The request then goes to the checked address (the URL's host stays in ``Host`` and in
  TLS SNI/certificate checks), so DNS cannot answer differently between check and connect.
- ``http.headers_for(hop_url)`` is applied per hop (a redirect to another host does not get the
  first host's credentials). Header values are never logged or stored.
- ``http.timeoutS`` bounds each attempt as a whole (connect, redirects, body). Retries, up to
  ``http.retries``, only on timeouts, connection errors, 429 and 5xx, after
  ``min(max_backoff, base * 2**n) * (0.5 + random())`` seconds, or ``Retry-After`` (seconds or
  HTTP date) capped at ``max_retry_after``. Other 4xx are permanent.
- Cache: ``http.ttl_for(url)`` seconds. A fresh entry whose count is known makes no request. A
  stale one is revalidated with ``If-None-Match``/``If-Modified-Since``; 304 reuses the
  count (cache ``revalidated``). Only validators, sha256, size and content type are stored
  (``TieredCache.put_http``); counts by ``(encoding, sha256)``. When revalidation fails
  transiently, the last count is used with a warning instead of an error.
- Body: streamed, capped at ``references.maxBytes`` (``Content-Length`` checked first) →
  ``reference-too-large``; ``image/ audio/ video/ font/`` types or NUL bytes in the first
  8 KiB → ``reference-binary``; charset from ``Content-Type`` (default UTF-8, same decoding
  rules as files: BOM dropped, invalid bytes → U+FFFD with a warning).
- Concurrent requests for one URL (and encoding) share one fetch (``requests_made`` counts
  the HTTP requests actually sent).
"""

from __future__ import annotations

import asyncio
import codecs
import email.utils
import hashlib
import ipaddress
import logging
import random
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs
import httpx

from prompt_tokens import __version__
from prompt_tokens.cache.tiered import HttpEntry, TieredCache
from prompt_tokens.errors import (
    BinaryContentError,
    FetchError,
    TooLargeError,
    TransientFetchError,
)
from prompt_tokens.settings import HttpSettings
from prompt_tokens.tokenizer.counter import count_stream
from prompt_tokens.tokenizer.encodings import get_encoding
from prompt_tokens.tokenizer.textio import BINARY_SNIFF_BYTES, StreamDecoder, looks_binary

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
STREAM_ABOVE = 1 << 20
_REDIRECTS = (301, 302, 303, 307, 308)
_BINARY_TYPES = ("image/", "audio/", "video/", "font/")

Resolver = Callable[[str, int], Awaitable[list[str]]]


@attrs.define
class UrlInfo:
    url: str
    sha256: str
    size: int
    tokens: int
    cache: str  # "memory" | "disk" | "miss" | "revalidated"
    fetched_at: float
    content_type: str | None = None
    invalid_utf8: bool = False
    warning: str | None = None

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


def _charset(content_type: str | None) -> str:
    if content_type:
        for part in content_type.split(";")[1:]:
            k, _, v = part.strip().partition("=")
            if k.strip().lower() == "charset" and v.strip():
                name = v.strip().strip("\"'")
                try:
                    return codecs.lookup(name).name
                except LookupError:
                    log.debug("unknown charset %r; decoding as UTF-8", name)
    return "utf-8"


async def _getaddrinfo(host: str, port: int) -> list[str]:
    infos = await asyncio.to_thread(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class _BodyDecoder:
    """Charset-aware counterpart of StreamDecoder for non-UTF-8 bodies (same caps, binary rule)."""

    def __init__(self, charset: str, max_bytes: int, label: str) -> None:
        self.charset = charset
        self.max_bytes = max_bytes
        self.label = label
        self.buf = bytearray()

    def feed(self, chunk: bytes) -> None:
        before = len(self.buf)
        self.buf += chunk
        if len(self.buf) > self.max_bytes:
            raise TooLargeError(
                f"{self.label} is larger than references.maxBytes ({self.max_bytes:,} bytes)"
            )
        if before < BINARY_SNIFF_BYTES and looks_binary(bytes(self.buf[:BINARY_SNIFF_BYTES])):
            raise BinaryContentError(f"{self.label} is binary (NUL bytes), not counted")

    def finish(self) -> tuple[str, str, int, bool]:
        data = bytes(self.buf)
        sha = hashlib.sha256(f"charset={self.charset}\0".encode() + data).hexdigest()
        try:
            text = data.decode(self.charset)
            invalid = False
        except UnicodeDecodeError:
            text = data.decode(self.charset, errors="replace")
            invalid = True
        if text.startswith("\ufeff"):
            text = text[1:]
        return text, sha, len(data), invalid


@attrs.define
class _Body:
    sha256: str
    size: int
    text: str
    invalid_utf8: bool
    content_type: str | None
    etag: str | None
    last_modified: str | None


@attrs.define
class _NotModified:
    etag: str | None
    last_modified: str | None


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
        rng: Callable[[], float] = random.random,
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
        self._rng = rng
        self._resolve_host = resolve_host or _getaddrinfo
        self._environ = environ
        self._given_client = client
        self._client: httpx.AsyncClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self._inflight: dict[tuple[str, str], asyncio.Task[UrlInfo]] = {}
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
        task = self._inflight.get(key)
        if task is None or task.get_loop() is not asyncio.get_running_loop():
            task = asyncio.get_running_loop().create_task(self._count(url, encoding))
            self._inflight[key] = task

            def done(t: asyncio.Task[UrlInfo], key: tuple[str, str] = key) -> None:
                if self._inflight.get(key) is t:
                    del self._inflight[key]
                if not t.cancelled():
                    t.exception()  # retrieved: no "never retrieved" noise when all waiters left

            task.add_done_callback(done)
        return await asyncio.shield(task)

    # -- the work --------------------------------------------------------------------------

    async def _count(self, url: str, encoding: str) -> UrlInfo:
        if not self.settings.enabled:
            raise FetchError("URL fetching is disabled (http.enabled is false)")
        self._check_url(url)
        now = self._clock()
        entry = self.cache.get_http(url)
        known: int | None = None
        state = "miss"
        if entry is not None:
            known, state = self.cache.lookup_count(encoding, entry.sha256)
            if known is not None and entry.is_fresh(now):
                log.debug("fresh cache entry for %s: no request", redact(url))
                return UrlInfo.cached(entry, known, state)
        conditional = entry if (entry is not None and known is not None) else None
        self.fetches += 1
        try:
            got = await self._fetch_with_retries(url, conditional)
            if isinstance(got, _NotModified):
                assert conditional is not None
                n, _ = self.cache.lookup_count(encoding, conditional.sha256)
                if n is None:  # evicted meanwhile: fetch the body after all
                    got = await self._fetch_with_retries(url, None)
                else:
                    fetched = self._clock()
                    self.cache.put_http(
                        attrs.evolve(
                            conditional,
                            etag=got.etag or conditional.etag,
                            last_modified=got.last_modified or conditional.last_modified,
                            fetched_at=fetched,
                            expires_at=fetched + self.settings.ttl_for(url),
                        )
                    )
                    return UrlInfo.cached(conditional, n, "revalidated", fetched_at=fetched)
        except TransientFetchError as exc:
            if entry is not None and known is not None:
                when = time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.fetched_at))
                return UrlInfo.cached(
                    entry,
                    known,
                    state,
                    warning=f"{exc}; using the count of the copy fetched {when}",
                )
            raise
        assert isinstance(got, _Body)
        tokens, cstate = await asyncio.to_thread(self._tokens, encoding, got.sha256, got.text)
        if cstate == "miss":
            self.cache.put_count(encoding, got.sha256, tokens, got.size)
        fetched = self._clock()
        self.cache.put_http(
            HttpEntry(
                url=url,
                etag=got.etag,
                last_modified=got.last_modified,
                sha256=got.sha256,
                size=got.size,
                content_type=got.content_type,
                fetched_at=fetched,
                expires_at=fetched + self.settings.ttl_for(url),
            )
        )
        return UrlInfo(
            url, got.sha256, got.size, tokens, "miss", fetched, got.content_type, got.invalid_utf8
        )

    def _tokens(self, encoding: str, sha: str, text: str) -> tuple[int, str]:
        n, state = self.cache.lookup_count(encoding, sha)
        if n is not None:
            return n, state
        if len(text) <= STREAM_ABOVE:
            return len(get_encoding(encoding).encode_ordinary(text)), "miss"
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

    def _delay(self, retry: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(0.0, retry_after), self.max_retry_after)
        return min(self.max_backoff, self.backoff_base * 2**retry) * (0.5 + self._rng())

    async def _fetch_with_retries(self, url: str, entry: HttpEntry | None) -> _Body | _NotModified:
        attempts = 1 + self.settings.retries
        last: TransientFetchError | None = None
        for attempt in range(attempts):
            try:
                async with asyncio.timeout(self.settings.timeout_s):
                    return await self._attempt(url, entry)
            except TimeoutError:
                last = TransientFetchError(f"{url}: timed out after {self.settings.timeout_s:g} s")
            except TransientFetchError as exc:
                last = exc
            if attempt + 1 < attempts:
                delay = self._delay(attempt, last.retry_after)
                log.debug("retrying %s in %.2f s (%s)", redact(url), delay, last)
                await self._sleep(delay)
        assert last is not None
        tries = f" (after {attempts} attempts)" if attempts > 1 else ""
        raise TransientFetchError(f"{last}{tries}", retry_after=last.retry_after)

    async def _pin(self, url: httpx.URL) -> list[tuple[httpx.URL, dict[str, str], dict[str, Any]]]:
        """Check every address of the URL's host against ``http.blockedNetworks``.

        Returns what to try, in order: (URL to send, extra headers, request extensions). With
        pinning, one entry per checked address, keeping Host and TLS SNI/certificate checks on
        the name while connecting to the address that was checked."""
        host = url.host
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            addresses = [str(ipaddress.ip_address(host))]
            literal = True
        except ValueError:
            literal = False
            try:
                addresses = await self._resolve_host(host, port)
            except OSError as exc:
                raise TransientFetchError(f"{url}: cannot resolve {host} ({exc})") from None
        if not addresses:
            raise TransientFetchError(f"{url}: {host} has no address")
        networks = [ipaddress.ip_network(n, strict=False) for n in self.settings.blocked_networks]
        for addr in addresses:
            ip = ipaddress.ip_address(addr.split("%", 1)[0])
            candidates = [ip]
            if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
                candidates.append(ip.ipv4_mapped)
            for cand in candidates:
                for net in networks:
                    if cand.version == net.version and cand in net:
                        raise FetchError(
                            f"{url}: {host} is in a blocked network ({cand} in {net}, "
                            "http.blockedNetworks); not fetched"
                        )
        if literal or not self.pin_addresses:
            return [(url, {}, {})]
        host_header = host if url.port is None else f"{host}:{url.port}"
        ext: dict[str, Any] = {"sni_hostname": host} if url.scheme == "https" else {}
        return [
            (url.copy_with(host=addr.split("%", 1)[0]), {"Host": host_header}, ext)
            for addr in addresses
        ]

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
        candidates = await self._pin(u)
        for i, (target, extra_headers, extensions) in enumerate(candidates):
            request = client.build_request(
                "GET", target, headers={**headers, **extra_headers}, extensions=extensions
            )
            self.requests_made += 1
            log.debug("GET %s", redact(url))
            try:
                return u, await client.send(request, stream=True, follow_redirects=False)
            except httpx.ConnectError as exc:
                if i + 1 < len(candidates):
                    continue
                raise TransientFetchError(
                    f"{url}: connection failed ({type(exc).__name__}: {exc})"
                ) from None
            except httpx.TimeoutException:
                raise TransientFetchError(
                    f"{url}: timed out after {self.settings.timeout_s:g} s"
                ) from None
            except httpx.TransportError as exc:
                raise TransientFetchError(
                    f"{url}: connection failed ({type(exc).__name__}: {exc})"
                ) from None
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise FetchError(f"{url}: {type(exc).__name__}: {exc}") from None
        raise TransientFetchError(f"{url}: no address to connect to")

    async def _attempt(self, url: str, entry: HttpEntry | None) -> _Body | _NotModified:
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
                if status == 304:
                    if entry is None:
                        raise FetchError(f"{current}: unexpected HTTP 304")
                    return _NotModified(
                        response.headers.get("etag"), response.headers.get("last-modified")
                    )
                if status == 429 or status >= 500:
                    raise TransientFetchError(
                        f"{current}: HTTP {status} {response.reason_phrase}".rstrip(),
                        retry_after=parse_retry_after(
                            response.headers.get("retry-after"), self._clock()
                        ),
                    )
                if not 200 <= status < 300:
                    raise FetchError(f"{current}: HTTP {status} {response.reason_phrase}".rstrip())
                return await self._read_body(url, response)
            except httpx.TimeoutException:
                raise TransientFetchError(
                    f"{current}: timed out after {self.settings.timeout_s:g} s"
                ) from None
            except httpx.TransportError as exc:
                raise TransientFetchError(
                    f"{current}: connection failed ({type(exc).__name__}: {exc})"
                ) from None
            except (httpx.HTTPError, httpx.InvalidURL) as exc:  # bad encoding, bad Location…
                raise FetchError(f"{current}: {type(exc).__name__}: {exc}") from None
            finally:
                await response.aclose()
        raise FetchError(f"{url}: more than {self.max_redirects} redirects")

    async def _read_body(self, url: str, response: httpx.Response) -> _Body:
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
        charset = _charset(ctype)
        if charset == "utf-8":
            dec = StreamDecoder(max_bytes=self.max_bytes, label=url)
            parts: list[str] = []
            async for chunk in response.aiter_bytes():
                parts.append(dec.feed(chunk))
            parts.append(dec.feed(b"", final=True))
            st = dec.stats()
            text, sha, size, invalid = "".join(parts), st.sha256, st.size, st.invalid_utf8
        else:
            other = _BodyDecoder(charset, self.max_bytes, url)
            async for chunk in response.aiter_bytes():
                other.feed(chunk)
            text, sha, size, invalid = other.finish()
        return _Body(
            sha256=sha,
            size=size,
            text=text,
            invalid_utf8=invalid,
            content_type=ctype,
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
        )
