"""What Cursor's agent loads for a workspace: project rules, ``.cursorrules``, ``AGENTS.md``.

From https://cursor.com/docs/rules (seen in excerpts, 2026-12-02) and the older
docs.cursor.com/context/rules: project rules are ``.cursor/rules/**/*.mdc`` ("a plain ``.md``
file in ``.cursor/rules`` is ignored"); a subfolder's own ``.cursor/rules`` applies to that
folder; the front matter decides the rule type:

==========================  ==================================================================
front matter                loaded
==========================  ==================================================================
``alwaysApply: true``       always ("Always")
``globs``                   when files matching them are in context ("Auto Attached")
``description`` only        when the agent decides it is relevant ("Agent Requested")
none                        only when mentioned as ``@rule-name`` ("Manual")
==========================  ==================================================================

``globs`` is read as Cursor writes it (a comma-separated string or a list; see ``metadata``).
``@file`` in a rule attaches that file when the rule applies (older docs: "use ``@filename.ts``
to include files in your rule's context"): such files are listed as imports with the rule's
condition, resolved against the rule's folder and then the workspace root, one level deep.
``.cursorrules`` in the root is the legacy file, still read (always). ``AGENTS.md`` in the
root is read always; nested ``AGENTS.md`` files on the way to the folder are listed as
conditional on working there (third-party descriptions only — not verified in Cursor's docs).
Counted: a rule's body after its front matter (that Cursor sends only the body is an
assumption). Not covered: User Rules and Team Rules (kept in settings, not in files).
"""

from __future__ import annotations

import os
from pathlib import Path

from prompt_tokens.agents.entries import Collector, ContextOptions, Loaded
from prompt_tokens.agents.fs import chain, files_under, read
from prompt_tokens.agents.metadata import as_globs, as_text, read_header
from prompt_tokens.agents.plausible import looks_like_path
from prompt_tokens.references.syntax import scan


def rule_type(data: dict[str, object], name: str) -> tuple[Loaded, str | None]:
    """Cursor's rule type from a rule's front matter, as (loaded, condition)."""
    if data.get("alwaysApply") is True:
        return "always", None
    globs = as_globs(data.get("globs"))
    if globs:
        return "conditional", "globs: " + ", ".join(globs)
    description = as_text(data.get("description"))
    if description:
        return "conditional", f"agent requested: {description}"
    return "conditional", f"manual: only when mentioned as @{name}"


def _rule(
    path: Path, root: Path, scoped: str | None, options: ContextOptions, out: Collector
) -> None:
    got = read(path, options.max_file_bytes)
    if got.text is None:
        out.note(f"{path} skipped: {got.error}")
        return
    header = read_header(got.text)
    loaded, condition = rule_type(header.data, path.stem)
    if scoped is not None:
        loaded = "conditional"
        condition = f"working in {scoped}/" + (f"; {condition}" if condition else "")
    body = got.text[header.body_start :]
    if out.add(path, body, "rule", loaded, condition=condition) is None:
        return
    _attachments(path, body, root, loaded, condition, options, out)


def _attachments(
    rule: Path,
    body: str,
    root: Path,
    loaded: Loaded,
    condition: str | None,
    options: ContextOptions,
    out: Collector,
) -> None:
    for occ in scan(body, kinds=("file",)):
        if occ.syntax != "at":
            continue
        for base in (rule.parent, root):
            target = Path(os.path.normpath(base / occ.target))
            if target.is_file():
                break
        else:
            if looks_like_path(occ.target):
                out.note(f"{rule}: @{occ.target} not found")
            continue
        got = read(target, options.max_file_bytes)
        if got.text is None or got.binary:
            out.note(f"{target} skipped: {got.error or 'binary file'}")
            continue
        out.add(target, got.text, "import", loaded, condition=condition, imported_by=rule)


def cursor(directory: Path, root: Path, options: ContextOptions, out: Collector) -> None:
    folders = chain(root, directory)
    for folder in folders:
        scoped = None if folder == root else folder.relative_to(root).as_posix()
        for path in files_under(folder / ".cursor" / "rules", ".mdc"):
            _rule(path, root, scoped, options, out)
    legacy = read(root / ".cursorrules", options.max_file_bytes)
    if legacy.text is not None:
        out.add(root / ".cursorrules", legacy.text, "rule", "always", note="legacy .cursorrules")
    for folder in folders:
        got = read(folder / "AGENTS.md", options.max_file_bytes)
        if got.text is None:
            continue
        if folder == root:
            out.add(folder / "AGENTS.md", got.text, "instructions", "always")
        else:
            where = folder.relative_to(root).as_posix()
            out.add(
                folder / "AGENTS.md",
                got.text,
                "instructions",
                "conditional",
                condition=f"working in {where}/",
            )
