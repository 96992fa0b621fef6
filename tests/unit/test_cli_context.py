"""``prompt-tokens context``: what each agent loads at start-up in a nested repository, counted
exactly with the configured tokenizer, as a table per agent and as SPEC's JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import plain_count
from tests.unit.cli_helpers import one_line, put, run

TREE = {
    "CLAUDE.md": "Root memory for the whole repository. @docs/style.md\n",
    "docs/style.md": "Style guide: short sentences.\n",
    "AGENTS.md": "Shared agent rules: run the tests first.\n",
    ".github/copilot-instructions.md": "Copilot: prefer small functions.\n",
    ".github/instructions/ts.instructions.md": "---\napplyTo: '**/*.ts'\n---\nTS rules.\n",
    ".cursor/rules/base.mdc": "---\nalwaysApply: true\n---\nCursor base rule.\n",
    ".cursor/rules/py.mdc": "---\nglobs: '**/*.py'\n---\nPython rule.\n",
    "apps/web/CLAUDE.md": "Web memory: @notes.md\n",
    "apps/web/notes.md": "Web notes imported by the web memory.\n",
    "apps/web/AGENTS.md": "Web agent rules.\n",
}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    for rel, text in TREE.items():
        put(root, rel, text)
    return root


def agents(stdout: str) -> dict[str, dict]:  # type: ignore[type-arg]
    return {a["agent"]: a for a in json.loads(stdout)["agents"]}


def files_of(agent: dict, repo: Path) -> list[tuple[str, str, str, int]]:  # type: ignore[type-arg]
    return [
        (Path(f["path"]).relative_to(repo).as_posix(), f["role"], f["loaded"], f["tokens"])
        for f in agent["files"]
    ]


def test_json_per_agent_in_a_nested_folder(repo: Path) -> None:
    r = run("context", "apps/web", "--json", "--no-user", cwd=repo)
    assert r.returncode == 0, r.stderr
    by = agents(r.stdout)
    assert list(by) == ["claude-code", "copilot", "codex", "cursor"]
    c = {k: plain_count("cl100k_base", v) for k, v in TREE.items()}
    assert files_of(by["codex"], repo) == [
        ("AGENTS.md", "instructions", "always", c["AGENTS.md"]),
        ("apps/web/AGENTS.md", "instructions", "always", c["apps/web/AGENTS.md"]),
    ]
    assert by["codex"]["total"] == c["AGENTS.md"] + c["apps/web/AGENTS.md"]
    claude = files_of(by["claude-code"], repo)
    assert ("CLAUDE.md", "memory", "always", c["CLAUDE.md"]) in claude
    assert ("apps/web/CLAUDE.md", "memory", "always", c["apps/web/CLAUDE.md"]) in claude
    assert ("apps/web/notes.md", "import", "always", c["apps/web/notes.md"]) in claude
    assert by["claude-code"]["total"] == sum(t for *_, loaded, t in claude if loaded == "always")
    # the settings' default: cl100k_base, no model, the default budget
    assert (by["codex"]["model"], by["codex"]["budget"], by["codex"]["exact"]) == (None, 8192, True)


def test_model_sets_the_tokenizer_and_the_window(repo: Path) -> None:
    r = run(
        "context",
        "apps/web",
        "--agent",
        "codex",
        "--model",
        "gpt-4o",
        "--json",
        "--no-user",
        cwd=repo,
    )
    assert r.returncode == 0, r.stderr
    (codex,) = json.loads(r.stdout)["agents"]
    texts = TREE["AGENTS.md"], TREE["apps/web/AGENTS.md"]
    assert codex["total"] == sum(plain_count("o200k_base", t) for t in texts)
    assert (codex["model"], codex["budget"]) == ("gpt-4o", 128_000)


def test_settings_file_names_the_model(repo: Path) -> None:
    (repo / ".prompt-tokens.toml").write_text('model = "gpt-4o"\n')
    r = run("context", "--agent", "cursor", "--json", "--no-user", cwd=repo)
    (cursor,) = json.loads(r.stdout)["agents"]
    assert cursor["model"] == "gpt-4o"
    always = [TREE[".cursor/rules/base.mdc"].split("---\n")[-1], TREE["AGENTS.md"]]
    assert cursor["total"] == sum(plain_count("o200k_base", t) for t in always)


def test_text_table_per_agent(repo: Path) -> None:
    r = run("context", "apps/web", "--agent", "claude-code,cursor", "--no-user", cwd=repo)
    assert r.returncode == 0, r.stderr
    blocks = r.stdout.split("\n\n")
    assert [b.splitlines()[0] for b in blocks] == ["claude-code", "cursor"]
    claude = blocks[0].splitlines()
    assert claude[1].split() == ["file", "role", "loaded", "tokens", "imported", "by"]
    notes = next(line for line in claude if line.startswith("apps/web/notes.md"))
    n = plain_count("cl100k_base", TREE["apps/web/notes.md"])
    assert notes.split() == ["apps/web/notes.md", "import", "always", str(n), "apps/web/CLAUDE.md"]
    cursor = blocks[1].splitlines()
    py = next(line for line in cursor if line.startswith(".cursor/rules/py.mdc"))
    assert py.split()[1:4] == ["rule", "globs:", "**/*.py"]
    data = json.loads(run("context", "apps/web", "--json", "--no-user", cwd=repo).stdout)
    for agent, lines in (("claude-code", claude), ("cursor", cursor)):
        (a,) = [a for a in data["agents"] if a["agent"] == agent]
        always = sum(f["tokens"] for f in a["files"] if f["loaded"] == "always")
        more = sum(f["tokens"] for f in a["files"] if f["loaded"] == "conditional")
        assert lines[-1] == (
            f"total: {always:,} tokens loaded at start-up ({round(100 * always / 8192)}% of "
            f"the 8,192-token budget); {more:,} more on conditions"
        )


def test_user_level_files_are_marked(repo: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    put(home, ".claude/CLAUDE.md", "My own preferences for every project.\n")
    put(home, ".codex/AGENTS.md", "My Codex rules.\n")
    env = {"HOME": str(home)}
    r = run("context", "apps/web", "--agent", "claude-code,codex", "--json", cwd=repo, env=env)
    by = agents(r.stdout)
    user = [f for f in by["claude-code"]["files"] if f["scope"] == "user"]
    assert [(f["path"], f["tokens"]) for f in user] == [
        (
            str(home / ".claude/CLAUDE.md"),
            plain_count("cl100k_base", "My own preferences for every project.\n"),
        )
    ]
    assert [f["path"] for f in by["codex"]["files"] if f["scope"] == "user"] == [
        str(home / ".codex/AGENTS.md")
    ]
    text = run("context", "apps/web", "--agent", "claude-code", cwd=repo, env=env).stdout
    assert "~/.claude/CLAUDE.md (user)" in text
    alone = run(
        "context", "apps/web", "--agent", "claude-code", "--json", "--no-user", cwd=repo, env=env
    )
    assert all(f["scope"] == "project" for f in agents(alone.stdout)["claude-code"]["files"])


def test_codex_home_is_read_from_the_environment(repo: Path, tmp_path: Path) -> None:
    put(tmp_path / "codex", "AGENTS.md", "Codex home rules.\n")
    env = {"HOME": str(tmp_path / "nohome"), "CODEX_HOME": str(tmp_path / "codex")}
    r = run("context", "--agent", "codex", "--json", cwd=repo, env=env)
    (codex,) = json.loads(r.stdout)["agents"]
    assert [f["path"] for f in codex["files"] if f["scope"] == "user"] == [
        str(tmp_path / "codex/AGENTS.md")
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--agent", "gemini"), "unknown agent 'gemini' (one of claude-code"),
        (("missing-dir",), "missing-dir: not a folder"),
        (("--model", "gpt-9000"), "Unknown model 'gpt-9000'"),
    ],
)
def test_bad_input_is_one_line_exit_2(repo: Path, args: tuple[str, ...], message: str) -> None:
    r = run("context", *args, cwd=repo)
    assert r.returncode == 2 and r.stdout == ""
    assert message in one_line(r.stderr)
