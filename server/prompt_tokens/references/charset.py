"""A response body's bytes → the text that is counted: BOM, declared charset, else UTF-8.

The order is the one browsers follow (WHATWG Encoding, "decode"):

1. A byte-order mark wins and is not part of the text: ``EF BB BF`` UTF-8, ``FF FE``
   UTF-16LE, ``FE FF`` UTF-16BE (a declared UTF-32 charset reads its own BOM).
2. Else the ``Content-Type`` charset, when Python knows it as a text encoding. ``utf-16``
   without a BOM is little-endian, as WHATWG maps that label. ``us-ascii`` is read as UTF-8,
   its superset: the same text for ASCII, and what such servers usually send otherwise.
3. Else UTF-8. A charset nobody knows (or a bytes-to-bytes codec such as ``zlib``, which
   must never run on a download) is reported, and the body is read as UTF-8.

Invalid bytes become U+FFFD and are reported. Binary: NUL bytes in the first 8 KiB, except
in UTF-16/32, where NUL *bytes* are ordinary and a U+0000 character in the text is the sign.

UTF-8 bodies stream through the shared file decoder and keep the plain sha256 of their bytes
(the same content hash as a file with those bytes). Other charsets are decoded whole (the body
is capped at ``references.maxBytes``) and hash as ``"charset=<codec>\\0" + bytes``: the same
bytes in another charset are another text, with another count.
"""

from __future__ import annotations

import codecs
import hashlib

import attrs

from prompt_tokens.errors import BinaryContentError, TooLargeError
from prompt_tokens.tokenizer.textio import BINARY_SNIFF_BYTES, StreamDecoder, looks_binary

_UTF8 = ("utf-8", "utf-8-sig", "ascii")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_SNIFF = 3  # bytes needed to see any of the BOMs above


@attrs.frozen
class Charset:
    """What the ``Content-Type`` header declares: a codec name, or the unknown label."""

    codec: str = "utf-8"
    unknown: str | None = None  # the label as sent, when no text codec has that name


def declared_charset(content_type: str | None) -> Charset:
    """The charset parameter of a ``Content-Type`` value (UTF-8 when there is none)."""
    for part in (content_type or "").split(";")[1:]:
        key, _, value = part.strip().partition("=")
        name = value.strip().strip("\"'")
        if key.strip().lower() != "charset" or not name:
            continue
        try:
            info = codecs.lookup(name)
        except LookupError:
            return Charset(unknown=name)
        if not getattr(info, "_is_text_encoding", True):
            return Charset(unknown=name)
        codec = "utf-8" if info.name in _UTF8 else info.name
        return Charset("utf-16-le" if codec == "utf-16" else codec)
    return Charset()


@attrs.frozen
class DecodedBody:
    text: str
    sha256: str
    size: int
    invalid: bool  # bytes that are not valid in the charset were replaced by U+FFFD
    charset: str  # the codec actually used
    unknown_charset: str | None  # the declared label nobody knows (decoded as UTF-8)


class BodyDecoder:
    """Feed the body's chunks, then :meth:`finish`. Enforces ``max_bytes`` and the binary rule
    as the chunks arrive, so a huge or binary body is refused without being read to the end."""

    def __init__(self, content_type: str | None, max_bytes: int, label: str) -> None:
        self.declared = declared_charset(content_type)
        self.max_bytes = max_bytes
        self.label = label
        self._head = b""  # bytes held back until a BOM can be seen
        self._codec: str | None = None  # decided once _SNIFF bytes (or the end) arrived
        self._utf8: StreamDecoder | None = None
        self._parts: list[str] = []
        self._buf = bytearray()

    def feed(self, chunk: bytes) -> None:
        if self._codec is None:
            self._head += chunk
            if len(self._head) < _SNIFF:
                return
            self._decide()
            chunk, self._head = self._head, b""
        self._take(chunk)

    def _decide(self) -> None:
        declared = self.declared.codec
        self._codec = declared
        if not declared.startswith("utf-32"):
            for bom, codec in _BOMS:
                if self._head.startswith(bom):
                    self._codec = codec
                    break
        if self._codec == "utf-8":
            self._utf8 = StreamDecoder(max_bytes=self.max_bytes, label=self.label)

    def _take(self, chunk: bytes) -> None:
        if self._utf8 is not None:
            self._parts.append(self._utf8.feed(chunk))
            return
        before = len(self._buf)
        self._buf += chunk
        if len(self._buf) > self.max_bytes:
            raise TooLargeError(
                f"{self.label} is larger than references.maxBytes ({self.max_bytes:,} bytes)"
            )
        wide = str(self._codec).startswith(("utf-16", "utf-32"))
        if (
            not wide
            and before < BINARY_SNIFF_BYTES
            and looks_binary(bytes(self._buf[:BINARY_SNIFF_BYTES]))
        ):
            raise BinaryContentError(f"{self.label} is binary (NUL bytes), not counted")

    def finish(self) -> DecodedBody:
        if self._codec is None:
            self._decide()
            head, self._head = self._head, b""
            self._take(head)
        if self._utf8 is not None:
            self._parts.append(self._utf8.feed(b"", final=True))
            stats = self._utf8.stats()
            return DecodedBody(
                "".join(self._parts),
                stats.sha256,
                stats.size,
                stats.invalid_utf8,
                "utf-8",
                self.declared.unknown,
            )
        return self._decode_whole(str(self._codec))

    def _decode_whole(self, codec: str) -> DecodedBody:
        data = bytes(self._buf)
        sha = hashlib.sha256(f"charset={codec}\0".encode() + data).hexdigest()
        try:
            text, invalid = data.decode(codec), False
        except UnicodeDecodeError:
            text, invalid = data.decode(codec, errors="replace"), True
        if text.startswith("\ufeff"):
            text = text[1:]
        if "\x00" in text[:BINARY_SNIFF_BYTES]:
            raise BinaryContentError(f"{self.label} is binary (NUL characters), not counted")
        return DecodedBody(text, sha, len(data), invalid, codec, None)
