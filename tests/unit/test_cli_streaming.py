"""The CLI's document loader streams: counts equal plain tiktoken on real text, and a
document without reference triggers is never held whole (measured by allocations, not time)."""

from __future__ import annotations

import os
import tracemalloc
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prompt_tokens.cache.tiered import TieredCache
from prompt_tokens.doc_loader import (
    APART_BYTES,
    HEAD_BYTES,
    REF_TRIGGERS,
    LoadedDocument,
    TriggerWatch,
    load_document,
    ref_triggers,
)
from prompt_tokens.forked import can_fork
from prompt_tokens.references.syntax import scan
from prompt_tokens.results import Occurrence
from prompt_tokens.settings import CacheSettings
from prompt_tokens.tokenizer.encodings import get_encoding
from prompt_tokens.tokenizer.textio import decode_bytes
from tests.conftest import plain_count
from tests.unit.shared_corpus import corpus_files

ENC = "cl100k_base"


def _memory_cache() -> TieredCache:
    return TieredCache.from_settings(CacheSettings(path=None))


def _loaded(
    path: Path,
    scanner: Callable[[str], list[Occurrence]] | None = scan,
    *,
    cache: TieredCache | None = None,
    links: bool = False,
    scan_pieces: Callable[[Iterable[str]], list[Occurrence]] | None = None,
    scan_apart: bool = False,
) -> LoadedDocument:
    """``load_document`` of ``path`` in cl100k_base (a fresh memory cache unless given)."""
    return load_document(
        str(path),
        cache if cache is not None else _memory_cache(),
        encoding_for=lambda _head, _sha: ENC,
        scan=scanner,
        scan_key="test-refs",
        triggers=ref_triggers(links),
        scan_pieces=scan_pieces,
        scan_apart=scan_apart,
    )


def _load(path: Path, cache: TieredCache, *, refs: bool) -> tuple[int, object]:
    loaded = _loaded(path, scan if refs else None, cache=cache)
    return loaded.text_tokens, loaded.occurrences


def _corpus_text(min_chars: int) -> str:
    parts: list[str] = []
    size = 0
    while size < min_chars:
        for path in corpus_files():
            text, _ = decode_bytes(path.read_bytes())
            parts.append(text)
            size += len(text)
    return "".join(parts)


def _without_triggers(text: str) -> str:
    for trigger in (*REF_TRIGGERS, b"]("):
        text = text.replace(trigger.decode(), trigger.decode()[:-1] + " ")
    text = text.replace("@", " ")
    assert not any(t.decode() in text for t in ref_triggers(True))
    return text


def test_every_corpus_file_counts_as_plain_tiktoken() -> None:
    cache = _memory_cache()
    files = corpus_files()
    assert len(files) > 100
    for path in files:
        text, _ = decode_bytes(path.read_bytes())
        want = plain_count(ENC, text)
        tokens, occ = _load(path, cache, refs=True)
        assert tokens == want, path
        assert occ == scan(text), path
        assert _load(path, _memory_cache(), refs=False)[0] == want, path


def test_big_file_from_corpus_text_counts_exactly(tmp_path: Path) -> None:
    text = _corpus_text(3_000_000)  # dozens of stream blocks, CRLF files among them
    path = tmp_path / "big.md"
    path.write_bytes(text.encode("utf-8"))
    want = plain_count(ENC, text)
    assert _load(path, _memory_cache(), refs=False)[0] == want
    tokens, occ = _load(path, _memory_cache(), refs=True)
    assert tokens == want
    assert occ == scan(text)


def test_document_without_references_is_never_held_whole(tmp_path: Path) -> None:
    data = _without_triggers(_corpus_text(12_000_000)).encode("utf-8") * 2  # ~27 MB
    path = tmp_path / "plain.md"
    path.write_bytes(data)
    cache = _memory_cache()
    tracemalloc.start()
    try:
        loaded = _loaded(path, cache=cache, links=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert loaded.text_tokens > len(data) // 8  # counted (exactness: the tests above)
    assert loaded.occurrences == []
    assert len(loaded.text) <= HEAD_BYTES
    # A whole copy would be ≥ len(data) (bytes) or more (str); streaming keeps a few MiB.
    assert peak < len(data) // 3, f"peak {peak:,} bytes for a {len(data):,}-byte file"


def test_a_trigger_in_the_last_block_still_scans(tmp_path: Path) -> None:
    text = _without_triggers(_corpus_text(500_000)) + "\nsee @docs/a.md\n"
    path = tmp_path / "late.md"
    path.write_text(text, encoding="utf-8", newline="")
    tokens, occ = _load(path, _memory_cache(), refs=True)
    assert tokens == plain_count(ENC, text)
    assert occ == scan(text)
    assert occ  # the reference at the very end was found


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet="ab @{}#$:]()filetchinpu\n", max_size=80),
    st.lists(st.integers(min_value=1, max_value=7), max_size=20),
)
def test_trigger_watch_sees_triggers_across_chunk_seams(text: str, cuts: list[int]) -> None:
    data = text.encode()
    watch = TriggerWatch(ref_triggers(True))
    pos = 0
    for n in cuts:
        watch.feed(data[pos : pos + n])
        pos += n
    watch.feed(data[pos:])
    assert watch.seen == any(t in data for t in ref_triggers(True))


