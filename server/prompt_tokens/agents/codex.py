"""What Codex loads at start-up in a folder: its AGENTS.md chain under the byte cap.

From https://developers.openai.com/codex/guides/agents-md and openai/codex
``codex-rs/core/src/agents_md.rs`` (read 2026-12-02):

- Global: in the Codex home (``~/.codex``, or ``CODEX_HOME``) ``AGENTS.override.md`` if it is
  non-empty, else ``AGENTS.md`` — "only the first non-empty file at this level". It is not
  counted against the project cap.
- Project: from the project root (the nearest folder with ``.git``; without one, only the
  working folder) down to the working folder, at most one file per folder:
  ``AGENTS.override.md``, else ``AGENTS.md``, else the ``project_doc_fallback_filenames``.
- "Codex skips empty files and stops adding files once the combined size reaches the limit
  defined by ``project_doc_max_bytes`` (32 KiB by default)". In the source the file that crosses
  the limit is cut to the bytes left (``data.truncate(remaining)``, then decoded lossily, so a
  cut inside a UTF-8 sequence becomes U+FFFD), and every later file is dropped. A file of only
  whitespace is skipped and costs no budget. ``project_doc_max_bytes = 0`` loads no project
  file at all.
- Codex expands no ``@`` imports; files are joined with blank lines (framing, not counted).
"""

from __future__ import annotations

from pathlib import Path

from prompt_tokens.agents.entries import Collector, ContextOptions
from prompt_tokens.agents.fs import chain, read

OVERRIDE = "AGENTS.override.md"
DEFAULT = "AGENTS.md"


def _candidates(options: ContextOptions) -> list[str]:
    names = [OVERRIDE, DEFAULT]
    for name in options.codex_fallback_filenames:
        if name and name not in names:
            names.append(name)
    return names


def _user(options: ContextOptions, out: Collector) -> None:
    folder = options.codex_dir
    if folder is None:
        return
    for name in (OVERRIDE, DEFAULT):
        got = read(folder / name, options.max_file_bytes)
        text = got.text
        if text is not None and text.strip():
            out.add(folder / name, text, "instructions", "always", scope="user")
            return


def project_files(directory: Path, root: Path | None, options: ContextOptions) -> list[Path]:
    """The one file per folder Codex picks, root first."""
    folders = chain(root, directory) if root is not None else [directory]
    found: list[Path] = []
    for folder in folders:
        for name in _candidates(options):
            if (folder / name).is_file():
                found.append(folder / name)
                break
    return found


def codex(directory: Path, root: Path | None, options: ContextOptions, out: Collector) -> None:
    _user(options, out)
    remaining = options.codex_max_bytes
    if remaining <= 0:
        out.note("project_doc_max_bytes is 0: Codex loads no project AGENTS.md")
        return
    for path in project_files(directory, root, options):
        if remaining <= 0:
            out.note(
                f"{path} not loaded: project_doc_max_bytes ({options.codex_max_bytes:,}) used up"
            )
            continue
        got = read(path, options.max_file_bytes)
        if got.data is None:
            out.note(f"{path} skipped: {got.error}")
            continue
        data = got.data
        note = None
        if len(data) > remaining:
            note = (
                f"truncated to {remaining:,} of {len(data):,} bytes "
                f"(project_doc_max_bytes {options.codex_max_bytes:,})"
            )
            data = data[:remaining]
        text = data.decode("utf-8", errors="replace")
        if not text.strip():
            continue
        out.add(path, text, "instructions", "always", note=note)
        remaining -= len(data)
