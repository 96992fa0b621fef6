"""URL references against a real HTTP server on 127.0.0.1 (pytest-httpserver): caching with
TTL and ETag/Last-Modified revalidation, retries (5xx, 429 + Retry-After, timeouts) and no
retries on 4xx, blocked networks on redirects, size/binary caps, charsets, credentials headers
that reach the server but never the logs, and coalescing across documents."""

from __future__ import annotations

import asyncio
import logging
import shutil
import ssl
import subprocess
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


async def test_redirect_to_metadata_address_is_blocked_before_connecting(
    server: HTTPServer, workspace: Path
) -> None:
    server.expect_request("/go").respond_with_data(
        "", status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"}
    )
    r = make_resolver(workspace)
    res = await fetch_one(r, workspace, server.url_for("/go"))
    assert res.code == "reference-fetch-failed"
    assert "blocked network" in (res.error or "") and "169.254.0.0/16" in (res.error or "")
    assert r.http.requests_made == 1  # the first hop only: the blocked hop was never sent


async def test_host_resolving_into_blocked_network(workspace: Path) -> None:
    async def fake_dns(host: str, port: int) -> list[str]:
        return {"meta.test": ["169.254.169.254"], "mapped.test": ["::ffff:169.254.1.1"]}[host]

    r = make_resolver(workspace, http_options={"resolve_host": fake_dns})
    for url in ("http://meta.test/x", "http://mapped.test/x", "http://[fe80::1]/x"):
        res = await fetch_one(r, workspace, url)
        assert res.code == "reference-fetch-failed" and "blocked network" in (res.error or "")
    assert r.http.requests_made == 0


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


async def test_charsets_bom_and_invalid_bytes(server: HTTPServer, workspace: Path) -> None:
    server.expect_request("/latin").respond_with_data(
        "café crème".encode("latin-1"), content_type="text/plain; charset=ISO-8859-1"
    )
    server.expect_request("/bom").respond_with_data(b"\xef\xbb\xbf" + BODY.encode())
    server.expect_request("/bad").respond_with_data(b"ok \xff\xfe bytes")
    r = make_resolver(workspace)
    latin = await fetch_one(r, workspace, server.url_for("/latin"))
    bom = await fetch_one(r, workspace, server.url_for("/bom"))
    bad = await fetch_one(r, workspace, server.url_for("/bad"))
    assert latin.tokens == plain_count(ENC, "café crème")
    assert bom.tokens == plain_count(ENC, BODY)
    assert bad.tokens == plain_count(ENC, b"ok \xff\xfe bytes".decode("utf-8", "replace"))
    assert bad.warning_code == "reference-encoding"


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


async def test_ten_documents_three_urls_three_requests(server: HTTPServer, workspace: Path) -> None:
    def handler(request: Request) -> Response:
        time.sleep(0.05)  # keep the fetches in flight while the other documents ask
        return Response(f"{BODY} from {request.path}\n")

    for p in ("/u1", "/u2", "/u3"):
        server.expect_request(p).respond_with_handler(handler)
    urls = [server.url_for(p) for p in ("/u1", "/u2", "/u3")]
    r = make_resolver(workspace)
    items: list[tuple[Path | None, Sequence[Any], str, dict[str, str]]] = []
    for i in range(10):
        text = (
            f"Doc {i}: " + " ".join(f"@{u}" for u in urls[: 1 + i % 3]) + f" and again @{urls[0]}"
        )
        items.append((workspace / f"d{i}.md", scan(text), ENC, {}))
    batches = await r.resolve_many(items, limit=10)
    assert r.http.requests_made == 3 and len(server.log) == 3
    for i, results in enumerate(batches):
        n = 1 + i % 3
        expected = sum(plain_count(ENC, f"{BODY} from /u{k + 1}\n") for k in range(n))
        assert sum(x.tokens for x in results) == expected
        assert results[-1].duplicate  # the second @u1 in the same document
    assert r.graph.dependents(url_key(urls[0])) == {str(workspace / f"d{i}.md") for i in range(10)}
    # Within the TTL: zero requests.
    again = await r.resolve_many(items, limit=10)
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
