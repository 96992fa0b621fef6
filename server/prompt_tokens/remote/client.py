"""One attempt at a vendor count over HTTP, under the rules URL references follow.

Every address of the API's host is checked against ``http.blockedNetworks`` before anything
connects, and the request goes to a checked address (``references.addresses``: the host stays
in ``Host`` and TLS SNI), so an ``ANTHROPIC_BASE_URL`` naming a cloud metadata service is
refused like a URL reference would be. No redirects are followed, no proxy or ``.netrc`` from
the environment is used (``trust_env=False``). Failures become the errors the retry policy
knows: timeouts, connection errors, 429 and 5xx may pass (``TransientRemoteError``); 401/403
(``RemoteAuthError``) and anything else (``RemoteCountError``) will not. The key is sent only in
its header; every message that quotes the server is scrubbed of it.

Imported only when a vendor count is first made (httpx costs start-up time most sessions never
need to pay).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

import httpx

from prompt_tokens import __version__
from prompt_tokens.errors import (
    FetchError,
    RemoteAuthError,
    RemoteCountError,
    TransientRemoteError,
)
from prompt_tokens.references.addresses import Resolver, checked_targets, getaddrinfo
from prompt_tokens.references.fetched import parse_retry_after, redact
from prompt_tokens.remote.credentials import Credentials
from prompt_tokens.remote.vendors import (
    KEY_SETTINGS,
    NAMES,
    VendorRequest,
    error_message,
    parse_count,
)

log = logging.getLogger(__name__)

MAX_ANSWER_BYTES = 1 << 20
"""A count is a few bytes of JSON; a bigger answer is not one."""


class VendorClient:
    """The HTTP side of vendor counts: one ``httpx.AsyncClient`` per event loop."""

    def __init__(self, *, resolve_host: Resolver | None = None) -> None:
        self._resolve_host = resolve_host or getaddrinfo
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _http(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop or self._client.is_closed:
            self._client = httpx.AsyncClient(
                follow_redirects=False,
                trust_env=False,
                headers={"User-Agent": f"prompt-tokens/{__version__}"},
            )
            self._loop = loop
        return self._client

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None and not client.is_closed:
            try:
                await client.aclose()
            except RuntimeError:  # created on a loop that is gone
                pass

    async def attempt(
        self,
        creds: Credentials,
        request: VendorRequest,
        *,
        blocked_networks: list[str],
        timeout_s: float,
    ) -> int:
        """One request (to the first checked address that accepts a connection) → the count."""
        where = f"{NAMES[creds.vendor]} at {redact(request.url)}"
        try:
            url = httpx.URL(request.url)
            candidates = await checked_targets(url, blocked_networks, self._resolve_host)
        except (httpx.InvalidURL, ValueError) as exc:
            raise RemoteCountError(f"{where}: not a valid address ({exc})") from None
        except FetchError as exc:
            raise RemoteCountError(f"{NAMES[creds.vendor]}: {exc}") from None
        headers = {**request.headers, request.key_header: creds.key.reveal()}
        content = json.dumps(request.body, ensure_ascii=False).encode("utf-8", "surrogatepass")
        client = self._http()
        for i, (target, extra, extensions) in enumerate(candidates):
            sent = client.build_request(
                "POST",
                target,
                headers={**headers, **extra},
                content=content,
                extensions=extensions,
                timeout=httpx.Timeout(timeout_s),
            )
            log.debug("POST %s", redact(request.url))
            try:
                response = await client.send(sent, stream=True)
                try:
                    body = await _read(response)
                finally:
                    await response.aclose()
            except httpx.ConnectError as exc:
                if i + 1 == len(candidates):
                    raise TransientRemoteError(f"{where}: cannot connect ({exc})") from None
                continue
            except httpx.TimeoutException:
                raise TransientRemoteError(f"{where}: timed out after {timeout_s:g} s") from None
            except httpx.TransportError as exc:
                raise TransientRemoteError(
                    f"{where}: connection failed ({type(exc).__name__})"
                ) from None
            except httpx.HTTPError as exc:
                raise RemoteCountError(f"{where}: {type(exc).__name__}") from None
            return self._answer(creds, where, response, body)
        raise TransientRemoteError(f"{where}: no address to connect to")

    def _answer(
        self, creds: Credentials, where: str, response: httpx.Response, body: bytes | None
    ) -> int:
        status = response.status_code
        data = _json(body)
        said = error_message(data)
        detail = f": {creds.key.scrub(said)[:200]}" if said else ""
        if status == 200:
            n = parse_count(creds.vendor, data)
            if n is None:
                raise RemoteCountError(f"{where}: the answer holds no token count")
            return n
        if status in (401, 403):
            raise RemoteAuthError(
                f"{NAMES[creds.vendor]} refused the API key (HTTP {status}{detail}); check "
                f"{KEY_SETTINGS[creds.vendor]}. Showing the estimate"
            )
        if status == 429 or status >= 500:
            raise TransientRemoteError(
                f"{where}: HTTP {status}{detail}",
                retry_after=parse_retry_after(response.headers.get("retry-after"), time.time()),
            )
        raise RemoteCountError(f"{where}: HTTP {status}{detail}")


async def _read(response: httpx.Response) -> bytes | None:
    """The answer's bytes, or None when it is larger than any count answer can be."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _json(body: bytes | None) -> object:
    if body is None:
        return None
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


__all__ = ["VendorClient"]
