"""Skips are loud in CI: with CI=true a missing editor part fails the test that needs it, and
scripts/ci_editors.sh fails when a part does not run; elsewhere both say why and go on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.editors._support import missing_part

ROOT = Path(__file__).resolve().parents[2]


def test_a_missing_part_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no nvim"):
        missing_part("no nvim >= 0.11 found")
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        missing_part("no nvim >= 0.11 found")


def test_a_missing_part_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"CI=true.*no nvim >= 0\.11 found"):
        missing_part("no nvim >= 0.11 found")


def _verify(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env.update(
        CHROMIUM=str(tmp_path / "no-chromium"),
        PROMPT_TOKENS_EDITOR_TOOLS=str(tmp_path / "tools"),
        PYTHON=sys.executable,
    )
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / "ci_editors.sh"), "verify"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def test_ci_editors_verify_fails_loudly_in_ci_when_chromium_is_missing(tmp_path: Path) -> None:
    proc = _verify(tmp_path, "true")
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert f"MISSING chromium: {tmp_path / 'no-chromium'}" in proc.stderr, proc.stderr
    assert "FAILED: CI=true" in proc.stderr, proc.stderr


def test_ci_editors_verify_reports_and_goes_on_outside_ci(tmp_path: Path) -> None:
    proc = _verify(tmp_path, None)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "MISSING chromium" in proc.stderr and "will be skipped" in proc.stderr, proc.stderr
