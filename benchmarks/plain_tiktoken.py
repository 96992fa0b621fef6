"""Plain tiktoken and nothing of prompt-tokens: what the CLI benchmark times the CLI against.

Run as its own process so it is timed whole, like the CLI (interpreter start, encoding load,
reads, encodes). The encoding is built by tiktoken's own code: ``tiktoken_ext.openai_public``'s
constructor (pattern, special tokens and the sha256 it pins) with its ``load_tiktoken_bpe``
pointed at the product's bundled rank file, decompressed to a temporary file — no download and
no prompt-tokens code::

    python plain_tiktoken.py RANKS_DIR ENCODING loop LIST_FILE OUT_JSON   # one path per line
    python plain_tiktoken.py RANKS_DIR ENCODING whole FILE OUT_JSON

Files are read as UTF-8 with ``errors="replace"`` and ``newline=""`` (line ends untouched).
"""

from __future__ import annotations

import gzip
import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tiktoken
import tiktoken.load
from tiktoken_ext import openai_public


def load_reference(ranks_dir: Path, name: str) -> tiktoken.Encoding:
    """tiktoken's own definition of ``name`` with the ranks read from ``ranks_dir``."""
    ctor: Callable[[], dict[str, Any]] = getattr(openai_public, name)
    asked: list[str | None] = []
    original = openai_public.load_tiktoken_bpe
    with tempfile.TemporaryDirectory(prefix="plain-tiktoken-") as tmp:
        ranks_file = Path(tmp) / f"{name}.tiktoken"
        ranks_file.write_bytes(gzip.decompress((ranks_dir / f"{name}.tiktoken.gz").read_bytes()))

        def local(_url: str, expected_hash: str | None = None) -> dict[bytes, int]:
            asked.append(expected_hash)
            return original(str(ranks_file), expected_hash=expected_hash)

        os.environ["TIKTOKEN_CACHE_DIR"] = str(Path(tmp) / "cache")  # this process only
        openai_public.load_tiktoken_bpe = local
        try:
            d = ctor()
        finally:
            openai_public.load_tiktoken_bpe = original
    if not (asked and asked[0]):
        raise SystemExit(f"tiktoken pinned no hash for {name}; refusing an unchecked reference")
    return tiktoken.Encoding(
        name=d["name"],
        pat_str=d["pat_str"],
        mergeable_ranks=d["mergeable_ranks"],
        special_tokens=d["special_tokens"],
    )


def read_text(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace", newline="") as fh:
        return fh.read()


def main(argv: list[str]) -> int:
    ranks_dir, name, mode, target, out = argv
    enc = load_reference(Path(ranks_dir), name)
    if mode == "loop":
        paths = Path(target).read_text(encoding="utf-8").splitlines()
        files = {p: len(enc.encode_ordinary(read_text(p))) for p in paths}
        result: dict[str, Any] = {"total": sum(files.values()), "files": files}
    elif mode == "whole":
        result = {"total": len(enc.encode_ordinary(read_text(target)))}
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    Path(out).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
