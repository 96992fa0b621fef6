"""Every environment variable the product reads, in one place.

Reading the environment is an input like any other: keeping the reads here makes it visible
which knobs exist, and lets tests pass a mapping instead of patching ``os.environ``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

EnvMap = Mapping[str, str]


def _env(environ: EnvMap | None) -> EnvMap:
    return os.environ if environ is None else environ


def cache_dir(environ: EnvMap | None = None) -> str | None:
    """``PROMPT_TOKENS_CACHE_DIR``: folder of the default SQLite cache (None: platform default)."""
    return _env(environ).get("PROMPT_TOKENS_CACHE_DIR") or None


def tiktoken_dir(environ: EnvMap | None = None) -> str | None:
    """``PROMPT_TOKENS_TIKTOKEN_DIR``: a folder of user-supplied ``.tiktoken`` rank files."""
    return _env(environ).get("PROMPT_TOKENS_TIKTOKEN_DIR") or None


def log_level(environ: EnvMap | None = None) -> str:
    """``PROMPT_TOKENS_LOG_LEVEL``: a logging level name or number ('' when unset)."""
    return _env(environ).get("PROMPT_TOKENS_LOG_LEVEL", "").strip().upper()


def early_init(environ: EnvMap | None = None) -> bool:
    """``PROMPT_TOKENS_EARLY_INIT``: answer ``initialize`` before pygls is imported (default on)."""
    raw = _env(environ).get("PROMPT_TOKENS_EARLY_INIT", "1").strip().lower()
    return raw not in ("0", "false", "no", "off")


def max_document_chars(environ: EnvMap | None = None) -> int:
    """``PROMPT_TOKENS_MAX_DOCUMENT_CHARS``: open documents larger than this are not counted."""
    raw = _env(environ).get("PROMPT_TOKENS_MAX_DOCUMENT_CHARS", "")
    try:
        return int(raw) if raw.strip() else 256_000_000
    except ValueError:
        return 256_000_000


def profile_path(environ: EnvMap | None = None) -> str | None:
    """``PROMPT_TOKENS_PROFILE``: a developer aid; the language server writes cProfile stats
    of its whole run to this file."""
    return _env(environ).get("PROMPT_TOKENS_PROFILE") or None


def expand(name: str, environ: EnvMap | None = None) -> str | None:
    """The value of ``name`` for ``${env:NAME}`` expansion in the user's own settings."""
    return _env(environ).get(name)


def github_step_summary(environ: EnvMap | None = None) -> str | None:
    """``GITHUB_STEP_SUMMARY``: the file a GitHub Actions step appends its Markdown summary to."""
    return _env(environ).get("GITHUB_STEP_SUMMARY") or None


def codex_home(environ: EnvMap | None = None) -> str | None:
    """``CODEX_HOME``: where Codex keeps its user-level ``AGENTS.md`` (default ``~/.codex``),
    read as Codex reads it, so ``prompt-tokens context`` lists the same file."""
    return _env(environ).get("CODEX_HOME") or None


def anthropic_api_key(environ: EnvMap | None = None) -> str | None:
    """``ANTHROPIC_API_KEY``: the key for Anthropic's token counting (as the Anthropic SDK
    reads it). Never logged or stored."""
    return _env(environ).get("ANTHROPIC_API_KEY", "").strip() or None


def anthropic_base_url(environ: EnvMap | None = None) -> str | None:
    """``ANTHROPIC_BASE_URL``: where the Anthropic API is (as the Anthropic SDK reads it)."""
    return _env(environ).get("ANTHROPIC_BASE_URL", "").strip() or None


def gemini_api_key(environ: EnvMap | None = None) -> str | None:
    """``GOOGLE_API_KEY``, else ``GEMINI_API_KEY``: the key for Gemini's token counting, read
    as the Google Gen AI SDK reads them ("If both GOOGLE_API_KEY and GEMINI_API_KEY are set,
    GOOGLE_API_KEY takes precedence": https://mintlify.com/googleapis/python-genai/concepts/
    authentication, read 2026-12-02). Never logged or stored."""
    env = _env(environ)
    return env.get("GOOGLE_API_KEY", "").strip() or env.get("GEMINI_API_KEY", "").strip() or None


def gemini_base_url(environ: EnvMap | None = None) -> str | None:
    """``GEMINI_BASE_URL``: where the Gemini API is (default Google's public endpoint)."""
    return _env(environ).get("GEMINI_BASE_URL", "").strip() or None


def workers(environ: EnvMap | None = None) -> int | None:
    """``PROMPT_TOKENS_WORKERS``: processes a big CLI run may use (1: count in one process);
    None (unset or not a positive number): one per core."""
    raw = _env(environ).get("PROMPT_TOKENS_WORKERS", "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else None


def fast_count(environ: EnvMap | None = None) -> bool:
    """``PROMPT_TOKENS_FAST_COUNT``: ``0`` makes tiktoken count cl100k/o200k instead of rs_bpe
    (default on; the two are proven equal, this is for anyone who wants the reference only)."""
    raw = _env(environ).get("PROMPT_TOKENS_FAST_COUNT", "1").strip().lower()
    return raw not in ("0", "false", "no", "off")
