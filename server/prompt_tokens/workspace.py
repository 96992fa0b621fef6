"""Workspace root discovery and ``.prompt-tokens.toml`` loading (shared by CLI and LSP).

The file comes with the repository, so it is untrusted input: whatever it holds (random bytes,
a directory or a FIFO by that name, a gigabyte, a table that sends headers), loading it gives
a table and warnings naming the file, never an exception, and counting goes on.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prompt_tokens.settings import restrict_workspace

CONFIG_FILE = ".prompt-tokens.toml"

MAX_CONFIG_BYTES = 1 << 20
"""A settings file is a few hundred bytes; anything over 1 MiB is not one (and is not read)."""


def find_root(path: Path, stop: Path | None = None) -> Path | None:
    """Nearest ancestor folder of ``path`` holding ``.prompt-tokens.toml`` or ``.git``."""
    start = path if _safely(Path.is_dir, path) else path.parent
    for folder in [start, *start.parents]:
        if _safely(Path.is_file, folder / CONFIG_FILE) or _safely(Path.exists, folder / ".git"):
            return folder
        if stop is not None and folder == stop:
            break
    return None


def load_config(root: Path) -> tuple[dict[str, Any], list[str]]:
    """The raw settings table of ``root/.prompt-tokens.toml`` (empty when absent) and warnings.

    A file that cannot be used is reported in one warning naming it, and its settings are
    ignored. ``http.headers`` is dropped with a warning (:func:`settings.restrict_workspace`):
    only the user's own settings may send headers, in the editor and in the CLI alike.
    """
    file = root / CONFIG_FILE
    try:
        raw = _read(file)
    except FileNotFoundError:
        return {}, []
    except _Unusable as exc:
        return {}, [f"{file}: {exc}; its settings are ignored"]
    except OSError as exc:
        return {}, [f"{file}: cannot be read ({exc.strerror or exc}); its settings are ignored"]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return {}, [
            f"{file}: is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset "
            f"{exc.start}); its settings are ignored"
        ]
    import tomllib  # here: most repositories have no settings file to parse

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return {}, [f"{file}: is not valid TOML ({exc}); its settings are ignored"]
    except RecursionError:  # tomllib recurses into nested arrays and inline tables
        return {}, [f"{file}: is nested too deeply to read; its settings are ignored"]
    # Allow both top-level keys and a [promptTokens] table.
    if isinstance(data.get("promptTokens"), dict) and len(data) == 1:
        data = data["promptTokens"]
    return restrict_workspace(data, str(file))


class _Unusable(Exception):
    """The file exists but is not something to read settings from."""


def _read(file: Path) -> bytes:
    # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(file, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise _Unusable("is not a regular file")
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_CONFIG_BYTES and (chunk := os.read(fd, MAX_CONFIG_BYTES + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > MAX_CONFIG_BYTES:
        raise _Unusable(f"is larger than {MAX_CONFIG_BYTES:,} bytes")
    return b"".join(chunks)


def _safely(check: Callable[[Path], bool], path: Path) -> bool:
    try:
        return check(path)
    except OSError:  # e.g. a folder on the way that may not be searched
        return False
