"""CLI benchmark on real text nobody here wrote: whole processes, ratios against plain tiktoken.

Run from the repository root (the CLI under test is ``sys.executable -m prompt_tokens``, so
``PYTHONPATH`` picks the tree that is measured)::

    PYTHONPATH=$PWD/server .venv/bin/python benchmarks/bench_cli.py            # 3 rounds
    PYTHONPATH=$PWD/server .venv/bin/python benchmarks/bench_cli.py --quick    # 1 round, 16 MB doc

The tree: ``/work/shared/corpus`` (or ``--corpus``) copied as it is, plus Markdown/text files
shipped by installed packages (the VS Code extension's npm dependencies, npm's own docs, the
venv's site-packages, /usr/share/doc), copied with their relative paths, identical contents
once, until ``--mb``. Reference syntax is left exactly as written.

Rows (medians of ``--rounds``; every process is timed whole, wall clock):
1. plain: one process, tiktoken's own loader, a single-thread ``encode_ordinary`` loop over the
   files ``prompt-tokens count DIR`` counts;
2. ``count --json --cache FRESH.sqlite DIR`` cold; 3. the same again warm (same cache, new
   process); 4. ``--no-references`` cold;
5. one document of ``--big-mb`` made of the same real files: ``count --json --no-cache`` vs a
   plain whole-text process, and peak RSS of each over the same command on a one-line file.
Counts are checked against plain tiktoken per file; every difference is printed with its reason.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any, NamedTuple

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from counter_info import counter_line  # noqa: E402
from plain_tiktoken import load_reference, read_text  # noqa: E402
from real_tree import MB, build_tree, counted_files, make_big  # noqa: E402

import prompt_tokens  # noqa: E402
import prompt_tokens.tokenizer  # noqa: E402
from prompt_tokens.results import scale  # noqa: E402

# The product's default; files whose front matter or model picks another are recounted with it.
ENCODING = "cl100k_base"


class Run(NamedTuple):
    seconds: float
    rc: int
    maxrss_mb: float
    stdout: str
    stderr: str


def run_measured(cmd: Sequence[str], cwd: Path, env: dict[str, str], timeout: float) -> Run:
    """Wall time, exit code and the child's own peak RSS (``wait4``: per process, not a sum)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(list(cmd), cwd=cwd, env=env, stdout=out, stderr=err)
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Run(
            seconds,
            proc.returncode,
            usage.ru_maxrss / 1024,  # Linux: KiB
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
        )


# -- commands -----------------------------------------------------------------------------------


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "prompt_tokens", *args]


def plain(ranks_dir: Path, mode: str, target: Path, out: Path) -> list[str]:
    script = str(HERE / "plain_tiktoken.py")
    return [sys.executable, script, str(ranks_dir), ENCODING, mode, str(target), str(out)]


def checked(run: Run, what: str) -> Run:
    if run.rc != 0:
        tail = run.stderr.strip().splitlines()[-3:]
        raise SystemExit(f"{what} exited {run.rc}: {' | '.join(tail)}")
    return run


def median(runs: list[Run]) -> float:
    return statistics.median(r.seconds for r in runs)


def ratio(top: list[Run], bottom: list[Run]) -> float:
    """Median of the per-round ratios: both runs of a round saw the same machine load."""
    return statistics.median(a.seconds / b.seconds for a, b in zip(top, bottom, strict=True))


def cli_json(run: Run, what: str) -> dict[str, Any]:
    """The CLI's JSON; exit 1 (some file could not be counted) still carries the others."""
    if run.rc not in (0, 1):
        tail = run.stderr.strip().splitlines()[-3:]
        raise SystemExit(f"{what} exited {run.rc}: {' | '.join(tail)}")
    try:
        doc: dict[str, Any] = json.loads(run.stdout)
    except ValueError:
        raise SystemExit(f"{what}: no JSON on stdout (exit {run.rc})") from None
    return doc


# -- exactness ----------------------------------------------------------------------------------


def why_different(path: Path) -> str:
    """The rules that may legitimately make a count differ from a plain UTF-8 read."""
    data = path.read_bytes()
    reasons = []
    if data.startswith(b"\xef\xbb\xbf"):
        reasons.append("UTF-8 BOM")
    if b"\0" in data:
        reasons.append("NUL bytes")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        reasons.append("not valid UTF-8")
    return ", ".join(reasons) or "UNEXPLAINED"


