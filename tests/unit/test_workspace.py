"""A repository's ``.prompt-tokens.toml`` is untrusted input, loaded from real files.

Whatever the file is (random bytes, a directory, a FIFO, a gigabyte, unreadable), loading gives
one warning naming it and no settings from it, and counting goes on; a workspace file can never
add ``http.headers``, so it can never get ``${env:…}`` expanded and sent anywhere.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer

from prompt_tokens.settings import deep_merge, merge_workspace, parse_settings, settings_to_json
from prompt_tokens.workspace import CONFIG_FILE, MAX_CONFIG_BYTES, find_root, load_config
from tests.conftest import plain_count

SECRET = "s3cr3t-value-that-must-never-leave"
ENV = {"PT_SECRET": SECRET, "PT_TOKEN": "user-token"}
EXFIL_TOML = (
    'budget = 1234\n[[http.headers]]\npattern = "*"\n'
    'headers = { X-Exfil = "${env:PT_SECRET}", Authorization = "literal" }\n'
)
USER_HEADERS = {
    "http": {
        "headers": [
            {"pattern": "https://api.example.com/*", "headers": {"X-Key": "${env:PT_TOKEN}"}}
        ]
    }
}


def _write(root: Path, content: bytes) -> Path:
    file = root / CONFIG_FILE
    file.write_bytes(content)
    return file


def _one_warning(root: Path, problems: list[str], fragment: str) -> None:
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{root / CONFIG_FILE}: ")
    assert fragment in problems[0] and problems[0].endswith("; its settings are ignored")


# ---- files that are not settings ---------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"\xff\xfe\x00\x81garbage\x80\x9d", "is not UTF-8 text (byte 0xff at offset 0)"),
        (b"budget = 3\n\x00\x00\x00\n", "is not valid TOML"),
        (b'budget = 3\nmodel = "a\x00b"\n', "is not valid TOML"),
        (b"a = " + b"[" * 50_000, "nested too deeply"),
        (b"# " + b"x" * MAX_CONFIG_BYTES + b"\nbudget = 3\n", "is larger than 1,048,576 bytes"),
    ],
    ids=["invalid-utf8", "nul-bytes", "nul-in-string", "deep-nesting", "huge"],
)
def test_bytes_that_are_not_settings(tmp_path: Path, content: bytes, fragment: str) -> None:
    _write(tmp_path, content)
    raw, problems = load_config(tmp_path)
    assert raw == {}
    _one_warning(tmp_path, problems, fragment)


def test_a_directory_named_like_the_file(tmp_path: Path) -> None:
    (tmp_path / CONFIG_FILE).mkdir()
    raw, problems = load_config(tmp_path)
    assert raw == {}
    _one_warning(tmp_path, problems, "is not a regular file")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX-only")
@pytest.mark.timeout(30)
def test_a_fifo_nobody_writes_to_does_not_hang(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / CONFIG_FILE)
    raw, problems = load_config(tmp_path)
    assert raw == {}
    _one_warning(tmp_path, problems, "is not a regular file")


def test_a_symlink_loop(tmp_path: Path) -> None:
    (tmp_path / CONFIG_FILE).symlink_to(CONFIG_FILE)
    raw, problems = load_config(tmp_path)
    assert raw == {}
    _one_warning(tmp_path, problems, "cannot be read (Too many levels of symbolic links)")


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="needs Linux /proc")
def test_a_file_whose_read_fails(tmp_path: Path) -> None:
    """A regular file that opens but cannot be read (EIO), which works even as root."""
    (tmp_path / CONFIG_FILE).symlink_to("/proc/self/mem")
    raw, problems = load_config(tmp_path)
    assert raw == {}
    _one_warning(tmp_path, problems, "cannot be read (Input/output error)")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads a mode-000 file")
def test_an_unreadable_file(tmp_path: Path) -> None:
    file = _write(tmp_path, b"budget = 3\n")
    file.chmod(0)
    try:
        raw, problems = load_config(tmp_path)
    finally:
        file.chmod(0o644)
    assert raw == {}
    _one_warning(tmp_path, problems, "cannot be read (Permission denied)")


def test_an_absent_file_is_no_problem(tmp_path: Path) -> None:
    assert load_config(tmp_path) == ({}, [])
    (tmp_path / CONFIG_FILE).symlink_to("nowhere")  # dangling: as good as absent
    assert load_config(tmp_path) == ({}, [])


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(content=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_bytes_load_without_an_exception(tmp_path: Path, content: bytes) -> None:
    _write(tmp_path, content)
    raw, problems = load_config(tmp_path)
    assert isinstance(raw, dict) and len(problems) <= 1
    assert all(p.startswith(str(tmp_path / CONFIG_FILE)) for p in problems)
    parse_settings(raw)  # whatever was read parses (with messages), never raises


def test_find_root_needs_a_regular_settings_file_or_git(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / CONFIG_FILE).mkdir()  # not a marker
    doc = tmp_path / "a" / "b" / "p.md"
    doc.write_text("hi")
    assert find_root(doc, stop=tmp_path) is None
    _write(tmp_path / "a" / "b", b"budget = 3\n")
    assert find_root(doc) == tmp_path / "a" / "b"


# ---- headers: only the user's own settings send them -----------------------------------


def test_a_workspace_file_cannot_add_headers_in_the_editor(tmp_path: Path) -> None:
    """The LSP's path: load_config, then merge_workspace over the editor's settings."""
    _write(tmp_path, EXFIL_TOML.encode())
    raw, problems = load_config(tmp_path)
    assert problems == [
        f"{tmp_path / CONFIG_FILE}: http.headers ignored: a workspace file cannot send headers"
    ]
    settings, more = parse_settings(merge_workspace(USER_HEADERS, raw))
    assert more == [] and settings.budget == 1234  # the rest of the file applies
    for url in ("https://evil.example/x", "https://api.example.com/v1"):
        sent = settings.http.headers_for(url, ENV)
        assert SECRET not in json.dumps(sent) and "X-Exfil" not in sent
    assert settings.http.headers_for("https://api.example.com/v1", ENV) == {"X-Key": "user-token"}
    assert "PT_SECRET" not in json.dumps(settings_to_json(settings))


def test_merge_workspace_drops_headers_from_any_workspace_table() -> None:
    workspace = {"http": {"headers": [{"pattern": "*", "headers": {"X": "${env:PT_SECRET}"}}]}}
    settings, problems = parse_settings(merge_workspace(USER_HEADERS, workspace))
    assert problems == []
    assert [r.pattern for r in settings.http.headers] == ["https://api.example.com/*"]
    assert settings.http.headers_for("https://evil.example/", ENV) == {}


def test_a_workspace_file_cannot_add_headers_in_the_cli(tmp_path: Path) -> None:
    """The CLI's path: load_config, then the flags over it (cli.settings_for)."""
    _write(tmp_path, EXFIL_TOML.encode())
    raw, problems = load_config(tmp_path)
    assert len(problems) == 1 and "http.headers ignored" in problems[0]
    settings, _ = parse_settings(deep_merge(raw, {"budget": 99}))
    assert settings.http.headers == [] and settings.budget == 99
    assert SECRET not in json.dumps(settings.http.headers_for("https://evil.example/x", ENV))


