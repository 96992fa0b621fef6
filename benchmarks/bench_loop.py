"""Event-loop responsiveness while the job queue counts ~50 MB of referenced files.

Why: the language server answers hovers and publishes hints on the same event loop that
schedules counting. Counting runs in threads (``submit(..., in_thread=True)``), so the loop
should stay responsive; this measures how responsive. A 1 ms heartbeat timer records how late
each tick fires (loop delay) while every file goes through
``count_stream(<the file in 1 MiB chunks>, "cl100k_base")`` on the ``JobQueue``. Then the same
text is counted with plain tiktoken (``encode_ordinary`` on the whole text) for a throughput
ratio and to check the total is exact.

Run: ``python benchmarks/bench_loop.py`` (add ``--mb 10`` for a quicker run). Targets: loop
delay p95 <= 5 ms and max <= 50 ms. Exit status 1 when a target is missed or the totals differ.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from prompt_tokens.jobs import JobContext, JobQueue, Priority
from prompt_tokens.jobs.threads import DEFAULT_THREAD_NICE, default_threads
from prompt_tokens.tokenizer.counter import StreamCount, count_stream
from prompt_tokens.tokenizer.encodings import get_encoding

ENCODING = "cl100k_base"
HEARTBEAT_S = 0.001
TARGET_P95_MS = 5.0
TARGET_MAX_MS = 50.0

WORDS = (
    "the of and to in is you that it was for on are as with they at be this have from or one "
    "had by word but not what all were we when your can said there use an each which she do "
    "how their if will up other about out many then them these so some would make like into "
    "time has look two more write go see number no way could people my than first been call "
    "who its now find long down day did get come made may part model prompt token context "
    "window budget system user assistant answer question reference document file section "
    "summary example instruction response format output input cache language server editor "
    "encoding count exact stream block boundary newline whitespace function variable template"
).split()
CONTRACTIONS = ["don't", "it's", "we'll", "you're", "they've", "I'm", "can't", "isn't"]
FOREIGN = ["Größe", "naïve", "café", "Привет", "東京", "データ", "😀", "👩‍💻", "ζωή"]


def _sentence(rng: random.Random) -> str:
    words = []
    for _ in range(rng.randint(6, 22)):
        roll = rng.random()
        if roll < 0.05:
            words.append(rng.choice(CONTRACTIONS))
        elif roll < 0.08:
            words.append(rng.choice(FOREIGN))
        elif roll < 0.12:
            words.append(str(rng.randint(0, 99999)))
        else:
            words.append(rng.choice(WORDS))
    text = " ".join(words)
    return text[0].upper() + text[1:] + rng.choice([".", ".", ".", "?", "!", ":"])


def _prose(rng: random.Random) -> str:
    return " ".join(_sentence(rng) for _ in range(rng.randint(2, 7))) + "\n\n"


def _markdown(rng: random.Random) -> str:
    lines = [f"{'#' * rng.randint(1, 3)} {_sentence(rng)[:-1]}", ""]
    lines += [f"- {_sentence(rng)}" for _ in range(rng.randint(2, 5))]
    lines += ["", "| name | value |", "|---|---|"]
    lines += [f"| {rng.choice(WORDS)} | {rng.randint(0, 999)} |" for _ in range(3)]
    return "\n".join(lines) + "\n\n"


def _python(rng: random.Random) -> str:
    name = "_".join(rng.choice(WORDS) for _ in range(2))
    body = [
        f"def {name}(items: list[str], limit: int = {rng.randint(1, 100)}) -> dict[str, int]:",
        f'    """{_sentence(rng)}"""',
        "    counts: dict[str, int] = {}",
        "    for item in items[:limit]:",
        "        # " + _sentence(rng),
        "        counts[item] = counts.get(item, 0) + len(item.split())",
        "    return counts",
    ]
    return "```python\n" + "\n".join(body) + "\n```\n\n"


def _json(rng: random.Random) -> str:
    obj = {rng.choice(WORDS): [rng.randint(0, 9999), rng.choice(WORDS), None] for _ in range(4)}
    return "```json\n" + json.dumps(obj, indent=2) + "\n```\n\n"


def make_corpus(folder: Path, total_bytes: int, files: int, seed: int = 7) -> list[Path]:
    """Write ``files`` files of mixed prose, Markdown, code and JSON adding up to ``total_bytes``.

    A pool of paragraphs is generated once and files are drawn from it in random order, which
    keeps generation fast while every file is a different text.
    """
    rng = random.Random(seed)
    kinds = [_prose, _prose, _prose, _markdown, _python, _json]
    pool = [rng.choice(kinds)(rng) for _ in range(6000)]
    per_file = total_bytes // files
    paths = []
    for i in range(files):
        parts: list[str] = []
        size = 0
        while size < per_file:
            part = pool[rng.randrange(len(pool))]
            parts.append(part)
            size += len(part.encode("utf-8"))
        path = folder / f"ref{i:03d}.md"
        path.write_text("".join(parts), encoding="utf-8", newline="")
        paths.append(path)
    return paths


def file_chunks(path: Path, size: int = 1 << 20) -> Iterator[bytes]:
    """The file's bytes, ``size`` at a time: what a reference count reads."""
    with path.open("rb") as fh:
        while chunk := fh.read(size):
            yield chunk


