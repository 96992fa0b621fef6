"""What ``count`` prints: the table shows a reference's problem as its diagnostic does, text
that looks like markup stays text, and the progress bar appears only on a terminal."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from tests.conftest import plain_count
from tests.unit.cli_helpers import put, run

PROMPT = (
    "---\nmode: agent\n---\n"
    "Review ${input:file:the changed file} against [house style](style.md) and #file:missing.md.\n"
)


def table_lines(workspace: Path) -> list[str]:
    put(workspace, "style.md", "Short sentences.\n")
    put(workspace, "review.prompt.md", PROMPT)
    r = run("count", "--no-cache", "review.prompt.md", cwd=workspace)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def test_reference_rows_carry_the_diagnostic_severity(workspace: Path) -> None:
    """``${input:…}`` is asked when the prompt runs: information, as the editor shows it; a
    missing file is a warning. Neither is an error."""
    lines = table_lines(workspace)
    variable = next(line for line in lines if line.lstrip().startswith("variable "))
    assert variable.strip().split("  ")[0] == "variable ${input:file:the changed file}"
    assert variable.endswith("information: Variable 'file' is not defined")
    missing = next(line for line in lines if "#file:missing.md" in line)
    assert missing.split()[-1] != "error:" and " warning: " in missing
    assert all(" error: " not in line for line in lines)


def test_markup_like_text_is_printed_as_written(workspace: Path) -> None:
    lines = table_lines(workspace)
    link = next(line for line in lines if "style.md" in line and line.startswith("    "))
    tokens = plain_count("cl100k_base", "Short sentences.\n")
    assert link.split() == ["file", "[house", "style](style.md)", f"+{tokens}"]


def test_plain_output_has_no_colour_and_no_trailing_blanks(workspace: Path) -> None:
    lines = table_lines(workspace)
    assert all("\x1b" not in line and line == line.rstrip() for line in lines)


def test_progress_bar_only_on_a_terminal(workspace: Path) -> None:
    for i in range(6):
        put(workspace, f"p{i}.md", f"Prompt number {i}.\n")
    piped = run("count", "--no-cache", ".", cwd=workspace)
    assert piped.returncode == 0 and piped.stderr == ""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "prompt_tokens", "count", "--no-cache", "."],
            cwd=workspace,
            stdout=subprocess.PIPE,
            stderr=follower,
            env={**os.environ, "COLUMNS": "100"},
            timeout=120,
        )
        os.close(follower)
        follower = -1
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed: everything was read
                break
            if not chunk:
                break
            seen += chunk
    finally:
        if follower != -1:
            os.close(follower)
        os.close(leader)
    assert proc.returncode == 0
    assert b"/6" in seen  # the bar's done/total column, drawn on the terminal
    assert b"\x1b" not in proc.stdout and b"6 files" in proc.stdout
