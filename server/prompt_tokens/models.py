"""The model table: which tokenizer a model uses, how many tokens it takes, what input costs.

The figures live in ``data/models.toml`` (each with its source and the date it was read), loaded
once per process. A model's tokenizer is either *exact* (an OpenAI encoding or an open-weights
tokenizer that ``tokenizer.encodings.get_encoding`` runs locally) or an *estimate* (Claude,
Gemini, Llama…: no local tokenizer exists): a base tokenizer's count times a documented factor.

The counting pipeline never sees the difference: ``ModelInfo.encoding`` is always the name of a
real tokenizer (the base one for an estimate), so blocks, caches keyed by (encoding, sha256),
streaming and parallel counts work unchanged. The estimate is applied once, to the total, by
:func:`estimate_tokens`; a caller shows it with ``exact`` = False and ``method``.

``max_input`` is what a prompt may use; for most models that is the whole context window (the
answer shares it), the gpt-5 family is the exception with its 128K output reserved inside the
window (400K window, 272K input).
"""

from __future__ import annotations

import difflib
import functools
import re
import tomllib
from collections.abc import Mapping, Sequence
from fractions import Fraction
from importlib import resources
from types import MappingProxyType
from typing import TypeVar

import attrs
import cattrs

from prompt_tokens.errors import UnknownModelError

DEFAULT_BUDGET = 8192


@attrs.frozen
class TokenizerInfo:
    """One ``[tokenizers.NAME]`` entry: how a model's tokens are counted and how exactly."""

    name: str
    exact: bool
    method: str
    base: str | None = None  # the tokenizer an estimate counts with
    factor: str = "1"  # kept as written ("1.20"): the ratio is exact, no float drift
    error: str = ""
    source: str = ""

    @property
    def counts_with(self) -> str:
        return self.name if self.exact or self.base is None else self.base

    @property
    def ratio(self) -> Fraction:
        return Fraction(1) if self.exact else Fraction(self.factor)


@attrs.frozen
class ModelInfo:
    name: str
    encoding: str  # the tokenizer the text is counted with (``get_encoding`` name)
    context_window: int
    max_input: int
    max_output: int
    tokenizer: str = ""  # the table's tokenizer: == encoding when exact, e.g. "claude" if not
    exact: bool = True
    method: str = ""
    factor: Fraction = Fraction(1)
    provider: str = ""
    display: str = ""
    aliases: tuple[str, ...] = ()
    input_usd_per_mtok: float | None = None
    cached_input_usd_per_mtok: float | None = None
    source: str = ""


@attrs.frozen
class _ModelRow:
    """A ``[[models]]`` entry as written in the data file (unknown keys are refused)."""

    name: str
    provider: str
    tokenizer: str
    context_window: int
    max_output: int
    source: str
    display: str = ""
    aliases: tuple[str, ...] = ()
    max_input: int | None = None
    input_usd_per_mtok: float | None = None
    cached_input_usd_per_mtok: float | None = None


@attrs.frozen
class ModelTable:
    models: tuple[ModelInfo, ...]
    tokenizers: Mapping[str, TokenizerInfo]
    index: Mapping[str, ModelInfo]  # normalised name → model


_T = TypeVar("_T")
_CONVERTER = cattrs.Converter(forbid_extra_keys=True)
_SUFFIX = re.compile(r"(?:\s*\((?:copilot|preview)\))+\s*$", re.IGNORECASE)
_SEPARATORS = re.compile(r"[\s._:-]+")
# What may follow a listed name: a date, a size, ``latest``, ``mini``… but not a bare 1-2 digit
# version (``claude-sonnet-4-7`` is not ``claude-sonnet-4``).
_NEW_VERSION = re.compile(r"\d{1,2}(?:-|$)")


def normalise_name(name: str) -> str:
    """The lookup key: ``Claude Sonnet 4.5 (copilot)``, ``anthropic/claude-sonnet-4.5`` and
    ``claude-sonnet-4-5`` are one model. The last path segment is kept, so provider prefixes
    (``openai/``, ``googleai/``, ``vertexai/``, ``models/``) and org ids (``Qwen/Qwen3-8B``) go."""
    key = _SUFFIX.sub("", name.strip()).strip().lower()
    key = key.rsplit("/", 1)[-1]
    return _SEPARATORS.sub("-", key).strip("-")


def _model(row: _ModelRow, tok: TokenizerInfo) -> ModelInfo:
    return ModelInfo(
        name=row.name,
        encoding=tok.counts_with,
        context_window=row.context_window,
        max_input=row.context_window if row.max_input is None else row.max_input,
        max_output=row.max_output,
        tokenizer=tok.name,
        exact=tok.exact,
        method=tok.method,
        factor=tok.ratio,
        provider=row.provider,
        display=row.display,
        aliases=row.aliases,
        input_usd_per_mtok=row.input_usd_per_mtok,
        cached_input_usd_per_mtok=row.cached_input_usd_per_mtok,
        source=row.source,
    )