class Heartbeat:
    """Asks for a 1 ms sleep over and over and records how late each wake-up is."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self._stop = asyncio.Event()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stop.is_set():
            t0 = loop.time()
            await asyncio.sleep(HEARTBEAT_S)
            self.delays.append(max(0.0, loop.time() - t0 - HEARTBEAT_S))

    def stop(self) -> None:
        self._stop.set()

    def summary(self) -> dict[str, float]:
        values = sorted(self.delays)
        if not values:
            return {"ticks": 0, "p50": 0.0, "p95": 0.0, "max": 0.0}
        p95 = values[max(0, int(len(values) * 0.95 + 0.5) - 1)]
        return {
            "ticks": len(values),
            "p50": statistics.median(values) * 1000,
            "p95": p95 * 1000,
            "max": values[-1] * 1000,
        }


async def idle_heartbeat(seconds: float) -> dict[str, float]:
    beat = Heartbeat()
    task = asyncio.create_task(beat.run())
    await asyncio.sleep(seconds)
    beat.stop()
    await task
    return beat.summary()


async def count_with_queue(
    paths: list[Path],
    workers: int,
    threads: int | None = None,
    thread_nice: int = DEFAULT_THREAD_NICE,
) -> tuple[int, float, dict[str, float]]:
    beat = Heartbeat()
    beat_task = asyncio.create_task(beat.run())
    await asyncio.sleep(0.05)  # a few quiet ticks first

    def job(path: Path) -> Callable[[JobContext], StreamCount]:
        def run(ctx: JobContext) -> StreamCount:
            return count_stream(file_chunks(path), ENCODING)

        return run

    t0 = time.perf_counter()
    async with JobQueue(workers, threads=threads, thread_nice=thread_nice) as queue:
        results = await queue.batch(
            [job(p) for p in paths], priority=Priority.REFERENCE, in_thread=True, label="ref"
        )
        elapsed = time.perf_counter() - t0
        snapshot = queue.snapshot(limit=0)
    beat.stop()
    await beat_task
    tokens = 0
    for path, result in zip(paths, results, strict=True):
        if isinstance(result, BaseException):
            raise RuntimeError(f"{path}: {result}") from result
        assert isinstance(result, StreamCount)
        tokens += result.tokens
    summary = beat.summary()
    summary["queue_run_p95_ms"] = snapshot["runMs"]["p95"] or 0.0
    return tokens, elapsed, summary


def plain_tiktoken(paths: list[Path]) -> tuple[int, float]:
    text = "".join(p.read_text(encoding="utf-8") for p in paths)
    enc = get_encoding(ENCODING)
    t0 = time.perf_counter()
    tokens = len(enc.encode_ordinary(text))
    return tokens, time.perf_counter() - t0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--mb", type=float, default=50.0, help="corpus size in MB (default 50)")
    parser.add_argument("--files", type=int, default=40, help="number of files (default 40)")
    parser.add_argument("--workers", type=int, default=4, help="JobQueue workers (default 4)")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help=f"JobQueue threads: concurrent thread jobs (default: half the cores = {default_threads()})",
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=DEFAULT_THREAD_NICE,
        help=f"JobQueue thread_nice (default {DEFAULT_THREAD_NICE}; 0 = same priority as the loop)",
    )
    parser.add_argument(
        "--switch-interval-ms",
        type=float,
        default=None,
        help="sys.setswitchinterval for the run (default: Python's 5 ms)",
    )
    return parser.parse_args(argv)


def _delays(title: str, d: dict[str, float]) -> str:
    return (
        f"{title:<20} p50 {d['p50']:.2f} ms  p95 {d['p95']:.2f} ms  max {d['max']:.2f} ms  "
        f"({d['ticks']} ticks)"
    )


def measure(paths: list[Path], args: argparse.Namespace, threads: int) -> bool:
    """Print the figures; True when the per-file totals equal plain tiktoken's."""
    size = sum(p.stat().st_size for p in paths)
    print(_delays("idle loop delay:", asyncio.run(idle_heartbeat(1.0))))
    tokens, elapsed, busy = asyncio.run(count_with_queue(paths, args.workers, threads, args.nice))
    mbps = size / 1e6 / elapsed
    print(_delays("loop delay counting:", busy))
    print(f"JobQueue in_thread count_stream: {tokens:,} tokens in {elapsed:.2f}s = {mbps:.1f} MB/s")
    plain_tokens, plain_s = plain_tiktoken(paths)
    plain_mbps = size / 1e6 / plain_s
    print(
        f"plain tiktoken encode_ordinary (whole text, one thread): {plain_tokens:,} tokens "
        f"in {plain_s:.2f}s = {plain_mbps:.1f} MB/s"
    )
    print(f"ratio queue/plain throughput: {mbps / plain_mbps:.2f}x")
    # Files end in a paragraph break, so cutting between files is a safe cut and the
    # per-file sum must equal the whole-text count.
    if tokens != plain_tokens:
        print(f"TOKEN TOTALS DIFFER: queue {tokens:,} vs plain {plain_tokens:,}")
    ok = busy["p95"] <= TARGET_P95_MS and busy["max"] <= TARGET_MAX_MS
    print(
        f"targets: p95 <= {TARGET_P95_MS:g} ms, max <= {TARGET_MAX_MS:g} ms: "
        + ("met" if ok else "MISSED")
    )
    return ok and tokens == plain_tokens


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.switch_interval_ms is not None:
        sys.setswitchinterval(args.switch_interval_ms / 1000)
    threads = min(args.workers, args.threads or default_threads())
    get_encoding(ENCODING)  # load the BPE ranks before measuring anything
    with tempfile.TemporaryDirectory(prefix="pt-bench-loop-") as tmp:
        t0 = time.perf_counter()
        paths = make_corpus(Path(tmp), int(args.mb * 1_000_000), args.files)
        size = sum(p.stat().st_size for p in paths)
        print(
            f"corpus: {len(paths)} files, {size / 1e6:.1f} MB "
            f"(generated in {time.perf_counter() - t0:.1f}s); {os.cpu_count()} CPUs, "
            f"Python {sys.version.split()[0]}, workers={args.workers}, threads={threads}, "
            f"thread_nice={args.nice}, switch interval {sys.getswitchinterval() * 1000:g} ms, "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        passed = measure(paths, args, threads)
    print(f"load average after: {os.getloadavg()[0]:.1f} (other processes add loop delay too)")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
