"""Language-server latency through the real protocol (the server is a subprocess on stdio).

    .venv/bin/python benchmarks/bench_lsp.py [--quick] [--only code] [--edits N] [--latencies]

Measures, with ``debounceMs: 0`` and a memory-only cache:

1. ``initialize`` answered, from process spawn (``prompt-tokens lsp``): target ≤ 300 ms;
2. keystrokes near the middle of big prompts: ``didChange`` sent → ``promptTokens/status``
   ``ready`` for that version received; p50/p95 against ONE plain
   ``len(enc.encode_ordinary(text))`` of the same text measured in this run; every edit's count
   is checked against plain tiktoken at the end. The prompts, with their reference syntax left
   as it is (``@``, ``{{``, ``#file:``, backticks, fences):
   - prose: 1 MB (target ≥ 20×) and 10 MB (target ≥ 50×) of the realistic generated corpus;
   - code-heavy: 2 MB and 10 MB of real Python source from the installed packages in Markdown
     fences under headings (``corpus.code_prompt``): targets p50 ≥ 50×, p95 ≥ 20×;
   - the real corpus (``../shared/corpus``): its prompt files joined into one document;
   next to it, the same keystrokes in-process (the document model and the incremental
   reference scan a recount runs, without the protocol, diagnostics and hints);
   the client reads ``publishDiagnostics`` as JSON values, as an editor does (``JSON.parse``),
   not into typed ``lsprotocol`` objects: that conversion in Python costs ~15 µs per
   diagnostic, tens of ms for the thousands a big prompt has, and is the benchmark's own cost,
   not the server's (``--typed-diagnostics`` measures with it); for the same reason the
   client's garbage collector is off while it types (as ``timeit`` does): the client holds
   the whole text and the parsed diagnostics, and a full collection of its own landed on
   the same few keystrokes of every run (50-70 ms each in the 10 MB prompts);
3. ``textDocument/inlayHint`` latency while a 50 MB referenced file is being counted:
   target p95 ≤ 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient
from pygls.protocol.json_rpc import JsonRPCNotification

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "server"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from corpus import code_prompt, documents  # noqa: E402
from counter_info import counter_line  # noqa: E402

from prompt_tokens.document import DocumentState  # noqa: E402
from prompt_tokens.references.blocks import BlockScanner  # noqa: E402
from prompt_tokens.references.syntax import scan  # noqa: E402
from prompt_tokens.tokenizer.encodings import get_encoding  # noqa: E402

SERVER = [sys.executable, "-m", "prompt_tokens", "lsp"]
LINE_BREAK = re.compile(r"\r\n|\r|\n")
STATUS = "promptTokens/status"
KEYS = "abcxyz  ()_.@`{#"
"""What the keystrokes type: mostly letters and spaces, some reference and Markdown syntax."""


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(p / 100 * (len(s) - 1))))
    return s[k]


REFERENCES = {  # files the benchmark prompt really references
    "docs/style.md": "# Style\nWrite short sentences. Prefer active voice.\n" * 40,
    "docs/api.md": "GET /v1/items returns a list of items with id, name and price.\n" * 80,
    "data/glossary.txt": "token: the unit a model reads\ncontext: what fits in one request\n" * 50,
}
REFERENCE_LINE = (
    "Follow @docs/style.md and answer from @docs/api.md (terms: #file:data/glossary.txt).\n"
)


def prompt_text(size: int, seed: int = 1) -> str:
    """A large Markdown prompt from the project's realistic corpus (prose, Markdown with
    headings/tables/fenced code, Unicode-heavy text; some CRLF) with a few real file references
    and variables added every ~100 KB. The corpus's own reference syntax (``@docs/x.md``,
    ``{{ x }}``, links) is kept: users' prompts have it too."""
    parts: list[str] = ["# Benchmark prompt\n\n", REFERENCE_LINE]
    n = sum(len(p) for p in parts)
    next_ref = 100_000
    for kind, text in documents(seed):
        if not kind.startswith(("prose", "markdown", "unicode")):
            continue
        parts.append(text)
        n += len(text)
        if n >= next_ref:
            parts.append("\n" + REFERENCE_LINE + "Reply to {{ user }} in {{ language }}.\n\n")
            next_ref += 100_000
        if n >= size:
            break
    text = "".join(parts)[:size]
    return text[: max(text.rfind("\n"), 0) + 1]


