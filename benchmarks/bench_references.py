"""Reference resolution figures: many file references cold vs warm, and URL request counts.

    python benchmarks/bench_references.py [--files 200] [--size 8000] [--rounds 3] [--json]
    python benchmarks/bench_references.py --corpus ../shared/corpus

1. A workspace and one document referencing every file in it: ``--files`` generated Markdown
   files (text from ``corpus.py``; every tenth file references the next one, so nested
   references are scanned and followed), or with ``--corpus`` a copy of a real prompt corpus
   (every ``.md .mdc .prompty .txt .json`` file; ``references.maxDepth: 0`` so each file counts
   once and the expected total stays a plain sum).
2. The document is resolved in fresh processes sharing one SQLite cache file: ``cold``
   (empty cache), ``warm`` (new process, cache on disk), and in the warm process a second
   resolution (``warm, same process``: memory tier). In-process time excludes interpreter
   start-up and loading the encoding; ``process`` is the whole child's wall time. Each
   total is checked against plain tiktoken computed here. ``plain loop`` is a new process that
   reads every referenced file and runs ``encode_ordinary`` on it, the same kind of figure.
   A connection kept open across the warm run reads ``PRAGMA data_version``: it changes only
   if the warm run committed a write (it should not: nothing changed).
3. Ten documents sharing three URLs on a local HTTP server (127.0.0.1), resolved at once:
   requests made by the first batch (expected 3) and by a second within the TTL (expected 0).
"""

from __future__ import annotations

import argparse
import asyncio
import http.server
import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

ENC = "cl100k_base"
CORPUS_SUFFIXES = (".md", ".mdc", ".prompty", ".txt", ".json")


def plain_text(path: Path) -> str:
    """A file's text as SPEC defines it, decoded here without the product's code."""
    text = path.read_bytes().decode("utf-8", "replace")
    return text[1:] if text.startswith("\ufeff") else text


def make_workspace(root: Path, n_files: int, size: int) -> tuple[list[str], dict[str, Any]]:
    from corpus import generate_text

    (root / ".git").mkdir(parents=True, exist_ok=True)
    docs = root / "docs"
    docs.mkdir(exist_ok=True)
    refs = []
    for i in range(n_files):
        text = generate_text(size, seed=i, crlf=False).replace("@", "(at)")
        if i % 10 == 0 and i + 1 < n_files:
            text += f"\nSee also @f{i + 1:03d}.md\n"
        (docs / f"f{i:03d}.md").write_text(text, encoding="utf-8")
        refs.append(f"docs/f{i:03d}.md")
    return refs, {}


def make_corpus_workspace(root: Path, corpus: Path) -> tuple[list[str], dict[str, Any]]:
    shutil.copytree(corpus, root / "corpus")
    (root / ".git").mkdir(parents=True, exist_ok=True)
    refs = sorted(
        str(p.relative_to(root))
        for p in (root / "corpus").rglob("*")
        if p.is_file() and p.suffix in CORPUS_SUFFIXES and " " not in str(p)
    )
    return refs, {"references": {"maxDepth": 0}}


def write_document(root: Path, refs: list[str]) -> Path:
    doc = root / "all.md"
    doc.write_text("# Everything\n\n" + "".join(f"- @{r}\n" for r in refs), encoding="utf-8")
    return doc


def expected_total(root: Path, refs: list[str]) -> int:
    """Plain tiktoken over each referenced file once (nested references are files of the
    same set in the generated workspace, and not followed in the corpus one)."""
    from prompt_tokens.tokenizer.encodings import get_encoding

    enc = get_encoding(ENC)
    return sum(len(enc.encode_ordinary(plain_text(root / r))) for r in refs)


def child(workspace: Path, cache_path: str, repeat: int, raw: dict[str, Any]) -> dict[str, Any]:
    """Runs in a new process: resolve the document ``repeat`` times, report timings."""
    from prompt_tokens.cache.tiered import TieredCache
    from prompt_tokens.references.resolver import ReferenceResolver
    from prompt_tokens.references.syntax import scan
    from prompt_tokens.settings import parse_settings
    from prompt_tokens.tokenizer.encodings import get_encoding

    get_encoding(ENC)  # loaded once per process; not what this measures
    doc = workspace / "all.md"
    occ = scan(doc.read_text(encoding="utf-8"))
    settings, _ = parse_settings(raw)
    out: dict[str, Any] = {"references": len(occ), "runs": []}
    t_open = time.perf_counter()
    cache = TieredCache(cache_path)
    out["open_seconds"] = time.perf_counter() - t_open

    async def main() -> None:
        r = ReferenceResolver(settings, cache, roots=[workspace])
        for _ in range(repeat):
            reads, tokenized = r.files.reads, r.files.tokenized
            t0 = time.perf_counter()
            results = await r.resolve(doc, occ, encoding=ENC, variables={})
            dt = time.perf_counter() - t0
            out["runs"].append(
                {
                    "seconds": dt,
                    "total": sum(x.tokens for x in results),
                    "results": len(results),
                    "errors": sum(1 for x in results if x.status == "error"),
                    "files_read": r.files.reads - reads,
                    "files_tokenized": r.files.tokenized - tokenized,
                    "cache_states": sorted({x.cache or "-" for x in results}),
                }
            )
        await r.aclose()

    asyncio.run(main())
    t0 = time.perf_counter()
    cache.close()
    out["flush_seconds"] = time.perf_counter() - t0
    return out


