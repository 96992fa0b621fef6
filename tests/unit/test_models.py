"""The model table: names as real files write them, exactness, estimates, prices, JSON rows."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prompt_tokens.errors import UnknownModelError
from prompt_tokens.models import (
    DEFAULT_BUDGET,
    cost_usd,
    default_budget,
    estimate_tokens,
    first_known,
    lookup_model,
    model_rows,
    model_table,
    normalise_name,
    parse_table,
    resolve_model,
)
from prompt_tokens.tokenizer.boundaries import SAFE_CUT
from prompt_tokens.tokenizer.encodings import TOKENIZERS


@pytest.mark.parametrize(
    ("name", "family", "encoding", "max_input"),
    [
        ("gpt-3.5-turbo", "gpt-3.5-turbo", "cl100k_base", 16_385),
        ("gpt-3.5-turbo-0125", "gpt-3.5-turbo", "cl100k_base", 16_385),
        ("gpt-4", "gpt-4", "cl100k_base", 8_192),
        ("gpt-4-0613", "gpt-4", "cl100k_base", 8_192),
        ("gpt-4-32k", "gpt-4-32k", "cl100k_base", 32_768),
        ("gpt-4-turbo-2024-04-09", "gpt-4-turbo", "cl100k_base", 128_000),
        ("gpt-4-1106-preview", "gpt-4-turbo", "cl100k_base", 128_000),
        ("gpt-4o", "gpt-4o", "o200k_base", 128_000),
        ("gpt-4o-2024-08-06", "gpt-4o", "o200k_base", 128_000),
        ("gpt-4o-mini", "gpt-4o-mini", "o200k_base", 128_000),
        ("openai/gpt-4o", "gpt-4o", "o200k_base", 128_000),
        ("gpt-4.1", "gpt-4.1", "o200k_base", 1_047_576),
        ("gpt-4.1-mini", "gpt-4.1-mini", "o200k_base", 1_047_576),
        ("o1", "o1", "o200k_base", 200_000),
        ("o1-mini", "o1-mini", "o200k_base", 128_000),
        ("o3-2025-04-16", "o3", "o200k_base", 200_000),
        ("o4-mini", "o4-mini", "o200k_base", 200_000),
        ("gpt-5", "gpt-5", "o200k_base", 272_000),
        ("gpt-5-mini", "gpt-5-mini", "o200k_base", 272_000),
        ("GPT-5-nano", "gpt-5-nano", "o200k_base", 272_000),
        ("gpt-5.1", "gpt-5.1", "o200k_base", 272_000),
        ("GPT-5 mini (copilot)", "gpt-5-mini", "o200k_base", 272_000),
        ("text-embedding-3-small", "text-embedding-3-small", "cl100k_base", 8_191),
        ("Qwen/Qwen3-8B", "qwen3", "qwen2", 32_768),
        ("qwen2.5-72b-instruct", "qwen2.5", "qwen2", 131_072),
        ("qwen3.6-27b", "qwen3.6", "qwen3.5", 262_144),
        ("deepseek-ai/DeepSeek-V4-Pro", "deepseek-v4-pro", "deepseek-v4", 1_048_576),
        ("mistralai/Mistral-Nemo-Instruct-2407", "mistral-nemo", "mistral-tekken", 131_072),
    ],
)
def test_model_table(name: str, family: str, encoding: str, max_input: int) -> None:
    info = lookup_model(name)
    assert (info.name, info.encoding, info.max_input) == (family, encoding, max_input)


def test_gpt5_input_cap_is_inside_its_window() -> None:
    info = lookup_model("gpt-5")
    assert info.context_window == 400_000
    assert info.max_input == 272_000
    assert info.max_input + info.max_output == info.context_window


@pytest.mark.parametrize(
    ("name", "model", "tokenizer"),
    [
        # The names issue reports found in real agent files (all were unknown before).
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5", "claude"),
        ("claude-sonnet-4.6", "claude-sonnet-4-6", "claude"),
        ("claude-opus-4.7", "claude-opus-4-7", "claude-2026"),
        ("Claude Sonnet 4.5", "claude-sonnet-4-5", "claude"),
        ("Claude Sonnet 4.5 (copilot)", "claude-sonnet-4-5", "claude"),
        ("anthropic/claude-sonnet-4-5", "claude-sonnet-4-5", "claude"),
        ("claude-3-5-sonnet-latest", "claude-3-5-sonnet", "claude"),
        ("Claude 3.5 Sonnet", "claude-3-5-sonnet", "claude"),
        ("claude-opus-4-8", "claude-opus-4-8", "claude-2026"),
        ("googleai/gemini-2.5-pro", "gemini-2.5-pro", "gemini"),
        ("vertexai/gemini-2.5-flash", "gemini-2.5-flash", "gemini"),
        ("models/gemini-3-flash-preview", "gemini-3-flash", "gemini"),
        ("Gemini 2.5 Pro (copilot)", "gemini-2.5-pro", "gemini"),
        ("meta-llama/Llama-3.1-8B-Instruct", "llama-3.1", "llama3"),
        ("llama3.1:8b", "llama-3.1", "llama3"),
        ("meta-llama/Llama-4-Scout-17B-16E-Instruct", "llama-4-scout", "llama4"),
    ],
)
def test_estimated_models_resolve_and_say_so(name: str, model: str, tokenizer: str) -> None:
    info = resolve_model(name)
    assert info is not None, name
    assert (info.name, info.tokenizer, info.exact) == (model, tokenizer, False)
    assert info.method.startswith("estimate:")
    assert info.encoding in TOKENIZERS  # counted with a real tokenizer, scaled afterwards


@pytest.mark.parametrize(
    "name",
    ["o10", "gpt", "", "  ", "gpt-4x", "claude-sonnet-4-7", "gpt-5.9", "gemini-9-pro", "dall-e-3"],
)
def test_unknown_model(name: str) -> None:
    """A version nobody listed is unknown, not the nearest older model."""
    assert resolve_model(name) is None
    with pytest.raises(UnknownModelError, match="Unknown model"):
        lookup_model(name)


def test_unknown_model_message_suggests_near_names() -> None:
    with pytest.raises(UnknownModelError) as info:
        lookup_model("claude-sonnet-4-7")
    assert "Similar known models: claude-sonnet-4-6" in str(info.value)
    assert info.value.code == "unknown-model"


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("Claude Sonnet 4.5 (copilot)", "claude-sonnet-4-5"),
        ("  GPT-4.1 (Preview) (copilot) ", "gpt-4-1"),
        ("anthropic/claude-sonnet-4.5", "claude-sonnet-4-5"),
        ("qwen3:8b", "qwen3-8b"),
        ("gpt_4o", "gpt-4o"),
        ("a -- b", "a-b"),
    ],
)
def test_normalise_name(raw: str, key: str) -> None:
    assert normalise_name(raw) == key


def test_first_known_of_a_list() -> None:
    assert first_known(["nonsense-model", "Claude Sonnet 4.5 (copilot)", "gpt-4o"]) == (
        "Claude Sonnet 4.5 (copilot)"
    )
    assert first_known(["nothing-1", "nothing-2"]) == "nothing-1"
    assert first_known([]) is None


def test_default_budget_reserves_output() -> None:
    assert default_budget(None) == DEFAULT_BUDGET
    assert default_budget(lookup_model("gpt-4o")) == 128_000
    assert default_budget(lookup_model("gpt-4o"), 4_000) == 124_000
    assert default_budget(lookup_model("gpt-4"), 10_000) == 0


# ------------------------------------------------------------------------------------------
# Estimates and cost
# ------------------------------------------------------------------------------------------
@given(n=st.integers(0, 10**9))
def test_estimate_is_the_factor_rounded_half_up(n: int) -> None:
    for model in model_table().models:
        got = estimate_tokens(n, model)
        if model.exact:
            assert got == n
        else:
            want = (Decimal(n) * Decimal(str(model.factor.numerator))) / model.factor.denominator
            assert got == int(want.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def test_estimate_rounds_once_on_the_total() -> None:
    claude = lookup_model("claude-sonnet-4-5")
    assert claude.factor == Fraction(6, 5)
    blocks = [1, 1, 1, 1, 1]  # 1.2 each: rounding per block would give 5, the total gives 6
    assert sum(estimate_tokens(b, claude) for b in blocks) == 5
    assert estimate_tokens(sum(blocks), claude) == 6
    assert estimate_tokens(1234, None) == 1234


def test_cost() -> None:
    gpt4o = lookup_model("gpt-4o")
    assert cost_usd(1_000_000, gpt4o) == 2.5
    assert cost_usd(1_000_000, gpt4o, cached=True) == 1.25
    assert cost_usd(1234, gpt4o) == pytest.approx(0.003085)
    no_price = lookup_model("llama-3.1")
    assert no_price.input_usd_per_mtok is None and cost_usd(1000, no_price) is None
    assert cost_usd(1000, lookup_model("claude-opus-4-8"), cached=True) is None
    assert cost_usd(1000, None) is None


# ------------------------------------------------------------------------------------------
# The data file itself
# ------------------------------------------------------------------------------------------
def test_table_is_loaded_once() -> None:
    assert model_table() is model_table()


def test_every_tokenizer_is_runnable_and_every_estimate_documented() -> None:
    table = model_table()
    for tok in table.tokenizers.values():
        assert tok.counts_with in TOKENIZERS and tok.counts_with in SAFE_CUT, tok.name
        if tok.exact:
            assert tok.name in TOKENIZERS and tok.base is None and tok.ratio == 1
            assert not tok.method.startswith("estimate")
        else:
            assert tok.method.startswith("estimate:") and tok.source and tok.error, tok.name
            assert Fraction(1, 2) < tok.ratio < 2
    used = {m.tokenizer for m in table.models}
    assert used == set(table.tokenizers), "every tokenizer entry is used by some model"
    exact_open = {"qwen2", "qwen3.5", "deepseek-v4", "mistral-tekken"}
    assert exact_open <= {m.tokenizer for m in table.models if m.exact}


def test_every_model_has_sane_figures_and_a_source() -> None:
    for m in model_table().models:
        assert m.source and m.provider, m.name
        assert 0 < m.max_input <= m.context_window, m.name
        assert 0 <= m.max_output <= m.context_window, m.name
        for price in (m.input_usd_per_mtok, m.cached_input_usd_per_mtok):
            assert price is None or price >= 0
        if m.cached_input_usd_per_mtok is not None:
            assert m.input_usd_per_mtok is not None
            assert m.cached_input_usd_per_mtok <= m.input_usd_per_mtok
        # every name a model goes by resolves back to it
        for alias in (m.name, m.display, *m.aliases):
            if alias:
                assert resolve_model(alias) is m, alias


@pytest.mark.parametrize(
    "family",
    ["gpt-3.5", "gpt-4-turbo", "gpt-4o", "gpt-4.1", "gpt-5", "o1", "o3", "o4-mini",
     "claude-3-5-sonnet", "claude-opus-4-7", "claude-sonnet-4-6", "claude-haiku-4-5",
     "gemini-2.5-pro", "gemini-3-pro", "llama-3.1", "llama-4-maverick", "mistral-large",
     "qwen3", "deepseek-v4-flash"],
)  # fmt: skip
def test_issue_families_are_covered(family: str) -> None:
    assert any(
        normalise_name(m.name).startswith(normalise_name(family)) for m in model_table().models
    )


def test_models_json_rows() -> None:
    rows = model_rows()
    assert len(rows) == len(model_table().models) > 50
    keys = {"name", "aliases", "tokenizer", "exact", "context_window", "max_input", "max_output"}
    keys |= {"input_usd_per_mtok", "source"}
    for row in rows:
        assert keys <= set(row)
        assert isinstance(row["exact"], bool) and isinstance(row["aliases"], list)
    by_name = {r["name"]: r for r in rows}
    assert by_name["gpt-5"]["max_input"] == 272_000 and by_name["gpt-5"]["exact"] is True
    claude = by_name["claude-sonnet-4-5"]
    assert claude["exact"] is False and claude["tokenizer"] == "claude"
    assert "Claude Sonnet 4.5" in claude["aliases"]
    assert by_name["llama-3.1"]["input_usd_per_mtok"] is None


def _tiny(**model: object) -> dict[str, object]:
    row = {"name": "m", "provider": "p", "tokenizer": "t", "context_window": 10}
    row |= {"max_output": 1, "source": "s"}
    return {"tokenizers": {"t": {"exact": True, "method": "x"}}, "models": [row | model]}


def test_parse_table_refuses_bad_data() -> None:
    assert parse_table(_tiny()).models[0].max_input == 10
    with pytest.raises(ValueError, match="colour"):
        parse_table(_tiny(colour="red"))
    with pytest.raises(ValueError, match="unknown tokenizer"):
        parse_table(_tiny(tokenizer="nope"))
    twice = _tiny()
    twice["models"] = [*twice["models"], {**twice["models"][0], "name": "M"}]  # type: ignore[list-item]
    with pytest.raises(ValueError, match="listed twice"):
        parse_table(twice)
    with pytest.raises(ValueError):
        parse_table({"models": []})
