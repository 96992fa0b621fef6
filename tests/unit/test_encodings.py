"""Offline encodings: bundled, hash-checked, identical to tiktoken's own definitions."""

from __future__ import annotations

import gzip
import hashlib
import socket
import threading
import time
from importlib import resources
from pathlib import Path

import pytest
import tiktoken

from prompt_tokens.errors import EncodingDataError, PermanentError, UnknownEncodingError
from prompt_tokens.tokenizer import encodings
from prompt_tokens.tokenizer.counter import BlockCounter
from prompt_tokens.tokenizer.encodings import (
    ENCODINGS,
    EXPECTED_SHA256,
    get_encoding,
    load_encoding,
    parse_ranks,
)
from tests.conftest import plain_count

# Published reference values (tiktoken README / OpenAI cookbook).
KNOWN = {
    "cl100k_base": {
        "hello world": [15339, 1917],
        "tiktoken is great!": [83, 1609, 5963, 374, 2294, 0],
    },
    "o200k_base": {
        "hello world": [24912, 2375],
        "tiktoken is great!": [83, 8251, 2488, 382, 2212, 0],
    },
}
N_VOCAB = {"cl100k_base": 100277, "o200k_base": 200019}
SPECIAL_STRINGS = ["<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>"]
SPECIAL_STRINGS += ["<|endofprompt|>", "<|im_start|>", "<|im_end|>"]


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Any connection attempt fails the test; tiktoken's download cache points nowhere."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "empty-tiktoken-cache"))
    monkeypatch.setenv("DATA_GYM_CACHE_DIR", str(tmp_path / "empty-data-gym"))
    monkeypatch.delenv("PROMPT_TOKENS_TIKTOKEN_DIR", raising=False)


def test_bundled_data_files_exist() -> None:
    data = resources.files("prompt_tokens.tokenizer").joinpath("data")
    for name in ENCODINGS:
        raw = gzip.decompress(data.joinpath(f"{name}.tiktoken.gz").read_bytes())
        assert hashlib.sha256(raw).hexdigest() == EXPECTED_SHA256[name]


@pytest.mark.usefixtures("no_network")
def test_loads_offline_from_bundled_gzip(encoding_name: str) -> None:
    enc = load_encoding(encoding_name)
    assert isinstance(enc, tiktoken.Encoding)
    assert enc.name == encoding_name
    assert enc.n_vocab == N_VOCAB[encoding_name]
    for text, expected in KNOWN[encoding_name].items():
        assert enc.encode_ordinary(text) == expected
        assert enc.decode(expected) == text


def test_known_published_tokens(encoding_name: str) -> None:
    enc = get_encoding(encoding_name)
    for text, expected in KNOWN[encoding_name].items():
        assert enc.encode_ordinary(text) == expected
        assert plain_count(encoding_name, text) == len(expected)


