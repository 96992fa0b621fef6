"""Counting a document's uncounted blocks, on one thread or (for much new text) two."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from prompt_tokens.document.blocks import Block
from prompt_tokens.tokenizer.openweights import TextEncoder

PARALLEL_ABOVE = 1_000_000
"""Characters of new text above which :func:`count_blocks` uses two threads (when they help)."""


def count_blocks(
    todo: Sequence[Block],
    enc: TextEncoder,
    *,
    cancelled: Callable[[], bool] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> bool:
    """Fill in ``tokens`` of each block (``encode_ordinary``: the exact count of its text).
    More than ``PARALLEL_ABOVE`` characters are counted on two threads when the encoder
    releases the GIL (tiktoken); rs_bpe holds it, and one thread of it is faster than two of
    tiktoken. Returns False when ``cancelled()`` said to stop."""
    total = sum(len(b.text) for b in todo)
    done = [0]

    def run(blocks: Sequence[Block], report: bool) -> bool:
        for i, b in enumerate(blocks):
            if b.tokens is None:
                b.tokens = enc.count(b.text)
            done[0] += len(b.text)
            if cancelled is not None and i % 16 == 15 and cancelled():
                return False
            if report and progress is not None and i % 32 == 31:
                progress(min(done[0], total), total)
        return True

    if total <= PARALLEL_ABOVE or not enc.releases_gil:
        return run(todo, True)
    with ThreadPoolExecutor(1, thread_name_prefix="pt-doc") as pool:
        other = pool.submit(run, todo[1::2], False)
        ok = run(todo[0::2], True)
        return other.result() and ok
