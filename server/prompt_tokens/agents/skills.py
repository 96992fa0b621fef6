"""Agent Skills in a context report: three numbers per skill.

From https://agentskills.io/specification ("Progressive disclosure"), the Claude Code skills page
https://code.claude.com/docs/en/skills (docs mirror 2026-08-22) and
https://code.visualstudio.com/docs/agent-customization/agent-skills (DateApproved 2026-05-28),
read 2026-12-02:

1. ``skill-metadata`` (always): "the ``name`` and ``description`` fields are loaded at startup".
   Counted text: ``name: description`` — the agent's own listing format is not documented, and
   its framing is not the file's. Claude Code appends ``when_to_use`` to the description, caps
   the two at 1,536 characters, uses the first paragraph when ``description`` is missing, and
   lists nothing for ``disable-model-invocation: true`` (the body still loads on ``/name``).
   A missing ``name`` falls back to the folder name (Claude Code: "the directory name becomes
   the command").
2. ``skill`` (conditional): the body after the front matter, "loaded when the skill is
   activated".
3. ``skill-resource`` (conditional): files the body links to with Markdown links, loaded on
   demand; for Claude Code also the files ``@`` references name, which it attaches when a local
   skill runs ("doesn't attach the files that ``@`` references name the way it does for a local
   skill" — said of synced skills).

A skill whose name was already listed (Claude Code: personal overrides project) is noted and
skipped.
"""

from __future__ import annotations

import os
from pathlib import Path

import attrs

from prompt_tokens.agents.entries import Collector, ContextOptions, Count, Scope
from prompt_tokens.agents.fs import is_inside, read, skill_files
from prompt_tokens.agents.metadata import Header, as_text, read_header
from prompt_tokens.agents.plausible import looks_like_path
from prompt_tokens.references.syntax import scan

CLAUDE_LISTING_CHARS = 1536
ACTIVATED = "when the skill is activated (by the agent, or with /{name})"
INVOKED_ONLY = "only when you invoke /{name} (disable-model-invocation)"
ON_DEMAND = "on demand: linked from {name}'s SKILL.md"
ATTACHED = "attached with {name}'s body (@ reference)"


@attrs.frozen
class SkillStyle:
    """Where one agent differs in reading skills."""

    listing_chars: int | None = None  # cap on the description in the listing
    when_to_use: bool = False
    attach_at: bool = False


CLAUDE_STYLE = SkillStyle(listing_chars=CLAUDE_LISTING_CHARS, when_to_use=True, attach_at=True)
COPILOT_STYLE = SkillStyle()


def _first_paragraph(body: str) -> str:
    for block in body.strip().split("\n\n"):
        lines = [ln for ln in block.strip().splitlines() if not ln.lstrip().startswith("#")]
        if lines:
            return " ".join(ln.strip() for ln in lines)
    return ""


def listing_text(name: str, header: Header, body: str, style: SkillStyle) -> str:
    description = as_text(header.data.get("description")) or _first_paragraph(body)
    if style.when_to_use:
        extra = as_text(header.data.get("when_to_use"))
        if extra:
            description = f"{description} {extra}" if description else extra
    if style.listing_chars is not None:
        description = description[: style.listing_chars]
    return f"{name}: {description}"


def add_skills(
    folders: list[tuple[Path, Scope]], options: ContextOptions, out: Collector, style: SkillStyle
) -> None:
    names: set[str] = set()
    for folder, scope in folders:
        for path in skill_files(folder):
            _skill(path, scope, options, out, style, names)


def _skill(
    path: Path,
    scope: Scope,
    options: ContextOptions,
    out: Collector,
    style: SkillStyle,
    names: set[str],
) -> None:
    got = read(path, options.max_file_bytes)
    if got.text is None:
        out.note(f"{path} skipped: {got.error}")
        return
    add_skill(path, got.text, scope, options, out, style, names)


def add_skill(
    path: Path,
    text: str,
    scope: Scope,
    options: ContextOptions,
    out: Collector,
    style: SkillStyle,
    names: set[str],
) -> None:
    """List the skill at ``path`` whose SKILL.md reads ``text`` (an editor's buffer, or the
    file): its listing, body and resources, each with how it loads."""
    header = read_header(text)
    name = as_text(header.data.get("name")) or path.parent.name
    if name in names:
        out.note(f"{path}: skill {name!r} already listed from another level; not loaded")
        return
    names.add(name)
    body = text[header.body_start :]
    if header.data.get("disable-model-invocation") is True:
        condition = INVOKED_ONLY.format(name=name)
    else:
        out.add(
            path,
            listing_text(name, header, body, style),
            "skill-metadata",
            "always",
            scope=scope,
            key=f"{path}#metadata",
        )
        condition = ACTIVATED.format(name=name)
    out.add(path, body, "skill", "conditional", condition=condition, scope=scope)
    _resources(path, name, body, scope, options, out, style)


def _resources(
    path: Path,
    name: str,
    body: str,
    scope: Scope,
    options: ContextOptions,
    out: Collector,
    style: SkillStyle,
) -> None:
    folder = path.parent
    for occ in scan(body, kinds=("file",), markdown_links=True):
        if occ.syntax == "link":
            condition = ON_DEMAND.format(name=name)
        elif occ.syntax == "at" and style.attach_at:
            condition = ATTACHED.format(name=name)
        else:
            continue
        if occ.target.startswith("~"):
            continue
        target = Path(os.path.normpath(folder / occ.target))
        if target == path:
            continue
        if not target.is_file():
            if looks_like_path(occ.target):
                out.note(f"{path}: {occ.target} not found")
            continue
        got = read(target, options.max_file_bytes)
        if got.text is None or got.binary:
            out.note(f"{target} skipped: {got.error or 'binary file'}")
            continue
        note = None if is_inside(target, folder) else "outside the skill's folder"
        out.add(
            target,
            got.text,
            "skill-resource",
            "conditional",
            condition=condition,
            imported_by=path,
            scope=scope,
            note=note,
        )


@attrs.frozen
class SkillSummary:
    """The three numbers of one skill (tokens): what it costs always, on activation, on demand."""

    name: str
    metadata: int
    body: int
    resources: int
    resource_files: int
    invoked_only: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "metadata": self.metadata,
            "body": self.body,
            "resources": self.resources,
            "resourceFiles": self.resource_files,
            "invokedOnly": self.invoked_only,
        }


def skill_summary(
    path: Path,
    text: str,
    count: Count,
    *,
    options: ContextOptions | None = None,
    style: SkillStyle = CLAUDE_STYLE,
) -> SkillSummary:
    """The three numbers for the SKILL.md at ``path`` reading ``text``, counted with ``count``
    exactly as ``prompt-tokens context`` counts them (the same entries)."""
    out = Collector(count)
    add_skill(path, text, "project", options or ContextOptions(), out, style, set())

    def total(role: str) -> int:
        return sum(f.tokens for f in out.files if f.role == role)

    header = read_header(text)
    return SkillSummary(
        name=as_text(header.data.get("name")) or path.parent.name,
        metadata=total("skill-metadata"),
        body=total("skill"),
        resources=total("skill-resource"),
        resource_files=sum(1 for f in out.files if f.role == "skill-resource"),
        invoked_only=header.data.get("disable-model-invocation") is True,
    )
