"""What GitHub Copilot Chat in VS Code (local agent) loads for a workspace.

From https://code.visualstudio.com/docs/agent-customization/custom-instructions (DateApproved
2026-07-29) and …/agent-skills (2026-05-28), read 2026-12-02. The workspace is the repository
root (the folder one opens), else the folder itself.

- Always: ``.github/copilot-instructions.md``; ``AGENTS.md`` in the workspace root
  (``chat.useAgentsMdFile``); ``CLAUDE.md``, ``.claude/CLAUDE.md``, ``CLAUDE.local.md`` in the
  root and ``~/.claude/CLAUDE.md`` ("VS Code automatically detects a ``CLAUDE.md`` file and
  applies it as always-on instructions", ``chat.useClaudeMdFile`` — its default is not stated
  on the page). VS Code is not documented to expand ``@`` imports in them; none are followed.
- Conditional: ``.github/instructions/**/*.instructions.md`` and ``.claude/rules/**/*.md`` (and
  the user-level ``~/.copilot/instructions``, ``~/.claude/rules``): ``applyTo`` (``paths`` for
  ``.claude/rules``, default ``**``) applies them when the agent works on matching files; with
  only a ``description`` the agent picks them by relevance; with neither they are attached by
  hand only. Counted: the body after the front matter (the header configures the file; that
  VS Code sends only the body is an assumption).
- Skills from ``.github/skills``, ``.claude/skills``, ``.agents/skills`` and their user-level
  twins under ``~/.copilot``, ``~/.claude``, ``~/.agents`` (see ``skills``).

Not covered: organization instructions (defined on GitHub), nested ``AGENTS.md`` files
(experimental ``chat.useNestedAgentsMdFiles``: only their paths are added), instruction files
pulled in through Markdown links (``chat.includeReferencedInstructions``), prompt files and
custom agents (they load when invoked, not at start-up).
"""

from __future__ import annotations

from pathlib import Path

from prompt_tokens.agents.entries import Collector, ContextOptions, Scope
from prompt_tokens.agents.fs import files_under, read
from prompt_tokens.agents.metadata import as_globs, as_text, read_header
from prompt_tokens.agents.skills import COPILOT_STYLE, add_skills

MANUAL = "only when attached by hand (no applyTo)"


def _always(path: Path, scope: Scope, options: ContextOptions, out: Collector) -> None:
    got = read(path, options.max_file_bytes)
    if got.text is not None:
        out.add(path, got.text, "instructions", "always", scope=scope)
    elif got.error != "not found":
        out.note(f"{path} skipped: {got.error}")


def _targeted(
    path: Path,
    scope: Scope,
    key: str,
    default: tuple[str, ...],
    options: ContextOptions,
    out: Collector,
) -> None:
    got = read(path, options.max_file_bytes)
    if got.text is None:
        out.note(f"{path} skipped: {got.error}")
        return
    header = read_header(got.text)
    globs = as_globs(header.data.get(key)) or default
    description = as_text(header.data.get("description"))
    if globs:
        condition = f"{key}: {', '.join(globs)}"
    elif description:
        condition = f"when the agent finds it relevant: {description}"
    else:
        condition = MANUAL
    body = got.text[header.body_start :]
    out.add(path, body, "instructions", "conditional", condition=condition, scope=scope)


def copilot(directory: Path, root: Path, options: ContextOptions, out: Collector) -> None:
    home = options.home
    _always(root / ".github" / "copilot-instructions.md", "project", options, out)
    _always(root / "AGENTS.md", "project", options, out)
    for name in ("CLAUDE.md", ".claude/CLAUDE.md", "CLAUDE.local.md"):
        _always(root / name, "project", options, out)
    if home is not None:
        _always(home / ".claude" / "CLAUDE.md", "user", options, out)
    targeted: list[tuple[Path, Scope, str, str, tuple[str, ...]]] = [
        (root / ".github" / "instructions", "project", ".instructions.md", "applyTo", ()),
        (root / ".claude" / "rules", "project", ".md", "paths", ("**",)),
    ]
    if home is not None:
        targeted += [
            (home / ".copilot" / "instructions", "user", ".instructions.md", "applyTo", ()),
            (home / ".claude" / "rules", "user", ".md", "paths", ("**",)),
        ]
    for folder, scope, suffix, key, default in targeted:
        for path in files_under(folder, suffix):
            _targeted(path, scope, key, default, options, out)
    skills: list[tuple[Path, Scope]] = []
    if home is not None:
        skills += [(home / d / "skills", "user") for d in (".copilot", ".claude", ".agents")]
    skills += [(root / d / "skills", "project") for d in (".github", ".claude", ".agents")]
    add_skills(skills, options, out, COPILOT_STYLE)
