"""Exit codes for what a user types (SPEC "CI"): 0 ok, 1 over budget, 2 usage and inputs that
cannot be counted — each one clear line, the other files still counted, never a hang."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from tests.conftest import plain_count
from tests.unit.cli_helpers import one_line, put, run

DOC = "You are a careful reviewer.\n"


@pytest.fixture
def ws(workspace: Path) -> Path:
    put(workspace, "good.md", DOC)
    return workspace


def good_total(stdout: str) -> int:
    (f,) = json.loads(stdout)["files"]
    assert f["path"] == "good.md"
    return int(f["tokens"]["total"])


def test_fifo_by_name_is_refused_without_opening_it(ws: Path) -> None:
    os.mkfifo(ws / "fifo.md")  # nobody ever writes: opening it would block forever
    r = run("count", "--json", "--no-cache", "fifo.md", "good.md", cwd=ws, timeout=60)
    assert r.returncode == 2
    assert one_line(r.stderr) == "prompt-tokens: fifo.md: a FIFO, not a file to count; not read"
    assert good_total(r.stdout) == plain_count("cl100k_base", DOC)


def test_fifo_inside_a_folder_is_skipped(ws: Path) -> None:
    os.mkfifo(ws / "pipe.md")
    r = run("count", "--json", "--no-cache", ".", cwd=ws, timeout=60)
    assert r.returncode == 0, r.stderr
    assert good_total(r.stdout) == plain_count("cl100k_base", DOC)


def test_symlink_loop_by_name(ws: Path) -> None:
    (ws / "a.md").symlink_to(ws / "b.md")
    (ws / "b.md").symlink_to(ws / "a.md")
    r = run("count", "--json", "--no-cache", "a.md", "good.md", cwd=ws)
    assert r.returncode == 2
    assert one_line(r.stderr) == "prompt-tokens: a.md: a symbolic link loop; not read"
    assert good_total(r.stdout) == plain_count("cl100k_base", DOC)


def test_symlink_loop_inside_a_folder_is_skipped(ws: Path) -> None:
    (ws / "loop.md").symlink_to(ws / "loop.md")
    r = run("count", "--json", "--no-cache", ".", cwd=ws)
    assert r.returncode == 0, r.stderr
    assert good_total(r.stdout) == plain_count("cl100k_base", DOC)


def test_missing_folder_and_file(ws: Path) -> None:
    r = run("check", "--no-cache", "no-such-dir", cwd=ws)
    assert r.returncode == 2
    assert one_line(r.stderr) == "prompt-tokens: no-such-dir: no such file or folder"


def test_a_missing_name_wins_over_a_budget_verdict(ws: Path) -> None:
    """Over budget (1) and a typo (2) together exit 2: the verdict is incomplete."""
    r = run("check", "--no-cache", "--budget", "2", "good.md", "typo.md", cwd=ws)
    assert r.returncode == 2
    assert "prompt-tokens: typo.md: no such file or folder" in r.stderr
    assert "good.md: " in r.stderr and "exceed the budget of 2" in r.stderr


def test_binary_in_a_folder_is_skipped_with_a_warning(ws: Path) -> None:
    (ws / "blob.txt").write_bytes(b"\x00\x01binary")
    r = run("count", "--json", "--no-cache", ".", cwd=ws)
    assert r.returncode == 0
    assert good_total(r.stdout) == plain_count("cl100k_base", DOC)
    line = one_line(r.stderr)
    assert line.startswith("prompt-tokens: warning: ") and "blob.txt" in line
    assert "binary" in line and line.endswith("; skipped")


def test_unreadable_file_by_name(ws: Path) -> None:
    """A regular file whose read fails (EIO): ``/proc/self/mem`` of the CLI process itself,
    which every user, root included, cannot read from offset 0."""
    r = run("count", "--json", "--no-cache", "/proc/self/mem", "good.md", cwd=ws)
    assert r.returncode == 2
    assert one_line(r.stderr).startswith("prompt-tokens: /proc/self/mem: ")
    assert good_total(r.stdout) == plain_count("cl100k_base", DOC)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file whatever its mode")
def test_file_without_read_permission(ws: Path) -> None:
    (ws / "secret.md").write_text("x")
    (ws / "secret.md").chmod(0)
    r = run("count", "--no-cache", "secret.md", cwd=ws)
    assert r.returncode == 2
    assert one_line(r.stderr) == "prompt-tokens: secret.md: Permission denied"


def test_root_that_is_not_a_folder(ws: Path) -> None:
    r = run("count", "--root", "good.md", "good.md", cwd=ws)
    assert r.returncode == 2
    assert one_line(r.stderr) == "prompt-tokens: --root good.md: not a folder"


@pytest.mark.parametrize(
    ("port", "why"),
    [
        ("0", "must be between 1 and 65535, not 0"),
        ("70000", "must be between 1 and 65535, not 70000"),
        ("-1", "must be between 1 and 65535, not -1"),
        ("http", "must be a port number, not 'http'"),
    ],
)
def test_lsp_port_out_of_range(ws: Path, port: str, why: str) -> None:
    r = run("lsp", "--tcp", "--port", port, cwd=ws, timeout=60)
    assert r.returncode == 2
    assert one_line(r.stderr).startswith(f"prompt-tokens: argument --port: {why} (see ")


def test_lsp_port_in_use(ws: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = run("lsp", "--tcp", "--port", str(port), cwd=ws, timeout=60)
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.splitlines() if "cannot listen" in ln]
    assert lines == [f"prompt-tokens: cannot listen on 127.0.0.1:{port}: Address already in use"]
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr


def test_lsp_host_that_does_not_resolve(ws: Path) -> None:
    r = run("lsp", "--tcp", "--host", "no-such-host.invalid", "--port", "2999", cwd=ws, timeout=60)
    assert r.returncode == 2
    assert "cannot listen on no-such-host.invalid:2999: " in r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--max-increase", "10%"), "--max-increase compares with a base: give --base REV too"),
        (("--base", "HEAD", "--max-increase", "lots"), "--max-increase must be a number"),
        (("--json", "--format", "sarif"), "--json and --format sarif ask for two formats"),
        (("--format", "xml"), "argument --format: invalid choice: 'xml'"),
        (("--budget", "0"), "argument --budget: must be a positive number of tokens"),
    ],
)
def test_check_flag_errors(ws: Path, args: tuple[str, ...], message: str) -> None:
    r = run("check", "--no-cache", *args, "good.md", cwd=ws)
    assert r.returncode == 2 and r.stdout == ""
    assert message in one_line(r.stderr)


def test_stdin_twice_is_a_usage_error(ws: Path) -> None:
    r = run("count", "-", "-", cwd=ws, stdin=b"hi")
    assert r.returncode == 2
    assert one_line(r.stderr) == "prompt-tokens: stdin (-) can be counted only once"


def test_settings_file_of_random_bytes_is_one_warning(ws: Path) -> None:
    (ws / ".prompt-tokens.toml").write_bytes(bytes(range(256)) * 4)
    r = run("count", "--json", "--no-cache", "good.md", cwd=ws)
    assert r.returncode == 0
    line = one_line(r.stderr)
    assert line.startswith(f"prompt-tokens: warning: {ws / '.prompt-tokens.toml'}: ")
    assert line.endswith("its settings are ignored")
    assert good_total(r.stdout) == plain_count("cl100k_base", DOC)
