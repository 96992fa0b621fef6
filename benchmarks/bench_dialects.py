"""The dialect's cost on a keystroke: the incremental scan read in a dialect vs without one.

Run from the repository root::

    PYTHONPATH=$PWD/server .venv/bin/python benchmarks/bench_dialects.py [--rounds 200]

The document: every text file of ``/work/shared/corpus`` (or ``--corpus``) joined, about 2 MB
of real prompts. Per round one character is typed in the middle, then the references are asked
for (``DocumentState.occurrences``), as the language server does after each keystroke:

1. ``BlockScanner`` alone (today's scan, no dialect);
2. the runtime's scanner for ``CLAUDE.md`` (Claude Code memory: filter only);
3. the runtime's scanner for ``x.jinja`` (a template: filter, plus the include scan over the
   joined text);
4. the whole-text dialect scan (``dialect_references``), what a non-incremental path would pay.

Medians in milliseconds, and each row against row 1. The results are checked equal to the
whole-text scan of the final text.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from prompt_tokens.agents.references import dialect_references
from prompt_tokens.document import DocumentState
from prompt_tokens.references.blocks import BlockScanner
from prompt_tokens.runtime import Runtime
from prompt_tokens.settings import Settings


def corpus_text(folder: Path) -> str:
    parts = []
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.name != "LICENSE":
            data = p.read_bytes()
            if b"\0" not in data[:8192]:
                parts.append(data.decode("utf-8", "replace"))
    return "\n".join(parts)


def per_keystroke(text: str, ask: Callable[[DocumentState], object], rounds: int) -> float:
    doc = DocumentState(text)
    ask(doc)
    mid = len(text) // 2
    times = []
    for i in range(rounds):
        doc.replace(mid + i, mid + i, "x")
        t0 = time.perf_counter()
        ask(doc)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, default=Path("/work/shared/corpus"))
    ap.add_argument("--rounds", type=int, default=200)
    args = ap.parse_args()
    text = corpus_text(args.corpus)
    rt = Runtime()
    rt.set_settings("/w", Settings())
    plain = BlockScanner(("file", "url", "variable"), False)
    rows: list[tuple[str, float]] = [
        (
            "BlockScanner, no dialect",
            per_keystroke(text, lambda d: d.occurrences(plain, plain.key), args.rounds),
        )
    ]
    for name in ("CLAUDE.md", "x.jinja"):
        s = rt.scanner("/w", f"/w/{name}")
        assert s is not None
        rows.append(
            (
                f"runtime scanner, {name}",
                per_keystroke(text, lambda d, s=s: d.occurrences(s.scan, s.key), args.rounds),
            )
        )
        final = DocumentState(text)
        assert final.occurrences(s.scan, s.key) == dialect_references(
            text, rt.dialect("/w", f"/w/{name}"), path=f"/w/{name}"
        )
    whole = per_keystroke(
        text,
        lambda d: dialect_references(d.text(), "claude-memory", path="/w/CLAUDE.md"),
        max(5, args.rounds // 20),
    )
    rows.append(("whole-text dialect scan, CLAUDE.md", whole))
    base = rows[0][1]
    print(f"document: {len(text):,} characters")
    for label, ms in rows:
        print(f"{label:40} {ms:9.3f} ms  x{ms / base:6.2f}")


if __name__ == "__main__":
    main()
