"""Block and stream counting: always equal to one plain ``encode_ordinary`` over the text."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prompt_tokens.errors import BinaryContentError, TooLargeError
from prompt_tokens.tokenizer.boundaries import split_blocks
from prompt_tokens.tokenizer.counter import (
    STREAM_BLOCK_CHARS,
    BlockCounter,
    block_key,
    count_stream,
    count_text,
)
from prompt_tokens.tokenizer.encodings import get_encoding
from prompt_tokens.tokenizer.textio import BINARY_SNIFF_BYTES, iter_file_chunks
from tests.conftest import plain_count
from tests.unit.test_boundaries import (
    ALL_TOKENIZERS,
    adversarial_text,
    corpus,
    real_texts,
)

hyp = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

CHUNK_SIZES = [1, 3, 17, 4096, 1 << 20]


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


# ------------------------------------------------------------------------------------------
# BlockCounter
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("encoding", ALL_TOKENIZERS)
@hyp
@given(
    lines=st.lists(adversarial_text, max_size=12),
    crlf=st.booleans(),
    block_chars=st.sampled_from([1, 5, 32, 4096]),
)
def test_block_counter_equals_plain_count(
    encoding: str, lines: list[str], crlf: bool, block_chars: int
) -> None:
    text = ("\r\n" if crlf else "\n").join(lines)
    counter = BlockCounter(encoding, block_chars=block_chars)
    assert counter.count(text) == plain_count(encoding, text)
    assert counter.count(text) == plain_count(encoding, text)  # again, from the memo


def test_block_counter_on_real_text(encoding_name: str) -> None:
    counter = BlockCounter(encoding_name, block_chars=512)
    for _name, text in real_texts():
        for variant in (text, text.replace("\n", "\r\n")):
            assert counter.count(variant) == plain_count(encoding_name, variant)
    big = corpus().generate_text(500_000, seed=21)
    assert BlockCounter(encoding_name).count(big) == plain_count(encoding_name, big)


def test_block_counter_empty_and_tiny(encoding_name: str) -> None:
    counter = BlockCounter(encoding_name)
    assert counter.count("") == 0
    assert counter.count("\n") == plain_count(encoding_name, "\n")
    assert counter.count("<|endoftext|>") == plain_count(encoding_name, "<|endoftext|>")


def test_memo_hits_after_one_character_edit(encoding_name: str) -> None:
    text = corpus().generate_text(200 * 1024, seed=8, crlf=False)
    counter = BlockCounter(encoding_name)
    assert counter.count(text) == plain_count(encoding_name, text)
    n_blocks = len(split_blocks(text, encoding_name, counter.block_chars))
    assert n_blocks >= 40
    rnd = random.Random(1)
    for edit in ("replace", "insert", "delete", "newline"):
        mid = len(text) // 2 + rnd.randrange(-1000, 1000)
        while not text[mid].isalpha():
            mid += 1
        if edit == "replace":
            edited = text[:mid] + ("Q" if text[mid] != "Q" else "R") + text[mid + 1 :]
        elif edit == "insert":
            edited = text[:mid] + "Z" + text[mid:]
        elif edit == "delete":
            edited = text[:mid] + text[mid + 1 :]
        else:
            edited = text[:mid] + "\n" + text[mid:]
        counter.hits = counter.misses = 0
        assert counter.count(edited) == plain_count(encoding_name, edited)
        assert 1 <= counter.misses <= 2, (edit, counter.misses)
        assert counter.hits >= n_blocks - 3


def test_memo_is_shared_and_holds_no_text(encoding_name: str) -> None:
    memo: dict[bytes, int] = {}
    a = BlockCounter(encoding_name, memo=memo, block_chars=64)
    text = "line one\nline two\n" * 50
    a.count(text)
    assert memo and all(isinstance(k, bytes) and len(k) == 16 for k in memo)
    b = BlockCounter(encoding_name, memo=memo, block_chars=64)
    assert b.count(text) == plain_count(encoding_name, text)
    assert b.misses == 0 and b.hits > 0
    assert block_key("a") != block_key("b") and block_key("x") == block_key("x")
    assert count_text(get_encoding(encoding_name), text) == plain_count(encoding_name, text)


# ------------------------------------------------------------------------------------------
# count_stream
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("chunk", CHUNK_SIZES)
@pytest.mark.parametrize("block_chars", [1, 200, STREAM_BLOCK_CHARS])
def test_count_stream_chunk_sizes(encoding_name: str, chunk: int, block_chars: int) -> None:
    size = 30_000 if chunk < 100 else 400_000
    text = corpus().generate_text(size, seed=chunk + block_chars)
    text += "é中👍🏽\r\n\r\n" * 50  # multibyte characters and CRLFs across many chunk seams
    data = text.encode()
    result = count_stream(chunked(data, chunk), encoding_name, block_chars=block_chars)
    assert result.tokens == plain_count(encoding_name, text)
    assert result.chars == len(text)
    assert result.stats.size == len(data)
    assert result.stats.sha256 == hashlib.sha256(data).hexdigest()
    assert result.stats.invalid_utf8 is False


@pytest.mark.parametrize("encoding", ALL_TOKENIZERS)
@hyp
@given(
    lines=st.lists(adversarial_text, max_size=12),
    crlf=st.booleans(),
    chunk=st.integers(1, 64),
    block_chars=st.sampled_from([1, 3, 16, 100]),
    threads=st.sampled_from([1, 2]),
)
def test_count_stream_equals_plain_count(
    encoding: str, lines: list[str], crlf: bool, chunk: int, block_chars: int, threads: int
) -> None:
    text = ("\r\n" if crlf else "\n").join(lines).replace("\x00", "")
    if text.startswith("\ufeff"):
        text = " " + text
    data = text.encode()
    result = count_stream(chunked(data, chunk), encoding, block_chars=block_chars, threads=threads)
    assert result.tokens == plain_count(encoding, text)
    assert result.chars == len(text)


def test_count_stream_every_seam_in_multibyte_and_crlf(encoding_name: str) -> None:
    text = "ab\r\n é\r\n中\r\n👍🏽\r\n\ufffd\r\nx'LL\r\n// y\r\n" * 3
    data = text.encode()
    expected = plain_count(encoding_name, text)
    for chunk in range(1, 12):
        for block_chars in (1, 4, 9):
            r = count_stream(chunked(data, chunk), encoding_name, block_chars=block_chars)
            assert r.tokens == expected
            assert r.stats.invalid_utf8 is False  # the literal U+FFFD is valid text


def test_bom_is_not_counted(encoding_name: str) -> None:
    text = "Hello\r\nworld\n"
    for chunk in (1, 2, 4096):
        r = count_stream(chunked(b"\xef\xbb\xbf" + text.encode(), chunk), encoding_name)
        assert r.tokens == plain_count(encoding_name, text)
        assert r.chars == len(text)
        assert r.stats.size == len(text) + 3
    assert count_stream([b"\xef\xbb\xbf"], encoding_name).tokens == 0


def test_invalid_utf8_counts_replacement_characters(encoding_name: str) -> None:
    data = b"caf\xe9 \xff\xfe ok\r\n\xf0\x9f\x91 end"
    expected_text = data.decode("utf-8", errors="replace")
    for chunk in (1, 2, 3, 4096):
        r = count_stream(chunked(data, chunk), encoding_name, block_chars=4)
        assert r.tokens == plain_count(encoding_name, expected_text)
        assert r.stats.invalid_utf8 is True


def test_literal_replacement_character_across_seams(encoding_name: str) -> None:
    text = "a\ufffd\nb\ufffd\ufffd\n"
    data = text.encode()
    for chunk in range(1, 9):
        r = count_stream(chunked(data, chunk), encoding_name, block_chars=2)
        assert r.tokens == plain_count(encoding_name, text)
        assert r.stats.invalid_utf8 is False


def test_binary_is_refused(encoding_name: str) -> None:
    data = b"PK\x03\x04" + b"\x00" * 10 + b"text" * 100
    with pytest.raises(BinaryContentError):
        count_stream(chunked(data, 3), encoding_name, label="archive.zip")
    late = b"a" * (BINARY_SNIFF_BYTES - 1) + b"\x00"
    with pytest.raises(BinaryContentError):
        count_stream(chunked(late, 4096), encoding_name)


def test_nul_after_8kib_is_counted_as_text(encoding_name: str) -> None:
    text = "word " * 2000 + "\n\x00\x00 tail\n"
    assert text.encode().index(b"\x00") >= BINARY_SNIFF_BYTES
    for chunk in (1000, 1 << 20):
        r = count_stream(chunked(text.encode(), chunk), encoding_name, block_chars=100)
        assert r.tokens == plain_count(encoding_name, text)


def test_max_bytes(encoding_name: str) -> None:
    data = b"hello\n" * 1000
    assert count_stream([data], encoding_name, max_bytes=len(data)).stats.size == len(data)
    with pytest.raises(TooLargeError):
        count_stream(chunked(data, 100), encoding_name, max_bytes=len(data) - 1)


def test_crlf_and_lone_cr_are_preserved(encoding_name: str) -> None:
    text = "line one\r\nline two\rline three\r\n\r\n  indented\r" * 200
    r = count_stream(chunked(text.encode(), 7), encoding_name, block_chars=50)
    assert r.tokens == plain_count(encoding_name, text)
    assert r.chars == len(text)  # every \r decoded and counted as written
    lone = count_stream([b"x\r\r\ry\r"], encoding_name)
    assert (
        lone.tokens == plain_count(encoding_name, "x\r\r\ry\r") > plain_count(encoding_name, "xy")
    )


def test_text_without_safe_cuts(encoding_name: str) -> None:
    """One huge line: nothing to cut, still exact and not quadratic."""
    text = '{"k": "' + "v " * 200_000 + '"}'
    r = count_stream(chunked(text.encode(), 1000), encoding_name, block_chars=1000)
    assert r.tokens == plain_count(encoding_name, text)


def test_progress_reports_bytes(encoding_name: str) -> None:
    data = ("x y z\n" * 10_000).encode()
    seen: list[int] = []
    count_stream(chunked(data, 4096), encoding_name, progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == len(data)


def test_count_file(encoding_name: str, tmp_path: Path) -> None:
    text = corpus().generate_text(1_500_000, seed=2)
    path = tmp_path / "big.md"
    path.write_bytes(text.encode())
    r = count_stream(iter_file_chunks(str(path)), encoding_name)
    assert r.tokens == plain_count(encoding_name, text)
    assert r.stats.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    r1 = count_stream(iter_file_chunks(str(path), 1 << 16), encoding_name, threads=1)
    assert r1.tokens == r.tokens
