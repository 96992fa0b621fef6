"""URL references against a real HTTP server on 127.0.0.1 (pytest-httpserver): caching with
TTL and ETag/Last-Modified revalidation, retries (5xx, 429 + Retry-After, timeouts) and no
retries on 4xx, blocked networks on redirects, size/binary caps, charsets, credentials headers
that reach the server but never the logs, and coalescing across documents."""

from __future__ import annotations

import asyncio
import codecs
import logging
import shutil
import ssl
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from prompt_tokens.cache.tiered import TieredCache
from prompt_tokens.errors import FetchError
from prompt_tokens.references.addresses import blocked_by, parse_networks
from prompt_tokens.references.charset import BodyDecoder
from prompt_tokens.references.graph import url_key
from prompt_tokens.references.http import HttpFetcher, parse_retry_after
from prompt_tokens.references.resolver import ReferenceResolver
from prompt_tokens.references.syntax import scan
from prompt_tokens.results import ReferenceResult
from prompt_tokens.settings import parse_settings
from tests.conftest import plain_count

ENC = "cl100k_base"
BODY = "The endpoint returns items: [{'id': 1, 'name': 'Widget'}] — and a trailing note.\n"


class Sleeps:
    """Injected sleep: records delays, waits (almost) nothing."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)


def make_resolver(
    workspace: Path,
    cache: TieredCache | None = None,
    *,
    sleeps: Sleeps | None = None,
    http_options: dict[str, Any] | None = None,
    **raw: Any,
) -> ReferenceResolver:
    settings, problems = parse_settings(raw)
    assert not problems
    options: dict[str, Any] = {"backoff_base": 0.001, "sleep": sleeps or Sleeps()}
    options.update(http_options or {})
    return ReferenceResolver(
        settings, cache or TieredCache(None), roots=[workspace], http_options=options
    )


async def resolve_text(
    r: ReferenceResolver, workspace: Path, text: str, name: str = "doc.md"
) -> list[ReferenceResult]:
    doc = workspace / name
    return await r.resolve(doc, scan(text), encoding=ENC, variables={})


async def fetch_one(r: ReferenceResolver, workspace: Path, url: str) -> ReferenceResult:
    (res,) = await resolve_text(r, workspace, f"Use @{url} please")
    return res


@pytest.fixture
def server(httpserver: HTTPServer) -> Iterator[HTTPServer]:
    httpserver.clear()
    yield httpserver
    httpserver.clear()


# ---- caching ----------------------------------------------------------------------------


async def test_200_with_etag_then_304(server: HTTPServer, workspace: Path) -> None:
    seen: list[str | None] = []

    def handler(request: Request) -> Response:
        seen.append(request.headers.get("If-None-Match"))
        if request.headers.get("If-None-Match") == '"v1"':
            return Response(status=304, headers={"ETag": '"v1"'})
        return Response(BODY, content_type="text/plain; charset=utf-8", headers={"ETag": '"v1"'})

    server.expect_request("/items").respond_with_handler(handler)
    url = server.url_for("/items")
    r = make_resolver(workspace, http={"cache": [{"pattern": "*", "ttlS": 0}]})
    first = await fetch_one(r, workspace, url)
    assert first.status == "ok" and first.tokens == plain_count(ENC, BODY)
    assert first.cache == "miss" and first.bytes == len(BODY.encode())
    assert first.fetched_at is not None
    second = await fetch_one(r, workspace, url)
    assert second.tokens == first.tokens and second.cache == "revalidated"
    assert seen == [None, '"v1"']
    assert r.http.requests_made == 2


async def test_last_modified_revalidation(server: HTTPServer, workspace: Path) -> None:
    stamp = "Wed, 21 Oct 2015 07:28:00 GMT"

    def handler(request: Request) -> Response:
        if request.headers.get("If-Modified-Since") == stamp:
            return Response(status=304)
        return Response(BODY, headers={"Last-Modified": stamp})

    server.expect_request("/lm").respond_with_handler(handler)
    r = make_resolver(workspace, http={"cache": [{"pattern": "*", "ttlS": 0}]})
    await fetch_one(r, workspace, server.url_for("/lm"))
    res = await fetch_one(r, workspace, server.url_for("/lm"))
    assert res.cache == "revalidated" and res.tokens == plain_count(ENC, BODY)


async def test_changed_content_after_revalidation(server: HTTPServer, workspace: Path) -> None:
    bodies = iter([("v1", BODY), ("v2", BODY + BODY)])

    def handler(request: Request) -> Response:
        tag, body = next(bodies)
        return Response(body, headers={"ETag": f'"{tag}"'})

    server.expect_request("/c").respond_with_handler(handler)
    r = make_resolver(workspace, http={"cache": [{"pattern": "*", "ttlS": 0}]})
    assert (await fetch_one(r, workspace, server.url_for("/c"))).tokens == plain_count(ENC, BODY)
    res = await fetch_one(r, workspace, server.url_for("/c"))
    assert res.tokens == plain_count(ENC, BODY + BODY) and res.cache == "miss"


async def test_fresh_entry_makes_no_request(
    server: HTTPServer, workspace: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    server.expect_request("/fresh").respond_with_data(BODY, headers={"ETag": '"x"'})
    url = server.url_for("/fresh")
    path = str(tmp_path_factory.mktemp("cache") / "cache.sqlite3")
    cache = TieredCache(path)
    r = make_resolver(workspace, cache)
    first = await fetch_one(r, workspace, url)
    second = await fetch_one(r, workspace, url)
    assert (first.cache, second.cache) == ("miss", "memory")
    assert r.http.requests_made == 1
    cache.close()
    # A new process (new cache object on the same file): still fresh, still no request.
    cache2 = TieredCache(path)
    r2 = make_resolver(workspace, cache2)
    third = await fetch_one(r2, workspace, url)
    assert third.cache == "disk" and third.tokens == plain_count(ENC, BODY)
    assert r2.http.requests_made == 0
    assert len(server.log) == 1
    cache2.close()


async def test_stale_count_used_when_revalidation_fails(
    server: HTTPServer, workspace: Path
) -> None:
    state = {"up": True}

    def handler(request: Request) -> Response:
        return Response(BODY, headers={"ETag": '"a"'}) if state["up"] else Response(status=503)

    server.expect_request("/flaky").respond_with_handler(handler)
    r = make_resolver(workspace, http={"cache": [{"pattern": "*", "ttlS": 0}], "retries": 1})
    await fetch_one(r, workspace, server.url_for("/flaky"))
    state["up"] = False
    res = await fetch_one(r, workspace, server.url_for("/flaky"))
    assert res.status == "ok" and res.tokens == plain_count(ENC, BODY)
    assert res.warning_code == "reference-fetch-failed" and "503" in (res.warning or "")


# ---- retries ----------------------------------------------------------------------------


async def test_503_then_200_is_retried(server: HTTPServer, workspace: Path) -> None:
    statuses = iter([503, 200])

    def handler(request: Request) -> Response:
        status = next(statuses)
        return Response(BODY if status == 200 else "busy", status=status)

    server.expect_request("/retry").respond_with_handler(handler)
    sleeps = Sleeps()
    r = make_resolver(workspace, sleeps=sleeps)
    res = await fetch_one(r, workspace, server.url_for("/retry"))
    assert res.status == "ok" and res.tokens == plain_count(ENC, BODY)
    assert r.http.requests_made == 2 and len(sleeps.delays) == 1
    assert 0 < sleeps.delays[0] < 0.01  # backoff base 0.001 s with jitter


async def test_429_honours_retry_after(server: HTTPServer, workspace: Path) -> None:
    statuses = iter([(429, "2"), (429, "1000"), (200, None)])

    def handler(request: Request) -> Response:
        status, after = next(statuses)
        headers = {"Retry-After": after} if after else {}
        return Response(BODY if status == 200 else "slow down", status=status, headers=headers)

    server.expect_request("/limited").respond_with_handler(handler)
    sleeps = Sleeps()
    r = make_resolver(workspace, sleeps=sleeps, http_options={"max_retry_after": 5.0})
    res = await fetch_one(r, workspace, server.url_for("/limited"))
    assert res.status == "ok"
    assert sleeps.delays == [2.0, 5.0]  # as asked, then capped
    assert r.http.requests_made == 3


async def test_retry_after_really_waits(server: HTTPServer, workspace: Path) -> None:
    statuses = iter([429, 200])
    server.expect_request("/wait").respond_with_handler(
        lambda req: Response(
            "x" if (s := next(statuses)) == 200 else "", status=s, headers={"Retry-After": "1"}
        )
    )
    settings, _ = parse_settings({})
    r = ReferenceResolver(
        settings, TieredCache(None), roots=[workspace], http_options={"max_retry_after": 0.3}
    )
    t0 = time.monotonic()
    res = await fetch_one(r, workspace, server.url_for("/wait"))
    # Really slept (the cap is checked with injected sleeps above); no upper bound: it flakes.
    assert res.status == "ok" and time.monotonic() - t0 >= 0.25


async def test_404_is_not_retried(server: HTTPServer, workspace: Path) -> None:
    server.expect_request("/missing").respond_with_data("nope", status=404)
    sleeps = Sleeps()
    r = make_resolver(workspace, sleeps=sleeps)
    res = await fetch_one(r, workspace, server.url_for("/missing"))
    assert (res.status, res.code, res.tokens) == ("error", "reference-fetch-failed", 0)
    assert "HTTP 404" in (res.error or "")
    assert r.http.requests_made == 1 and sleeps.delays == []


async def test_5xx_exhausts_retries(server: HTTPServer, workspace: Path) -> None:
    server.expect_request("/down").respond_with_data("down", status=502)
    sleeps = Sleeps()
    r = make_resolver(workspace, sleeps=sleeps, http={"retries": 2})
    res = await fetch_one(r, workspace, server.url_for("/down"))
    assert res.code == "reference-fetch-failed" and "after 3 attempts" in (res.error or "")
    assert r.http.requests_made == 3 and len(sleeps.delays) == 2


async def test_slow_response_times_out(workspace: Path) -> None:
    released = threading.Event()

    def stuck(request: Request) -> Response:
        released.wait(30)  # answers only once the test is done: a response means we waited
        return Response(BODY)

    slow = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    slow.expect_request("/slow").respond_with_handler(stuck)
    slow.start()
    try:
        r = make_resolver(workspace, http={"timeoutS": 0.2, "retries": 1})
        res = await fetch_one(r, workspace, slow.url_for("/slow"))
    finally:
        released.set()
        slow.clear()
        slow.stop()
    assert res.code == "reference-fetch-failed" and "timed out" in (res.error or "")
    assert r.http.requests_made == 2  # one retry


async def test_connection_refused_is_transient(workspace: Path) -> None:
    sleeps = Sleeps()
    r = make_resolver(workspace, sleeps=sleeps, http={"retries": 1})
    res = await fetch_one(r, workspace, "http://127.0.0.1:9/never")
    assert res.code == "reference-fetch-failed" and "connection failed" in (res.error or "")
    assert len(sleeps.delays) == 1


# ---- safety -----------------------------------------------------------------------------


@pytest.fixture
def trap() -> Iterator[HTTPServer]:
    """A server on 127.0.0.2 that must never be reached (the tests block 127.0.0.2/32)."""
    srv = HTTPServer(host="127.0.0.2", port=0)
    srv.expect_request("/", method="GET").respond_with_data("reached")
    srv.start()
    try:
        yield srv
    finally:
        srv.clear()
        srv.stop()


BLOCK_TRAP = {"blockedNetworks": ["127.0.0.2/32"]}


async def test_redirect_into_a_blocked_network_is_refused_before_connecting(
    server: HTTPServer, trap: HTTPServer, workspace: Path
) -> None:
    server.expect_request("/go").respond_with_data(
        "", status=302, headers={"Location": f"http://127.0.0.2:{trap.port}/"}
    )
    r = make_resolver(workspace, http=BLOCK_TRAP)
    res = await fetch_one(r, workspace, server.url_for("/go"))
    assert res.code == "reference-fetch-failed"
    assert "blocked network" in (res.error or "") and "127.0.0.2/32" in (res.error or "")
    assert r.http.requests_made == 1  # the first hop only: the blocked hop was never sent
    assert len(trap.log) == 0
    # The same server is reachable when nothing blocks it: the refusal above was the check.
    open_r = make_resolver(workspace)
    assert (await fetch_one(open_r, workspace, f"http://127.0.0.2:{trap.port}/")).status == "ok"
    assert len(trap.log) == 1


async def test_host_resolving_into_blocked_network(trap: HTTPServer, workspace: Path) -> None:
    async def fake_dns(host: str, port: int) -> list[str]:
        return {
            "trap.test": ["127.0.0.2"],
            "mapped.test": ["::ffff:127.0.0.2"],
            "mixed.test": ["127.0.0.1", "127.0.0.2"],  # one blocked address blocks the name
        }[host]

    r = make_resolver(workspace, http=BLOCK_TRAP, http_options={"resolve_host": fake_dns})
    for host in ("trap.test", "mapped.test", "mixed.test", "[::ffff:127.0.0.2]"):
        res = await fetch_one(r, workspace, f"http://{host}:{trap.port}/")
        assert res.code == "reference-fetch-failed" and "blocked network" in (res.error or "")
    assert r.http.requests_made == 0 and len(trap.log) == 0


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("169.254.169.254", "169.254.0.0/16"),  # cloud metadata (AWS, GCP, Azure)
        ("169.254.0.1", "169.254.0.0/16"),
        ("::ffff:169.254.169.254", "169.254.0.0/16"),  # IPv4-mapped: checked as IPv4
        ("fe80::1", "fe80::/10"),
        ("fe80::1%eth0", "fe80::/10"),  # zone index ignored
        ("fd00:ec2::254", "fd00:ec2::254/128"),  # AWS metadata over IPv6
        ("127.0.0.1", None),
        ("10.1.2.3", None),
        ("8.8.8.8", None),
        ("2001:db8::1", None),
        ("::ffff:8.8.8.8", None),
    ],
)
def test_default_blocked_networks(address: str, network: str | None) -> None:
    """The default list, checked by the address check alone: nothing connects anywhere."""
    settings, _ = parse_settings({})
    hit = blocked_by(address, parse_networks(settings.http.blocked_networks))
    assert (None if hit is None else str(hit[1])) == network


async def test_custom_blocked_networks(server: HTTPServer, workspace: Path) -> None:
    server.expect_request("/x").respond_with_data(BODY)
    r = make_resolver(workspace, http={"blockedNetworks": ["127.0.0.0/8"]})
    res = await fetch_one(r, workspace, server.url_for("/x"))
    assert "blocked network" in (res.error or "")
    assert len(server.log) == 0


async def test_redirects_followed_and_limited(server: HTTPServer, workspace: Path) -> None:
    server.expect_request("/old").respond_with_data("", status=301, headers={"Location": "/new"})
    server.expect_request("/new").respond_with_data(BODY)
    server.expect_request("/loop").respond_with_data("", status=302, headers={"Location": "/loop"})
    r = make_resolver(workspace)
    res = await fetch_one(r, workspace, server.url_for("/old"))
    assert res.status == "ok" and res.tokens == plain_count(ENC, BODY)
    assert res.target == server.url_for("/old")
    loop = await fetch_one(r, workspace, server.url_for("/loop"))
    assert loop.code == "reference-fetch-failed" and "more than 5 redirects" in (loop.error or "")
    assert r.http.requests_made == 2 + 6


async def test_pinned_connection_keeps_host_header(server: HTTPServer, workspace: Path) -> None:
    hosts: list[str | None] = []

    def handler(request: Request) -> Response:
        hosts.append(request.headers.get("Host"))
        return Response(BODY)

    server.expect_request("/h").respond_with_handler(handler)
    url = server.url_for("/h")
    assert url.startswith("http://localhost:")
    r = make_resolver(workspace)
    res = await fetch_one(r, workspace, url)
    assert res.status == "ok"
    assert hosts == [f"localhost:{server.port}"]


async def test_oversized_body(server: HTTPServer, workspace: Path) -> None:
    server.expect_request("/big").respond_with_data("x" * 5000)

    def chunked(request: Request) -> Response:
        return Response((b"y" * 500 for _ in range(10)), direct_passthrough=True)

    server.expect_request("/stream").respond_with_handler(chunked)
    r = make_resolver(workspace, references={"maxBytes": 1000})
    big = await fetch_one(r, workspace, server.url_for("/big"))
    assert big.code == "reference-too-large" and "maxBytes" in (big.error or "")
    stream = await fetch_one(r, workspace, server.url_for("/stream"))
    assert stream.code == "reference-too-large"


async def test_binary_bodies(server: HTTPServer, workspace: Path) -> None:
    server.expect_request("/nul").respond_with_data(
        b"GIF89a\x00\x01\x02", content_type="text/plain"
    )
    server.expect_request("/png").respond_with_data(b"not really", content_type="image/png")
    r = make_resolver(workspace)
    nul = await fetch_one(r, workspace, server.url_for("/nul"))
    png = await fetch_one(r, workspace, server.url_for("/png"))
    assert nul.code == png.code == "reference-binary"


TEXT = "Prompt: café crème, naïve — 😀 and <|endoftext|> stay text.\r\nLine two.\n"
LATIN = "café crème, déjà vu: £5 ¥3 ±1 ½\n"


@pytest.mark.parametrize(
    ("name", "body", "content_type", "expected"),
    [
        (
            "utf16-le-bom",
            codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"),
            "text/plain; charset=utf-16",
            TEXT,
        ),
        (
            "utf16-be-bom",
            codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"),
            "text/plain; charset=UTF-16",
            TEXT,
        ),
        (
            "utf16-no-bom",
            TEXT.encode("utf-16-le"),
            "text/plain; charset=utf-16",
            TEXT,
        ),  # WHATWG: LE
        ("utf16be-no-bom", TEXT.encode("utf-16-be"), 'text/markdown; charset="utf-16be"', TEXT),
        (
            "utf16-bom-no-charset",
            codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"),
            "text/plain",
            TEXT,
        ),
        (
            "bom-beats-charset",
            codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"),
            "text/plain; charset=iso-8859-1",
            TEXT,
        ),
        (
            "utf8-bom-beats-charset",
            codecs.BOM_UTF8 + TEXT.encode(),
            "text/plain; charset=latin-1",
            TEXT,
        ),
        ("utf32", TEXT.encode("utf-32"), "text/plain; charset=utf-32", TEXT),
        ("latin-1", LATIN.encode("latin-1"), "text/plain; charset=ISO-8859-1", LATIN),
        (
            "cp1252",
            "“quoted” – €5\n".encode("cp1252"),
            "text/plain; charset=windows-1252",
            "“quoted” – €5\n",
        ),
        ("ascii-label-utf8-body", TEXT.encode(), "text/plain; charset=us-ascii", TEXT),
        ("utf8-bom", codecs.BOM_UTF8 + TEXT.encode(), "text/plain; charset=utf-8", TEXT),
    ],
)
async def test_body_decoded_by_bom_then_charset(
    server: HTTPServer, workspace: Path, name: str, body: bytes, content_type: str, expected: str
) -> None:
    server.expect_request(f"/{name}").respond_with_data(body, content_type=content_type)
    r = make_resolver(workspace)
    res = await fetch_one(r, workspace, server.url_for(f"/{name}"))
    assert (res.status, res.error, res.warning) == ("ok", None, None)
    assert res.tokens == plain_count(ENC, expected) > 0
    assert res.bytes == len(body)


@pytest.mark.parametrize("charset", ["x-bogus-charset", "zlib", "rot13", "base64"])
async def test_unknown_or_non_text_charset_reads_utf8_and_warns(
    server: HTTPServer, workspace: Path, charset: str, tmp_path: Path
) -> None:
    body = TEXT.encode() + b" and \xff invalid"
    server.expect_request("/odd").respond_with_data(
        body, content_type=f"text/plain; charset={charset}"
    )
    cache = TieredCache(str(tmp_path / "c.sqlite3"))
    r = make_resolver(workspace, cache)
    res = await fetch_one(r, workspace, server.url_for("/odd"))
    assert res.status == "ok"
    assert res.tokens == plain_count(ENC, body.decode("utf-8", "replace"))
    assert res.warning_code == "reference-encoding"
    assert f"unknown charset '{charset}'" in (res.warning or "") and "U+FFFD" in (res.warning or "")
    again = await fetch_one(r, workspace, server.url_for("/odd"))  # fresh in the cache
    assert again.cache == "memory" and again.tokens == res.tokens
    assert again.warning_code == "reference-encoding"
    cache.close()


async def test_charsets_bom_and_invalid_bytes(server: HTTPServer, workspace: Path) -> None:
    server.expect_request("/bom").respond_with_data(b"\xef\xbb\xbf" + BODY.encode())
    server.expect_request("/bad").respond_with_data(b"ok \xff\xfe bytes")
    server.expect_request("/odd16").respond_with_data(
        b"\xff\xfe" + "ab".encode("utf-16-le") + b"\x00", content_type="text/plain; charset=utf-16"
    )
    server.expect_request("/nul16").respond_with_data(
        "a\x00b".encode("utf-16"), content_type="text/plain; charset=utf-16"
    )
    r = make_resolver(workspace)
    bom = await fetch_one(r, workspace, server.url_for("/bom"))
    bad = await fetch_one(r, workspace, server.url_for("/bad"))
    odd = await fetch_one(r, workspace, server.url_for("/odd16"))
    nul = await fetch_one(r, workspace, server.url_for("/nul16"))
    assert bom.tokens == plain_count(ENC, BODY)
    assert bad.tokens == plain_count(ENC, b"ok \xff\xfe bytes".decode("utf-8", "replace"))
    assert bad.warning_code == "reference-encoding"
    assert odd.tokens == plain_count(ENC, "ab\ufffd") and odd.warning_code == "reference-encoding"
    assert nul.code == "reference-binary"  # U+0000 in UTF-16 text: binary, like NUL bytes


def test_body_decoder_sees_a_bom_split_across_chunks() -> None:
    body = codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be")
    for size in (1, 2, 3, 7):
        dec = BodyDecoder("text/plain", 10_000, "x")
        for k in range(0, len(body), size):
            dec.feed(body[k : k + size])
        out = dec.finish()
        assert (out.text, out.charset, out.invalid, out.size) == (
            TEXT,
            "utf-16-be",
            False,
            len(body),
        )
    tiny = BodyDecoder(None, 10, "x")
    tiny.feed(b"ok")  # shorter than any BOM: decided at the end
    assert tiny.finish().text == "ok"


async def test_headers_with_env_sent_but_never_logged(
    server: HTTPServer,
    workspace: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = "s3cr3t-token-value-42"
    monkeypatch.setenv("PT_TEST_TOKEN", secret)
    got: dict[str, str | None] = {}

    def handler(request: Request) -> Response:
        got[request.path] = request.headers.get("Authorization")
        return Response(BODY)

    server.expect_request("/api/data").respond_with_handler(handler)
    server.expect_request("/public").respond_with_handler(handler)
    r = make_resolver(
        workspace,
        http={
            "headers": [
                {
                    "pattern": f"http://localhost:{server.port}/api/*",
                    "headers": {"Authorization": "Bearer ${env:PT_TEST_TOKEN}"},
                }
            ]
        },
    )
    caplog.set_level(logging.DEBUG)
    await fetch_one(r, workspace, server.url_for("/api/data"))
    await fetch_one(r, workspace, server.url_for("/public"))
    assert got == {"/api/data": f"Bearer {secret}", "/public": None}
    assert caplog.records  # debug logging was on
    assert secret not in caplog.text


async def test_http_disabled(server: HTTPServer, workspace: Path) -> None:
    server.expect_request("/x").respond_with_data(BODY)
    r = make_resolver(workspace, http={"enabled": False})
    res = await fetch_one(r, workspace, server.url_for("/x"))
    assert res.code == "reference-fetch-failed" and "URL fetching is disabled" in (res.error or "")
    assert len(server.log) == 0 and r.http.requests_made == 0


async def test_bad_urls_refused(workspace: Path) -> None:
    settings, _ = parse_settings({})
    fetcher = HttpFetcher(settings.http, TieredCache(None), max_bytes=1000)
    for url, needle in [
        ("ftp://example.com/x", "Only http and https"),
        ("http://user:pw@example.com/x", "credentials"),
        ("http:///nohost", "no host"),
    ]:
        with pytest.raises(FetchError, match=needle):
            await fetcher.count(url, ENC)
    assert fetcher.requests_made == 0


def test_parse_retry_after() -> None:
    now = time.time()
    assert parse_retry_after("7", now) == 7.0
    when = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now + 30))
    assert 28 <= (parse_retry_after(when, now) or 0) <= 31
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


# ---- sharing ----------------------------------------------------------------------------


Item = tuple[Path, Sequence[Any], str, dict[str, str]]


async def resolve_all(r: ReferenceResolver, items: Sequence[Item]) -> list[list[ReferenceResult]]:
    """Every document at once, as the language server does after a settings change."""
    return list(
        await asyncio.gather(
            *(r.resolve(doc, occ, encoding=enc, variables=v) for doc, occ, enc, v in items)
        )
    )


async def test_ten_documents_three_urls_three_requests(server: HTTPServer, workspace: Path) -> None:
    def handler(request: Request) -> Response:
        time.sleep(0.05)  # keep the fetches in flight while the other documents ask
        return Response(f"{BODY} from {request.path}\n")

    for p in ("/u1", "/u2", "/u3"):
        server.expect_request(p).respond_with_handler(handler)
    urls = [server.url_for(p) for p in ("/u1", "/u2", "/u3")]
    r = make_resolver(workspace)
    items: list[Item] = []
    for i in range(10):
        text = (
            f"Doc {i}: " + " ".join(f"@{u}" for u in urls[: 1 + i % 3]) + f" and again @{urls[0]}"
        )
        items.append((workspace / f"d{i}.md", scan(text), ENC, {}))
    batches = await resolve_all(r, items)
    assert r.http.requests_made == 3 and len(server.log) == 3
    for i, results in enumerate(batches):
        n = 1 + i % 3
        expected = sum(plain_count(ENC, f"{BODY} from /u{k + 1}\n") for k in range(n))
        assert sum(x.tokens for x in results) == expected
        assert results[-1].duplicate  # the second @u1 in the same document
    assert r.graph.dependents(url_key(urls[0])) == {str(workspace / f"d{i}.md") for i in range(10)}
    # Within the TTL: zero requests.
    again = await resolve_all(r, items)
    assert r.http.requests_made == 3
    assert [sum(x.tokens for x in b) for b in again] == [sum(x.tokens for x in b) for b in batches]


async def test_variable_with_url_value(server: HTTPServer, workspace: Path) -> None:
    server.expect_request("/v").respond_with_data(BODY)
    r = make_resolver(workspace)
    doc = workspace / "doc.md"
    results = await r.resolve(
        doc,
        scan("{{ spec }} {{ spec }}"),
        encoding=ENC,
        variables={"spec": f"@{server.url_for('/v')}"},
    )
    assert [x.tokens for x in results] == [plain_count(ENC, BODY)] * 2
    assert r.http.requests_made == 1
    assert url_key(server.url_for("/v")) in r.graph.targets(str(doc))


@pytest.fixture
def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A certificate for ``localhost`` (not for 127.0.0.1) and its key."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cmd = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    cmd += ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"]
    cmd += ["-addext", "subjectAltName=DNS:localhost"]
    subprocess.run(cmd, check=True, capture_output=True)
    return cert, key


async def test_https_pinned_address_keeps_sni_and_certificate_check(
    workspace: Path, self_signed: tuple[Path, Path]
) -> None:
    cert, key = self_signed
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    tls = HTTPServer(host="127.0.0.1", port=0, ssl_context=server_ctx)
    tls.expect_request("/secure").respond_with_data(BODY)
    tls.start()
    client = httpx.AsyncClient(verify=ssl.create_default_context(cafile=str(cert)), trust_env=False)
    try:
        settings, _ = parse_settings({"http": {"retries": 0}})
        r = ReferenceResolver(settings, TieredCache(None), roots=[workspace], http_client=client)
        url = f"https://localhost:{tls.port}/secure"
        res = await fetch_one(r, workspace, url)
        assert res.status == "ok", res.error
        assert res.tokens == plain_count(ENC, BODY)
        # The certificate names localhost, not 127.0.0.1: asking for the address fails the check.
        bad = await fetch_one(r, workspace, f"https://127.0.0.1:{tls.port}/secure")
        assert bad.code == "reference-fetch-failed"
    finally:
        await client.aclose()
        tls.clear()
        tls.stop()


def test_http_library_loads_only_when_a_url_is_fetched(workspace: Path) -> None:
    """Start-up of a run without URLs does not pay for httpx; the first URL loads it."""
    (workspace / "a.md").write_text("plain file\n")
    code = textwrap.dedent(
        """
        import asyncio, sys
        from pathlib import Path
        from prompt_tokens.runtime import Runtime
        from prompt_tokens.settings import parse_settings

        root = Path(sys.argv[1])
        settings, _ = parse_settings({"cache": {"path": None}, "http": {"enabled": False}})

        async def main() -> None:
            rt = Runtime()
            rt.set_settings(str(root), settings, folders=[root])
            before = "httpx" in sys.modules
            await rt.count_document(str(root), str(root / "d.md"), "@a.md\\n")
            files_only = "httpx" in sys.modules
            res = await rt.count_document(
                str(root), str(root / "d.md"), "@https://example.invalid/x\\n"
            )
            print(before, files_only, "httpx" in sys.modules, res.references[0].code)
            await rt.aclose()

        asyncio.run(main())
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(workspace)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False", "True", "reference-fetch-failed"]
