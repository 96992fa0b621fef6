"""Agent instruction files: their dialects, which ``@name`` can be a path, what agents load.

- ``dialects``: the kind of a file from its path (Claude Code memory, Copilot prompt files,
  Cursor rules, Agent Skills, AGENTS.md, templates, generic Markdown/text), overridable per
  glob, and the reference rules each kind follows.
- ``plausible``: ``looks_like_path`` — the filter that keeps npm scopes, decorators, handles and
  placeholders from becoming "file not found" warnings.
- ``includes``: template includes (dotprompt partials, Jinja ``{% include %}``, Prompty
  ``${file:…}``) as file references.
- ``references``: ``dialect_references`` — the scanner's findings as one dialect reads them,
  for the engine.
- ``context``: what Claude Code, Copilot, Codex and Cursor load at start-up in a folder, each
  file counted with the caller's tokenizer.

Everything here is pure (files are read, nothing is written or fetched) and imports nothing from
the language server or the CLI, so both can call it.
"""
