"""Model table: which encoding a model uses and how many tokens it accepts.

Figures are the providers' published limits. ``max_input`` is what a prompt may use; for most
models that is the whole context window (the answer shares it), gpt-5 is the exception with a
separate 272k input cap inside its 400k window.
"""

from __future__ import annotations

import attrs

from prompt_tokens.errors import UnknownModelError

DEFAULT_ENCODING = "cl100k_base"
DEFAULT_BUDGET = 8192


@attrs.frozen
class ModelInfo:
    name: str
    encoding: str
    context_window: int
    max_input: int
    max_output: int


def _m(
    name: str, encoding: str, window: int, max_output: int, max_input: int | None = None
) -> ModelInfo:
    return ModelInfo(name, encoding, window, window if max_input is None else max_input, max_output)


# Longest matching prefix wins, so dated snapshots (gpt-4o-2024-08-06) and size variants
# (gpt-4.1-mini) find their family; exact entries override family defaults where limits differ.
MODELS: dict[str, ModelInfo] = {
    m.name: m
    for m in (
        _m("gpt-3.5-turbo", "cl100k_base", 16_385, 4_096),
        _m("gpt-3.5-turbo-0613", "cl100k_base", 4_096, 4_096),
        _m("gpt-3.5-turbo-16k", "cl100k_base", 16_385, 4_096),
        _m("gpt-3.5-turbo-instruct", "cl100k_base", 4_096, 4_096),
        _m("gpt-4", "cl100k_base", 8_192, 8_192),
        _m("gpt-4-32k", "cl100k_base", 32_768, 32_768),
        _m("gpt-4-turbo", "cl100k_base", 128_000, 4_096),
        _m("gpt-4-1106-preview", "cl100k_base", 128_000, 4_096),
        _m("gpt-4-0125-preview", "cl100k_base", 128_000, 4_096),
        _m("gpt-4-vision-preview", "cl100k_base", 128_000, 4_096),
        _m("gpt-4.5", "o200k_base", 128_000, 16_384),
        _m("gpt-4o", "o200k_base", 128_000, 16_384),
        _m("gpt-4o-2024-05-13", "o200k_base", 128_000, 4_096),
        _m("gpt-4o-mini", "o200k_base", 128_000, 16_384),
        _m("chatgpt-4o", "o200k_base", 128_000, 16_384),
        _m("gpt-4.1", "o200k_base", 1_047_576, 32_768),
        _m("o1", "o200k_base", 200_000, 100_000),
        _m("o1-mini", "o200k_base", 128_000, 65_536),
        _m("o1-preview", "o200k_base", 128_000, 32_768),
        _m("o3", "o200k_base", 200_000, 100_000),
        _m("o3-mini", "o200k_base", 200_000, 100_000),
        _m("o4-mini", "o200k_base", 200_000, 100_000),
        _m("gpt-5", "o200k_base", 400_000, 128_000, max_input=272_000),
        _m("gpt-5-chat", "o200k_base", 128_000, 16_384),
    )
}


def _normalise(name: str) -> str:
    """``openai/gpt-4o`` (dotprompt) and ``azure/gpt-4o`` name the same model as ``gpt-4o``."""
    name = name.strip().lower()
    if "/" in name:
        name = name.rsplit("/", 1)[1]
    return name


def lookup_model(name: str) -> ModelInfo:
    """Find a model by exact name or longest family prefix (``gpt-4o-2024-08-06`` → gpt-4o).

    A prefix only matches at a ``-`` boundary, so ``o10`` is not ``o1``, but ``gpt-5.1`` and
    ``gpt-4.1-mini`` are treated as members of their families.
    """
    key = _normalise(name)
    if key in MODELS:
        return MODELS[key]
    best: ModelInfo | None = None
    for prefix, info in MODELS.items():
        if (
            key.startswith(prefix)
            and key[len(prefix)] in "-.:"
            and (best is None or len(prefix) > len(best.name))
        ):
            best = info
    if best is None:
        families = [m for m in MODELS if not any(m.startswith(f + "-") for f in MODELS if f != m)]
        known = ", ".join(sorted(families))
        raise UnknownModelError(f"Unknown model '{name}'. Known model families: {known}.")
    return best


def default_budget(model: ModelInfo | None, max_output_tokens: int | None = None) -> int:
    """The model's maximum input less the room reserved for the answer (SPEC "Tokenization")."""
    if model is None:
        return DEFAULT_BUDGET
    reserved = max(0, max_output_tokens or 0)
    return max(0, model.max_input - reserved)
