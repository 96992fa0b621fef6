"""The composite GitHub Action: linted offline, and its steps' shell run locally like a runner.

``action-validator`` (npm, WebAssembly: no network once installed by ``scripts/ci_tools.sh``)
checks ``action.yml`` against GitHub's action schema. The steps are then run as the runner runs
them: ``${{ … }}`` expressions substituted into ``env``, each ``run:`` script through
``bash -e {0}``, ``$GITHUB_PATH`` lines prepended to ``PATH`` for the later steps.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import plain_count
from tests.unit.ci_repo import count, make_repo

ROOT = Path(__file__).resolve().parents[2]
ACTION = ROOT / "action.yml"
EXPRESSION = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")


@pytest.fixture(scope="session")
def validator() -> str:
    out = subprocess.run(
        ["bash", str(ROOT / "scripts" / "ci_tools.sh")],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return out.stdout.strip().splitlines()[-1]


def action() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(ACTION.read_text())
    return doc


def test_action_passes_the_linter(validator: str) -> None:
    result = subprocess.run([validator, str(ACTION)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_linter_catches_a_broken_action(validator: str, tmp_path: Path) -> None:
    broken = action()
    del broken["runs"]["steps"][1]["shell"]  # composite run steps must name their shell
    (tmp_path / "action.yml").write_text(yaml.safe_dump(broken))
    result = subprocess.run(
        [validator, str(tmp_path / "action.yml")], capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "/runs/steps/1/shell" in result.stdout + result.stderr


def test_inputs_are_the_documented_ones() -> None:
    doc = action()
    assert doc["runs"]["using"] == "composite"
    assert {"paths", "model", "base", "format", "max-increase"} <= set(doc["inputs"])
    for step in doc["runs"]["steps"]:
        assert step["shell"] == "bash"
        # inputs reach scripts only through env: no expression inside a script (no injection)
        assert not EXPRESSION.search(step["run"])


def expand(value: str, inputs: Mapping[str, str], action_path: Path) -> str:
    def one(m: re.Match[str]) -> str:
        expr = m.group(1)
        if expr == "github.action_path":
            return str(action_path)
        assert expr.startswith("inputs."), f"the test runner cannot evaluate {expr!r}"
        return inputs[expr.removeprefix("inputs.")]

    return EXPRESSION.sub(one, value)


def run_action(
    workdir: Path,
    tmp: Path,
    given: Mapping[str, str],
    *,
    steps: slice,
    path: str,
    action_path: Path,
) -> list[subprocess.CompletedProcess[str]]:
    """Run ``action.yml``'s steps as a runner does, with ``given`` inputs over the defaults."""
    doc = action()
    inputs = {k: str(v.get("default", "")) for k, v in doc["inputs"].items()} | dict(given)
    github_path = tmp / "github_path"
    github_path.touch()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "GITHUB_"))}
    env |= {"RUNNER_TEMP": str(tmp), "GITHUB_PATH": str(github_path), "PATH": path}
    env |= {"GITHUB_STEP_SUMMARY": str(tmp / "summary.md")}
    results = []
    for step in doc["runs"]["steps"][steps]:
        step_env = env | {k: expand(str(v), inputs, action_path) for k, v in step["env"].items()}
        added = [p for p in github_path.read_text().splitlines() if p]
        step_env["PATH"] = os.pathsep.join([*reversed(added), env["PATH"]])
        script = tmp / "step.sh"
        script.write_text(step["run"])
        result = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=workdir,
            env=step_env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        results.append(result)
        if result.returncode != 0:
            break
    return results


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path / "repo")
    (repo / ".prompt-tokens.toml").write_text("budget = 600\n")
    return repo


def installed_path() -> str:
    """This venv's ``prompt-tokens`` first on PATH (the install step is tested separately)."""
    return os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"])


def test_check_step_maps_inputs_to_flags(repo: Path, tmp_path: Path) -> None:
    (repo / ".prompt-tokens.toml").unlink()  # the model alone sets encoding and budget
    given = {"paths": "docs\nnotes/new-name.md", "model": "gpt-4o", "format": ""}
    (result,) = run_action(
        repo, tmp_path, given, steps=slice(1, 2), path=installed_path(), action_path=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert "prompt-tokens check --model gpt-4o -- docs notes/new-name.md" in result.stderr
    rows = [
        line.split() for line in result.stdout.splitlines()[1:] if line and not line[0].isdigit()
    ]
    assert [r[0] for r in rows] == [
        "docs/added.md",
        "docs/guide.md",
        "docs/style.md",
        "notes/new-name.md",
    ]
    guide = plain_count("o200k_base", (repo / "docs/guide.md").read_text())  # gpt-4o's encoding
    assert rows[1][:5] == ["docs/guide.md", str(guide), "0", str(guide), "128,000"]


def test_check_step_fails_the_job_over_budget(repo: Path, tmp_path: Path) -> None:
    (repo / ".prompt-tokens.toml").write_text("budget = 100\n")
    given = {"paths": "docs", "format": "", "output": str(tmp_path / "report.txt")}
    (result,) = run_action(
        repo, tmp_path, given, steps=slice(1, 2), path=installed_path(), action_path=ROOT
    )
    assert result.returncode == 1
    guide = count((repo / "docs/guide.md").read_text())
    assert f"docs/guide.md: {guide:,} tokens exceed the budget of 100" in result.stderr
    report = (tmp_path / "report.txt").read_text()  # `output` took the report off the log
    assert report.splitlines()[0].split()[0] == "file" and "docs/guide.md" in report
    assert "docs/guide.md" not in result.stdout


def test_check_step_with_base_and_github_format(repo: Path, tmp_path: Path) -> None:
    given = {"paths": ".", "base": "main...HEAD", "max-increase": "10%"}  # format: github default
    (result,) = run_action(
        repo, tmp_path, given, steps=slice(1, 2), path=installed_path(), action_path=ROOT
    )
    assert "--base main...HEAD --format github --max-increase 10%" in result.stderr
    assert result.returncode == 1
    assert (
        "::error file=docs/guide.md,line=1,col=1,title=prompt-tokens max-increase-exceeded::"
        in result.stdout
    )
    assert "### prompt-tokens check" in (tmp_path / "summary.md").read_text()


@pytest.mark.timeout(900)
def test_install_step_then_check_for_real(repo: Path, tmp_path: Path) -> None:
    """Both steps: a fresh venv in $RUNNER_TEMP, pip-installing the action's own folder (its
    dependencies from PyPI), then ``check`` from that venv through $GITHUB_PATH."""
    action_path = tmp_path / "action"
    for rel in ("server", "pyproject.toml", "README.md", "action.yml"):
        src = ROOT / rel
        if src.is_dir():
            shutil.copytree(src, action_path / rel, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, action_path / rel)
    runner = tmp_path / "runner"
    runner.mkdir()
    system_path = "/usr/local/bin:/usr/bin:/bin"  # no prompt-tokens here: the step must install it
    python = shutil.which("python3.11") or shutil.which("python3", path=system_path) or "python3"
    given = {"paths": "notes", "format": "", "python": python}
    install, check = run_action(
        repo, runner, given, steps=slice(0, 2), path=system_path, action_path=action_path
    )
    assert install.returncode == 0, install.stderr
    assert (runner / "github_path").read_text().strip() == str(
        runner / "prompt-tokens-venv" / "bin"
    )
    assert check.returncode == 0, check.stderr
    tokens = count((repo / "notes/new-name.md").read_text())
    assert check.stdout.splitlines()[1].split()[:4] == [
        "notes/new-name.md",
        str(tokens),
        "0",
        str(tokens),
    ]
