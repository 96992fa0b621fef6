"""Shared fixtures. Keep this small: feature-specific fixtures live next to their tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import tiktoken
from hypothesis import HealthCheck, settings

from prompt_tokens.tokenizer.encodings import get_encoding

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


def plain_count(encoding: str, text: str) -> int:
    """The reference every optimisation is checked against: plain tiktoken on the whole text."""
    enc: tiktoken.Encoding = get_encoding(encoding)
    return len(enc.encode_ordinary(text))


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """An empty workspace folder marked as a project root."""
    (tmp_path / ".git").mkdir()
    return tmp_path
