"""The header line that says which counter the product measured with (rs_bpe or tiktoken)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def _version(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"


def counter_line() -> str:
    from prompt_tokens.tokenizer.encodings import get_encoding

    fast = bool(getattr(get_encoding("cl100k_base"), "fast", False))
    plain = f"the plain side is tiktoken {_version('tiktoken')}"
    if fast:
        return f"counter: rs_bpe {_version('rs-bpe')} for cl100k/o200k counts; {plain}"
    return f"counter: tiktoken (PROMPT_TOKENS_FAST_COUNT=0 or no rs_bpe); {plain}"