@pytest.mark.parametrize("links", [False, True])
def test_no_trigger_means_no_reference(links: bool) -> None:
    """The quick check is sound: a corpus text without triggers has no occurrences."""
    text = _without_triggers(_corpus_text(200_000))
    assert scan(text, markdown_links=links) == []


def test_document_with_references_is_never_held_whole(tmp_path: Path) -> None:
    """With the streaming scan a big document's references are found from a window of it,
    equal to the whole-text scan, and its count equals plain tiktoken."""
    from prompt_tokens.references.blocks import BlockScanner

    scanner = BlockScanner(("file", "url", "variable"), False)
    text = _corpus_text(12_000_000) * 2 + "\nsee @docs/a.md and {{ topic }}\n"  # ~27 MB
    data = text.encode("utf-8")
    path = tmp_path / "refs.md"
    path.write_bytes(data)
    get_encoding(ENC)  # loaded before measuring: its tables are not the document
    tracemalloc.start()
    try:
        loaded = _loaded(path, scanner, scan_pieces=scanner.scan_pieces)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert loaded.text_tokens == plain_count(ENC, text)
    assert loaded.occurrences == scanner(text)
    assert loaded.occurrences and len(loaded.text) <= HEAD_BYTES
    # A whole copy would be ≥ len(data); the two streams keep a few blocks and a scan window
    # each (a window of non-ASCII text takes 4 bytes a character).
    assert peak < len(data) * 3 // 4, f"peak {peak:,} bytes for a {len(data):,}-byte file"


def _big_with_references(tmp_path: Path) -> tuple[Path, str]:
    text = _corpus_text(APART_BYTES) + "\nsee @docs/a.md and {{ topic }}\n"
    path = tmp_path / "apart.md"
    path.write_bytes(text.encode("utf-8"))
    return path, text


@pytest.mark.skipif(not can_fork(), reason="scanning apart needs fork (Linux)")
def test_a_big_file_scanned_in_a_child_process_gives_the_same_references(
    tmp_path: Path,
) -> None:
    from prompt_tokens.references.blocks import BlockScanner

    scanner = BlockScanner(("file", "url", "variable"), False)
    path, text = _big_with_references(tmp_path)
    pids = tmp_path / "pids"

    def scan_pieces(pieces: Iterable[str]) -> list[Occurrence]:
        with pids.open("a") as fh:
            fh.write(f"{os.getpid()}\n")
        return scanner.scan_pieces(pieces)

    loaded = _loaded(path, scanner, scan_pieces=scan_pieces, scan_apart=True)
    assert loaded.text_tokens == plain_count(ENC, text)
    assert loaded.occurrences == scanner(text) and loaded.occurrences
    assert pids.read_text().split() != [str(os.getpid())]  # it ran in another process
    assert len(pids.read_text().split()) == 1


@pytest.mark.skipif(not can_fork(), reason="scanning apart needs fork (Linux)")
def test_a_scan_child_that_dies_costs_only_time(tmp_path: Path) -> None:
    """Killed or out of memory, the child gives no answer: the scan is done in this process."""
    from prompt_tokens.references.blocks import BlockScanner

    scanner = BlockScanner(("file", "url", "variable"), False)
    path, text = _big_with_references(tmp_path)
    me = os.getpid()

    def scan_pieces(pieces: Iterable[str]) -> list[Occurrence]:
        if os.getpid() != me:
            os._exit(9)
        return scanner.scan_pieces(pieces)

    loaded = _loaded(path, scanner, scan_pieces=scan_pieces, scan_apart=True)
    assert loaded.text_tokens == plain_count(ENC, text)
    assert loaded.occurrences == scanner(text) and loaded.occurrences


_PIECES = st.sampled_from(
    [
        b"a",
        b"\r\n",
        b"\xef\xbb\xbf",
        b"\xe2\x82",
        b"\xac",
        b"\xff",
        b"{{ x }}",
        b"@f.md ",
        b"\xf0\x9f",
    ]
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(_PIECES, max_size=40), st.sampled_from([0, HEAD_BYTES - 3, HEAD_BYTES - 1, HEAD_BYTES])
)
def test_a_file_read_in_one_go_is_the_text_a_whole_decode_gives(
    tmp_path_factory: pytest.TempPathFactory, pieces: list[bytes], pad: int
) -> None:
    """Files shorter than the head are decoded once, as a whole: a truncated UTF-8 sequence at
    the end, a BOM, invalid bytes give the same text, count and references as ``decode_bytes``."""
    data = b"x" * pad + b"".join(pieces)
    path = tmp_path_factory.mktemp("one-go") / "doc.md"
    path.write_bytes(data)
    text, stats = decode_bytes(data)
    loaded = _loaded(path)
    assert loaded.text == text and loaded.sha256 == stats.sha256
    assert loaded.text_tokens == plain_count(ENC, text)
    assert loaded.occurrences == (scan(text) if any(t in data for t in ref_triggers(False)) else [])