def compare(
    root: Path, files: list[Path], plain_counts: dict[str, int], doc: dict[str, Any], ranks: Path
) -> tuple[int, int, list[str]]:
    """(reference total with each file's own encoding, CLI text total, difference lines)."""
    by_path = {f["path"]: f for f in doc["files"]}
    encs: dict[str, Any] = {}
    ref_total = cli_text = 0
    lines: list[str] = []
    for path in files:
        key = str(path)
        rel = path.relative_to(root)
        expected = plain_counts[key]
        entry = by_path.get(key)
        if entry is None:
            lines.append(f"  {rel}: not counted by the CLI ({why_different(path)})")
            ref_total += expected
            continue
        if entry["encoding"] != ENCODING:
            enc = encs.get(entry["encoding"]) or load_reference(ranks, entry["encoding"])
            encs[entry["encoding"]] = enc
            expected = len(enc.encode_ordinary(read_text(key)))
        got = int(entry["tokens"]["text"])
        if not entry.get("exact", True):  # an estimate: the exact base count times the factor
            factor = re.search(r" x (\d+(?:\.\d+)?)", entry.get("method") or "")
            if factor is None:
                lines.append(f"  {rel}: an estimate whose method names no factor")
            else:
                expected = scale(expected, Fraction(factor.group(1)))
        ref_total += expected
        cli_text += got
        if got != expected:
            lines.append(f"  {rel}: CLI {got:,} vs plain {expected:,} ({why_different(path)})")
    return ref_total, cli_text, lines


# -- measurements -------------------------------------------------------------------------------


def bench_corpus(
    root: Path, files: list[Path], rounds: int, env: dict[str, str], ranks: Path, tmp: Path
) -> dict[str, Any]:
    listing = tmp / "files.txt"
    listing.write_text("".join(f"{p}\n" for p in files), encoding="utf-8")
    runs: dict[str, list[Run]] = {"plain": [], "cold": [], "warm": [], "norefs": []}
    for r in range(rounds):
        out = tmp / f"plain-{r}.json"
        runs["plain"].append(
            checked(run_measured(plain(ranks, "loop", listing, out), root, env, 900), "plain")
        )
        db = tmp / f"round-{r}.sqlite3"
        fresh = tmp / f"round-{r}-norefs.sqlite3"
        no_refs = ["--no-references"]
        for key, cache, flags in (("cold", db, []), ("warm", db, []), ("norefs", fresh, no_refs)):
            cmd = cli("count", "--json", *flags, "--cache", str(cache), str(root))
            runs[key].append(run_measured(cmd, root, env, 900))
            cli_json(runs[key][-1], f"count ({key})")
        print(
            f"  round {r + 1}: " + ", ".join(f"{k} {v[-1].seconds:.2f} s" for k, v in runs.items()),
            flush=True,
        )
    plain_out = json.loads((tmp / f"plain-{rounds - 1}.json").read_text(encoding="utf-8"))
    return {"runs": runs, "plain": plain_out}


def report_exactness(
    root: Path, files: list[Path], result: dict[str, Any], ranks: Path
) -> list[str]:
    runs = result["runs"]
    plain_counts: dict[str, int] = result["plain"]["files"]
    cold = cli_json(runs["cold"][-1], "cold")
    warm = cli_json(runs["warm"][-1], "warm")
    norefs = cli_json(runs["norefs"][-1], "no-references")
    ref_total, cli_text, diffs = compare(root, files, plain_counts, norefs, ranks)
    cold_text = sum(int(f["tokens"]["text"]) for f in cold["files"])
    print(f"plain loop total ({ENCODING} for every file): {result['plain']['total']:,}")
    print(f"plain total with each file's encoding as the CLI chose it: {ref_total:,}")
    print(f"CLI --no-references total: {int(norefs['total']):,} (text {cli_text:,})")
    print(f"CLI cold: text {cold_text:,}, total with references {int(cold['total']):,}")
    print(f"CLI warm: total {int(warm['total']):,}")
    problems = []
    if not (cli_text == int(norefs["total"]) == ref_total == cold_text):
        problems.append("text totals differ from plain tiktoken")
    if int(warm["total"]) != int(cold["total"]):
        problems.append("warm total differs from cold")
    other = sum(1 for f in norefs["files"] if f["encoding"] != ENCODING)
    print(f"files whose front matter/model chose another encoding: {other}")
    print(f"per-file differences from plain tiktoken: {len(diffs)}")
    for line in diffs[:40]:
        print(line)
    if len(diffs) > 40:
        print(f"  … and {len(diffs) - 40} more")
    errors = [
        ln for ln in runs["norefs"][-1].stderr.splitlines() if ln.startswith("prompt-tokens:")
    ]
    for line in errors[:10]:
        print(f"  stderr: {line}")
    return problems