def plain_child(workspace: Path, refs: list[str]) -> dict[str, Any]:
    """Runs in a new process: read and encode every referenced file, single thread."""
    import tiktoken

    from prompt_tokens.tokenizer.encodings import get_encoding

    enc: tiktoken.Encoding = get_encoding(ENC)
    t0 = time.perf_counter()
    total = sum(len(enc.encode_ordinary(plain_text(workspace / r))) for r in refs)
    return {"seconds": time.perf_counter() - t0, "total": total}


def run_child(args: list[str]) -> tuple[dict[str, Any], float]:
    cmd = [sys.executable, __file__, *args]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    result: dict[str, Any] = json.loads(proc.stdout)
    return result, wall


def data_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA data_version").fetchone()[0])


def one_round(root: Path, cache_path: str, raw: dict[str, Any]) -> dict[str, Any]:
    common = ["--child", str(root), "--cache", cache_path, "--settings", json.dumps(raw)]
    cold, cold_wall = run_child([*common, "--repeat", "1"])
    watcher = sqlite3.connect(cache_path)
    before = data_version(watcher)
    warm, warm_wall = run_child([*common, "--repeat", "2"])
    wrote = data_version(watcher) != before
    watcher.close()
    plain, plain_wall = run_child(["--plain-child", str(root)])
    return {
        "cold": {**cold["runs"][0], "process_seconds": cold_wall},
        "warm_new_process": {**warm["runs"][0], "process_seconds": warm_wall},
        "warm_same_process": {**warm["runs"][1], "process_seconds": None},
        "plain_loop": {**plain, "process_seconds": plain_wall},
        "warm_run_wrote": wrote,
        "references": cold["references"],
    }


class _Handler(http.server.BaseHTTPRequestHandler):
    requests = 0
    lock = threading.Lock()

    def do_GET(self) -> None:
        with _Handler.lock:
            _Handler.requests += 1
        time.sleep(0.02)
        body = f"Endpoint {self.path}: " + "items and fields " * 200
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("ETag", f'"{self.path}"')
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def url_figures(workspace: Path) -> dict[str, Any]:
    from prompt_tokens.cache.tiered import TieredCache
    from prompt_tokens.references.resolver import ReferenceResolver
    from prompt_tokens.references.syntax import scan
    from prompt_tokens.settings import parse_settings

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        urls = [f"{base}/v1/items", f"{base}/v1/users", f"{base}/v1/orders"]
        docs = []
        for i in range(10):
            text = " ".join(f"@{u}" for u in urls) + f" doc {i}"
            docs.append((workspace / f"u{i}.md", scan(text)))
        settings, _ = parse_settings({})

        async def main() -> dict[str, Any]:
            r = ReferenceResolver(settings, TieredCache(None), roots=[workspace])

            async def batch() -> float:
                t0 = time.perf_counter()
                await asyncio.gather(
                    *(r.resolve(d, occ, encoding=ENC, variables={}) for d, occ in docs)
                )
                return time.perf_counter() - t0

            first_s = await batch()
            first = r.http.requests_made
            second_s = await batch()
            second = r.http.requests_made - first
            await r.aclose()
            return {
                "documents": 10,
                "urls": 3,
                "requests_first_batch": first,
                "requests_second_batch_within_ttl": second,
                "server_saw": _Handler.requests,
                "first_batch_seconds": first_s,
                "second_batch_seconds": second_s,
            }

        return asyncio.run(main())
    finally:
        server.shutdown()
        server.server_close()


