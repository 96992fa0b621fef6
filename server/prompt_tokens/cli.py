"""Command-line front end: ``count``, ``check``, ``lsp`` and ``cache``.

Shares the engine with the language server. Every failure a user can cause ends as one line
on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from prompt_tokens import __version__
from prompt_tokens.errors import PromptTokensError, UsageError
from prompt_tokens.results import DocumentResult
from prompt_tokens.settings import Settings, deep_merge, parse_settings
from prompt_tokens.workspace import find_root, load_config

log = logging.getLogger("prompt_tokens")

PROMPT_SUFFIXES = (
    ".md", ".markdown", ".txt", ".prompt", ".prompty", ".jinja", ".jinja2", ".j2",
    ".mustache", ".hbs", ".tmpl", ".mdx", ".yaml", ".yml",
)  # fmt: skip
SKIP_DIRS = {".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__", ".tox"}
PROGRESS_MIN_FILES = 4
PROGRESS_MIN_BYTES = 8 << 20


class ArgumentParser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so usage errors share one exit path (code 2)."""

    def error(self, message: str) -> Any:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="prompt-tokens", description="Exact LLM token counts for prompts.")
    p.add_argument("--version", action="version", version=f"prompt-tokens {__version__}")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more logging on stderr")
    sub = p.add_subparsers(dest="command", required=True, parser_class=ArgumentParser)

    def counting(name: str, help_: str) -> None:
        c = sub.add_parser(name, help=help_)
        g = c.add_mutually_exclusive_group()
        g.add_argument("--model", help="model name (sets encoding and default budget)")
        g.add_argument("--encoding", help="cl100k_base or o200k_base")
        c.add_argument("--budget", type=int, help="tokens allowed for each file's total")
        c.add_argument("--json", action="store_true", help="print one JSON object")
        c.add_argument("--no-references", action="store_true", help="count only the text")
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

    counting("count", "count tokens of files, folders or stdin")
    counting("check", "like count; exit 1 if any total exceeds its budget")
    lsp = sub.add_parser("lsp", help="run the language server (stdio by default)")
    lsp.add_argument("--tcp", action="store_true")
    lsp.add_argument("--host", default="127.0.0.1")
    lsp.add_argument("--port", type=int, default=2087)
    cache = sub.add_parser("cache", help="inspect or maintain the SQLite cache")
    cache.add_argument("action", choices=["stats", "clear", "prune"])
    cache.add_argument("--cache", metavar="PATH", help="SQLite cache file")
    cache.add_argument("--max-age-days", type=float, default=30.0, help="prune: older entries")
    cache.add_argument("--max-rows", type=int, default=None, help="prune: keep at most N rows")
    return p


# -- discovering files ---------------------------------------------------------------------


