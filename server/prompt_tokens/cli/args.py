"""The command line's grammar: every subcommand, flag and help text, and the flag checks.

Kept apart from the commands so ``--help`` documents everything in one place, and so a bad
flag is refused (exit 2) before any file is read or any engine part is built.
"""

from __future__ import annotations

import argparse
from typing import Any

from prompt_tokens import __version__
from prompt_tokens.errors import UsageError

AGENT_CHOICES = "claude-code|copilot|codex|cursor|all"
FORMATS = ("text", "json", "sarif", "junit", "github")
"""``ci.formats.FORMATS``, written out: importing the renderers here would slow down the start
of ``prompt-tokens lsp`` (a test keeps the two equal)."""
MAX_PORT = 65535


class ArgumentParser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so usage errors share one exit path (code 2)."""

    def error(self, message: str) -> Any:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def port(raw: str) -> int:
    """``--port``: a TCP port a server can listen on, checked before anything starts."""
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a port number, not {raw!r}") from None
    if not 1 <= value <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_PORT}, not {value}")
    return value


def positive(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {raw!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive number of tokens")
    return value


def _tokenizer_flags(c: argparse.ArgumentParser) -> None:
    g = c.add_mutually_exclusive_group()
    g.add_argument(
        "--model", help="model name (sets encoding and default budget; see 'prompt-tokens models')"
    )
    g.add_argument(
        "--encoding", help="tokenizer when no model is set: cl100k_base, o200k_base, qwen2, …"
    )


def _counting(sub: Any, name: str, help_: str) -> argparse.ArgumentParser:
    c: argparse.ArgumentParser = sub.add_parser(name, help=help_, description=help_)
    _tokenizer_flags(c)
    c.add_argument("--budget", type=positive, help="tokens allowed for each file's total")
    c.add_argument("--json", action="store_true", help="print one JSON object")
    c.add_argument("--no-references", action="store_true", help="count only the text")
    c.add_argument(
        "--exact-remote",
        action="store_true",
        help="exact counts from the model's vendor (Claude: ANTHROPIC_API_KEY; Gemini: "
        "GEMINI_API_KEY or GOOGLE_API_KEY), cached by content; off by default",
    )
    cg = c.add_mutually_exclusive_group()
    cg.add_argument("--cache", metavar="PATH", help="SQLite cache file")
    cg.add_argument("--no-cache", action="store_true", help="memory-only cache")
    c.add_argument(
        "--root",
        metavar="DIR",
        help="workspace folder (default: nearest ancestor with .prompt-tokens.toml or .git)",
    )
    c.add_argument("--stats", action="store_true", help="print job/cache statistics to stderr")
    c.add_argument("paths", nargs="+", metavar="PATH", help="files, folders or - for stdin")
    return c


def _check_flags(c: argparse.ArgumentParser) -> None:
    c.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="report format (default text; --json is --format json): sarif for code scanning, "
        "junit for test reports, github for annotations on the diff plus a job summary "
        "in $GITHUB_STEP_SUMMARY",
    )
    c.add_argument(
        "--base",
        metavar="REV",
        help="git revision to compare with (also A...B: their merge base, as a pull request "
        "is compared); adds each file's base total and change",
    )
    c.add_argument(
        "--max-increase",
        metavar="N|P%",
        help="with --base: fail when a file grew by more than N tokens or P percent",
    )


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="prompt-tokens", description="Exact LLM token counts for prompts.")
    p.add_argument("--version", action="version", version=f"prompt-tokens {__version__}")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more logging on stderr")
    sub = p.add_subparsers(dest="command", required=True, parser_class=ArgumentParser)

    _counting(sub, "count", "count tokens of files, folders or stdin")
    check = _counting(
        sub,
        "check",
        "like count, as a CI gate: exit 1 if a total exceeds its budget (or grew more than "
        "--max-increase), 2 on usage or configuration errors; budgets per glob from "
        "[[budgets]] in .prompt-tokens.toml",
    )
    _check_flags(check)

    lsp = sub.add_parser("lsp", help="run the language server (stdio by default)")
    lsp.add_argument("--tcp", action="store_true", help="listen on TCP instead of stdio")
    lsp.add_argument("--host", default="127.0.0.1", help="with --tcp: address to listen on")
    lsp.add_argument("--port", type=port, default=2087, help="with --tcp: port (1-65535)")

    cache = sub.add_parser("cache", help="inspect or maintain the SQLite cache")
    cache.add_argument("action", choices=["stats", "clear", "prune"])
    cache.add_argument("--cache", metavar="PATH", help="SQLite cache file")
    cache.add_argument("--max-age-days", type=float, default=30.0, help="prune: older entries")
    cache.add_argument("--max-rows", type=int, default=None, help="prune: keep at most N rows")

    models = sub.add_parser("models", help="the model table: tokenizer, exactness, limits")
    models.add_argument("--json", action="store_true", help="print one JSON object")

    context = sub.add_parser(
        "context", help="what each coding agent loads at start-up in a folder, in tokens"
    )
    context.add_argument("dir", nargs="?", default=".", metavar="DIR", help="default: .")
    context.add_argument(
        "--agent",
        default="all",
        metavar=AGENT_CHOICES,
        help="one agent, a comma-separated list, or all (default)",
    )
    _tokenizer_flags(context)
    context.add_argument("--json", action="store_true", help="print one JSON object")
    context.add_argument(
        "--no-user", action="store_true", help="leave out user-level files (~/.claude, ~/.codex)"
    )
    return p