def median_round(rounds: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """The median run of one kind (the machine may be busy: medians, not means)."""
    runs: list[dict[str, Any]] = sorted((r[name] for r in rounds), key=lambda r: r["seconds"])
    return runs[len(runs) // 2]


def summarize(
    rounds: list[dict[str, Any]], expected: int, *, source: str, refs: list[str], rounds_n: int
) -> dict[str, Any] | None:
    """The median figures of the rounds, or None (after saying why) when a total is wrong."""
    names = ("cold", "warm_new_process", "warm_same_process", "plain_loop")
    for rnd in rounds:
        for name in names:
            run = rnd[name]
            if run["total"] != expected or run.get("errors"):
                print(f"MISMATCH in {name}: {run['total']} != {expected} ({run.get('errors')})")
                return None
    runs = {name: median_round(rounds, name) for name in names}
    plain_proc = runs["plain_loop"]["process_seconds"]
    return {
        "source": source,
        "files": len(refs),
        "references": rounds[0]["references"],
        "expected_total_tokens": expected,
        **{f"{k}_ms": round(v["seconds"] * 1000, 1) for k, v in runs.items()},
        "cold_over_warm_new_process": round(
            runs["cold"]["seconds"] / runs["warm_new_process"]["seconds"], 1
        ),
        "cold_process_over_plain_process": runs["cold"]["process_seconds"] / plain_proc,
        "warm_process_over_plain_process": runs["warm_new_process"]["process_seconds"] / plain_proc,
        "warm_run_wrote": any(r["warm_run_wrote"] for r in rounds),
        "rounds": rounds_n,
        "all_ms": {n: [round(r[n]["seconds"] * 1000, 1) for r in rounds] for n in names},
        "runs": runs,
    }


def report(figures: dict[str, Any], runs: dict[str, dict[str, Any]]) -> None:
    print(
        f"{figures['references']} file references ({figures['megabytes']:.1f} MB, "
        f"{figures['expected_total_tokens']:,} tokens, all exact; {figures['source']}; "
        f"median of {figures['rounds']} rounds):"
    )
    plain = runs["plain_loop"]
    for name, run in runs.items():
        detail = ""
        if "files_read" in run:
            detail = (
                f"   read {run['files_read']:>4} files, tokenized {run['files_tokenized']:>4},"
                f" cache {','.join(run['cache_states'])}"
            )
        proc = run["process_seconds"]
        proc_txt = f"{proc * 1000:7.0f} ms process" if proc is not None else " " * 18
        print(f"  {name:<18} {run['seconds'] * 1000:8.1f} ms in-process {proc_txt}{detail}")
    print(
        f"  cold / warm (new process, in-process): {figures['cold_over_warm_new_process']}x;"
        f" warm process = {figures['warm_process_over_plain_process']:.0%} of the plain loop"
        f" process, cold process = {figures['cold_process_over_plain_process']:.0%};"
        f" plain loop in-process {plain['seconds'] * 1000:.0f} ms"
    )
    print(
        f"  warm run wrote to the cache file: {'YES' if figures['warm_run_wrote'] else 'no'};"
        f" cache file {figures['cache_file_kib']:.0f} KiB"
    )
    urls = figures["urls"]
    print(
        f"10 documents sharing 3 URLs: {urls['requests_first_batch']} requests, then "
        f"{urls['requests_second_batch_within_ttl']} within the TTL (server saw {urls['server_saw']})"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--size", type=int, default=8000, help="characters per file")
    ap.add_argument("--corpus", type=Path, help="reference every file of this folder instead")
    ap.add_argument("--rounds", type=int, default=3, help="cold+warm rounds (medians shown)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--plain-child", help=argparse.SUPPRESS)
    ap.add_argument("--cache", help=argparse.SUPPRESS)
    ap.add_argument("--settings", default="{}", help=argparse.SUPPRESS)
    ap.add_argument("--repeat", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(
            json.dumps(child(Path(args.child), args.cache, args.repeat, json.loads(args.settings)))
        )
        return 0
    if args.plain_child:
        root = Path(args.plain_child)
        refs = [
            line[3:] for line in (root / "all.md").read_text().splitlines() if line[:3] == "- @"
        ]
        print(json.dumps(plain_child(root, refs)))
        return 0

    with tempfile.TemporaryDirectory(prefix="pt-bench-refs-") as tmp:
        root = Path(tmp) / "ws"
        if args.corpus:
            refs, raw = make_corpus_workspace(root, args.corpus.resolve())
            source = f"real corpus {args.corpus}"
        else:
            refs, raw = make_workspace(root, args.files, args.size)
            source = "generated text"
        write_document(root, refs)
        expected = expected_total(root, refs)
        rounds = [
            one_round(root, str(Path(tmp) / f"cache{i}.sqlite3"), raw) for i in range(args.rounds)
        ]
        urls = url_figures(root)
        size_mb = sum((root / r).stat().st_size for r in refs) / 1e6
        cache_kb = sum(f.stat().st_size for f in Path(tmp).glob("cache0.sqlite3*")) / 1024
    figures = summarize(rounds, expected, source=source, refs=refs, rounds_n=args.rounds)
    if figures is None:
        return 1
    figures.update(megabytes=round(size_mb, 2), cache_file_kib=round(cache_kb, 1), urls=urls)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        report(figures, figures["runs"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
