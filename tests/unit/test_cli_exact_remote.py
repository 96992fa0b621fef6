"""``count --exact-remote`` as a user runs it: a real CLI process, a stand-in vendor on
127.0.0.1, a real cache file. Without the flag a Claude prompt is an estimate, marked; with it,
the vendor's count, asked once per content (the second run is a cache hit)."""

from __future__ import annotations

import json
from pathlib import Path

from pytest_httpserver import HTTPServer

from prompt_tokens.models import estimate_tokens, lookup_model
from tests.conftest import plain_count
from tests.remote_standin import StandIn, vendor_count
from tests.unit.cli_helpers import put, run

KEY = "sk-ant-cli-test-KEY-7"
DOC = "---\nmodel: claude-sonnet-4-5\n---\nSummarise the incident and list follow-ups.\n"


def _count(ws: Path, standin: StandIn, *flags: str) -> tuple[dict, str]:
    env = {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": standin.base_url}
    r = run("count", "--json", "--cache", str(ws / "c.sqlite3"), *flags, "p.md", cwd=ws, env=env)
    assert r.returncode == 0, r.stderr
    assert KEY not in r.stdout + r.stderr
    return json.loads(r.stdout)["files"][0], r.stderr


def test_estimate_without_the_flag_exact_with_it(workspace: Path, httpserver: HTTPServer) -> None:
    standin = StandIn(httpserver, KEY)
    put(workspace, "p.md", DOC)
    local = plain_count("o200k_base", DOC)

    f, _ = _count(workspace, standin)
    assert (f["exact"], f["tokens"]["total"]) == (
        False,
        estimate_tokens(local, lookup_model("claude-sonnet-4-5")),
    )
    assert f["method"].startswith("estimate")
    assert standin.requests == []  # off by default: nothing leaves the machine

    f, _ = _count(workspace, standin, "--exact-remote")
    assert (f["exact"], f["tokens"]["total"]) == (True, vendor_count(DOC))
    assert len(standin.requests) == 1

    f, _ = _count(workspace, standin, "--exact-remote")
    assert f["tokens"]["total"] == vendor_count(DOC)
    assert len(standin.requests) == 1  # the same content is never asked twice
    assert KEY.encode() not in (workspace / "c.sqlite3").read_bytes()


def test_a_refused_key_is_one_line_and_the_estimate_stays(
    workspace: Path, httpserver: HTTPServer
) -> None:
    standin = StandIn(httpserver, "another-key")
    put(workspace, "p.md", DOC)
    f, stderr = _count(workspace, standin, "--exact-remote")
    assert f["exact"] is False
    assert "Traceback" not in stderr
    assert [line for line in stderr.splitlines() if "p.md" in line and "key" in line.lower()]


def test_the_table_marks_an_estimate(workspace: Path) -> None:
    put(workspace, "p.md", DOC)
    r = run("count", "--no-cache", "p.md", cwd=workspace)
    assert r.returncode == 0, r.stderr
    row = next(line for line in r.stdout.splitlines() if line.startswith("p.md"))
    assert "≈" in row
