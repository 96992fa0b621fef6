"""``count --exact-remote`` below the CLI: ``Runtime.count_files`` then
``cli.exact_remote.exact_remote``, settings read as the CLI reads them (workspace file + the
flag's override), against a real stand-in vendor server on 127.0.0.1 and a real cache file."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from prompt_tokens.cli.exact_remote import exact_remote
from prompt_tokens.models import cost_usd, estimate_tokens, lookup_model
from prompt_tokens.results import DocumentResult
from prompt_tokens.runtime import CountRequest, Runtime
from prompt_tokens.settings import deep_merge, parse_settings
from prompt_tokens.workspace import load_config
from tests.conftest import plain_count
from tests.remote_standin import StandIn, vendor_count

KEY = "sk-ant-runtime-test-KEY-42"
CLAUDE = lookup_model("claude-sonnet-4-5")
DOC = "---\nmodel: claude-sonnet-4-5\n---\nReview the change for risks and list tests.\n"
FLAG = {"remote": {"enabled": True}}  # what --exact-remote adds to the user's own settings


@pytest.fixture
def standin(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> StandIn:
    s = StandIn(httpserver, KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", s.base_url)
    return s


async def run(
    ws: Path, names: list[str], flags: dict[str, Any] | None = None
) -> tuple[list[DocumentResult | BaseException], list[str], list[str]]:
    """The CLI's path: settings from the workspace file + flags, count, then the vendor."""
    toml, warnings = load_config(ws)
    settings, problems = parse_settings(
        deep_merge(
            toml,
            deep_merge(
                {"cache": {"path": str(ws / ".cache.sqlite3")}}, FLAG if flags is None else flags
            ),
        )
    )
    rt = Runtime(workers=2)
    try:
        rt.set_settings(str(ws), settings, folders=[ws])
        requests = [CountRequest(str(ws), n, str(ws / n)) for n in names]
        results = await rt.count_files(requests)
        done, messages = await exact_remote(rt, requests, results)
    finally:
        await rt.aclose()
    return done, messages, warnings + problems


async def test_exact_count_replaces_the_estimate_and_is_cached(
    workspace: Path, standin: StandIn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    (workspace / "p.md").write_text(DOC)
    done, messages, _ = await run(workspace, ["p.md"])
    (r,) = done
    assert isinstance(r, DocumentResult) and messages == []
    exact = vendor_count(DOC)
    assert exact != estimate_tokens(plain_count("o200k_base", DOC), CLAUDE)
    assert r.tokens.total == exact and r.exact is True
    assert r.method == "Anthropic count_tokens API (claude-sonnet-4-5)"
    js = r.to_json()
    assert (js["exact"], js["tokens"]["total"]) == (True, exact)
    assert js["cost_usd"] == cost_usd(exact, CLAUDE)
    assert r.local_tokens.text == plain_count("o200k_base", DOC)
    again, _, _ = await run(workspace, ["p.md"])  # a second run: from the cache file
    assert isinstance(again[0], DocumentResult) and again[0].tokens.total == exact
    assert len(standin.requests) == 1
    assert KEY not in caplog.text
    assert KEY.encode() not in (workspace / ".cache.sqlite3").read_bytes()


async def test_references_are_scaled_by_the_measured_ratio(
    workspace: Path, standin: StandIn
) -> None:
    notes = "Notes: the service answers in JSON with an error code.\n" * 3
    (workspace / "notes.md").write_text(notes)
    doc = DOC + "See @notes.md\n"
    (workspace / "p.md").write_text(doc)
    (r,), _, _ = await run(workspace, ["p.md"])
    assert isinstance(r, DocumentResult)
    local_text, local_refs = plain_count("o200k_base", doc), plain_count("o200k_base", notes)
    assert r.tokens.text == vendor_count(doc)
    expected_refs = (2 * local_refs * vendor_count(doc) + local_text) // (2 * local_text)
    assert r.tokens.references == expected_refs
    assert r.exact is False and r.method is not None and r.method.startswith("text exact")
    (req,) = standin.requests  # only the document's own text is sent
    assert req["json"]["messages"][0]["content"] == doc


async def test_budget_is_judged_on_the_exact_count(workspace: Path, standin: StandIn) -> None:
    doc = DOC.replace("---\nReview", "max_tokens: 8\n---\nReview")
    (workspace / "p.md").write_text(doc)
    (r,), _, _ = await run(workspace, ["p.md"])
    assert isinstance(r, DocumentResult)
    n = vendor_count(doc)
    budget = [d for d in r.diagnostics if d.code.startswith("budget-")]
    assert [d.message for d in budget] == [
        f"Prompt uses {n:,} of 8 tokens ({(200 * n + 8) // 16}%)"
    ]


async def test_retries_then_exact(workspace: Path, standin: StandIn) -> None:
    standin.fail(429, headers={"Retry-After": "0"})
    standin.fail(503, headers={"Retry-After": "0"})
    (workspace / "p.md").write_text(DOC)
    (r,), messages, _ = await run(workspace, ["p.md"])
    assert isinstance(r, DocumentResult) and r.exact and messages == []
    assert len(standin.requests) == 3


async def test_missing_key_is_one_message_and_estimates_stay(
    workspace: Path, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    (workspace / "a.md").write_text(DOC)
    (workspace / "b.md").write_text(DOC + "More.\n")
    done, messages, _ = await run(workspace, ["a.md", "b.md"])
    assert len(messages) == 1 and "need an API key: set ANTHROPIC_API_KEY" in messages[0]
    assert all(isinstance(r, DocumentResult) and not r.exact for r in done)
    assert standin.requests == []


async def test_invalid_key_is_one_message(
    workspace: Path, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-invalid")
    (workspace / "a.md").write_text(DOC)
    (workspace / "b.md").write_text(DOC + "More.\n")
    done, messages, _ = await run(workspace, ["a.md", "b.md"])
    assert len(messages) == 1 and "refused the API key (HTTP 401" in messages[0]
    assert "sk-ant-invalid" not in messages[0]
    assert all(isinstance(r, DocumentResult) and not r.exact for r in done)
    # both files may be asked at once before the first refusal comes back; never more
    assert 1 <= len(standin.requests) <= 2


async def test_untrusted_workspace_file_cannot_turn_it_on(
    workspace: Path, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_BASE_URL")
    (workspace / ".prompt-tokens.toml").write_text(
        "[remote]\nenabled = true\n"
        f'anthropicApiKey = "sk-from-the-repo"\nanthropicBaseUrl = "{standin.base_url}"\n'
    )
    (workspace / "p.md").write_text(DOC)
    done, messages, warnings = await run(workspace, ["p.md"], flags={})
    assert any(
        "remote.anthropicApiKey, remote.anthropicBaseUrl, remote.enabled ignored" in w
        for w in warnings
    )
    (r,) = done
    assert isinstance(r, DocumentResult) and not r.exact
    assert messages == [
        "p.md: remote counting is off: turn on remote.enabled in your settings "
        "(CLI: --exact-remote); showing the estimate"
    ]
    assert standin.requests == []
