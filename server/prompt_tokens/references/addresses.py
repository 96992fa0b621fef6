"""Where a URL may be fetched from: every address of its host checked before connecting.

A prompt that references ``http://169.254.169.254/…`` (or a name, or a redirect, that leads
there) must not make the editor read a cloud metadata service. So for every hop the host is
resolved, *every* address is checked against ``http.blockedNetworks`` (IPv4-mapped IPv6 as
IPv4, a zone index ignored), and the request then goes to a checked address: the URL's host
stays in ``Host`` and in TLS SNI and certificate checks, so DNS cannot answer differently
between the check and the connection.

:func:`blocked_by` is pure, so the default list is tested without connecting anywhere.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import httpx

from prompt_tokens.errors import FetchError, TransientFetchError

Resolver = Callable[[str, int], Awaitable[list[str]]]
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Target = tuple[httpx.URL, dict[str, str], dict[str, Any]]


async def getaddrinfo(host: str, port: int) -> list[str]:
    """The host's addresses, resolved in a thread (the resolver library call blocks)."""
    infos = await asyncio.to_thread(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def parse_networks(specs: Iterable[str]) -> list[IPNetwork]:
    return [ipaddress.ip_network(n, strict=False) for n in specs]


def blocked_by(address: str, networks: Sequence[IPNetwork]) -> tuple[IPAddress, IPNetwork] | None:
    """``(address, network)`` when ``address`` (text, possibly ``fe80::1%eth0``) is inside one
    of ``networks``, else None. An IPv4-mapped IPv6 address is also checked as IPv4."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    candidates: list[IPAddress] = [ip]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        candidates.append(ip.ipv4_mapped)
    for cand in candidates:
        for net in networks:
            if cand.version == net.version and cand in net:
                return cand, net
    return None


async def checked_targets(
    url: httpx.URL,
    blocked_networks: Iterable[str],
    resolve_host: Resolver,
    *,
    pin: bool = True,
) -> list[Target]:
    """What to try, in order: ``(URL to send, extra headers, request extensions)``.

    Raises ``FetchError`` when any address of the host is blocked, ``TransientFetchError``
    when the name does not resolve. With ``pin``, one entry per checked address."""
    host = url.host
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        addresses = [str(ipaddress.ip_address(host))]
        literal = True
    except ValueError:
        literal = False
        try:
            addresses = await resolve_host(host, port)
        except OSError as exc:
            raise TransientFetchError(f"{url}: cannot resolve {host} ({exc})") from None
    if not addresses:
        raise TransientFetchError(f"{url}: {host} has no address")
    networks = parse_networks(blocked_networks)
    for addr in addresses:
        hit = blocked_by(addr, networks)
        if hit is not None:
            raise FetchError(
                f"{url}: {host} is in a blocked network ({hit[0]} in {hit[1]}, "
                "http.blockedNetworks); not fetched"
            )
    if literal or not pin:
        return [(url, {}, {})]
    host_header = host if url.port is None else f"{host}:{url.port}"
    ext: dict[str, Any] = {"sni_hostname": host} if url.scheme == "https" else {}
    return [
        (url.copy_with(host=addr.split("%", 1)[0]), {"Host": host_header}, ext)
        for addr in addresses
    ]
