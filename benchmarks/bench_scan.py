"""The reference scan on real files: the whole-text scan and the streaming scan, per tree.

Run from the repository root::

    PYTHONPATH=$PWD/server:$PWD/benchmarks .venv/bin/python benchmarks/bench_scan.py \
        [--tree /tmp/tree] [--rounds 5] [--piece 65536]

The tree: ``--tree`` if it exists, else one built by ``real_tree.build_tree`` (24 MB of real
Markdown and text files, the CLI benchmark's). Every file is read and decoded once; then the
runtime's scanner of each file (its dialect) scans it whole (``Scanner.scan``), and again from
pieces of ``--piece`` characters (``Scanner.scan_pieces``, which never holds the whole text).
Best of ``--rounds`` in seconds, with the tokenizer's time on the same text for scale. The
two scans are checked equal.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from real_tree import build_tree

from prompt_tokens.cli.discovery import walk
from prompt_tokens.runtime import Runtime
from prompt_tokens.settings import Settings
from prompt_tokens.tokenizer.encodings import get_encoding
from prompt_tokens.tokenizer.textio import decode_bytes


def best(rounds: int, run: Callable[[], object]) -> tuple[float, object]:
    out: object = None
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        out = run()
        times.append(time.perf_counter() - t)
    return min(times), out


def pieces(text: str, size: int) -> Iterator[str]:
    for i in range(0, len(text), size):
        yield text[i : i + size]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tree", type=Path, default=Path("/tmp/tree"))
    ap.add_argument("--corpus", type=Path, default=Path("/work/shared/corpus"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--piece", type=int, default=1 << 16)
    args = ap.parse_args()
    if not args.tree.is_dir():
        build_tree(args.tree, args.corpus, 24 << 20)
    root = str(args.tree.resolve())
    files = [str(p.resolve()) for p in walk(args.tree)]
    texts = [decode_bytes(Path(f).read_bytes(), label=f)[0] for f in files]
    rt = Runtime()
    rt.set_settings(root, Settings())
    scanners = [rt.scanner(root, f) for f in files]
    pairs = [(s, t) for s, t in zip(scanners, texts, strict=True) if s is not None]
    chars = sum(len(t) for t in texts)
    print(f"tree: {len(files)} files, {chars:,} characters")

    whole_s, whole = best(args.rounds, lambda: [s.scan(t) for s, t in pairs])
    stream_s, streamed = best(
        args.rounds,
        lambda: [s.scan_pieces(pieces(t, args.piece)) for s, t in pairs if s.scan_pieces],
    )
    assert streamed == whole, "the streaming scan differs from the whole-text scan"
    enc = get_encoding("cl100k_base")
    encode_s, _ = best(1, lambda: [enc.encode_ordinary(t) for t in texts])
    found = whole if isinstance(whole, list) else []
    print(f"references: {sum(map(len, found))} in {sum(1 for o in found if o)} files")
    print(f"whole-text scan        {whole_s:7.3f} s")
    print(f"streaming scan         {stream_s:7.3f} s   ({args.piece:,}-character pieces)")
    print(f"tokenizer (cl100k)     {encode_s:7.3f} s   for scale")


if __name__ == "__main__":
    main()
