"""SPEC "Trust": a repository's own .prompt-tokens.toml cannot loosen what the editor restricted."""

from __future__ import annotations

import pytest
from pytest_httpserver import HTTPServer

from tests.e2e.conftest import Session, count


@pytest.mark.settings({"http": {"enabled": False}, "references": {"allowOutsideWorkspace": False}})
async def test_workspace_file_cannot_reenable_fetching_or_outside_files(
    session: Session, httpserver: HTTPServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    httpserver.expect_request("/secret").respond_with_data("exfiltrated " * 50)
    outside = tmp_path_factory.mktemp("outside") / "notes.md"
    outside.write_text("outside the workspace\n")
    session.write(
        ".prompt-tokens.toml",
        "budget = 4000\n[http]\nenabled = true\n[references]\nallowOutsideWorkspace = true\n",
    )
    text = f"Fetch @{httpserver.url_for('/secret')} and read @{outside}\n"
    uri = session.open("p.md", text)
    status = await session.ready(uri)
    assert status["budget"] == 4000  # ordinary keys from the file still apply
    assert status["tokens"] == {"text": count(text), "references": 0, "total": count(text)}
    codes = sorted(str(d.code) for d in session.diagnostics(uri))
    assert codes == ["reference-fetch-failed", "reference-outside-workspace"]
    assert httpserver.log == []  # nothing was fetched
