"""Bytes → text exactly as SPEC says a file's text is defined.

UTF-8 with no newline translation (``\\r\\n`` and a lone ``\\r`` count as written), a leading
BOM dropped, invalid bytes replaced by U+FFFD and reported, NUL bytes in the first 8 KiB mean
binary. Streaming and whole-buffer decoding share this code so both give the same text.
"""

from __future__ import annotations

import codecs
import hashlib
from collections.abc import Iterable, Iterator

import attrs

from prompt_tokens.errors import BinaryContentError, TooLargeError

BINARY_SNIFF_BYTES = 8192
BOM = "\ufeff"
_REPLACEMENT_UTF8 = "\ufffd".encode()


def looks_binary(head: bytes) -> bool:
    return b"\x00" in head[:BINARY_SNIFF_BYTES]


@attrs.define
class DecodeStats:
    """What a decode saw: raw size, sha256 of the raw bytes, whether bytes were invalid."""

    size: int = 0
    sha256: str = ""
    invalid_utf8: bool = False


class StreamDecoder:
    """Incremental UTF-8 decoder that tracks size, hash, BOM, binary and invalid bytes.

    Invalid input is detected by comparing U+FFFD characters produced with U+FFFD sequences
    present in the raw bytes (counted across chunk seams too), so valid text that contains a
    literal U+FFFD is not flagged.
    """

    def __init__(self, max_bytes: int | None = None, label: str = "content") -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._hash = hashlib.sha256()
        self._max = max_bytes
        self._label = label
        self._tail = b""
        self._raw_fffd = 0
        self._out_fffd = 0
        self._sniffed = b""
        self._first = True
        self.size = 0

    def feed(self, chunk: bytes, final: bool = False) -> str:
        if chunk:
            self.size += len(chunk)
            if self._max is not None and self.size > self._max:
                raise TooLargeError(
                    f"{self._label} is larger than references.maxBytes ({self._max:,} bytes)"
                )
            if len(self._sniffed) < BINARY_SNIFF_BYTES:
                self._sniffed += chunk[: BINARY_SNIFF_BYTES - len(self._sniffed)]
                if looks_binary(self._sniffed):
                    raise BinaryContentError(f"{self._label} is binary (NUL bytes), not counted")
            self._hash.update(chunk)
            seam = self._tail + chunk[:2]
            self._raw_fffd += chunk.count(_REPLACEMENT_UTF8) + seam.count(_REPLACEMENT_UTF8)
            self._tail = (self._tail + chunk)[-2:]
        text = self._decoder.decode(chunk, final)
        if self._first and text:
            self._first = False
            if text.startswith(BOM):
                text = text[1:]
        self._out_fffd += text.count("\ufffd")
        return text

    def stats(self) -> DecodeStats:
        return DecodeStats(
            size=self.size,
            sha256=self._hash.hexdigest(),
            invalid_utf8=self._out_fffd > self._raw_fffd,
        )


def decode_bytes(
    data: bytes, label: str = "content", max_bytes: int | None = None
) -> tuple[str, DecodeStats]:
    """Decode a whole buffer with the same rules as streaming."""
    dec = StreamDecoder(max_bytes=max_bytes, label=label)
    text = dec.feed(data, final=True)
    return text, dec.stats()


def iter_file_chunks(path: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        while chunk := fh.read(chunk_size):
            yield chunk


def decode_stream(
    chunks: Iterable[bytes], label: str = "content", max_bytes: int | None = None
) -> tuple[Iterator[str], StreamDecoder]:
    """Lazily decoded text pieces; read ``decoder.stats()`` after the iterator is exhausted."""
    dec = StreamDecoder(max_bytes=max_bytes, label=label)

    def gen() -> Iterator[str]:
        for chunk in chunks:
            text = dec.feed(chunk)
            if text:
                yield text
        tail = dec.feed(b"", final=True)
        if tail:
            yield tail

    return gen(), dec