REAL_CORPUS = next(
    (
        p
        for p in (ROOT.parent / "shared" / "corpus", ROOT.parent.parent / "shared" / "corpus")
        if p.is_dir()
    ),
    ROOT.parent / "shared" / "corpus",
)
"""``../shared/corpus`` beside the checkout (or beside its parent, for a worktree)."""


def real_corpus_text() -> str:
    """Every prompt file of the real corpus (``.mdc``, ``.md``, ``.prompty``), sorted by path,
    joined with a blank line: front matter, Jinja, Markdown and code as their authors wrote
    them (only the first file's front matter is front matter in the joined text)."""
    files = sorted(
        p for p in REAL_CORPUS.rglob("*") if p.suffix in (".mdc", ".md", ".prompty") and p.is_file()
    )
    return "\n\n".join(p.read_text(encoding="utf-8", errors="replace") for p in files) + "\n"


TYPED_DIAGNOSTICS = False
"""``--typed-diagnostics``: the client converts diagnostics into ``lsprotocol`` objects."""
SHOW_LATENCIES = False
"""``--latencies``: every keystroke's latency is printed, in order."""
EDITS = 0
"""``--edits N``: keystrokes per prompt (0: each prompt's default)."""


def _raw_diagnostics(protocol: Any) -> None:
    """Make ``protocol`` hand ``publishDiagnostics`` params on as JSON values."""
    typed = protocol.structure_message

    def structure(data: dict[str, Any]) -> Any:
        if data.get("method") == types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS and "id" not in data:
            return JsonRPCNotification(
                method=data["method"], params=data.get("params"), jsonrpc=data["jsonrpc"]
            )
        return typed(data)

    protocol.structure_message = structure


class Client:
    def __init__(self) -> None:
        self.lc = LanguageClient("bench", "1")
        if not TYPED_DIAGNOSTICS:
            _raw_diagnostics(self.lc.protocol)
        self.statuses: dict[tuple[str, int], dict[str, Any]] = {}
        self.waiters: dict[tuple[str, int], asyncio.Future[dict[str, Any]]] = {}

        @self.lc.feature(STATUS)
        def on_status(params: Any) -> None:
            s = _plain(params)
            if s["state"] not in ("ready", "error"):
                return
            key = (s["uri"], s["version"])
            self.statuses[key] = s
            fut = self.waiters.pop(key, None)
            if fut is not None and not fut.done():
                fut.set_result(s)

        @self.lc.feature(types.WORKSPACE_CONFIGURATION)
        def on_config(params: types.ConfigurationParams) -> list[Any]:
            settings = {
                "debounceMs": 0,
                "cache": {"path": None},
                "variables": {"user": "Ada", "language": "English"},
                "references": {"maxBytes": 200_000_000},  # the 50 MB reference is allowed
            }
            return [settings for _ in params.items]

        @self.lc.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)
        def on_progress_create(params: Any) -> None:
            return None

        @self.lc.feature(types.PROGRESS)
        def on_progress(params: Any) -> None:
            return None

        @self.lc.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def on_diags(params: Any) -> None:
            return None

        @self.lc.feature(types.WINDOW_LOG_MESSAGE)
        def on_log(params: Any) -> None:
            return None

        @self.lc.feature(types.WORKSPACE_INLAY_HINT_REFRESH)
        def on_refresh(params: Any) -> None:
            return None

    def ready(self, uri: str, version: int) -> asyncio.Future[dict[str, Any]]:
        key = (uri, version)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        if key in self.statuses:
            fut.set_result(self.statuses[key])
        else:
            self.waiters[key] = fut
        return fut

    async def start(self, cwd: Path) -> float:
        t0 = time.perf_counter()
        env = dict(os.environ, PROMPT_TOKENS_LOG_LEVEL="WARNING")
        await self.lc.start_io(*SERVER, env=env, cwd=str(cwd))
        caps = types.ClientCapabilities(
            # an editor the server can ask to refresh hints: it never makes a hint request wait
            workspace=types.WorkspaceClientCapabilities(
                configuration=True,
                inlay_hint=types.InlayHintWorkspaceClientCapabilities(refresh_support=True),
            ),
            window=types.WindowClientCapabilities(work_done_progress=True),
        )
        await self.lc.initialize_async(
            types.InitializeParams(
                capabilities=caps,
                root_uri=cwd.as_uri(),
                workspace_folders=[types.WorkspaceFolder(uri=cwd.as_uri(), name="bench")],
            )
        )
        elapsed = time.perf_counter() - t0
        self.lc.initialized(types.InitializedParams())
        return elapsed

    async def stop(self) -> None:
        try:
            await asyncio.wait_for(self.lc.shutdown_async(None), 10)
            self.lc.exit(None)
        except Exception:
            pass
        await self.lc.stop()

    def open(self, uri: str, text: str) -> None:
        self.lc.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="markdown", version=1, text=text
                )
            )
        )

    def edit(self, uri: str, version: int, line: int, col: int, text: str) -> None:
        self.lc.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(
                            start=types.Position(line=line, character=col),
                            end=types.Position(line=line, character=col),
                        ),
                        text=text,
                    )
                ],
            )
        )

    async def hints(self, uri: str) -> list[types.InlayHint]:
        result = await self.lc.text_document_inlay_hint_async(
            types.InlayHintParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=types.Range(
                    start=types.Position(line=0, character=0),
                    end=types.Position(line=50, character=0),
                ),
            )
        )
        return list(result or [])


