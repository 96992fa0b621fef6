"""Workspace root discovery and ``.prompt-tokens.toml`` loading (shared by CLI and LSP)."""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CONFIG_FILE = ".prompt-tokens.toml"


def find_root(path: Path, stop: Path | None = None) -> Path | None:
    """Nearest ancestor folder of ``path`` holding ``.prompt-tokens.toml`` or ``.git``."""
    start = path if path.is_dir() else path.parent
    for folder in [start, *start.parents]:
        if (folder / CONFIG_FILE).is_file() or (folder / ".git").exists():
            return folder
        if stop is not None and folder == stop:
            break
    return None


def load_config(root: Path) -> tuple[dict[str, Any], list[str]]:
    """The raw settings table of ``root/.prompt-tokens.toml`` (empty when absent).

    A broken file is reported, not fatal: counting goes on with the other settings.
    """
    file = root / CONFIG_FILE
    if not file.is_file():
        return {}, []
    try:
        with file.open("rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        return {}, [f"{file}: cannot be read ({exc}); its settings are ignored"]
    # Allow both top-level keys and a [promptTokens] table.
    if isinstance(data.get("promptTokens"), dict) and len(data) == 1:
        data = data["promptTokens"]
    return data, []