def test_matches_tiktoken_definitions(encoding_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """pat_str and special tokens equal tiktoken_ext.openai_public's, fed our ranks offline."""
    from tiktoken_ext import openai_public as op

    ours = load_encoding(encoding_name)
    seen: dict[str, str | None] = {}

    def fake_load(url: str, expected_hash: str | None = None) -> dict[bytes, int]:
        seen["url"], seen["hash"] = url, expected_hash
        return ours._mergeable_ranks

    monkeypatch.setattr(op, "load_tiktoken_bpe", fake_load)
    theirs = op.ENCODING_CONSTRUCTORS[encoding_name]()
    assert seen["hash"] == EXPECTED_SHA256[encoding_name]
    assert ours._pat_str == theirs["pat_str"]
    assert ours._special_tokens == theirs["special_tokens"]
    reference = tiktoken.Encoding(**theirs)
    sample = "Hello, wörld! 123 <|endoftext|>\r\n  // done 👍🏽 ǅ 'LL\n"
    assert ours.encode_ordinary(sample) == reference.encode_ordinary(sample)


def test_sha256_mismatch_is_refused(encoding_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    real = encodings._read_ranks_bytes(encoding_name)
    # Swap the ranks of the first two tokens: still parseable, silently wrong counts.
    lines = real.splitlines()
    a, b = lines[0].split(), lines[1].split()
    altered = b"\n".join([a[0] + b" " + b[1], b[0] + b" " + a[1], *lines[2:]]) + b"\n"
    assert altered != real
    monkeypatch.setattr(encodings, "_read_ranks_bytes", lambda name: altered)
    with pytest.raises(EncodingDataError, match="sha256") as info:
        load_encoding(encoding_name)
    assert isinstance(info.value, PermanentError)
    assert not info.value.transient
    assert info.value.code == "encoding-data"


def test_truncated_data_is_refused(encoding_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    real = encodings._read_ranks_bytes(encoding_name)
    monkeypatch.setattr(encodings, "_read_ranks_bytes", lambda name: real[: len(real) // 2])
    with pytest.raises(EncodingDataError):
        load_encoding(encoding_name)


def test_user_supplied_rank_file(
    encoding_name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """PROMPT_TOKENS_TIKTOKEN_DIR may hold the plain .tiktoken file; it is hash-checked too."""
    good = encodings._read_ranks_bytes(encoding_name)
    monkeypatch.setenv("PROMPT_TOKENS_TIKTOKEN_DIR", str(tmp_path))
    (tmp_path / f"{encoding_name}.tiktoken").write_bytes(good)
    assert encodings._read_ranks_bytes(encoding_name) == good
    (tmp_path / f"{encoding_name}.tiktoken").write_bytes(good.replace(b" 1\n", b" 2\n", 1))
    with pytest.raises(EncodingDataError):
        load_encoding(encoding_name)


def test_unknown_encoding() -> None:
    for name in ("p50k_base", "gpt2", "", "CL100K_BASE", "r50k_base"):
        with pytest.raises(UnknownEncodingError, match="Supported encodings"):
            get_encoding(name)
    with pytest.raises(UnknownEncodingError):
        load_encoding("p50k_base")
    assert UnknownEncodingError("x").code == "unknown-encoding"


@pytest.mark.parametrize("special", SPECIAL_STRINGS)
def test_special_token_strings_are_ordinary_text(encoding_name: str, special: str) -> None:
    enc = load_encoding(encoding_name)
    text = f"before {special} after\n{special}{special}"
    toks = enc.encode_ordinary(text)
    assert get_encoding(encoding_name).encode_ordinary(text) == toks
    assert get_encoding(encoding_name).count(text) == len(toks)
    assert not set(toks) & set(enc._special_tokens.values())
    assert enc.decode(toks) == text
    assert len(toks) == len(enc.encode(text, disallowed_special=()))
    assert len(toks) > text.count("<|")  # several tokens per special string, never one
    assert BlockCounter(encoding_name, block_chars=8).count(text * 50) == plain_count(
        encoding_name, text * 50
    )


def test_same_object_everywhere(encoding_name: str) -> None:
    """Loaded once per process: every thread gets the very same Encoding."""
    results: list[tiktoken.Encoding] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        results.append(get_encoding(encoding_name))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(results) == 8
    assert all(r is results[0] for r in results)
    assert results[0] is get_encoding(encoding_name)
    assert encodings.is_loaded(encoding_name)


def test_concurrent_first_load_runs_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cold start hit by many threads at once builds the encoding exactly once."""
    monkeypatch.setattr(encodings, "_loaded", {})
    calls: list[str] = []
    sentinel = object()

    def slow_load(name: str) -> object:
        calls.append(name)
        time.sleep(0.2)  # a wide window for a race
        return sentinel

    monkeypatch.setattr(encodings, "_openai", slow_load)
    results: list[object] = []
    barrier = threading.Barrier(12)

    def worker() -> None:
        barrier.wait()
        results.append(get_encoding("o200k_base"))

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert calls == ["o200k_base"]
    assert len(results) == 12 and all(r is sentinel for r in results)
    assert not encodings.is_loaded("cl100k_base")


def test_failed_load_is_not_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    """With tiktoken counting, bad rank data fails the load, and a later good load works."""
    monkeypatch.setenv("PROMPT_TOKENS_FAST_COUNT", "0")
    monkeypatch.setattr(encodings, "_loaded", {})
    real_read = encodings._read_ranks_bytes
    monkeypatch.setattr(encodings, "_read_ranks_bytes", lambda name: b"garbage")
    with pytest.raises(EncodingDataError):
        get_encoding("cl100k_base")
    assert not encodings.is_loaded("cl100k_base")
    monkeypatch.setattr(encodings, "_read_ranks_bytes", real_read)
    assert get_encoding("cl100k_base").n_vocab == N_VOCAB["cl100k_base"]


def test_parse_ranks_format() -> None:
    assert parse_ranks(b"YQ== 0\nYg== 1\n\n") == {b"a": 0, b"b": 1}
