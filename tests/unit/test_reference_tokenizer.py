"""The product's encodings against a reference built only from tiktoken's own code.

``plain_count`` (tests/conftest.py) is what every exactness test compares with; it must not share
the product's rank parser, hash table or pattern, or a bug there would be invisible. These tests
prove the two sides are independent AND equal: same ranks, same pattern, same special tokens,
same counts on real files.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

import pytest
import tiktoken.load

from prompt_tokens.tokenizer.encodings import ENCODINGS, get_encoding, load_encoding
from tests.conftest import (
    BUNDLED_RANKS,
    PUBLISHED_SHA256,
    plain_count,
    reference_definition,
    reference_encoding,
)

CORPUS = Path("/work/shared/corpus")
# A few real files of different kinds: Cursor rule, Prompty, Agent Skill, plain text.
CORPUS_SAMPLE = sorted(
    [
        *sorted(CORPUS.glob("cursor-rules/.cursor/rules/*.mdc"))[:3],
        *sorted(CORPUS.glob("prompty/**/*.prompty"))[:3],
        *sorted(CORPUS.glob("skills/skills/*/SKILL.md"))[:3],
        *sorted(CORPUS.glob("**/*.txt"))[:2],
    ]
)


def test_every_product_encoding_has_a_reference() -> None:
    assert set(ENCODINGS) == {"cl100k_base", "o200k_base"}


def test_reference_hash_comes_from_tiktoken_and_matches_the_bundled_file(
    encoding_name: str,
) -> None:
    d = reference_definition(encoding_name)
    assert d["expected_hash"] == PUBLISHED_SHA256[encoding_name]
    raw = gzip.decompress((BUNDLED_RANKS / f"{encoding_name}.tiktoken.gz").read_bytes())
    assert hashlib.sha256(raw).hexdigest() == d["expected_hash"]


def test_tiktoken_loader_refuses_a_file_that_does_not_match_the_hash(tmp_path: Path) -> None:
    """The check the reference relies on really happens: one changed byte is refused."""
    raw = gzip.decompress((BUNDLED_RANKS / "cl100k_base.tiktoken.gz").read_bytes())
    bad = tmp_path / "cl100k_base.tiktoken"
    bad.write_bytes(raw.replace(b" 0\n", b" 1\n", 1))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "cache"))
        with pytest.raises(ValueError, match="Hash mismatch"):
            tiktoken.load.load_tiktoken_bpe(str(bad), expected_hash=PUBLISHED_SHA256["cl100k_base"])


def test_building_the_reference_writes_nothing_to_tiktokens_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tiktoken caches every file it loads; the reference keeps that cache in its temp folder."""
    users_cache = tmp_path / "users-tiktoken-cache"
    users_cache.mkdir()
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(users_cache))
    fresh = reference_definition.__wrapped__("cl100k_base")  # uncached: really loads
    assert fresh["mergeable_ranks"] == reference_definition("cl100k_base")["mergeable_ranks"]
    assert list(users_cache.iterdir()) == []
    assert os.environ["TIKTOKEN_CACHE_DIR"] == str(users_cache)


def test_product_rank_table_equals_tiktokens_own(encoding_name: str) -> None:
    ours = load_encoding(encoding_name)
    ref = reference_definition(encoding_name)
    ours_ranks = ours._mergeable_ranks
    assert len(ours_ranks) == len(ref["mergeable_ranks"]) > 100_000
    assert ours_ranks == ref["mergeable_ranks"]
    assert ours._pat_str == ref["pat_str"]
    assert ours._special_tokens == ref["special_tokens"]
    assert ours.n_vocab == reference_encoding(encoding_name).n_vocab


def test_reference_is_not_the_products_encoding_object(encoding_name: str) -> None:
    assert reference_encoding(encoding_name) is not get_encoding(encoding_name)


def test_reference_counts_known_text() -> None:
    """Ids published outside this project anchor the reference itself.

    cl100k_base: openai/tiktoken tests/test_simple_public.py::test_simple. o200k_base: openai/harmony
    tests (``o200k_harmony`` shares o200k_base's ranks). Both seen 2026.
    """
    assert reference_encoding("cl100k_base").encode_ordinary("hello world") == [15339, 1917]
    assert reference_encoding("o200k_base").encode_ordinary("hello world") == [24912, 2375]


@pytest.mark.parametrize("path", CORPUS_SAMPLE, ids=lambda p: p.name)
def test_product_and_reference_count_corpus_files_equally(path: Path, encoding_name: str) -> None:
    text = path.read_text(encoding="utf-8", errors="replace")
    ours = get_encoding(encoding_name).encode_ordinary(text)
    assert ours == reference_encoding(encoding_name).encode_ordinary(text)
    assert plain_count(encoding_name, text) == len(ours) > 0


def test_corpus_sample_covers_each_kind() -> None:
    suffixes = {p.suffix for p in CORPUS_SAMPLE}
    assert {".mdc", ".prompty", ".md", ".txt"} <= suffixes
