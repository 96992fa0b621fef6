"""Every exact tokenizer on real text: load time, whole-text speed, block path, one-char edit.

    python benchmarks/bench_tokenizers.py [--mb 2] [--json]

Text: every file of the shared corpus (``../shared/corpus``), repeated to ``--mb`` MB. Per
tokenizer, in one process: the load (first ``get_encoding``), one whole-text
``encode_ordinary`` (the reference), ``BlockCounter.count`` cold (4 KiB safe-cut blocks) and
after a one-character edit in the middle (memo warm: only the touched block is re-encoded),
and ``count_text_parallel`` (64 KiB blocks, 2 threads). Every figure's count is checked against
the whole-text count; ratios are against that same tokenizer's whole-text encode.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "unit"))


def corpus_text(mb: float) -> str:
    from shared_corpus import corpus_files

    parts = [p.read_text(encoding="utf-8", errors="replace") for p in corpus_files()]
    one = "\n".join(parts)
    reps = max(1, int(mb * 1_000_000 / max(1, len(one.encode()))) + 1)
    return (one + "\n") * reps


def timed(fn):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def bench(name: str, text: str) -> dict[str, object]:
    from prompt_tokens.tokenizer.counter import BlockCounter, count_text_parallel
    from prompt_tokens.tokenizer.encodings import get_encoding

    enc, load_s = timed(lambda: get_encoding(name))
    whole, whole_s = timed(lambda: len(enc.encode_ordinary(text)))
    counter = BlockCounter(name, block_chars=4096)
    blocks, blocks_s = timed(lambda: counter.count(text))
    mid = len(text) // 2
    edited = text[:mid] + "Z" + text[mid + 1 :]
    after, edit_s = timed(lambda: counter.count(edited))
    parallel, parallel_s = timed(lambda: count_text_parallel(text, name))
    assert blocks == whole == parallel, (name, blocks, whole, parallel)
    assert after == len(enc.encode_ordinary(edited)), name
    mb = len(text.encode()) / 1e6
    return {
        "tokenizer": name,
        "tokens": whole,
        "load_s": round(load_s, 3),
        "whole_MBps": round(mb / whole_s, 2),
        "blocks_cold_ratio": round(blocks_s / whole_s, 2),
        "edit_ms": round(edit_s * 1000, 1),
        "edit_ratio": round(edit_s / whole_s, 4),
        "parallel_ratio": round(parallel_s / whole_s, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=2.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    from prompt_tokens.tokenizer.encodings import TOKENIZERS

    text = corpus_text(args.mb)
    rows = [bench(name, text) for name in TOKENIZERS]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{len(text.encode()) / 1e6:.1f} MB of the shared corpus; ratios vs whole-text encode")
    head = ("tokenizer", "tokens", "load s", "MB/s", "blocks×", "1-char edit", "edit×", "2 thr×")
    print("{:<15}{:>10}{:>8}{:>7}{:>9}{:>13}{:>8}{:>8}".format(*head))
    for r in rows:
        print(
            f"{r['tokenizer']:<15}{r['tokens']:>10,}{r['load_s']:>8}{r['whole_MBps']:>7}"
            f"{r['blocks_cold_ratio']:>9}{r['edit_ms']:>10} ms{r['edit_ratio']:>8}"
            f"{r['parallel_ratio']:>8}"
        )


if __name__ == "__main__":
    main()
