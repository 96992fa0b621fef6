"""The dialect of a prompt file, from its path, and the reference rules of each dialect.

Agents read the same Markdown differently: ``@docs/a.md`` is an import in Claude Code memory, a
file in a Cursor rule, a chat participant in a Copilot prompt file and plain text in a Jinja
template. Counting a file the way its agent reads it starts with knowing which agent that is.

Detection (first rule that matches; paths compared with ``/``; names are case-sensitive, as
the agents themselves match them):

==================  ========================================================================
dialect             paths
==================  ========================================================================
``skill``           ``SKILL.md`` anywhere (``.claude/skills/*/``, ``.github/skills/*/``, …)
``claude-rule``     ``.claude/rules/**/*.md``
``claude-memory``   ``CLAUDE.md``, ``CLAUDE.local.md``, any other ``.claude/**/*.md``
``copilot``         ``*.prompt.md``, ``*.instructions.md``, ``*.agent.md``, ``*.chatmode.md``,
                    ``.github/copilot-instructions.md``
``cursor-rule``     ``*.mdc`` (Cursor's own extension, normally ``.cursor/rules/**``),
                    ``.cursorrules``
``agents-md``       ``AGENTS.md``, ``AGENTS.override.md``
``dotprompt``       ``*.prompt``
``jinja``           ``*.jinja``, ``*.jinja2``, ``*.j2``
``prompty``         ``*.prompty``
``markdown``        ``*.md``, ``*.markdown``, ``*.mdx``
``text``            anything else
==================  ========================================================================

Overrides (``[{glob, dialect}]``, first match wins, gitignore-style globs via pathspec) are
matched against the path relative to the workspace root before the table above.

Sources, checked 2026-12-02 (the "docs mirror" is ericbuess/claude-code-docs, a daily copy of
code.claude.com/docs; its snapshot of 2026-08-22 was read):

- Claude Code memory — https://code.claude.com/docs/en/memory: ``@path`` imports, "relative
  paths resolve relative to the file containing the import", ``@~/…`` and absolute paths,
  "import parsing skips Markdown code spans and fenced code blocks", "a maximum depth of four
  hops" (the page said five until 2026-05-26, four since), "block-level HTML comments … are
  stripped before the content is injected … Comments inside code blocks are preserved",
  ``.claude/rules/`` with ``paths:`` ("Claude Code removes the frontmatter before loading the
  rule into context"), a path with spaces needs ``\\ ``, a quoted path is not imported.
- Copilot / VS Code — https://code.visualstudio.com/docs/agent-customization/prompt-files and
  …/custom-instructions (DateApproved 2026-07-29): Markdown links to workspace files,
  ``#tool:``, ``${input:name}`` / ``${input:name:placeholder}``, built-in variables such as
  ``${selection}``; ``applyTo``. ``@name`` addresses a chat participant in VS Code chat; the
  current prompt-file page no longer lists the built-in variables one by one — the list in
  ``COPILOT_VARIABLES`` is the one older versions of that page gave (not re-verified).
- Cursor — https://cursor.com/docs/rules: ``.cursor/rules/*.mdc`` with ``description``,
  ``globs``, ``alwaysApply``; a plain ``.md`` there is ignored; ``.cursorrules`` is the legacy
  file, still read; ``@file`` in a rule attaches that file (stated on the older
  docs.cursor.com page; the current page was only seen in excerpts).
- Agent Skills — https://agentskills.io/specification (agentskills/agentskills
  docs/specification.mdx) and https://code.claude.com/docs/en/skills: ``name`` +
  ``description`` loaded at start-up, the body on activation, referenced files on demand.
- Codex AGENTS.md — https://developers.openai.com/codex/guides/agents-md and openai/codex
  ``codex-rs/core/src/agents_md.rs``: Codex itself expands no ``@`` syntax; Claude Code (when it
  reads AGENTS.md) and Copilot CLI do, so ``@path`` stays a file reference there.
- dotprompt partials ``{{> name}}`` are files ``_name.prompt`` in the prompt folder (Genkit's
  loader convention, seen in its source; not verified on genkit.dev). Jinja ``{% include %}``
  names are resolved against the including file's folder (a FileSystemLoader rooted there —
  an assumption: Jinja itself resolves against its loader's search path). Prompty
  ``${file:path}`` in front matter is relative to the ``.prompty`` file (microsoft/prompty).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import PurePath, PurePosixPath
from typing import Any, Literal, get_args

import attrs
import pathspec

Dialect = Literal[
    "claude-memory",
    "claude-rule",
    "copilot",
    "cursor-rule",
    "skill",
    "agents-md",
    "dotprompt",
    "jinja",
    "prompty",
    "markdown",
    "text",
]
DIALECTS: tuple[str, ...] = get_args(Dialect)

AtSyntax = Literal["file", "participant", "none"]
VariableSyntax = Literal["mustache", "input", "vscode"]
IncludeSyntax = Literal["dotprompt-partial", "jinja-include", "prompty-file"]

# VS Code's built-in prompt variables (besides ${input:…}); see the module docstring.
COPILOT_VARIABLES: tuple[str, ...] = (
    "workspaceFolder",
    "workspaceFolderBasename",
    "selection",
    "selectedText",
    "file",
    "fileBasename",
    "fileDirname",
    "fileBasenameNoExtension",
)

CLAUDE_IMPORT_MAX_HOPS = 4


class DialectError(ValueError):
    """A settings value for dialect overrides is wrong; the message is one readable line."""


@attrs.frozen
class DialectRules:
    """How one dialect's references are read.

    ``at``: ``"file"`` — ``@path`` names a file (filtered by ``plausible.looks_like_path``);
    ``"participant"`` — ``@name`` is a chat participant, never a file or URL; ``"none"`` —
    ``@`` is plain text (templates: no template engine reads it).
    ``links_on_demand``: linked files are loaded only when the agent decides to read them
    (Agent Skills), so they are reported apart from what the file itself costs.
    ``strip_html_comments`` / ``strip_front_matter``: what the loader removes before the model
    sees the text. ``max_import_hops``: the agent's own recursion limit (None: the project's
    ``references.maxDepth`` applies).
    """

    dialect: Dialect
    at: AtSyntax = "file"
    hash_file: bool = False
    urls: bool = False
    markdown_links: bool | None = None  # None: the ``references.markdownLinks`` setting decides
    links_on_demand: bool = False
    variables: tuple[VariableSyntax, ...] = ()
    includes: tuple[IncludeSyntax, ...] = ()
    strip_html_comments: bool = False
    strip_front_matter: bool = False
    max_import_hops: int | None = None
    agent: str | None = None  # the agent whose loader defines these rules


_CLAUDE = {
    "at": "file",
    "max_import_hops": CLAUDE_IMPORT_MAX_HOPS,
    "strip_html_comments": True,
    "agent": "claude-code",
}

RULES: Mapping[str, DialectRules] = {
    "claude-memory": DialectRules("claude-memory", **_CLAUDE),  # type: ignore[arg-type]
    "claude-rule": DialectRules(
        "claude-rule",
        strip_front_matter=True,
        **_CLAUDE,  # type: ignore[arg-type]
    ),
    "copilot": DialectRules(
        "copilot",
        at="participant",
        hash_file=True,
        urls=True,
        markdown_links=True,
        variables=("input", "vscode"),
        agent="copilot",
    ),
    "cursor-rule": DialectRules("cursor-rule", at="file", urls=True, agent="cursor"),
    "skill": DialectRules(
        "skill", at="file", markdown_links=True, links_on_demand=True, agent="claude-code"
    ),
    "agents-md": DialectRules("agents-md", at="file", agent="codex"),
    "dotprompt": DialectRules(
        "dotprompt", at="none", variables=("mustache",), includes=("dotprompt-partial",)
    ),
    "jinja": DialectRules("jinja", at="none", variables=("mustache",), includes=("jinja-include",)),
    "prompty": DialectRules(
        "prompty", at="none", variables=("mustache",), includes=("prompty-file",)
    ),
    "markdown": DialectRules(
        "markdown", at="file", hash_file=True, urls=True, variables=("mustache", "input")
    ),
    "text": DialectRules(
        "text",
        at="file",
        hash_file=True,
        urls=True,
        markdown_links=False,
        variables=("mustache", "input"),
    ),
}

_COPILOT_SUFFIXES = (".prompt.md", ".instructions.md", ".agent.md", ".chatmode.md")
_SUFFIX_DIALECTS: tuple[tuple[tuple[str, ...], Dialect], ...] = (
    ((".mdc",), "cursor-rule"),
    ((".prompt",), "dotprompt"),
    ((".jinja", ".jinja2", ".j2"), "jinja"),
    ((".prompty",), "prompty"),
    ((".md", ".markdown", ".mdx"), "markdown"),
)


def rules_for(dialect: Dialect) -> DialectRules:
    return RULES[dialect]


def _parts(path: str | PurePath) -> tuple[str, ...]:
    """``PurePosixPath(path).parts`` of a path with either slash (string work: this runs for
    every file of a CLI run)."""
    text = str(path).replace("\\", "/")
    if _untidy(text):
        return PurePosixPath(text).parts
    parts = tuple(text.split("/"))
    return ("/", *parts[1:]) if text.startswith("/") else parts


def default_dialect(path: str | PurePath) -> Dialect:
    """The dialect from the path alone (the table in the module docstring)."""
    parts = _parts(path)
    if not parts:
        return "text"
    name = parts[-1]
    dirs = parts[:-1]
    if name == "SKILL.md":
        return "skill"
    if name.endswith(".md") and _under(dirs, (".claude", "rules")):
        return "claude-rule"
    if name in ("CLAUDE.md", "CLAUDE.local.md") or (name.endswith(".md") and ".claude" in dirs):
        return "claude-memory"
    if name.endswith(_COPILOT_SUFFIXES) or (
        name == "copilot-instructions.md" and dirs[-1:] == (".github",)
    ):
        return "copilot"
    if name == ".cursorrules":
        return "cursor-rule"
    if name in ("AGENTS.md", "AGENTS.override.md"):
        return "agents-md"
    lower = name.lower()
    for suffixes, dialect in _SUFFIX_DIALECTS:
        if lower.endswith(suffixes):
            return dialect
    return "text"


def _under(dirs: tuple[str, ...], pair: tuple[str, str]) -> bool:
    return any(dirs[i : i + 2] == pair for i in range(len(dirs) - 1))


@attrs.frozen
class DialectOverride:
    glob: str
    dialect: Dialect


@attrs.frozen
class DialectMap:
    """Overrides compiled once; ``dialect_of`` is then a pure lookup per path."""

    overrides: tuple[DialectOverride, ...] = ()
    _specs: tuple[pathspec.GitIgnoreSpec, ...] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        specs = tuple(pathspec.GitIgnoreSpec.from_lines([o.glob]) for o in self.overrides)
        object.__setattr__(self, "_specs", specs)

    def dialect_of(self, path: str | PurePath, root: str | PurePath | None = None) -> Dialect:
        """The dialect of ``path``; overrides see it relative to ``root`` when it lies inside."""
        rel = _relative(path, root)
        for override, spec in zip(self.overrides, self._specs, strict=True):
            if spec.match_file(rel):
                return override.dialect
        return default_dialect(rel)


def _relative(path: str | PurePath, root: str | PurePath | None) -> str:
    p = str(path).replace("\\", "/")
    if root is None:
        return str(PurePosixPath(p)) if _untidy(p) else p
    r = str(root).replace("\\", "/")
    if not (_untidy(p) or _untidy(r)):  # the common case, on strings
        if not p.startswith("/"):
            return p
        if p == r:
            return "."
        prefix = r if r.endswith("/") else r + "/"
        return p[len(prefix) :] if p.startswith(prefix) else p
    pp, rp = PurePosixPath(p), PurePosixPath(r)
    if pp.is_absolute() and pp.is_relative_to(rp):
        return str(pp.relative_to(rp))
    return str(pp)


def _untidy(p: str) -> bool:
    """What ``PurePosixPath`` would tidy: doubled slashes, ``.`` parts, a trailing slash."""
    return (
        "//" in p or "/./" in p or p.startswith("./") or p.endswith(("/.", "/")) or p in (".", "")
    )


def dialect_of(
    path: str | PurePath,
    root: str | PurePath | None = None,
    overrides: Iterable[DialectOverride] = (),
) -> Dialect:
    """One-off lookup; build a ``DialectMap`` to look up many paths with the same overrides."""
    return DialectMap(tuple(overrides)).dialect_of(path, root)


def parse_overrides(raw: Any) -> tuple[DialectOverride, ...]:
    """``[{"glob": "prompts/**/*.md", "dialect": "jinja"}, …]`` from settings.

    Raises ``DialectError`` with one line naming the bad entry; callers keep their previous
    overrides (or none) and show the message. Checked by hand rather than with cattrs: cattrs
    would turn ``glob: 3`` into ``"3"`` and word a bad dialect as "unknown error (… not in
    literal …)"; here each entry gets a sentence a user can act on.
    """
    if raw is None:
        return ()
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes):
        raise DialectError("dialect overrides must be a list of {glob, dialect} entries")
    out: list[DialectOverride] = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, Mapping):
            raise DialectError(f"dialect override #{i + 1} must be a {{glob, dialect}} table")
        unknown = set(entry) - {"glob", "dialect"}
        if unknown:
            raise DialectError(
                f"dialect override #{i + 1}: unknown key(s) {', '.join(sorted(map(str, unknown)))}"
            )
        glob, dialect = entry.get("glob"), entry.get("dialect")
        if not isinstance(glob, str) or not glob.strip():
            raise DialectError(f"dialect override #{i + 1}: glob must be non-empty text")
        if dialect not in DIALECTS:
            raise DialectError(
                f"dialect override #{i + 1}: unknown dialect {dialect!r} "
                f"(one of {', '.join(DIALECTS)})"
            )
        try:
            pathspec.GitIgnoreSpec.from_lines([glob])
        except (ValueError, TypeError) as exc:
            raise DialectError(f"dialect override #{i + 1}: invalid glob {glob!r}: {exc}") from None
        out.append(DialectOverride(glob=glob, dialect=dialect))
    return tuple(out)