def _git_files(folder: Path) -> list[Path] | None:
    """Tracked and untracked-but-not-ignored files, when ``folder`` is inside a git work tree."""
    try:
        out = subprocess.run(
            [
                "git",
                "-C",
                str(folder),
                "ls-files",
                "-z",
                "--cached",
                "--others",
                "--exclude-standard",
            ],
            capture_output=True,
            check=True,
            timeout=30,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return [folder / p for p in out.decode("utf-8", "surrogateescape").split("\0") if p]


def walk(folder: Path) -> Iterator[Path]:
    """Prompt-like files under ``folder``: gitignore respected when in git, hidden dirs skipped."""
    listed = _git_files(folder)
    if listed is None:
        listed = []
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = sorted(
                d for d in dirnames if d not in SKIP_DIRS and not d.startswith(".")
            )
            listed.extend(Path(dirpath) / f for f in filenames)
    for path in sorted(listed):
        if any(part in SKIP_DIRS for part in path.relative_to(folder).parts):
            continue
        if path.name.lower().endswith(PROMPT_SUFFIXES) and path.is_file():
            yield path


def expand_paths(paths: Sequence[str]) -> list[str]:
    out: list[str] = []
    for raw in paths:
        if raw == "-":
            out.append("-")
            continue
        p = Path(raw).expanduser()
        if p.is_dir():
            found = [str(f) for f in walk(p)]
            if not found:
                log.warning(
                    "%s: no prompt files found (looked for %s)", raw, ", ".join(PROMPT_SUFFIXES)
                )
            out.extend(found)
        else:
            out.append(str(p))
    return out


# -- settings per workspace ------------------------------------------------------------------


def flag_overrides(args: argparse.Namespace) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    if args.model:
        raw["model"] = args.model
    if args.encoding:
        # not at the top: it loads tiktoken, which `prompt-tokens lsp` must not wait for
        from prompt_tokens.tokenizer.encodings import ENCODINGS

        if args.encoding not in ENCODINGS:
            raise UsageError(f"--encoding must be one of {', '.join(ENCODINGS)}")
        raw["encoding"] = args.encoding
        raw["model"] = None
    if args.budget is not None:
        if args.budget <= 0:
            raise UsageError("--budget must be a positive number of tokens")
        raw["budget"] = args.budget
    if args.no_cache:
        raw["cache"] = {"path": None}
    elif args.cache:
        raw["cache"] = {"path": args.cache}
    return raw


def settings_for(root: Path, flags: dict[str, Any]) -> tuple[Settings, list[str]]:
    toml, problems = load_config(root)
    settings, more = parse_settings(deep_merge(toml, flags))
    return settings, problems + [
        p.replace("promptTokens.", f"{root}/.prompt-tokens.toml: ", 1) for p in more
    ]


# -- output --------------------------------------------------------------------------------


class Progress:
    """A one-line progress bar on stderr, only when stderr is a terminal."""

    def __init__(
        self, total: int, stream: TextIO = sys.stderr, enabled: bool | None = None
    ) -> None:
        self.total = total
        self.done = 0
        self.stream = stream
        self.enabled = stream.isatty() if enabled is None else enabled

    def step(self, label: str) -> None:
        self.done += 1
        if not self.enabled:
            return
        width = 30
        filled = int(width * self.done / max(1, self.total))
        name = label if len(label) <= 40 else "…" + label[-39:]
        self.stream.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} {name:<40}"
        )
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * 80 + "\r")
            self.stream.flush()


def render_table(results: Sequence[DocumentResult], stream: TextIO) -> None:
    headers = ("file", "text", "refs", "total", "budget", "used", "status")
    rows = []
    for r in results:
        pct = f"{100 * r.tokens.total / r.budget:.0f}%" if r.budget else "-"
        rows.append(
            (
                r.path,
                f"{r.tokens.text:,}",
                f"{r.tokens.references:,}",
                f"{r.tokens.total:,}",
                f"{r.budget:,}",
                pct,
                r.status,
            )
        )
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        middle = [c.rjust(w) for c, w in zip(cells[1:-1], widths[1:-1], strict=True)]
        return "  ".join([first, *middle, cells[-1]]) + "\n"

    stream.write(line(headers))
    for r, row in zip(results, rows, strict=True):
        stream.write(line(row))
        for ref in r.references:
            if ref.status == "error":
                detail = f"error: {ref.error}"
            elif ref.duplicate:
                detail = "counted above"
            else:
                detail = f"+{ref.tokens:,}"
            indent = "    " * (1 + ref.depth)
            stream.write(f"{indent}{ref.kind} {ref.raw or ref.target}  {detail}\n")
    if len(results) > 1:
        stream.write(
            f"{len(results)} files, {sum(r.tokens.total for r in results):,} tokens in total\n"
        )


# -- commands ------------------------------------------------------------------------------


async def _count_all(args: argparse.Namespace) -> tuple[list[DocumentResult], int]:
    """Count every file through the engine: several documents at once, results in order."""
    # imported here, not at the top: `prompt-tokens lsp` must not load the engine before
    # answering `initialize`
    from prompt_tokens.runtime import CountRequest, Runtime

    flags = flag_overrides(args)
    files = expand_paths(args.paths)
    if not files:
        raise UsageError("no files to count")
    if files.count("-") > 1:
        raise UsageError("stdin (-) can be counted only once")
    total_bytes = sum(os.path.getsize(f) for f in files if f != "-" and os.path.isfile(f))
    progress = Progress(len(files), enabled=None)
    if len(files) < PROGRESS_MIN_FILES and total_bytes < PROGRESS_MIN_BYTES:
        progress.enabled = False
    rt = Runtime(workers=4)
    roots: list[str] = []
    requests: list[CountRequest] = []
    for label in files:
        doc_path = Path.cwd() / "-" if label == "-" else Path(label).resolve()
        folder = Path(args.root).resolve() if args.root else (find_root(doc_path) or Path.cwd())
        root = str(folder)
        if root not in roots:
            settings, problems = settings_for(folder, flags)
            for msg in problems:
                print(f"prompt-tokens: warning: {msg}", file=sys.stderr)
            rt.set_settings(root, settings, folders=[folder])
            roots.append(root)
        data = sys.stdin.buffer.read() if label == "-" else None
        requests.append(CountRequest(root, label, str(doc_path), data))

    results: list[DocumentResult] = []
    errors = 0
    try:
        outcomes = await rt.count_files(
            requests, references=not args.no_references, on_done=progress.step
        )
        for f, outcome in zip(files, outcomes, strict=True):
            if isinstance(outcome, DocumentResult):
                results.append(outcome)
                continue
            errors += 1
            if isinstance(outcome, OSError):
                msg = outcome.strerror or str(outcome)
            elif isinstance(outcome, PromptTokensError):
                msg = str(outcome)
            else:
                msg = f"internal error: {type(outcome).__name__}: {outcome}"
            print(f"prompt-tokens: {msg if msg.startswith(f) else f'{f}: {msg}'}", file=sys.stderr)
        if args.stats:
            for root in roots:
                print(json.dumps(rt.stats(root), indent=2), file=sys.stderr)
    finally:
        progress.close()
        await rt.aclose()
    return results, errors


