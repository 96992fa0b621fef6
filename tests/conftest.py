"""Shared fixtures. Keep this small: feature-specific fixtures live next to their tests."""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import tiktoken
import tiktoken.load
from hypothesis import HealthCheck, settings
from tiktoken_ext import openai_public

import prompt_tokens.tokenizer

# Shared machines are noisy: never let hypothesis fail a test on timing.
settings.register_profile(
    "ci", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Never let a test write to the user's real cache folder."""
    old = os.environ.get("PROMPT_TOKENS_CACHE_DIR")
    os.environ["PROMPT_TOKENS_CACHE_DIR"] = str(tmp_path_factory.mktemp("pt-cache"))
    yield
    if old is None:
        os.environ.pop("PROMPT_TOKENS_CACHE_DIR", None)
    else:
        os.environ["PROMPT_TOKENS_CACHE_DIR"] = old


@pytest.fixture(params=["cl100k_base", "o200k_base"])
def encoding_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# The reference tokenizer is built WITHOUT the product's loader (``get_encoding``,
# ``parse_ranks``, its hash table), so a bug there cannot hide in both sides of a comparison:
# tiktoken's own constructor (``tiktoken_ext.openai_public.cl100k_base`` ...) supplies pat_str,
# special tokens and the pinned sha256; tiktoken's own ``load_tiktoken_bpe`` parses the ranks.
# Only the rank file's location changes: the bundled gzip, decompressed to a temporary file.
BUNDLED_RANKS = Path(prompt_tokens.tokenizer.__file__).parent / "data"

# Used only when the installed tiktoken's constructor passes no ``expected_hash``; copied from
# tiktoken_ext/openai_public.py (tiktoken 0.14.0), where ``cl100k_base()``/``o200k_base()`` pin them.
PUBLISHED_SHA256 = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}
_reference_lock = threading.Lock()  # the load swaps an environment variable: one at a time


def _tiktoken_constructor(name: str) -> Callable[[], dict[str, Any]]:
    ctor = getattr(openai_public, name, None)
    if ctor is None:
        raise LookupError(f"tiktoken_ext.openai_public has no constructor for {name}")
    return ctor


@functools.cache
def reference_definition(name: str) -> dict[str, Any]:
    """tiktoken's own definition of ``name`` with the ranks read from the bundled file.

    Returns the constructor's dict (``pat_str``, ``special_tokens``, ``mergeable_ranks``) plus
    ``expected_hash``: the sha256 the constructor asked for, checked by tiktoken's loader and
    here again against the decompressed bytes. Cached for the whole session.
    """
    gz = BUNDLED_RANKS / f"{name}.tiktoken.gz"
    asked: list[str | None] = []
    with _reference_lock, tempfile.TemporaryDirectory(prefix="tiktoken-ref-") as tmp:
        ranks_file = Path(tmp) / f"{name}.tiktoken"
        raw = gzip.decompress(gz.read_bytes())
        ranks_file.write_bytes(raw)

        def local_loader(_url: str, expected_hash: str | None = None) -> dict[bytes, int]:
            asked.append(expected_hash)
            return tiktoken.load.load_tiktoken_bpe(
                str(ranks_file), expected_hash=expected_hash or PUBLISHED_SHA256[name]
            )

        # tiktoken's loader caches what it reads: point that cache at the temporary folder
        # (only this one variable is set and put back, so nothing else in os.environ is touched).
        old_cache = os.environ.get("TIKTOKEN_CACHE_DIR")
        os.environ["TIKTOKEN_CACHE_DIR"] = str(Path(tmp) / "cache")
        try:
            with mock.patch.object(openai_public, "load_tiktoken_bpe", local_loader):
                definition = dict(_tiktoken_constructor(name)())
        finally:
            if old_cache is None:
                os.environ.pop("TIKTOKEN_CACHE_DIR", None)
            else:
                os.environ["TIKTOKEN_CACHE_DIR"] = old_cache
    expected = asked[0] if asked and asked[0] else PUBLISHED_SHA256[name]
    digest = hashlib.sha256(raw).hexdigest()
    if digest != expected:
        raise AssertionError(f"bundled {gz.name} has sha256 {digest}, tiktoken pins {expected}")
    definition["expected_hash"] = expected
    return definition


@functools.cache
def reference_encoding(name: str) -> tiktoken.Encoding:
    """Plain tiktoken for ``name``, built from :func:`reference_definition` only."""
    d = reference_definition(name)
    return tiktoken.Encoding(
        name=d["name"],
        pat_str=d["pat_str"],
        mergeable_ranks=d["mergeable_ranks"],
        special_tokens=d["special_tokens"],
        explicit_n_vocab=d.get("explicit_n_vocab"),
    )


def plain_count(encoding: str, text: str) -> int:
    """The reference every optimisation is checked against: the tokenizer on the whole text.

    OpenAI encodings: plain tiktoken built independently of the product (above). Open-weights
    tokenizers: the whole-text count of their library, which ``tests/unit/test_openweights.py``
    proves equal to each library's own API reached by a separate path."""
    if encoding in PUBLISHED_SHA256:
        return len(reference_encoding(encoding).encode_ordinary(text))
    from prompt_tokens.tokenizer.encodings import get_encoding

    return len(get_encoding(encoding).encode_ordinary(text))


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """An empty workspace folder marked as a project root."""
    (tmp_path / ".git").mkdir()
    return tmp_path