def bench_big(
    files: list[Path], size: int, rounds: int, env: dict[str, str], ranks: Path, tmp: Path
) -> dict[str, Any]:
    ws = tmp / "big"
    (ws / ".git").mkdir(parents=True)
    big, tiny = ws / "big.md", ws / "tiny.md"
    written = make_big(big, files, size)
    tiny.write_text("Hello, world.\n", encoding="utf-8")
    out = tmp / "big-plain.json"
    count = cli("count", "--json", "--no-cache")
    commands = {
        "plain": plain(ranks, "whole", big, out),
        "cli": [*count, str(big)],
        "cli_norefs": [*count, "--no-references", str(big)],
        "plain_tiny": plain(ranks, "whole", tiny, tmp / "tiny-plain.json"),
        "cli_tiny": [*count, str(tiny)],
    }
    runs: dict[str, list[Run]] = {k: [] for k in commands}
    for r in range(rounds):
        for key, cmd in commands.items():
            run = run_measured(cmd, ws, env, 1800)
            runs[key].append(checked(run, key) if key.startswith("plain") else run)
        print(
            f"  round {r + 1}: "
            + ", ".join(
                f"{k} {v[-1].seconds:.2f} s / {v[-1].maxrss_mb:.0f} MB" for k, v in runs.items()
            ),
            flush=True,
        )
    doc = cli_json(runs["cli"][-1], "count (big)")
    no_refs = int(cli_json(runs["cli_norefs"][-1], "count --no-references (big)")["total"])
    plain_total = int(json.loads(out.read_text(encoding="utf-8"))["total"])
    entry: dict[str, Any] = doc["files"][0] if doc["files"] else {}
    cli_text = int(entry["tokens"]["text"]) if entry else -1
    print(
        f"big document: {written / MB:.1f} MB; plain {plain_total:,} tokens, CLI text {cli_text:,}"
        f", --no-references {no_refs:,} ({entry.get('encoding')}; plain {ENCODING})"
    )
    equal = plain_total == cli_text == no_refs
    return {"runs": runs, "equal": equal, "mb": written / MB}


# -- report -------------------------------------------------------------------------------------


def render(rows: list[tuple[str, str, str, str, str]]) -> str:
    head = ("row", "figure", "ratio", "target", "met")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(5)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(head), sep, *(line(r) for r in rows)])


def yes(ok: bool) -> str:
    return "yes" if ok else "NO"


