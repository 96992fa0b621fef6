"""The tokenizer entry point: every exact tokenizer by name, loaded once, offline.

``get_encoding(name)`` is what the whole pipeline calls (block counts, streaming, parallel
counting, reference counts); a name is an OpenAI encoding (``cl100k_base``, ``o200k_base``) or
an open-weights tokenizer of ``openweights`` (``qwen2``, ``qwen3.5``, ``deepseek-v4``,
``mistral-tekken``). Each returns a :class:`TextEncoder`, whose ``encode_ordinary`` counts
special-token strings as text, and has a safe-cut rule in ``boundaries``.

tiktoken's own loader downloads the rank files on first use; that fails on machines without
network, so the published ``.tiktoken`` files ship gzip-compressed in ``data/`` and the
``tiktoken.Encoding`` is built directly. The sha256 of the decompressed bytes must equal the hash
tiktoken itself pins, so a damaged or substituted file is refused rather than miscounting.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from prompt_tokens import environment
from prompt_tokens.errors import EncodingDataError, UnknownEncodingError
from prompt_tokens.tokenizer.fastcount import OpenAIEncoder, load_fast
from prompt_tokens.tokenizer.openweights import LOADERS, TextEncoder

if TYPE_CHECKING:
    import tiktoken

log = logging.getLogger(__name__)

# The OpenAI encodings: bundled, and the values the ``encoding`` setting accepts.
ENCODINGS: tuple[str, ...] = ("cl100k_base", "o200k_base")
# Every exact tokenizer ``get_encoding`` knows (open-weights ones need their optional package).
TOKENIZERS: tuple[str, ...] = ENCODINGS + tuple(LOADERS)

# The hashes tiktoken_ext.openai_public passes as ``expected_hash`` for these files.
EXPECTED_SHA256: dict[str, str] = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}

_lock = threading.Lock()
_loaded: dict[str, TextEncoder] = {}


def _definition(name: str) -> dict[str, object]:
    """pat_str and special tokens exactly as tiktoken defines them (no rank download)."""
    from tiktoken_ext import openai_public as op

    if name == "cl100k_base":
        special = {
            op.ENDOFTEXT: 100257,
            op.FIM_PREFIX: 100258,
            op.FIM_MIDDLE: 100259,
            op.FIM_SUFFIX: 100260,
            op.ENDOFPROMPT: 100276,
        }
        pat_str = r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
        # Prefer the installed tiktoken's own pattern when it exposes one as a constant.
        return {"pat_str": getattr(op, "CL100K_PAT_STR", pat_str), "special_tokens": special}
    if name == "o200k_base":
        special = {op.ENDOFTEXT: 199999, op.ENDOFPROMPT: 200018}
        pat_str = getattr(op, "O200K_PAT_STR", None) or "|".join(
            [
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""\p{N}{1,3}""",
                r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
                r"""\s*[\r\n]+""",
                r"""\s+(?!\S)""",
                r"""\s+""",
            ]
        )
        return {"pat_str": pat_str, "special_tokens": special}
    raise UnknownEncodingError(
        f"Unknown encoding '{name}'. Supported encodings: {', '.join(ENCODINGS)}."
    )


def _read_ranks_bytes(name: str) -> bytes:
    """The rank file: a user-supplied copy when configured, else the bundled gzip (gzip and
    ``importlib.resources`` imported here: a warm CLI run, which loads no encoding, never
    imports them)."""
    import gzip
    from importlib import resources

    user_dir = environment.tiktoken_dir()
    if user_dir:
        candidate = Path(user_dir) / f"{name}.tiktoken"
        if candidate.is_file():
            return candidate.read_bytes()
    data = resources.files("prompt_tokens.tokenizer").joinpath("data", f"{name}.tiktoken.gz")
    try:
        with data.open("rb") as fh:
            return gzip.decompress(fh.read())
    except (OSError, EOFError) as exc:
        raise EncodingDataError(f"Bundled BPE data for {name} cannot be read: {exc}") from exc


def parse_ranks(raw: bytes) -> dict[bytes, int]:
    """Parse the ``.tiktoken`` format: one ``base64(token) rank`` pair per line."""
    import base64

    ranks: dict[bytes, int] = {}
    for line in raw.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def load_encoding(name: str) -> tiktoken.Encoding:
    """Build the encoding from checked offline data; costs ~0.1–0.3 s, so call it once."""
    import tiktoken  # lazy: counting alone needs only rs_bpe (``fastcount``)

    definition = _definition(name)
    raw = _read_ranks_bytes(name)
    digest = hashlib.sha256(raw).hexdigest()
    if digest != EXPECTED_SHA256[name]:
        raise EncodingDataError(
            f"BPE data for {name} has sha256 {digest[:12]}…, expected "
            f"{EXPECTED_SHA256[name][:12]}…; refusing to count with it."
        )
    return tiktoken.Encoding(
        name=name,
        pat_str=str(definition["pat_str"]),
        mergeable_ranks=parse_ranks(raw),
        special_tokens=definition["special_tokens"],  # type: ignore[arg-type]
    )


def _openai(name: str) -> TextEncoder:
    return OpenAIEncoder(name, lambda: load_encoding(name), load_fast(name))


def get_encoding(name: str) -> TextEncoder:
    """The process-wide tokenizer ``name``, loaded lazily and exactly once (thread-safe).

    Raises ``UnknownEncodingError`` for a name no tokenizer has, ``EncodingDataError`` when its
    data is damaged or its optional package is not installed (the message says what to do).
    """
    enc = _loaded.get(name)
    if enc is not None:
        return enc
    if name not in TOKENIZERS:
        raise UnknownEncodingError(
            f"Unknown encoding '{name}'. Supported encodings: {', '.join(TOKENIZERS)}."
        )
    with _lock:
        enc = _loaded.get(name)
        if enc is None:
            log.debug("loading tokenizer %s", name)
            enc = _openai(name) if name in ENCODINGS else LOADERS[name]()
            _loaded[name] = enc
    return enc


def is_loaded(name: str) -> bool:
    return name in _loaded