def _plain(obj: Any) -> Any:
    if hasattr(obj, "_asdict"):
        return {k: _plain(v) for k, v in obj._asdict().items()}
    return obj


def plain_encode_s(text: str, reps: int) -> float:
    enc = get_encoding("cl100k_base")
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        len(enc.encode_ordinary(text))
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


async def bench_initialize(tmp: Path, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        c = Client()
        out.append(await c.start(tmp))
        await c.stop()
    return out


def in_process_edits(text: str, edits: int) -> tuple[float, float]:
    """The engine's share of a keystroke, without the protocol: what a recount computes
    (edit, snapshot, count the new blocks, incremental scan, adopt), p50/p95 in seconds; the
    final count and occurrences are checked against plain tiktoken and a whole-text scan."""
    doc = DocumentState(text)
    scanner = BlockScanner()
    doc.count_pending()
    doc.occurrences(scanner, scanner.key)
    rnd = random.Random(7)
    mid = doc.line_count // 2
    lat = []
    for _ in range(edits):
        line = mid + rnd.randint(-20, 20)
        col = min(doc.line_end(line), rnd.randint(0, 40))
        t0 = time.perf_counter()
        doc.apply_change(rnd.choice(KEYS), (line, col, line, col))
        snap = doc.snapshot()
        snap.count_pending()
        occ = snap.occurrences(scanner, scanner.key)
        doc.adopt(snap)
        lat.append(time.perf_counter() - t0)
    final = doc.text()
    if doc.text_tokens != len(get_encoding("cl100k_base").encode_ordinary(final)):
        raise RuntimeError("in-process count differs from plain tiktoken")
    if occ != scan(final):
        raise RuntimeError("incremental occurrences differ from a whole-text scan")
    return statistics.median(lat), pct(lat, 95)


async def bench_edits(
    tmp: Path, label: str, text: str, edits: int, targets: tuple[int, int]
) -> dict[str, Any]:
    baseline = plain_encode_s(text, 3)
    c = Client()
    await c.start(tmp)
    uri = (tmp / f"doc_{label.replace(' ', '_')}.md").as_uri()
    t0 = time.perf_counter()
    c.open(uri, text)
    await asyncio.wait_for(c.ready(uri, 1), 300)
    open_s = time.perf_counter() - t0
    # edits land within ±20 lines of the middle: model just that window, with LSP lines
    starts = [0, *(m.end() for m in LINE_BREAK.finditer(text))]
    first = max(0, len(starts) // 2 - 30)
    lo, hi = starts[first], starts[min(first + 60, len(starts) - 1)]
    pieces = LINE_BREAK.split(text[lo:hi])  # CRLF/CR/LF-free lines, separators kept apart
    breaks = LINE_BREAK.findall(text[lo:hi])
    rnd = random.Random(7)
    lat = []
    version = 1
    status: dict[str, Any] = {}
    gc.collect()
    gc.disable()  # the client's own collections (it holds the text) are not the server's time
    try:
        for _ in range(edits):
            k = min(len(pieces) - 1, 30 + rnd.randint(-20, 20))
            line = pieces[k]
            col = min(len(line), rnd.randint(0, 40))
            ch = rnd.choice(KEYS)
            pieces[k] = line[:col] + ch + line[col:]
            version += 1
            fut = c.ready(uri, version)
            t1 = time.perf_counter()
            c.edit(uri, version, first + k, len(line[:col].encode("utf-16-le")) // 2, ch)
            status = await asyncio.wait_for(fut, 60)
            lat.append(time.perf_counter() - t1)
    finally:
        gc.enable()
    window = "".join(p + b for p, b in zip(pieces, [*breaks, ""], strict=True))
    final = text[:lo] + window + text[hi:]
    exact = status["tokens"]["text"] == len(get_encoding("cl100k_base").encode_ordinary(final))
    refs = status["tokens"]["references"]
    await c.stop()
    p50, p95 = statistics.median(lat), pct(lat, 95)
    core50, core95 = in_process_edits(text, edits)
    return {
        "core_p50_ms": 1000 * core50,
        "core_p95_ms": 1000 * core95,
        "label": label,
        "size": len(text),
        "targets": targets,
        "baseline_ms": 1000 * baseline,
        "open_ms": 1000 * open_s,
        "p50_ms": 1000 * p50,
        "p95_ms": 1000 * p95,
        "ratio_p50": baseline / p50,
        "ratio_p95": baseline / p95,
        "exact": exact,
        "references": refs,
        "latencies_ms": [round(1000 * x, 1) for x in lat],
    }


async def bench_hints_under_load(tmp: Path, mb: int) -> dict[str, Any]:
    line = "Reference corpus line with words, numbers 12345 and punctuation; nothing special.\n"
    big = tmp / "big_reference.txt"
    with big.open("w") as fh:
        chunk = line * 10_000
        for _ in range(mb * 1_000_000 // len(chunk)):
            fh.write(chunk)
    c = Client()
    await c.start(tmp)
    small = (tmp / "small.md").as_uri()
    c.open(small, "# Notes\nA small prompt.\n")
    await asyncio.wait_for(c.ready(small, 1), 60)
    uri = (tmp / "uses_big.md").as_uri()
    t0 = time.perf_counter()
    c.open(uri, "Summarise @big_reference.txt please.\n")
    done = c.ready(uri, 1)
    lat: list[float] = []
    while not done.done():
        for target in (uri, small):
            t1 = time.perf_counter()
            await c.hints(target)
            lat.append(time.perf_counter() - t1)
        await asyncio.sleep(0.01)
    count_s = time.perf_counter() - t0
    status = done.result()
    if status["tokens"]["references"] == 0:
        raise RuntimeError(f"the big reference was not counted: {status}")
    await c.stop()
    big.unlink()
    return {
        "mb": mb,
        "requests": len(lat),
        "count_s": count_s,
        "p50_ms": 1000 * statistics.median(lat),
        "p95_ms": 1000 * pct(lat, 95),
        "max_ms": 1000 * max(lat),
        "references": status["tokens"]["references"],
    }


def prompts(quick: bool, only: str | None) -> list[tuple[str, Any, int, tuple[int, int]]]:
    """(label, text factory, edits, (p50 target, p95 target)) per benchmarked prompt."""
    rows: list[tuple[str, Any, int, tuple[int, int]]] = [
        ("prose 1 MB", lambda: prompt_text(1_000_000), 30 if quick else 100, (20, 20)),
        ("prose 10 MB", lambda: prompt_text(10_000_000), 10 if quick else 40, (50, 50)),
        ("code 2 MB", lambda: code_prompt(2_000_000), 30 if quick else 100, (50, 20)),
        ("code 10 MB", lambda: code_prompt(10_000_000), 10 if quick else 40, (50, 20)),
        ("real corpus", real_corpus_text, 30 if quick else 100, (0, 0)),
    ]
    if EDITS:
        rows = [(label, make, EDITS, targets) for label, make, _, targets in rows]
    return [r for r in rows if only is None or r[0].startswith(only)]


async def main(quick: bool, only: str | None) -> None:
    print(counter_line(), flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-lsp-") as d:
        tmp = Path(d)
        (tmp / ".git").mkdir()
        for rel, content in REFERENCES.items():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp / rel).write_text(content)
        init = await bench_initialize(tmp, 3 if quick else 7)
        edits = [
            await bench_edits(tmp, label, make(), n, targets)
            for label, make, n, targets in prompts(quick, only)
        ]
        under_load = None if only else await bench_hints_under_load(tmp, 10 if quick else 50)

    print()
    print(
        f"prompt-tokens LSP benchmark ({sys.platform}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
        f"load {os.getloadavg()[0]:.1f}; diagnostics read as "
        f"{'lsprotocol objects' if TYPED_DIAGNOSTICS else 'JSON values'})"
    )
    print()
    print(
        f"initialize after spawn   p50 {1000 * statistics.median(init):7.1f} ms   "
        f"max {1000 * max(init):7.1f} ms   (target ≤ 300 ms, {len(init)} spawns)"
    )
    print()
    print(
        "| document | size | plain encode | open→ready | edit→ready p50 | p95 | speed-up p50 | p95 "
        "| refs | exact | in-process p50 | p95 | speed-up p50 | p95 |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for e in edits:
        t50, t95 = e["targets"]
        print(
            f"| {e['label']} | {e['size'] / 1e6:.1f} M chars | {e['baseline_ms']:.1f} ms | "
            f"{e['open_ms']:.0f} ms | {e['p50_ms']:.2f} ms | {e['p95_ms']:.2f} ms | "
            f"{e['ratio_p50']:.0f}×{f' (≥ {t50}×)' if t50 else ''} | "
            f"{e['ratio_p95']:.0f}×{f' (≥ {t95}×)' if t95 else ''} | "
            f"{e['references']:,} tok | {e['exact']} | {e['core_p50_ms']:.2f} ms | "
            f"{e['core_p95_ms']:.2f} ms | {e['baseline_ms'] / e['core_p50_ms']:.0f}× | "
            f"{e['baseline_ms'] / e['core_p95_ms']:.0f}× |"
        )
    if SHOW_LATENCIES:
        print()
        for e in edits:
            print(f"{e['label']}: edit→ready ms in order: {e['latencies_ms']}")
    if under_load is None:
        return
    print()
    u = under_load
    print(
        f"inlayHint while a {u['mb']} MB reference is counted ({u['count_s']:.1f} s, "
        f"{u['references']:,} tokens): {u['requests']} requests, p50 {u['p50_ms']:.1f} ms, "
        f"p95 {u['p95_ms']:.1f} ms, max {u['max_ms']:.1f} ms (target p95 ≤ 50 ms)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer runs and a 10 MB reference")
    parser.add_argument(
        "--only", help="only the prompts whose label starts with this (prose, code, real)"
    )
    parser.add_argument(
        "--typed-diagnostics",
        action="store_true",
        help="the client converts diagnostics into lsprotocol objects (Python's cost)",
    )
    parser.add_argument(
        "--latencies", action="store_true", help="also print every keystroke's latency, in order"
    )
    parser.add_argument(
        "--edits",
        type=int,
        default=0,
        help="keystrokes per prompt (default: 100 or 40; quick: fewer)",
    )
    args = parser.parse_args()
    EDITS = args.edits
    TYPED_DIAGNOSTICS = args.typed_diagnostics
    SHOW_LATENCIES = args.latencies
    asyncio.run(main(args.quick, args.only))
