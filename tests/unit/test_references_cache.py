"""The SQLite cache after resolving files, URLs, open buffers and variables holds hashes,
sizes, counts, URLs and validators: never a byte of the content (asserted on the file's bytes).
Plus the whole engine on a workspace: totals equal plain tiktoken, computed independently."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from pytest_httpserver import HTTPServer

from prompt_tokens.cache.tiered import TieredCache
from prompt_tokens.engine import PromptEngine
from prompt_tokens.references.resolver import ReferenceResolver
from prompt_tokens.references.syntax import scan
from prompt_tokens.settings import parse_settings
from tests.conftest import plain_count

ENC = "cl100k_base"


def cache_bytes(path: Path) -> bytes:
    data = b""
    for f in sorted(path.parent.glob(path.name + "*")):  # the db, -wal, -shm
        data += f.read_bytes()
    return data


async def test_sqlite_file_never_contains_content(workspace: Path, httpserver: HTTPServer) -> None:
    httpserver.clear()
    markers = {
        "file": "FILEMARKER-7f3a9c only in the referenced file",
        "nested": "NESTEDMARKER-1b2c3d only in the nested file",
        "url": "URLMARKER-e5f6a7 only in the response body",
        "overlay": "OVERLAYMARKER-9d8c7b only in the unsaved buffer",
        "var": "VARMARKER-0a1b2c only in a variable value",
    }
    (workspace / "a.md").write_text(markers["file"] + "\n@b.md\n")
    (workspace / "b.md").write_text(markers["nested"] + "\n")
    (workspace / "c.md").write_text("disk version\n")
    httpserver.expect_request("/body").respond_with_data(markers["url"], headers={"ETag": '"e1"'})
    url = httpserver.url_for("/body")
    db = workspace / ".cache" / "cache.sqlite3"
    db.parent.mkdir()
    cache = TieredCache(str(db))
    settings, _ = parse_settings({})
    r = ReferenceResolver(settings, cache, roots=[workspace])
    text = f"@a.md @c.md @{url} {{{{ v }}}}"
    results = await r.resolve(
        workspace / "doc.md",
        scan(text),
        encoding=ENC,
        variables={"v": markers["var"]},
        overlay={str(workspace / "c.md"): markers["overlay"]},
    )
    assert all(x.status == "ok" for x in results)
    cache.flush()
    data = cache_bytes(db)
    assert data, "the cache file was written"
    # What is stored: hashes, counts, the URL and its validator.
    sha_a = hashlib.sha256((workspace / "a.md").read_bytes()).hexdigest()
    assert sha_a.encode() in data
    assert url.encode() in data and b'"e1"' in data
    for name, marker in markers.items():
        token = marker.split()[0].encode()
        assert token not in data, f"{name} content leaked into the cache file"
        assert marker.encode("utf-16-le")[:40] not in data
    cache.close()
    data = cache_bytes(db)
    for marker in markers.values():
        assert marker.split()[0].encode() not in data


async def test_engine_totals_match_plain_tiktoken(workspace: Path, httpserver: HTTPServer) -> None:
    httpserver.clear()
    body = "API: GET /v1/items returns a list of items.\n"
    httpserver.expect_request("/v1/items").respond_with_data(body)
    url = httpserver.url_for("/v1/items")
    (workspace / "docs").mkdir()
    spec = "# Spec\nThe spec says @notes.txt matters.\n"
    notes = "Notes:\r\nCRLF kept.\r\n"
    (workspace / "docs/spec.md").write_text(spec)
    (workspace / "docs/notes.txt").write_bytes(notes.encode())
    doc_text = (
        "---\nmodel: gpt-4o\nvariables:\n  product: Acme CRM\n---\n"
        f"# Prompt\nSee @docs/spec.md, the API @{url} and {{{{ product }}}}.\n"
        "```\n@docs/ignored.md inside a fence\n```\n"
        "Mail me at dev@example.com; `@docs/spec.md` is code. Again: @docs/spec.md\n"
        "{{ product }} {{ nobody }}\n"
    )
    doc = workspace / "prompt.md"
    doc.write_text(doc_text)
    settings, _ = parse_settings({"encoding": "cl100k_base"})
    r = ReferenceResolver(settings, TieredCache(None), roots=[workspace])
    engine = PromptEngine(settings, r)
    result = await engine.count_document(str(doc), doc_text)
    enc = "o200k_base"  # gpt-4o
    assert result.encoding == enc
    expected_refs = (
        plain_count(enc, spec)
        + plain_count(enc, notes)
        + plain_count(enc, body)
        + 2 * plain_count(enc, "Acme CRM")
    )
    assert result.tokens.text == plain_count(enc, doc_text)
    assert result.tokens.references == expected_refs
    assert result.tokens.total == plain_count(enc, doc_text) + expected_refs
    codes = sorted(d.code for d in result.diagnostics)
    assert codes == ["variable-undefined"]
    kinds = [(x.kind, x.status) for x in result.references]
    assert kinds == [
        ("file", "ok"),
        ("url", "ok"),
        ("variable", "ok"),
        ("file", "ok"),
        ("variable", "ok"),
        ("variable", "error"),
        ("file", "ok"),
    ]


async def test_new_process_skips_reading_files_without_references(workspace: Path) -> None:
    (workspace / "plain.md").write_text("no references here\n")
    (workspace / "latin.txt").write_bytes(b"caf\xe9\n")
    (workspace / "parent.md").write_text("@plain.md\n")
    db = workspace / "cache.sqlite3"
    text = "@parent.md @latin.txt"
    settings, _ = parse_settings({})
    first_cache = TieredCache(str(db))
    r1 = ReferenceResolver(settings, first_cache, roots=[workspace])
    first = await r1.resolve(workspace / "doc.md", scan(text), encoding=ENC, variables={})
    first_cache.close()

    cache = TieredCache(str(db))  # as a new process would open it
    r2 = ReferenceResolver(settings, cache, roots=[workspace])
    second = await r2.resolve(workspace / "doc.md", scan(text), encoding=ENC, variables={})
    assert [(x.tokens, x.warning_code) for x in second] == [
        (x.tokens, x.warning_code) for x in first
    ]
    assert second[1].warning_code == "reference-encoding"
    assert [x.cache for x in second] == ["disk", "disk", "disk"]
    assert r2.files.reads == 1  # parent.md only: it has a reference to follow
    assert r2.files.tokenized == 0
    cache.close()


async def test_warm_resolution_asks_the_file_in_batches_and_writes_nothing(
    workspace: Path,
) -> None:
    """A new process resolving 120 unchanged file references: a few batched queries instead of
    two per file, no file read, no tokenizing, and not one write to the cache file."""
    texts = {
        f"docs/f{i:03d}.md": f"File {i}: notes on item {i}.\n" * (i % 7 + 1) for i in range(120)
    }
    texts["docs/f000.md"] += "See @f001.md too.\n"  # one nested reference: that file is read
    for name, text in texts.items():
        (workspace / name).parent.mkdir(exist_ok=True)
        (workspace / name).write_text(text)
    doc_text = "".join(f"- @{name}\n" for name in texts)
    db = workspace / "cache.sqlite3"
    settings, _ = parse_settings({})
    cold_cache = TieredCache(str(db))
    cold = ReferenceResolver(settings, cold_cache, roots=[workspace])
    first = await cold.resolve(workspace / "doc.md", scan(doc_text), encoding=ENC, variables={})
    cold_cache.close()
    assert sum(x.tokens for x in first) == sum(plain_count(ENC, t) for t in texts.values())

    watcher = sqlite3.connect(db)
    version = watcher.execute("PRAGMA data_version").fetchone()[0]
    cache = TieredCache(str(db))  # as a new process would open it
    assert cache._store is not None and cache._store._rdb is not None
    queries: list[str] = []
    cache._store._rdb.set_trace_callback(queries.append)
    r = ReferenceResolver(settings, cache, roots=[workspace])
    second = await r.resolve(workspace / "doc.md", scan(doc_text), encoding=ENC, variables={})
    assert [(x.target, x.tokens) for x in second] == [(x.target, x.tokens) for x in first]
    assert {x.cache for x in second} == {"disk"}
    assert r.files.reads == 1 and r.files.tokenized == 0  # f000.md: its reference is followed
    assert len(queries) <= 6, queries  # fingerprints, counts, scan facts: a query per 500 keys
    cache.close()
    assert watcher.execute("PRAGMA data_version").fetchone()[0] == version
    watcher.close()
