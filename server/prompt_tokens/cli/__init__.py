"""Command-line front end: ``count``, ``check``, ``context``, ``models``, ``cache``, ``lsp``.

Shares the engine with the language server through ``runtime.Runtime``. Modules: ``args`` (the
grammar), ``discovery`` (which files a command line names), ``output`` (tables, JSON, progress),
``count`` and ``check`` (with ``base`` and ``merge`` for the CI gate), ``context``, ``models``,
``cache``, ``lsp``, and ``main``, which runs one of them and maps every failure to one line and
an exit code.
"""

from __future__ import annotations

from prompt_tokens.cli.main import entry, main

__all__ = ["entry", "main"]