def cmd_count(args: argparse.Namespace) -> int:
    results, errors = asyncio.run(_count_all(args))
    if args.json:
        doc = {
            "files": [r.to_json() for r in results],
            "total": sum(r.tokens.total for r in results),
        }
        json.dump(doc, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    elif results:
        render_table(results, sys.stdout)
    for r in results:
        for d in r.diagnostics:
            if d.code.startswith("budget-"):
                continue
            print(
                f"{r.path}:{d.span.line + 1}:{d.span.start + 1}: {d.severity}: {d.message} [{d.code}]",
                file=sys.stderr,
            )
    if args.command == "check":
        over = [r for r in results if r.status == "exceeded"]
        for r in over:
            print(
                f"prompt-tokens: {r.path}: {r.tokens.total:,} tokens exceed the budget of {r.budget:,}",
                file=sys.stderr,
            )
        if over:
            return 1
    return 1 if errors else 0


def cmd_cache(args: argparse.Namespace) -> int:
    settings, problems = parse_settings({"cache": {"path": args.cache}} if args.cache else {})
    for msg in problems:
        print(f"prompt-tokens: warning: {msg}", file=sys.stderr)
    if settings.cache.path is None:
        raise UsageError("no cache file: --cache must name a SQLite file")
    return asyncio.run(_cache_action(args, settings))


async def _cache_action(args: argparse.Namespace, settings: Settings) -> int:
    from prompt_tokens.runtime import Runtime  # not at the top: see _count_all

    rt = Runtime()
    root = os.getcwd()
    rt.set_settings(root, settings)
    try:
        if args.action == "stats":
            json.dump(rt.cache_stats(root), sys.stdout, indent=2)
            sys.stdout.write("\n")
        elif args.action == "clear":
            rt.clear_cache(root)
            print(f"cleared {settings.cache.path}")
        else:
            removed = rt.prune_cache(
                root, max_age_s=args.max_age_days * 86400, max_rows=args.max_rows
            )
            print(f"pruned {removed} entries from {settings.cache.path}")
    finally:
        await rt.aclose()
    return 0


def cmd_lsp(args: argparse.Namespace) -> int:
    from prompt_tokens.lsp.bootstrap import start  # answers initialize before importing pygls

    start(args.tcp, args.host, args.port)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        stream=sys.stderr, level=logging.WARNING, format="prompt-tokens: %(message)s"
    )
    try:
        args = build_parser().parse_args(argv)
        if args.verbose:
            logging.getLogger("prompt_tokens").setLevel(
                logging.DEBUG if args.verbose > 1 else logging.INFO
            )
        handler = {"count": cmd_count, "check": cmd_count, "cache": cmd_cache, "lsp": cmd_lsp}
        return handler[args.command](args)
    except UsageError as exc:
        print(f"prompt-tokens: {exc}", file=sys.stderr)
        return 2
    except PromptTokensError as exc:
        print(f"prompt-tokens: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("prompt-tokens: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # last line of defence: one line, no traceback
        log.debug("internal error", exc_info=True)
        print(
            f"prompt-tokens: internal error: {type(exc).__name__}: {exc} (run with -vv for details)",
            file=sys.stderr,
        )
        return 1
