"""Vendor counts against a real HTTP server on 127.0.0.1 speaking the vendors' shapes, with a
real SQLite cache file and the real job queue: request shapes, cache, retries, refused and
missing keys, refusals, and that the key never reaches logs, messages or the cache file."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from prompt_tokens.cache.tiered import TieredCache
from prompt_tokens.errors import RemoteAuthError, RemoteCountError, RemoteNotConfigured
from prompt_tokens.jobs.queue import JobQueue
from prompt_tokens.models import lookup_model
from prompt_tokens.remote.credentials import Secret, credentials_for
from prompt_tokens.remote.service import RemoteCounts, remote_wanted
from prompt_tokens.remote.vendors import api_model_id, build_request, parse_count, vendor_for
from prompt_tokens.settings import Settings, parse_settings
from tests.remote_standin import ANTHROPIC_PATH, StandIn, vendor_count

KEY = "sk-ant-test-0123456789-SECRET"
TEXT = "Review the change for risks, then list the tests to add.\n"
CLAUDE = lookup_model("claude-sonnet-4-5")
GEMINI = lookup_model("gemini-2.5-pro")


@pytest.fixture
def standin(httpserver: HTTPServer) -> StandIn:
    return StandIn(httpserver, KEY)


def settings_for(standin: StandIn, **remote: object) -> Settings:
    raw = {
        "cache": {"path": None},
        "remote": {"enabled": True, "anthropicBaseUrl": standin.base_url, **remote},
    }
    settings, problems = parse_settings(raw)
    assert problems == []
    return settings


class Harness:
    """A RemoteCounts on a real queue, waits recorded instead of slept."""

    def __init__(self, environ: dict[str, str], cache: TieredCache | None = None) -> None:
        self.queue = JobQueue(workers=2)
        self.waits: list[float] = []
        self.cache = cache or TieredCache(None)

        async def sleep(s: float) -> None:
            self.waits.append(s)

        self.remote = RemoteCounts(lambda: self.queue, environ=environ, sleep=sleep)

    async def count(self, settings: Settings, text: str = TEXT, model=CLAUDE, written=None):  # type: ignore[no-untyped-def]
        return await self.remote.count(settings, self.cache, model, written, text)

    async def close(self) -> None:
        await self.remote.aclose()
        await self.queue.shutdown()


# -- pure parts --------------------------------------------------------------------------------


def test_which_models_a_vendor_counts() -> None:
    assert vendor_for(CLAUDE) == "anthropic" and vendor_for(GEMINI) == "gemini"
    assert vendor_for(lookup_model("gpt-4o")) is None  # exact here
    assert vendor_for(lookup_model("llama-3.1-8b")) is None  # an estimate no vendor counts


def test_api_model_id_keeps_dated_ids_and_drops_display_names() -> None:
    assert api_model_id("claude-sonnet-4-5-20250929", CLAUDE) == "claude-sonnet-4-5-20250929"
    assert api_model_id("anthropic/claude-sonnet-4-5", CLAUDE) == "claude-sonnet-4-5"
    assert api_model_id("Claude Sonnet 4.5 (copilot)", CLAUDE) == "claude-sonnet-4-5"
    assert api_model_id(None, GEMINI) == "gemini-2.5-pro"


def test_request_shapes() -> None:
    a = build_request("anthropic", "https://h/", "claude-x", "hi")
    assert a.url == "https://h/v1/messages/count_tokens" and a.key_header == "x-api-key"
    assert a.headers["anthropic-version"] == "2023-06-01"
    assert a.body == {"model": "claude-x", "messages": [{"role": "user", "content": "hi"}]}
    g = build_request("gemini", "https://g", "gemini-2.5-pro", "hi")
    assert g.url == "https://g/v1beta/models/gemini-2.5-pro:countTokens"
    assert g.key_header == "x-goog-api-key" and g.body == {
        "contents": [{"parts": [{"text": "hi"}]}]
    }
    assert parse_count("anthropic", {"input_tokens": 12}) == 12
    assert parse_count("gemini", {"totalTokens": 3}) == 3
    assert parse_count("anthropic", {"input_tokens": "12"}) is None
    assert parse_count("gemini", {"input_tokens": 3}) is None


def test_secret_is_never_printed() -> None:
    s = Secret(KEY)
    assert KEY not in repr(s) and KEY not in str(s) and KEY not in f"{s}"
    assert s.scrub(f"echo {KEY}!") == "echo ***!"
    settings, _ = parse_settings({"remote": {"anthropicApiKey": KEY}})
    assert KEY not in repr(settings)
    creds = credentials_for("anthropic", settings.remote, {})
    assert KEY not in repr(creds) and creds.key.reveal() == KEY


def test_keys_from_settings_env_references_and_environment() -> None:
    settings, _ = parse_settings({"remote": {"anthropicApiKey": "${env:MY_KEY}"}})
    assert credentials_for("anthropic", settings.remote, {"MY_KEY": "k1"}).key.reveal() == "k1"
    env = {"ANTHROPIC_API_KEY": "k2", "ANTHROPIC_BASE_URL": "http://127.0.0.1:9/"}
    creds = credentials_for("anthropic", Settings().remote, env)
    assert (creds.key.reveal(), creds.base_url) == ("k2", "http://127.0.0.1:9")
    both = {"GOOGLE_API_KEY": "g", "GEMINI_API_KEY": "m"}
    assert credentials_for("gemini", Settings().remote, both).key.reveal() == "g"
    assert credentials_for("gemini", Settings().remote, {"GEMINI_API_KEY": "m"}).base_url == (
        "https://generativelanguage.googleapis.com"
    )
    with pytest.raises(RemoteNotConfigured, match="ANTHROPIC_API_KEY"):
        credentials_for("anthropic", Settings().remote, {})
    with pytest.raises(RemoteNotConfigured, match="ANTHROPIC_BASE_URL must be an http"):
        credentials_for(
            "anthropic",
            Settings().remote,
            {"ANTHROPIC_API_KEY": "k", "ANTHROPIC_BASE_URL": "file:///x"},
        )


def test_remote_wanted_needs_the_switch_network_and_a_vendor() -> None:
    on, _ = parse_settings({"remote": {"enabled": True}})
    assert remote_wanted(on, CLAUDE) and not remote_wanted(Settings(), CLAUDE)
    off_net, _ = parse_settings({"remote": {"enabled": True}, "http": {"enabled": False}})
    assert not remote_wanted(off_net, CLAUDE)
    assert not remote_wanted(on, lookup_model("gpt-4o"))


# -- against the stand-in server ---------------------------------------------------------------


async def test_anthropic_request_and_answer(standin: StandIn) -> None:
    h = Harness({"ANTHROPIC_API_KEY": KEY})
    try:
        got = await h.count(settings_for(standin), written="claude-sonnet-4-5-20250929")
    finally:
        await h.close()
    assert got is not None and got.tokens == vendor_count(TEXT) and got.cache == "miss"
    assert got.source == "Anthropic count_tokens API (claude-sonnet-4-5-20250929)"
    (req,) = standin.requests
    assert req["path"] == ANTHROPIC_PATH
    assert req["headers"]["X-Api-Key"] == KEY
    assert req["headers"]["Anthropic-Version"] == "2023-06-01"
    assert req["headers"]["Content-Type"] == "application/json"
    assert req["json"] == {
        "model": "claude-sonnet-4-5-20250929",
        "messages": [{"role": "user", "content": TEXT}],
    }


async def test_gemini_request_and_answer(standin: StandIn) -> None:
    settings, _ = parse_settings(
        {"remote": {"enabled": True, "geminiBaseUrl": standin.base_url}, "cache": {"path": None}}
    )
    h = Harness({"GEMINI_API_KEY": KEY})
    try:
        got = await h.count(settings, model=GEMINI)
    finally:
        await h.close()
    assert got is not None and got.tokens == vendor_count(TEXT) and got.vendor == "gemini"
    (req,) = standin.requests
    assert req["path"] == "/v1beta/models/gemini-2.5-pro:countTokens"
    assert req["headers"]["X-Goog-Api-Key"] == KEY
    assert req["json"] == {"contents": [{"parts": [{"text": TEXT}]}]}


async def test_same_content_is_asked_once_even_across_processes(
    standin: StandIn, tmp_path: Path
) -> None:
    path = tmp_path / "cache.sqlite3"
    h = Harness({"ANTHROPIC_API_KEY": KEY}, TieredCache(str(path)))
    try:
        first, second = await asyncio.gather(
            h.count(settings_for(standin)), h.count(settings_for(standin))
        )
        again = await h.count(settings_for(standin))
    finally:
        await h.close()
        h.cache.close()
    assert first == second and again is not None and again.cache == "memory"
    assert len(standin.requests) == 1  # concurrent asks shared one request
    fresh = Harness({"ANTHROPIC_API_KEY": KEY}, TieredCache(str(path)))  # a new "process"
    try:
        later = await fresh.count(settings_for(standin))
    finally:
        await fresh.close()
        fresh.cache.close()
    assert later is not None and later.cache == "disk" and later.tokens == vendor_count(TEXT)
    assert len(standin.requests) == 1
    data = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert KEY.encode() not in data and b"Review the change" not in data
    another_model = Harness({"ANTHROPIC_API_KEY": KEY}, TieredCache(str(path)))
    try:
        await another_model.count(settings_for(standin), model=lookup_model("claude-opus-4-5"))
    finally:
        await another_model.close()
        another_model.cache.close()
    assert len(standin.requests) == 2  # cached by (model, sha256): another model asks


async def test_429_and_5xx_are_retried_with_backoff(standin: StandIn) -> None:
    standin.fail(429, headers={"Retry-After": "2"})
    standin.fail(529)
    standin.fail(503)
    h = Harness({"ANTHROPIC_API_KEY": KEY})
    try:
        got = await h.count(settings_for(standin))
    finally:
        await h.close()
    assert got is not None and got.tokens == vendor_count(TEXT)
    assert len(standin.requests) == 4
    assert h.waits[0] == 2.0  # Retry-After obeyed
    assert len(h.waits) == 3 and all(w > 0 for w in h.waits)


async def test_vendor_down_after_the_retries_is_one_error(standin: StandIn) -> None:
    standin.fail(500, times=3)
    h = Harness({"ANTHROPIC_API_KEY": KEY})
    try:
        with pytest.raises(RemoteCountError, match=r"HTTP 500.*after 3 attempts") as info:
            await h.count(settings_for(standin, retries=2))
    finally:
        await h.close()
    assert not isinstance(info.value, RemoteAuthError) and not info.value.repeated
    assert len(standin.requests) == 3


async def test_refused_key_is_said_once_and_not_tried_again(
    standin: StandIn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "sk-ant-wrong-key-ABCDEFGHIJ"
    h = Harness({"ANTHROPIC_API_KEY": wrong})
    try:
        with pytest.raises(RemoteAuthError) as first:
            await h.count(settings_for(standin))
        with pytest.raises(RemoteAuthError) as second:
            await h.count(settings_for(standin), text="another text")
    finally:
        await h.close()
    assert "refused the API key (HTTP 401: invalid x-api-key)" in str(first.value)
    assert "ANTHROPIC_API_KEY" in str(first.value) and not first.value.repeated
    assert len(standin.requests) == 1  # the refused key was not sent again
    assert "not asked again" in str(second.value)
    assert wrong not in caplog.text and wrong not in str(first.value) + str(second.value)


async def test_a_server_echoing_the_key_is_scrubbed(httpserver: HTTPServer) -> None:
    httpserver.expect_request(ANTHROPIC_PATH).respond_with_json(
        {"error": {"message": f"bad request for key {KEY}"}}, status=400
    )
    settings, _ = parse_settings(
        {"remote": {"enabled": True, "anthropicBaseUrl": httpserver.url_for("/")}}
    )
    h = Harness({"ANTHROPIC_API_KEY": KEY})
    try:
        with pytest.raises(RemoteCountError) as info:
            await h.count(settings)
    finally:
        await h.close()
    assert "HTTP 400: bad request for key ***" in str(info.value) and KEY not in str(info.value)


async def test_missing_key_off_switch_and_untrusted_network_make_no_request(
    standin: StandIn,
) -> None:
    h = Harness({})
    try:
        with pytest.raises(RemoteNotConfigured, match="ANTHROPIC_API_KEY"):
            await h.count(settings_for(standin))
        with pytest.raises(RemoteNotConfigured, match="ANTHROPIC_API_KEY") as again:
            await h.count(settings_for(standin))
        assert again.value.repeated  # said once
        off, _ = parse_settings({"remote": {"anthropicApiKey": KEY}})
        with pytest.raises(RemoteNotConfigured, match="remote counting is off"):
            await h.count(off)
        untrusted, _ = parse_settings(
            {
                "remote": {
                    "enabled": True,
                    "anthropicApiKey": KEY,
                    "anthropicBaseUrl": standin.base_url,
                },
                "http": {"enabled": False},
            }
        )
        with pytest.raises(RemoteNotConfigured, match=r"http\.enabled is false"):
            await h.count(untrusted)
    finally:
        await h.close()
    assert standin.requests == []


async def test_blocked_network_is_refused_before_connecting(standin: StandIn) -> None:
    settings, _ = parse_settings(
        {
            "remote": {"enabled": True, "anthropicBaseUrl": standin.base_url},
            "http": {"blockedNetworks": ["127.0.0.0/8"]},
        }
    )
    h = Harness({"ANTHROPIC_API_KEY": KEY})
    try:
        with pytest.raises(RemoteCountError, match="blocked network"):
            await h.count(settings)
    finally:
        await h.close()
    assert standin.requests == []


async def test_no_vendor_no_request(standin: StandIn) -> None:
    h = Harness({"ANTHROPIC_API_KEY": KEY})
    try:
        assert await h.count(settings_for(standin), model=lookup_model("gpt-4o")) is None
        assert await h.count(settings_for(standin), model=lookup_model("llama-3.1-8b")) is None
    finally:
        await h.close()
    assert standin.requests == []
