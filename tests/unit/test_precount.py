"""Counting small files in batches first (a worker's run) changes no result, only the order.

The real corpus plus the files that take other paths (front matter choosing another encoding,
a binary file, invalid UTF-8, a BOM, an empty file, one too big to be read whole, duplicates)
is counted by ``Runtime.count_files`` with and without ``precount``; the results are equal, the
batch counted what it could, and each count it put in the cache is plain tiktoken's.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from prompt_tokens.doc_config import CachedConfigure
from prompt_tokens.doc_loader import WHOLE_BYTES
from prompt_tokens.precount import precount
from prompt_tokens.runtime import CountRequest, Runtime
from prompt_tokens.settings import parse_settings
from prompt_tokens.tokenizer.textio import decode_bytes
from tests.conftest import plain_count
from tests.unit.shared_corpus import corpus_dir


def _tree(tmp_path: Path) -> Path:
    root = tmp_path / "work"
    shutil.copytree(corpus_dir(), root)
    (root / "o200k.md").write_text("---\nmodel: gpt-4o\n---\nSome text, counted by o200k.\n")
    (root / "bad-yaml.md").write_text("---\nmodel: [gpt-4o\n---\nBroken front matter.\n")
    (root / "binary.md").write_bytes(b"\x00\x01binary\xff" * 10)
    (root / "invalid.md").write_bytes(b"caf\xe9 au lait \xff\xfe done\n")
    (root / "bom.md").write_bytes(b"\xef\xbb\xbfWith a BOM @missing.md\n")
    (root / "empty.md").write_bytes(b"")
    (root / "copy.md").write_text("Twice the same.\n")
    (root / "copy2.md").write_text("Twice the same.\n")
    (root / "big.md").write_text("A line of a big file.\n" * (WHOLE_BYTES // 20))
    return root


def _count(root: Path, paths: list[Path], *, precount_first: bool, limit: int = 1) -> list[object]:
    settings, problems = parse_settings({"cache": {"path": None}})
    assert problems == []

    async def go() -> list[object]:
        rt = Runtime(workers=1, blocking=True)
        try:
            rt.set_settings(str(root), settings, folders=[root])
            requests = [CountRequest(str(root), str(p.relative_to(root)), str(p)) for p in paths]
            out = await rt.count_files(requests, limit=limit, precount=precount_first)
            return [r.to_json() if hasattr(r, "to_json") else repr(r) for r in out]
        finally:
            await rt.aclose()

    return asyncio.run(go())


def test_results_are_the_same_with_and_without(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    paths = sorted(p for p in root.rglob("*") if p.is_file())
    paths.append(root / "vanished.md")  # listed, then gone before it is read
    assert len(paths) > 100
    assert _count(root, paths, precount_first=True) == _count(root, paths, precount_first=False)


def test_one_at_a_time_without_the_queue_gives_what_the_queue_gives(tmp_path: Path) -> None:
    """A worker (blocking, one file at a time) counts straight through, not through the job
    queue: the same results, and each failure in its own place, not raised."""
    root = _tree(tmp_path)
    paths = sorted(p for p in root.rglob("*") if p.is_file())
    paths.append(root / "vanished.md")
    straight = _count(root, paths, precount_first=True)
    assert straight == _count(root, paths, precount_first=True, limit=4)  # through the queue
    failed = [paths[i].name for i, r in enumerate(straight) if isinstance(r, str)]
    assert failed == ["binary.md", "vanished.md"]


def test_each_batched_count_is_plain_tiktokens(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    paths = sorted(str(p) for p in root.rglob("*") if p.is_file())
    settings, _ = parse_settings({"cache": {"path": None}})
    rt = Runtime(workers=1, blocking=True)
    rt.set_settings(str(root), settings, folders=[root])
    cache = rt._roots.cache(str(root))
    engine = rt._roots.engine(str(root))
    counted = precount(paths, cache, lambda: CachedConfigure(engine.configure, cache))
    assert counted > 100
    checked = 0
    for path in paths:
        data = Path(path).read_bytes()
        if len(data) > WHOLE_BYTES or b"\x00" in data[:8192]:
            continue
        text, stats = decode_bytes(data)
        encoding = engine.configure(text, None).encoding
        assert cache.get_count(encoding, stats.sha256) == plain_count(encoding, text), path
        checked += 1
    assert checked > 100
    asyncio.run(rt.aclose())
