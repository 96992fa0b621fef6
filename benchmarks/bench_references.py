"""Reference resolution figures: 200 file references cold vs warm, and URL request counts.

    python benchmarks/bench_references.py [--files 200] [--size 8000] [--json]

1. Writes a workspace with ``--files`` Markdown files (text from ``corpus.py``; every tenth
   file references the next one, so nested references are scanned and followed) and a
   document referencing all of them.
2. Resolves the document in three fresh processes sharing one SQLite cache file:
   ``cold`` (empty cache), ``warm`` (new process, cache on disk), and in the warm process a
   second resolution (``warm, same process``: memory tier). The encoding is loaded before the
   clock starts; interpreter start-up is not included. Each total is checked against plain
   tiktoken computed here.
3. Ten documents sharing three URLs on a local HTTP server (127.0.0.1): requests made by the
   first batch (expected 3) and by a second batch within the TTL (expected 0).
"""

from __future__ import annotations

import argparse
import asyncio
import http.server
import json
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


def make_workspace(root: Path, n_files: int, size: int) -> tuple[Path, int]:
    from corpus import generate_text

    from prompt_tokens.tokenizer.encodings import get_encoding

    enc = get_encoding(ENC)
    (root / ".git").mkdir(parents=True, exist_ok=True)
    docs = root / "docs"
    docs.mkdir(exist_ok=True)
    expected = 0
    lines = ["# Everything", ""]
    for i in range(n_files):
        text = generate_text(size, seed=i, crlf=False).replace("@", "(at)")
        if i % 10 == 0 and i + 1 < n_files:
            text += f"\nSee also @f{i + 1:03d}.md\n"
        (docs / f"f{i:03d}.md").write_text(text, encoding="utf-8")
        expected += len(enc.encode_ordinary(text))
        lines.append(f"- @docs/f{i:03d}.md")
    doc = root / "all.md"
    doc.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return doc, expected


def child(workspace: Path, cache_path: str, repeat: int) -> dict[str, Any]:
    """Runs in a new process: resolve the document ``repeat`` times, report timings."""
    from prompt_tokens.cache.tiered import TieredCache
    from prompt_tokens.references.resolver import ReferenceResolver
    from prompt_tokens.references.syntax import scan
    from prompt_tokens.settings import parse_settings
    from prompt_tokens.tokenizer.encodings import get_encoding

    get_encoding(ENC)  # loaded once per process; not what this measures
    doc = workspace / "all.md"
    occ = scan(doc.read_text(encoding="utf-8"))
    settings, _ = parse_settings({})
    cache = TieredCache(cache_path)
    out: dict[str, Any] = {"references": len(occ), "runs": []}

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


def run_child(workspace: Path, cache_path: str, repeat: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", str(workspace), "--cache", cache_path]
    cmd += ["--repeat", str(repeat)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


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
        items: list[Any] = []
        for i in range(10):
            text = " ".join(f"@{u}" for u in urls) + f" doc {i}"
            items.append((workspace / f"u{i}.md", scan(text), ENC, {}))
        settings, _ = parse_settings({})

        async def main() -> dict[str, Any]:
            r = ReferenceResolver(settings, TieredCache(None), roots=[workspace])
            t0 = time.perf_counter()
            await r.resolve_many(items, limit=10)
            first_s = time.perf_counter() - t0
            first = r.http.requests_made
            t0 = time.perf_counter()
            await r.resolve_many(items, limit=10)
            second_s = time.perf_counter() - t0
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--size", type=int, default=8000, help="characters per file")
    ap.add_argument("--rounds", type=int, default=3, help="cold+warm rounds (medians shown)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--cache", help=argparse.SUPPRESS)
    ap.add_argument("--repeat", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(Path(args.child), args.cache, args.repeat)))
        return 0

    rounds: dict[str, list[dict[str, Any]]] = {
        "cold": [],
        "warm_new_process": [],
        "warm_same_process": [],
    }
    with tempfile.TemporaryDirectory(prefix="pt-bench-refs-") as tmp:
        root = Path(tmp) / "ws"
        _doc, expected = make_workspace(root, args.files, args.size)
        for i in range(args.rounds):
            cache_path = str(Path(tmp) / f"cache{i}.sqlite3")
            cold = run_child(root, cache_path, 1)
            warm = run_child(root, cache_path, 2)
            rounds["cold"].append(cold["runs"][0])
            rounds["warm_new_process"].append(warm["runs"][0])
            rounds["warm_same_process"].append(warm["runs"][1])
        urls = url_figures(root)
        size_mb = sum(f.stat().st_size for f in (root / "docs").iterdir()) / 1e6
        cache_kb = sum(f.stat().st_size for f in Path(tmp).glob("cache0.sqlite3*")) / 1024
    for name, runs_of in rounds.items():
        for run in runs_of:
            if run["total"] != expected or run["errors"]:
                print(f"MISMATCH in {name}: {run['total']} != {expected} (errors {run['errors']})")
                return 1
    # The median round of each kind (the machine may be busy: medians, not means).
    runs = {
        name: sorted(runs_of, key=lambda r: r["seconds"])[len(runs_of) // 2]
        for name, runs_of in rounds.items()
    }
    figures = {
        "files": args.files,
        "megabytes": round(size_mb, 2),
        "references": cold["references"],
        "expected_total_tokens": expected,
        **{f"{k}_ms": round(v["seconds"] * 1000, 1) for k, v in runs.items()},
        "cold_over_warm_new_process": round(
            runs["cold"]["seconds"] / runs["warm_new_process"]["seconds"], 1
        ),
        "rounds": args.rounds,
        "all_ms": {k: [round(r["seconds"] * 1000, 1) for r in v] for k, v in rounds.items()},
        "runs": runs,
        "cache_file_kib": round(cache_kb, 1),
        "urls": urls,
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    print(
        f"{args.files} file references ({size_mb:.1f} MB, {expected:,} tokens, all exact; "
        f"median of {args.rounds} rounds):"
    )
    for name, run in runs.items():
        print(
            f"  {name:<18} {run['seconds'] * 1000:8.1f} ms   read {run['files_read']:>3} files, "
            f"tokenized {run['files_tokenized']:>3}, cache {','.join(run['cache_states'])}   "
            f"(all: {', '.join(f'{x:.0f}' for x in figures['all_ms'][name])} ms)"
        )
    print(
        f"  cold / warm (new process): {figures['cold_over_warm_new_process']}x; cache file {cache_kb:.0f} KiB"
    )
    print(
        f"10 documents sharing 3 URLs: {urls['requests_first_batch']} requests, then "
        f"{urls['requests_second_batch_within_ttl']} within the TTL (server saw {urls['server_saw']})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
