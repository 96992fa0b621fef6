"""Exact counting: whole texts, block-wise with a per-block memo, and streamed files.

Every path here returns ``len(enc.encode_ordinary(text))`` for the text it was given, whatever
the tokenizer (``encodings.get_encoding``: OpenAI encodings and the open-weights ones); the block
and stream paths only ever cut at that tokenizer's ``boundaries`` safe cuts, which is what makes
their sums exact. ``encode_ordinary`` treats ``<|endoftext|>`` and friends as plain characters.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Iterable, MutableMapping
from concurrent.futures import Future, ThreadPoolExecutor

import attrs
from cachetools import LRUCache

from prompt_tokens.tokenizer.boundaries import (
    DEFAULT_BLOCK_CHARS,
    safe_cut_pattern,
    split_blocks,
)
from prompt_tokens.tokenizer.encodings import get_encoding
from prompt_tokens.tokenizer.openweights import TextEncoder
from prompt_tokens.tokenizer.textio import DecodeStats, decode_stream

STREAM_BLOCK_CHARS = 64 * 1024
STREAM_THREADS = 2

ProgressFn = Callable[[int], None]


def count_text(enc: TextEncoder, text: str) -> int:
    """The whole text's count, ``len(enc.encode_ordinary(text))`` (``TextEncoder.count``)."""
    return enc.count(text)


def block_key(block: str) -> bytes:
    """Memo key for a block: a short digest, so the memo holds no text."""
    return hashlib.blake2b(block.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class BlockCounter:
    """Counts texts as a sum of safe-cut blocks, remembering each block's count.

    Re-counting an edited document then only encodes the blocks whose content changed. The
    memo maps a block digest to its count and is private to one encoding.
    """

    def __init__(
        self,
        encoding: str,
        memo: MutableMapping[bytes, int] | None = None,
        block_chars: int = DEFAULT_BLOCK_CHARS,
    ) -> None:
        self.encoding_name = encoding
        self.memo: MutableMapping[bytes, int] = memo if memo is not None else LRUCache(50_000)
        self.block_chars = block_chars
        self.hits = 0
        self.misses = 0

    @property
    def enc(self) -> TextEncoder:
        return get_encoding(self.encoding_name)

    def count_block(self, block: str) -> int:
        key = block_key(block)
        n = self.memo.get(key)
        if n is None:
            self.misses += 1
            n = count_text(self.enc, block)
            self.memo[key] = n
        else:
            self.hits += 1
        return n

    def count_blocks(self, blocks: Iterable[str]) -> list[int]:
        return [self.count_block(b) for b in blocks]

    def count(self, text: str) -> int:
        return sum(self.count_blocks(split_blocks(text, self.encoding_name, self.block_chars)))


@attrs.define
class StreamCount:
    tokens: int
    stats: DecodeStats
    chars: int


def count_stream(
    chunks: Iterable[bytes],
    encoding: str,
    *,
    label: str = "content",
    max_bytes: int | None = None,
    threads: int = STREAM_THREADS,
    block_chars: int = STREAM_BLOCK_CHARS,
    progress: ProgressFn | None = None,
) -> StreamCount:
    """Count a byte stream without holding it in memory.

    Decoded text is buffered and emitted in blocks of about ``block_chars`` characters, each
    ending at the first safe cut past that size (a text without safe cuts stays buffered).
    Blocks are counted on ``threads`` threads (one when the encoder holds the GIL) with at most
    ``2 * threads`` in flight, keeping only each count. Memory stays at a few
    blocks whatever the file size. ``progress`` receives bytes read so far.
    """
    pattern = safe_cut_pattern(encoding)
    pieces, decoder = decode_stream(chunks, label=label, max_bytes=max_bytes)
    chars = 0
    buf = ""

    with _ParallelSum(encoding, threads) as summer:
        submit = summer.submit

        # ``scan``: no usable cut starts before buf[scan:] (only the last '\n' of a failed
        # search can still become a cut, once more text arrives to satisfy its look-ahead).
        scan = 0
        for piece in pieces:
            buf += piece
            chars += len(piece)
            if progress is not None:
                progress(decoder.size)
            if len(buf) < block_chars:
                continue
            # Emit blocks of about ``block_chars`` at the first safe cut past each target, so a
            # 1 MiB read becomes ~16 blocks rather than one big one (memory stays small).
            start = 0
            pos = max(block_chars - 1, scan)
            scan = 0
            while len(buf) - start >= block_chars:
                m = pattern.search(buf, pos)
                if m is None:
                    last_nl = buf.rfind("\n", pos)
                    scan = (last_nl if last_nl >= 0 else len(buf)) - start
                    break
                submit(buf[start : m.end()])
                start = m.end()
                pos = start + block_chars - 1
            buf = buf[start:]
        if buf:
            submit(buf)
    return StreamCount(tokens=summer.total, stats=decoder.stats(), chars=chars)


class _ParallelSum:
    """Sums ``len(encode_ordinary(block))`` over blocks on a small thread pool.

    At most ``2 * threads`` blocks are in flight and only their lengths are kept, so memory
    stays at a few blocks (``encode_ordinary_batch`` would keep every token list alive).
    """

    def __init__(self, encoding: str, threads: int) -> None:
        self._enc = get_encoding(encoding)
        self._threads = max(1, threads) if self._enc.releases_gil else 1
        self._pool: ThreadPoolExecutor | None = None
        self._first: str | None = None
        self._inflight: deque[Future[int]] = deque()
        self.total = 0

    def submit(self, block: str) -> None:
        if self._threads == 1:  # one thread: this one, without a hand-off per block
            self.total += count_text(self._enc, block)
            return
        # The pool starts with the second block: most files are one block, and starting
        # threads for each of thousands of small files cost more than counting them.
        if self._pool is None:
            if self._first is None:
                self._first = block
                return
            self._pool = ThreadPoolExecutor(
                max_workers=self._threads, thread_name_prefix="pt-count"
            )
            first, self._first = self._first, None
            self._inflight.append(self._pool.submit(count_text, self._enc, first))
        self._inflight.append(self._pool.submit(count_text, self._enc, block))
        while len(self._inflight) > 2 * self._threads:
            self.total += self._inflight.popleft().result()

    def __enter__(self) -> _ParallelSum:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        try:
            if exc_type is None:
                if self._first is not None:
                    self.total += count_text(self._enc, self._first)
                    self._first = None
                while self._inflight:
                    self.total += self._inflight.popleft().result()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)


def count_text_parallel(
    text: str,
    encoding: str,
    *,
    threads: int = STREAM_THREADS,
    block_chars: int = STREAM_BLOCK_CHARS,
) -> int:
    """Exact count of an in-memory text on ``threads`` threads (safe-cut blocks).

    For big documents the CLI already holds (it needs the text to find references): about
    1.6× faster than one ``encode_ordinary`` on 2 cores, without its token-list memory.
    """
    if len(text) <= block_chars:
        return count_text(get_encoding(encoding), text)
    with _ParallelSum(encoding, threads) as summer:
        for block in split_blocks(text, encoding, block_chars):
            summer.submit(block)
    return summer.total