def corpus_rows(result: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    runs = result["runs"]
    p, c, w, n = (median(runs[k]) for k in ("plain", "cold", "warm", "norefs"))
    cold, warm = ratio(runs["plain"], runs["cold"]), ratio(runs["warm"], runs["plain"])
    norefs = ratio(runs["plain"], runs["norefs"])
    return [
        ("plain tiktoken loop (1 thread)", f"{p:.2f} s", "1.00×", "", ""),
        ("count --cache (cold)", f"{c:.2f} s", f"{cold:.2f}× plain", "≥ 1.5×", yes(cold >= 1.5)),
        (
            "count --cache (warm, new process)",
            f"{w:.2f} s",
            f"{warm:.0%} of plain",
            "≤ 10 %",
            yes(warm <= 0.10),
        ),
        ("count --no-references (cold)", f"{n:.2f} s", f"{norefs:.2f}× plain", "", ""),
    ]


def big_rows(result: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    runs = result["runs"]
    p, c, n = median(runs["plain"]), median(runs["cli"]), median(runs["cli_norefs"])
    cli, norefs = ratio(runs["plain"], runs["cli"]), ratio(runs["plain"], runs["cli_norefs"])
    rss = {k: statistics.median(r.maxrss_mb for r in v) for k, v in runs.items()}
    plain_over = rss["plain"] - rss["plain_tiny"]
    cli_over = rss["cli"] - rss["cli_tiny"]
    mb = f"{result['mb']:.0f} MB"
    return [
        (f"plain tiktoken, one {mb} document", f"{p:.2f} s", "1.00×", "", ""),
        (
            f"count --no-cache, one {mb} document",
            f"{c:.2f} s",
            f"{cli:.2f}× plain",
            "≥ 1.4×",
            yes(cli >= 1.4),
        ),
        (
            "  same, --no-references",
            f"{n:.2f} s",
            f"{norefs:.2f}× plain",
            "",
            "",
        ),
        (
            "start-up: the same on a one-line file",
            f"CLI {median(runs['cli_tiny']):.2f} s",
            f"plain {median(runs['plain_tiny']):.2f} s",
            "",
            "",
        ),
        (
            "peak RSS over tiny-file run: plain",
            f"+{plain_over:.0f} MB",
            f"{rss['plain']:.0f} vs {rss['plain_tiny']:.0f} MB",
            "",
            "",
        ),
        (
            "peak RSS over tiny-file run: CLI",
            f"+{cli_over:.0f} MB",
            f"{rss['cli']:.0f} vs {rss['cli_tiny']:.0f} MB",
            "≤ +64 MB",
            yes(cli_over <= 64),
        ),
        (
            "  same, --no-references",
            f"+{rss['cli_norefs'] - rss['cli_tiny']:.0f} MB",
            f"{rss['cli_norefs']:.0f} vs {rss['cli_tiny']:.0f} MB",
            "",
            "",
        ),
    ]


def describe(root: Path, summary: dict[str, tuple[int, int]]) -> list[Path]:
    """Print where the files came from; return those ``prompt-tokens count ROOT`` counts."""
    for label, (n, size) in summary.items():
        print(f"  {label:>14}: {n:5d} files, {size / MB:6.1f} MB")
    files = counted_files(root)
    every = [f for f in root.rglob("*") if f.is_file() and ".git" not in f.parts]
    mb_all = sum(f.stat().st_size for f in every) / MB
    mb = sum(f.stat().st_size for f in files) / MB
    print(
        f"tree: {len(every)} files, {mb_all:.1f} MB; `count DIR` counts {len(files)}, {mb:.1f} MB"
    )
    skipped = sorted({f.suffix or f.name for f in set(every) - set(files)})
    print(f"  not counted by the folder walk (by suffix): {', '.join(skipped) or '-'}")
    if len(files) < 1000:
        print("WARNING: fewer than 1,000 files counted; the target is for ≥ 1,000")
    return files


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rounds", type=int, default=3, help="runs of each process; medians shown")
    ap.add_argument("--quick", action="store_true", help="1 round, big document ≤ 16 MB")
    ap.add_argument("--mb", type=float, default=24, help="size cap of the real-file tree (MB)")
    ap.add_argument("--big-mb", type=float, default=64, help="size of the one big document (MB)")
    ap.add_argument("--corpus", type=Path, default=Path("/work/shared/corpus"))
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args(argv)
    args.rounds = 1 if args.quick else max(1, args.rounds)
    args.big_mb = min(args.big_mb, 16) if args.quick else args.big_mb
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ranks = Path(prompt_tokens.tokenizer.__file__).parent / "data"
    print(f"CLI under test: {sys.executable} -m prompt_tokens ({ranks.parent.parent})")
    print(f"load average {os.getloadavg()[0]:.2f}; {os.cpu_count()} cores; rounds {args.rounds}")
    print(counter_line())
    tmp = Path(tempfile.mkdtemp(prefix="pt-bench-cli-"))
    env = {**os.environ, "PROMPT_TOKENS_CACHE_DIR": str(tmp / "pt-cache")}
    # Measure the CLI as installed: pip writes bytecode at install time, so a user's process
    # never recompiles the package. CI exports PYTHONDONTWRITEBYTECODE=1, which would make every
    # measured process compile ~280 modules (~0.3 s); compile once here and let children read it.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(Path(prompt_tokens.__file__).parent)],
        check=False,
    )
    try:
        root = tmp / "work"
        files = describe(root, build_tree(root, args.corpus, int(args.mb * MB)))
        print("corpus rounds:", flush=True)
        corpus = bench_corpus(root, files, args.rounds, env, ranks, tmp)
        problems = report_exactness(root, files, corpus, ranks)
        print(f"one big document ({args.big_mb:.0f} MB) rounds:", flush=True)
        big = bench_big(files, int(args.big_mb * MB), args.rounds, env, ranks, tmp)
        if not big["equal"]:
            problems.append("big document: CLI text count differs from plain tiktoken")
        print()
        print(render([*corpus_rows(corpus), *big_rows(big)]))
        print(f"load average after: {os.getloadavg()[0]:.2f}")
        for p in problems:
            print(f"COUNTS DIFFER: {p}")
        return 1 if problems else 0
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