def _structure(spec: object, cls: type[_T]) -> _T:
    try:
        return _CONVERTER.structure(spec, cls)
    except cattrs.BaseValidationError as exc:
        name = spec.get("name") if isinstance(spec, dict) else None
        detail = "; ".join(cattrs.transform_error(exc))
        raise ValueError(f"model table entry {name!r}: {detail}") from None


def parse_table(raw: Mapping[str, object]) -> ModelTable:
    """Build the table from the parsed TOML; a wrong key or type raises (the data is ours)."""
    tok_raw = raw.get("tokenizers")
    rows_raw = raw.get("models")
    if not isinstance(tok_raw, dict) or not isinstance(rows_raw, list):
        raise ValueError("model table needs [tokenizers.*] tables and [[models]] entries")
    tokenizers = {
        name: _structure({"name": name, **spec}, TokenizerInfo) for name, spec in tok_raw.items()
    }
    models: list[ModelInfo] = []
    index: dict[str, ModelInfo] = {}
    for spec in rows_raw:
        row = _structure(spec, _ModelRow)
        if row.tokenizer not in tokenizers:
            raise ValueError(f"model {row.name}: unknown tokenizer {row.tokenizer!r}")
        info = _model(row, tokenizers[row.tokenizer])
        models.append(info)
        for alias in (row.name, row.display, *row.aliases):
            key = normalise_name(alias) if alias else ""
            if key and index.setdefault(key, info) is not info:
                raise ValueError(f"model name {alias!r} is listed twice")
    return ModelTable(tuple(models), MappingProxyType(tokenizers), MappingProxyType(index))


@functools.cache
def model_table() -> ModelTable:
    """The shipped table, read once per process (a few ms)."""
    data = resources.files("prompt_tokens").joinpath("data", "models.toml")
    return parse_table(tomllib.loads(data.read_text(encoding="utf-8")))


def resolve_model(name: str) -> ModelInfo | None:
    """The model ``name`` means, or None when the table does not know it (the caller reports
    ``unknown-model``). Exact names and aliases first, then the longest listed name that
    ``name`` extends at a ``-`` (a dated snapshot, a size, a suffix), never a new version."""
    key = normalise_name(name)
    if not key:
        return None
    index = model_table().index
    found = index.get(key)
    if found is not None:
        return found
    best: tuple[int, ModelInfo] | None = None
    for known, info in index.items():
        if (
            key.startswith(known + "-")
            and not _NEW_VERSION.match(key, len(known) + 1)
            and (best is None or len(known) > best[0])
        ):
            best = (len(known), info)
    return best[1] if best else None


def first_known(names: Sequence[str]) -> str | None:
    """A list of model names means its first known one (VS Code agent files); else the first."""
    for name in names:
        if resolve_model(name) is not None:
            return name
    return names[0] if names else None


def lookup_model(name: str) -> ModelInfo:
    """Like :func:`resolve_model`, raising ``UnknownModelError`` with the known providers."""
    info = resolve_model(name)
    if info is None:
        models = model_table().models
        similar = difflib.get_close_matches(name.strip().lower(), [m.name for m in models], 6, 0.5)
        hint = f"Similar known models: {', '.join(similar)}. " if similar else ""
        providers = ", ".join(sorted({m.provider for m in models}))
        raise UnknownModelError(
            f"Unknown model '{name}'. {hint}The model table covers {providers} models "
            "(`prompt-tokens models` lists them)."
        )
    return info


def estimate_tokens(local_count: int, model: ModelInfo | None) -> int:
    """The count to show for ``model`` from a count with its ``encoding``.

    Exact models: the count itself. Estimates: ``local_count × factor`` rounded half up, once,
    on the total (summing rounded block estimates would drift by up to half a token a block).
    """
    if model is None or model.exact:
        return local_count
    f = model.factor
    return (2 * local_count * f.numerator + f.denominator) // (2 * f.denominator)


def cost_usd(tokens: int, model: ModelInfo | None, *, cached: bool = False) -> float | None:
    """Input cost of ``tokens`` at the model's list price; None when no price is known (never
    a guess). ``cached``: the cached-input price, where the vendor has one."""
    if model is None:
        return None
    price = model.cached_input_usd_per_mtok if cached else model.input_usd_per_mtok
    return None if price is None else round(tokens * price / 1_000_000, 8)


def model_rows() -> list[dict[str, object]]:
    """One row per model for ``prompt-tokens models --json`` (SPEC "Models and tokenizers")."""
    return [
        {
            "name": m.name,
            "aliases": [a for a in (m.display, *m.aliases) if a],
            "tokenizer": m.tokenizer,
            "exact": m.exact,
            "method": m.method,
            "context_window": m.context_window,
            "max_input": m.max_input,
            "max_output": m.max_output,
            "input_usd_per_mtok": m.input_usd_per_mtok,
            "cached_input_usd_per_mtok": m.cached_input_usd_per_mtok,
            "source": m.source,
        }
        for m in model_table().models
    ]


def default_budget(model: ModelInfo | None, max_output_tokens: int | None = None) -> int:
    """The model's maximum input less the room reserved for the answer (SPEC "Tokenization")."""
    if model is None:
        return DEFAULT_BUDGET
    reserved = max(0, max_output_tokens or 0)
    return max(0, model.max_input - reserved)
