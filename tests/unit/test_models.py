from __future__ import annotations

import pytest

from prompt_tokens.errors import UnknownModelError
from prompt_tokens.models import DEFAULT_BUDGET, default_budget, lookup_model


@pytest.mark.parametrize(
    ("name", "family", "encoding", "max_input"),
    [
        ("gpt-3.5-turbo", "gpt-3.5-turbo", "cl100k_base", 16_385),
        ("gpt-3.5-turbo-0125", "gpt-3.5-turbo", "cl100k_base", 16_385),
        ("gpt-4", "gpt-4", "cl100k_base", 8_192),
        ("gpt-4-0613", "gpt-4", "cl100k_base", 8_192),
        ("gpt-4-32k", "gpt-4-32k", "cl100k_base", 32_768),
        ("gpt-4-turbo-2024-04-09", "gpt-4-turbo", "cl100k_base", 128_000),
        ("gpt-4-1106-preview", "gpt-4-1106-preview", "cl100k_base", 128_000),
        ("gpt-4o", "gpt-4o", "o200k_base", 128_000),
        ("gpt-4o-2024-08-06", "gpt-4o", "o200k_base", 128_000),
        ("gpt-4o-mini", "gpt-4o-mini", "o200k_base", 128_000),
        ("openai/gpt-4o", "gpt-4o", "o200k_base", 128_000),
        ("gpt-4.1", "gpt-4.1", "o200k_base", 1_047_576),
        ("gpt-4.1-mini", "gpt-4.1", "o200k_base", 1_047_576),
        ("o1", "o1", "o200k_base", 200_000),
        ("o1-mini", "o1-mini", "o200k_base", 128_000),
        ("o3-2025-04-16", "o3", "o200k_base", 200_000),
        ("o4-mini", "o4-mini", "o200k_base", 200_000),
        ("gpt-5", "gpt-5", "o200k_base", 272_000),
        ("gpt-5-mini", "gpt-5", "o200k_base", 272_000),
        ("GPT-5-nano", "gpt-5", "o200k_base", 272_000),
        ("gpt-5.1", "gpt-5", "o200k_base", 272_000),
    ],
)
def test_model_table(name: str, family: str, encoding: str, max_input: int) -> None:
    info = lookup_model(name)
    assert (info.name, info.encoding, info.max_input) == (family, encoding, max_input)


def test_gpt5_input_cap_is_inside_its_window() -> None:
    info = lookup_model("gpt-5")
    assert info.context_window == 400_000
    assert info.max_input == 272_000


@pytest.mark.parametrize("name", ["claude-3-opus", "o10", "gpt", "", "gpt-4x"])
def test_unknown_model_is_a_clear_error(name: str) -> None:
    with pytest.raises(UnknownModelError, match="Unknown model"):
        lookup_model(name)


def test_default_budget_reserves_output() -> None:
    assert default_budget(None) == DEFAULT_BUDGET
    assert default_budget(lookup_model("gpt-4o")) == 128_000
    assert default_budget(lookup_model("gpt-4o"), 4_000) == 124_000
    assert default_budget(lookup_model("gpt-4"), 10_000) == 0
