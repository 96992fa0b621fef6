"""What Claude Code loads at start-up in a folder: memory chain, rules, imports, AGENTS.md.

From https://code.claude.com/docs/en/memory (docs mirror snapshot 2026-08-22, read 2026-12-02;
see ``dialects`` for the mirror):

- User level first: ``~/.claude/CLAUDE.md`` and ``~/.claude/rules/**/*.md``; their imports load
  without approval.
- Then each folder from the top down to the working folder: ``CLAUDE.md``, ``.claude/CLAUDE.md``,
  ``.claude/rules/**/*.md``, then ``CLAUDE.local.md`` ("appended after CLAUDE.md"). The docs
  walk up to ``/``; this report stops at the repository root unless
  ``ContextOptions.claude_above_root``. CLAUDE.md files in subfolders load only when Claude
  touches files there, so they are not start-up cost and are not listed.
- A rule with ``paths:`` loads only when Claude reads, writes or edits a matching file
  (conditional); a rule without ``paths`` (or with front matter that is not valid YAML) loads
  at launch. "Claude Code removes the frontmatter before loading the rule into context."
- ``@path`` imports: relative to the importing file, ``@~/…`` from the home folder, absolute
  paths; not inside code spans or fenced code; ``\\ `` escapes a space; a quoted path is not
  imported; "a maximum depth of four hops"; each file is loaded once (cycles stop). An import
  from a project file that resolves outside the working folder is external: it loads only
  after the user approves external imports for the project (conditional here).
- Block-level HTML comments are stripped before the content reaches the model; comments in
  code blocks are kept. The docs say this of CLAUDE.md files; it is applied to rules and
  imported files too (they are memory files read by the same loader — an assumption). Text
  after ``-->`` on the comment's last line is kept (CommonMark would make it part of the HTML
  block; what Claude Code does there is not documented).
- A memory file over 4 MiB is skipped ("loads a CLAUDE.md file of up to 4 MiB in full and skips
  a larger file").
- With no ``CLAUDE.md``, ``.claude/CLAUDE.md`` or ``CLAUDE.local.md`` in the working folder or
  above it, Claude Code (v2.1.277+) reads every ``AGENTS.md`` and ``.claude/AGENTS.md`` there
  instead, imports expanded (the default "Project instructions" setting).

Not covered: the managed policy file (``/etc/claude-code/CLAUDE.md`` …), auto memory
(``MEMORY.md``), ``--add-dir`` folders, ``claudeMdExcludes``. Skills: ``skills``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import attrs

from prompt_tokens.agents.entries import Collector, ContextOptions, Loaded, Role, Scope
from prompt_tokens.agents.fs import (
    ancestors_to_filesystem_root,
    chain,
    files_under,
    is_inside,
    read,
)
from prompt_tokens.agents.metadata import as_globs, read_header
from prompt_tokens.agents.plausible import looks_like_path
from prompt_tokens.references.exclusions import mask_code
from prompt_tokens.references.patterns import trim_trailing
from prompt_tokens.text.code import fenced_regions

MAX_MEMORY_BYTES = 4 * 1024 * 1024
EXTERNAL = "external import: loads after you approve external imports for this project"

_COMMENT_START = re.compile(r"^ {0,3}<!--", re.MULTILINE)
_IMPORT = re.compile(r"@((?:\\ |[^\s\x00])+)")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def strip_block_comments(text: str) -> str:
    """``text`` without its block-level HTML comments (outside fenced code)."""
    if "<!--" not in text:
        return text
    fences = fenced_regions(text) if ("```" in text or "~~~" in text) else []
    parts: list[str] = []
    pos = 0
    for m in _COMMENT_START.finditer(text):
        start = m.start()
        if start < pos or any(fs <= start < fe for fs, fe in fences):
            continue
        close = text.find("-->", m.end() - 2)
        end = len(text) if close < 0 else close + 3
        rest = re.match(r"[ \t]*(?:\r\n|\r|\n|$)", text[end:])
        if rest:
            end += rest.end()
        parts.append(text[pos:start])
        pos = end
    parts.append(text[pos:])
    return "".join(parts)


def import_tokens(text: str) -> list[tuple[str, str | None]]:
    """``@path`` tokens Claude Code would import from ``text``: outside code, after whitespace
    or at a line start, ``\\ `` unescaped, quoted paths and URLs left out. Each comes as
    ``(trimmed, untrimmed)``: sentence punctuation trimmed, and the raw token when trimming
    changed it (None otherwise), so a file whose name really ends in punctuation still loads."""
    masked = mask_code(text)
    out: list[tuple[str, str | None]] = []
    seen: set[str] = set()
    for m in _IMPORT.finditer(masked):
        if m.start() > 0 and not masked[m.start() - 1].isspace():
            continue
        raw = m.group(1)
        if raw[0] in "\"'" or _URL.match(raw):
            continue
        trimmed = trim_trailing(raw)
        if not trimmed or raw in seen:
            continue
        seen.add(raw)
        untrimmed = raw.replace("\\ ", " ") if trimmed != raw else None
        out.append((trimmed.replace("\\ ", " "), untrimmed))
    return out


@attrs.frozen
class _Load:
    """How one file enters the context (imports inherit it)."""

    role: Role
    loaded: Loaded
    scope: Scope
    condition: str | None = None


class _Loader:
    def __init__(self, directory: Path, options: ContextOptions, out: Collector) -> None:
        self.directory = directory
        self.options = options
        self.out = out

    def memory(
        self,
        path: Path,
        how: _Load,
        *,
        importer: Path | None = None,
        depth: int = 0,
        stack: tuple[Path, ...] = (),
    ) -> None:
        if self.out.seen(path):
            if path in stack:
                cycle = " → ".join(p.name for p in (*stack[stack.index(path) :], path))
                self.out.note(f"import cycle {cycle}: each file is loaded once")
            return
        got = read(path, min(MAX_MEMORY_BYTES, self.options.max_file_bytes))
        if got.text is None:
            if got.error != "not found":
                self.out.note(f"{path} skipped: {got.error}")
            return
        text = got.text
        if how.role == "rule":
            header = read_header(text)
            paths = () if header.lenient else as_globs(header.data.get("paths"))
            text = text[header.body_start :]
            if paths and how.loaded == "always":
                how = attrs.evolve(
                    how, loaded="conditional", condition="paths: " + ", ".join(paths)
                )
        text = strip_block_comments(text)
        self.out.add(
            path,
            text,
            how.role,
            how.loaded,
            condition=how.condition,
            imported_by=importer,
            scope=how.scope,
        )
        self._imports(path, text, how, depth, (*stack, path))

    def _imports(
        self, path: Path, text: str, how: _Load, depth: int, stack: tuple[Path, ...]
    ) -> None:
        for token, untrimmed in import_tokens(text):
            target = self._resolve(path, token)
            if (target is None or not target.is_file()) and untrimmed is not None:
                longer = self._resolve(path, untrimmed)
                if longer is not None and longer.is_file():
                    token, target = untrimmed, longer
            if target is None or not target.is_file():
                if target is not None and looks_like_path(token):
                    self.out.note(f"{path}: @{token} not found")
                continue
            if depth + 1 > self.options.claude_max_hops:
                self.out.note(
                    f"{path}: @{token} not loaded: import hop limit "
                    f"({self.options.claude_max_hops}) reached"
                )
                continue
            child = _Load("import", how.loaded, how.scope, how.condition)
            if how.scope == "project" and how.loaded == "always":
                if not is_inside(target, self.directory):
                    child = attrs.evolve(child, loaded="conditional", condition=EXTERNAL)
            self.memory(target, child, importer=path, depth=depth + 1, stack=stack)

    def _resolve(self, importer: Path, token: str) -> Path | None:
        if token == "~" or token.startswith("~/"):
            if self.options.home is None:
                return None
            return _normal(self.options.home / token[2:])
        candidate = Path(token)
        if candidate.is_absolute():
            return _normal(candidate)
        return _normal(importer.parent / candidate)


def _normal(path: Path) -> Path:
    """Lexically normalised (``a/../b`` → ``b``), so one file has one key whichever way an
    import spells it; symlinks are kept as written."""
    return Path(os.path.normpath(path))


def claude_code(directory: Path, root: Path, options: ContextOptions, out: Collector) -> None:
    loader = _Loader(directory, options, out)
    home = options.home
    if home is not None:
        user = _Load("memory", "always", "user")
        loader.memory(home / ".claude" / "CLAUDE.md", user)
        for rule in files_under(home / ".claude" / "rules", ".md"):
            loader.memory(rule, _Load("rule", "always", "user"))
    folders = (
        ancestors_to_filesystem_root(directory)
        if options.claude_above_root
        else chain(root, directory)
    )
    names = ("CLAUDE.md", ".claude/CLAUDE.md", "CLAUDE.local.md")
    if any((f / n).is_file() for f in folders for n in names):
        for folder in folders:
            _folder(loader, folder)
        return
    agents = [f / n for f in folders for n in ("AGENTS.md", ".claude/AGENTS.md")]
    found = [p for p in agents if p.is_file()]
    if found:
        out.note("no CLAUDE.md found; AGENTS.md loaded instead (Claude Code v2.1.277 or later)")
    for folder in folders:
        for name in ("AGENTS.md", ".claude/AGENTS.md"):
            loader.memory(folder / name, _Load("memory", "always", "project"))
        for rule in files_under(folder / ".claude" / "rules", ".md"):
            loader.memory(rule, _Load("rule", "always", "project"))


def _folder(loader: _Loader, folder: Path) -> None:
    project = _Load("memory", "always", "project")
    loader.memory(folder / "CLAUDE.md", project)
    loader.memory(folder / ".claude" / "CLAUDE.md", project)
    for rule in files_under(folder / ".claude" / "rules", ".md"):
        loader.memory(rule, _Load("rule", "always", "project"))
    loader.memory(folder / "CLAUDE.local.md", project)
