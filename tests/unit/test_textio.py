"""Bytes → text as SPEC defines it, identical whether decoded whole or streamed in chunks."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prompt_tokens.errors import BinaryContentError, TooLargeError
from prompt_tokens.tokenizer.textio import (
    BINARY_SNIFF_BYTES,
    BOM,
    DecodeStats,
    StreamDecoder,
    decode_bytes,
    decode_stream,
    iter_file_chunks,
    looks_binary,
)

BOM_BYTES = b"\xef\xbb\xbf"
FFFD_BYTES = "\ufffd".encode()

hyp = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def stream_decode(
    chunks: list[bytes], max_bytes: int | None = None, label: str = "content"
) -> tuple[str, DecodeStats]:
    pieces, dec = decode_stream(chunks, label=label, max_bytes=max_bytes)
    text = "".join(pieces)
    return text, dec.stats()


def reference_text(data: bytes) -> str:
    """What SPEC says the text is: UTF-8 with replacement, leading BOM dropped, nothing else."""
    text = data.decode("utf-8", errors="replace")
    return text[1:] if data.startswith(BOM_BYTES) else text


# Byte soup that hits the interesting cases: multibyte sequences, broken sequences, BOMs,
# literal U+FFFD, CR/LF, and (rarely) NUL.
byte_pieces = st.sampled_from(
    [
        b"a",
        b"hello ",
        b"\r",
        b"\n",
        b"\r\n",
        BOM_BYTES,
        FFFD_BYTES,
        "é".encode(),
        "中".encode(),
        "👍🏽".encode(),
        "\u2028".encode(),
        b"\xff",
        b"\xc3",
        b"\xe2\x82",
        b"\xf0\x9f\x91",
        b"\xed\xa0\x80",  # an encoded surrogate: invalid in UTF-8
        b"\xef\xbf",
        b"\xbd",
        b"\x80",
        b"\x00",
    ]
)
byte_data = st.one_of(
    st.lists(byte_pieces, max_size=40).map(b"".join),
    st.binary(max_size=200),
)


@hyp
@given(data=byte_data, size=st.integers(1, 9))
def test_streaming_equals_whole_buffer(data: bytes, size: int) -> None:
    try:
        whole = decode_bytes(data)
    except BinaryContentError:
        with pytest.raises(BinaryContentError):
            stream_decode(chunked(data, size))
        assert b"\x00" in data[:BINARY_SNIFF_BYTES]
        return
    streamed = stream_decode(chunked(data, size))
    assert streamed == whole
    text, stats = whole
    assert text == reference_text(data)
    assert stats.size == len(data)
    assert stats.sha256 == hashlib.sha256(data).hexdigest()
    try:
        data.decode("utf-8")
        valid = True
    except UnicodeDecodeError:
        valid = False
    assert stats.invalid_utf8 is (not valid)


@hyp
@given(text=st.text(max_size=300), size=st.integers(1, 7), bom=st.booleans())
def test_valid_text_round_trips(text: str, size: int, bom: bool) -> None:
    text = text.replace("\x00", "")
    data = (BOM_BYTES if bom else b"") + text.encode("utf-8")
    out, stats = stream_decode(chunked(data, size))
    expected = text[1:] if (not bom and text.startswith(BOM)) else text
    assert out == expected
    assert stats.invalid_utf8 is False


def test_bom_dropped_once_even_split_across_chunks() -> None:
    data = BOM_BYTES + b"hi" + BOM_BYTES + b"there"
    for size in range(1, 8):
        text, stats = stream_decode(chunked(data, size))
        assert text == "hi\ufeffthere"  # only the leading BOM goes
        assert stats.size == len(data)
        assert stats.sha256 == hashlib.sha256(data).hexdigest()  # hash of the raw bytes
    assert decode_bytes(BOM_BYTES)[0] == ""
    assert decode_bytes(b"")[0] == ""


def test_newlines_are_not_translated() -> None:
    data = b"a\r\nb\rc\nd\r\n\r\r\n"
    for size in (1, 2, 3, 100):
        assert stream_decode(chunked(data, size))[0] == "a\r\nb\rc\nd\r\n\r\r\n"
    assert decode_bytes(data)[0] == "a\r\nb\rc\nd\r\n\r\r\n"


def test_invalid_bytes_become_replacement_and_are_flagged() -> None:
    data = b"ok \xff\xfe and \xc3( and \xe2\x82 end \xf0\x9f\x91"
    text, stats = decode_bytes(data)
    assert text == data.decode("utf-8", errors="replace")
    assert "\ufffd" in text and stats.invalid_utf8
    for size in range(1, 6):
        assert stream_decode(chunked(data, size)) == (text, stats)


def test_literal_replacement_character_is_not_invalid() -> None:
    data = "valid \ufffd text \ufffd\ufffd!".encode()
    for size in range(1, 8):  # every seam position inside the 3-byte sequences
        text, stats = stream_decode(chunked(data, size))
        assert text == "valid \ufffd text \ufffd\ufffd!"
        assert stats.invalid_utf8 is False
    # A literal U+FFFD next to one real invalid byte is still flagged.
    for size in range(1, 5):
        assert stream_decode(chunked(FFFD_BYTES + b"\xff" + FFFD_BYTES, size))[1].invalid_utf8


def test_nul_in_first_8kib_means_binary() -> None:
    for pos in (0, 100, BINARY_SNIFF_BYTES - 1):
        data = b"a" * pos + b"\x00" + b"b" * 10
        assert looks_binary(data)
        with pytest.raises(BinaryContentError, match="binary"):
            decode_bytes(data, label="x.bin")
        for size in (1, 1000, 4096):
            with pytest.raises(BinaryContentError):
                stream_decode(chunked(data, size))


def test_nul_after_8kib_is_text() -> None:
    data = b"a" * BINARY_SNIFF_BYTES + b"\x00tail"
    assert not looks_binary(data)
    for size in (1000, 4096, 1 << 20):
        text, stats = stream_decode(chunked(data, size))
        assert text.endswith("\x00tail") and not stats.invalid_utf8


def test_max_bytes() -> None:
    data = b"x" * 1000
    assert decode_bytes(data, max_bytes=1000)[1].size == 1000
    with pytest.raises(TooLargeError, match="999"):
        decode_bytes(data, max_bytes=999)
    with pytest.raises(TooLargeError):
        stream_decode(chunked(data, 7), max_bytes=999)
    assert stream_decode(chunked(data, 7), max_bytes=1000)[1].size == 1000


def test_error_codes() -> None:
    assert BinaryContentError("x").code == "reference-binary"
    assert TooLargeError("x").code == "reference-too-large"


def test_stream_is_lazy() -> None:
    """Chunks are pulled one at a time as text is consumed, not all up front."""
    pulled = []

    def chunks():
        for i in range(5):
            pulled.append(i)
            yield f"line {i}\n".encode()

    pieces, dec = decode_stream(chunks())
    assert pulled == []
    assert next(pieces) == "line 0\n"
    assert pulled == [0]
    assert "".join(pieces) == "".join(f"line {i}\n" for i in range(1, 5))
    assert dec.stats().size == 35


def test_decoder_feed_api() -> None:
    dec = StreamDecoder()
    assert dec.feed(b"\xef\xbb") == ""
    assert dec.feed(b"\xbfa\xc3") == "a"
    assert dec.feed(b"\xa9", final=True) == "é"
    assert dec.stats().size == 6 and not dec.stats().invalid_utf8


def test_iter_file_chunks(tmp_path: Path) -> None:
    p = tmp_path / "f.txt"
    data = ("é\r\n" * 5000).encode()
    p.write_bytes(data)
    chunks = list(iter_file_chunks(str(p), chunk_size=4096))
    assert b"".join(chunks) == data
    assert all(len(c) == 4096 for c in chunks[:-1])
    assert stream_decode(chunks)[0] == decode_bytes(data)[0] == "é\r\n" * 5000
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    assert list(iter_file_chunks(str(empty))) == []