def _cli(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "prompt_tokens", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )


def test_the_cli_never_sends_a_workspace_files_headers(
    workspace: Path, httpserver: HTTPServer
) -> None:
    body = "The endpoint answers with items.\n"
    httpserver.expect_request("/doc").respond_with_data(body, content_type="text/plain")
    prompt = f"Read @{httpserver.url_for('/doc')} first.\n"
    (workspace / "p.md").write_text(prompt)
    _write(workspace, EXFIL_TOML.encode())
    run = _cli("count", "--json", "--no-cache", "p.md", cwd=workspace, env=ENV)
    assert run.returncode == 0, run.stderr
    assert f"{workspace / CONFIG_FILE}: http.headers ignored" in run.stderr
    (request, _response), *_ = httpserver.log
    assert all(SECRET not in v and k != "X-Exfil" for k, v in request.headers.items())
    assert "Authorization" not in request.headers
    (result,) = json.loads(run.stdout)["files"]
    assert result["budget"] == 1234  # the rest of the file still applies
    assert result["tokens"]["references"] == plain_count("cl100k_base", body)


# ---- counting goes on ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda root: _write(root, b"\xff\xfe\x00\x81garbage"),
        lambda root: _write(root, b"budget = 3\x00\n"),
        lambda root: (root / CONFIG_FILE).mkdir(),
    ],
    ids=["random-bytes", "nul-bytes", "directory"],
)
def test_the_cli_warns_once_and_counts_as_usual(workspace: Path, make: object) -> None:
    text = "You are a helpful assistant.\nAnswer in one line.\n"
    (workspace / "p.md").write_text(text)
    make(workspace)  # type: ignore[operator]
    run = _cli("count", "--json", "--no-cache", "p.md", cwd=workspace, env={})
    assert run.returncode == 0, run.stderr
    assert "internal error" not in run.stderr and "Traceback" not in run.stderr
    assert run.stderr.count(str(workspace / CONFIG_FILE)) == 1
    (result,) = json.loads(run.stdout)["files"]
    assert result["tokens"]["total"] == plain_count("cl100k_base", text)
    assert result["budget"] == 8192  # nothing from the file applied
